using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// Runs a <see cref="Plan"/> in the build, with the same runtime kernels and the same arguments the generated code
/// passes, so its numbers are those of the shipped model: the way calibration sees a model's activations.
/// <para>
/// Memory differs from the generated code on purpose: every root tensor gets a managed buffer of its own instead
/// of an arena offset (views share their root's buffer), so a plan runs before or after memory planning. Weights
/// come from <see cref="PlanTensor.Data"/>, converted once to typed arrays. Single-threaded (a null
/// <see cref="WorkerPool"/>); one instance runs one <see cref="Run"/> at a time.
/// </para>
/// </summary>
public sealed class PlanInterpreter
{
    private readonly Plan _plan;
    private readonly PreparedOp[] _ops;
    private readonly PlanTensor[] _roots;
    private readonly Dictionary<PlanTensor, Array> _weights = new();
    private Buffers? _last;

    public PlanInterpreter(Plan plan, KernelTable? kernels = null)
    {
        _plan = plan;
        kernels ??= KernelTable.Default;
        var dimensions = plan.Dimensions.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        _ops = plan.Ops.Select(op => Prepare(op, kernels, plan, dimensions)).ToArray();

        var used = plan.Ops.SelectMany(op => op.Inputs.Concat(op.Outputs)).Where(t => t is not null).Select(t => t!)
            .Concat(plan.Inputs.Select(i => i.Tensor)).Concat(plan.Outputs.Select(o => o.Tensor)).Concat(plan.IndexChecks.Select(c => c.Tensor));
        _roots = used.Select(t => t.Root).Distinct().ToArray();
        foreach (var root in _roots.Where(r => r.Storage == StorageKind.Weight))
            _weights[root] = WeightArray(root);
    }

    public Plan Plan => _plan;

    /// <summary>
    /// Runs the plan on one set of inputs (in plan order, typed arrays: <c>long[]</c> for i64, <c>float[]</c> for f32,
    /// ...; each of the element count of its shape at <paramref name="dims"/>) and returns the outputs, in plan order,
    /// as new typed arrays.
    /// </summary>
    public Array[] Run(IReadOnlyList<Array> inputs, IReadOnlyDictionary<string, long> dims, PlanTap? tap = null)
    {
        CheckDimensions(dims);
        if (inputs.Count != _plan.Inputs.Count)
            throw new ArgumentException($"the plan has {_plan.Inputs.Count} inputs ({string.Join(", ", _plan.Inputs.Select(i => i.Name))}), {inputs.Count} were given.", nameof(inputs));

        var buffers = Allocate(dims);
        for (int i = 0; i < inputs.Count; i++)
        {
            var (name, tensor) = _plan.Inputs[i];
            long count = tensor.ElementCount.Evaluate(dims);
            if (inputs[i].GetType().GetElementType() != ClrType(tensor.Type) || inputs[i].Length != count)
                throw new ArgumentException($"input '{name}' must be {ClrType(tensor.Type).Name}[{count}] (shape {Plan.ShapeText(tensor.Shape)}), got {inputs[i].GetType().GetElementType()?.Name}[{inputs[i].Length}].", nameof(inputs));
            buffers.Set(tensor.Root, inputs[i]);
        }
        CheckIndices(buffers);

        foreach (var op in _ops)
        {
            var call = op.Call(buffers);
            bool tapped = tap is not null && tap.Selects(op.Op);
            if (tapped && tap!.OnInput is { } onInput)
                for (int i = 0; i < op.Op.Inputs.Count; i++)
                    if (op.Op.Inputs[i] is { Type: ElementType.Float32 } t) onInput(op.Op, i, buffers.Span<float>(t, op.Op));
            call.Begin();
            op.Handler(call);
            call.CheckAllParametersRead();
            if (tapped && tap!.OnOutput is { } onOutput)
                for (int i = 0; i < op.Op.Outputs.Count; i++)
                    if (op.Op.Outputs[i] is { Type: ElementType.Float32 } t) onOutput(op.Op, i, buffers.Span<float>(t, op.Op));
        }
        return _plan.Outputs.Select(o => buffers.Get(o.Tensor.Root)).ToArray();
    }

    /// <summary>Runs one calibration sample.</summary>
    public Array[] Run(CalibrationSample sample, PlanTap? tap = null) => Run(sample.Inputs, sample.Dims, tap);

    private void CheckDimensions(IReadOnlyDictionary<string, long> dims)
    {
        foreach (var (name, max) in _plan.Dimensions)
        {
            if (!dims.TryGetValue(name, out var value))
                throw new ArgumentException($"no value for dimension '{name}'.", nameof(dims));
            if (value < 1 || value > max)
                throw new ArgumentOutOfRangeException(nameof(dims), value, $"dimension '{name}' must be in 1..{max}.");
        }
    }

    /// <summary>
    /// Buffers for a run. Arena buffers are reused from the previous run when the dimensions are the same (the
    /// generated code's arena is not cleared between runs either, so no kernel may depend on its contents); output
    /// buffers are always new because <see cref="Run"/> hands them to the caller.
    /// </summary>
    private Buffers Allocate(IReadOnlyDictionary<string, long> dims)
    {
        bool reuse = _last is not null && _plan.Dimensions.All(d => _last.Dims[d.Name] == dims[d.Name]);
        var buffers = new Buffers(_plan.Dimensions.ToDictionary(d => d.Name, d => dims[d.Name]));
        foreach (var root in _roots)
        {
            switch (root.Storage)
            {
                case StorageKind.Weight: buffers.Set(root, _weights[root]); break;
                case StorageKind.Arena when reuse: buffers.Set(root, _last!.Get(root)); break;
                case StorageKind.Arena or StorageKind.Output:
                    buffers.Set(root, Array.CreateInstance(ClrType(root.Type), root.ElementCount.Evaluate(dims)));
                    break;
            }
        }
        _last = buffers;
        return buffers;
    }

    /// <summary>The plan's check-indices statements, before any work, as the generated <c>Run</c> does.</summary>
    private void CheckIndices(Buffers buffers)
    {
        foreach (var (tensor, limit) in _plan.IndexChecks)
        {
            string name = _plan.Inputs.FirstOrDefault(i => i.Tensor.Root == tensor.Root).Name ?? tensor.Name;
            if (tensor.Type == ElementType.Int64) Kernels.CheckIndices(buffers.Span<long>(tensor, null), (int)limit, name);
            else Kernels.CheckIndices(buffers.Span<int>(tensor, null), (int)limit, name);
        }
    }

    private static PreparedOp Prepare(PlanOp op, KernelTable kernels, Plan plan, IReadOnlySet<string> dimensions)
    {
        if (!kernels.TryGet(op.Kernel, out var handler))
            throw new CompilerException(Codes.InterpreterUnsupportedKernel,
                $"the build-time plan interpreter (calibration) cannot run kernel '{op.Kernel}'; it knows: {string.Join(", ", kernels.Names.Order(StringComparer.Ordinal))}.", op.Node);
        try
        {
            var parameters = op.Parameters.Select(p => PlanParameter.Parse(p.Name, p.Value, dimensions)).ToArray();
            var shapes = op.TypeArguments.Select(name => plan.Shapes.FirstOrDefault(s => s.Name == name) ?? throw new FormatException($"shape '{name}' is not declared")).ToArray();
            return new PreparedOp(op, handler, parameters, shapes);
        }
        catch (FormatException e)
        {
            throw OpError(op, e.Message);
        }
    }

    internal static InvalidOperationException OpError(PlanOp op, string what) =>
        new($"plan op {op.Kernel} (node '{op.Node}'): {what}");

    private static Array WeightArray(PlanTensor t)
    {
        var data = t.Data ?? throw new InvalidOperationException($"weight tensor {t.Name} has no data.");
        int n = data.Count;
        return t.Type switch
        {
            ElementType.Float32 => Fill(new float[n], i => (float)data.Real![i]),
            ElementType.Float16 => Fill(new Half[n], i => (Half)data.Real![i]),
            ElementType.Float64 => Fill(new double[n], i => data.Real![i]),
            ElementType.Int64 => Fill(new long[n], i => data.Integer![i]),
            ElementType.Int32 => Fill(new int[n], i => (int)data.Integer![i]),
            ElementType.Int8 => Fill(new sbyte[n], i => (sbyte)data.Integer![i]),
            ElementType.UInt8 => Fill(new byte[n], i => (byte)data.Integer![i]),
            ElementType.Bool => Fill(new bool[n], i => data.Integer![i] != 0),
            _ => throw new InvalidOperationException($"weight tensor {t.Name} has element type {t.Type}."),
        };
    }

    private static T[] Fill<T>(T[] array, Func<int, T> value)
    {
        for (int i = 0; i < array.Length; i++) array[i] = value(i);
        return array;
    }

    public static Type ClrType(ElementType type) => type switch
    {
        ElementType.Float32 => typeof(float),
        ElementType.Float16 => typeof(Half),
        ElementType.Float64 => typeof(double),
        ElementType.Int64 => typeof(long),
        ElementType.Int32 => typeof(int),
        ElementType.Int8 => typeof(sbyte),
        ElementType.UInt8 => typeof(byte),
        ElementType.Bool => typeof(bool),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>An op ready to run: its handler, its parameters parsed, its shape type arguments resolved.</summary>
    internal sealed class PreparedOp(PlanOp op, KernelHandler handler, PlanParameter[] parameters, PlanShape[] shapes)
    {
        private KernelCall? _call;
        private Buffers? _callBuffers;

        public PlanOp Op { get; } = op;
        public KernelHandler Handler { get; } = handler;
        public PlanParameter[] Parameters { get; } = parameters;
        public PlanShape[] Shapes { get; } = shapes;

        public KernelCall Call(Buffers buffers)
        {
            if (_call is null || _callBuffers != buffers) (_call, _callBuffers) = (new KernelCall(buffers, this), buffers);
            return _call;
        }
    }

    /// <summary>The buffer of every root tensor for one run, and the spans the kernels get of them.</summary>
    internal sealed class Buffers(IReadOnlyDictionary<string, long> dims)
    {
        private readonly Dictionary<PlanTensor, Array> _arrays = new();

        public IReadOnlyDictionary<string, long> Dims { get; } = dims;

        public void Set(PlanTensor root, Array array) => _arrays[root] = array;
        public Array Get(PlanTensor root) => _arrays[root];

        /// <summary>The span the generated code would pass for <paramref name="t"/>: its element count at these dimensions.</summary>
        public Span<T> Span<T>(PlanTensor t, PlanOp? op) where T : unmanaged
        {
            var array = _arrays.TryGetValue(t.Root, out var a) ? a
                : throw Fail($"tensor {t.Name} has no buffer (storage {t.Root.Storage})");
            if (array is not T[] typed)
                throw Fail($"tensor {t.Name} holds {t.Type.PlanName()} ({array.GetType().GetElementType()!.Name}), the kernel takes {typeof(T).Name}");
            long count = t.ElementCount.Evaluate(Dims);
            if (count > typed.Length) throw Fail($"tensor {t.Name} needs {count} elements, its root {t.Root.Name} has {typed.Length}");
            return typed.AsSpan(0, (int)count);

            InvalidOperationException Fail(string what) => op is null ? new InvalidOperationException(what) : OpError(op, what);
        }
    }
}
