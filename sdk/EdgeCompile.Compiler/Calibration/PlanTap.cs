using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>Sees one float tensor of an op: input or output <paramref name="index"/>, valid only during the call.</summary>
public delegate void PlanTapHandler(PlanOp op, int index, ReadOnlySpan<float> values);

/// <summary>
/// Watches chosen ops while <see cref="PlanInterpreter"/> runs: each float input just before the kernel call and,
/// optionally, each float output just after it (absent inputs and other element types are skipped). Calibration
/// uses it to collect the <c>x</c> of every Dense (activation ranges, XᵀX) and layer outputs (per-layer error).
/// </summary>
public sealed class PlanTap
{
    public PlanTap(Func<PlanOp, bool> selects, PlanTapHandler? onInput, PlanTapHandler? onOutput = null)
    {
        Selects = selects;
        OnInput = onInput;
        OnOutput = onOutput;
    }

    public Func<PlanOp, bool> Selects { get; }
    public PlanTapHandler? OnInput { get; }
    public PlanTapHandler? OnOutput { get; }

    /// <summary>A tap on every op calling one of <paramref name="kernels"/> (e.g. <c>Dense</c>, <c>Gather</c>).</summary>
    public static PlanTap ForKernels(IEnumerable<string> kernels, PlanTapHandler? onInput, PlanTapHandler? onOutput = null)
    {
        var names = kernels.ToHashSet(StringComparer.Ordinal);
        return new PlanTap(op => names.Contains(op.Kernel), onInput, onOutput);
    }
}
