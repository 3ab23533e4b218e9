using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// Kernel name (as a plan op writes it) → the handler that calls that runtime kernel. <see cref="Default"/> covers
/// every kernel the lowerer emits (see the KernelTable.*.cs files, one per group of kernels); a kernel added to the
/// lowering needs its handler here too, or calibration stops with EC2110 naming it.
/// </summary>
public sealed partial class KernelTable
{
    private readonly Dictionary<string, KernelHandler> _handlers = new(StringComparer.Ordinal);

    /// <summary>An empty table (tests, or a build that adds handlers of its own).</summary>
    public KernelTable() { }

    /// <summary>The handlers for every kernel of the runtime that plans call.</summary>
    public static KernelTable Default { get; } = CreateDefault();

    public IEnumerable<string> Names => _handlers.Keys;

    public static KernelTable CreateDefault()
    {
        var table = new KernelTable();
        AddElementwise(table);
        AddData(table);
        AddLinear(table);
        AddNormalization(table);
        AddQuantized(table);
        return table;
    }

    public void Add(string kernel, KernelHandler handler)
    {
        if (!_handlers.TryAdd(kernel, handler)) throw new ArgumentException($"kernel '{kernel}' already has a handler.", nameof(kernel));
    }

    public bool TryGet(string kernel, [MaybeNullWhen(false)] out KernelHandler handler) => _handlers.TryGetValue(kernel, out handler);
}
