using System;
using System.Collections.Generic;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>Runs one plan op with the runtime kernel it names.</summary>
public delegate void KernelHandler(KernelCall call);

/// <summary>
/// What a <see cref="KernelHandler"/> sees of one op while the interpreter runs it: the op's tensors as typed spans
/// of the interpreter's buffers (lengths from the actual dimension values, as the generated code's spans) and its
/// parameters evaluated as the generated C# would. A handler must read every parameter the op has (the interpreter
/// checks, so a parameter added to the lowering cannot be silently ignored here).
/// </summary>
public sealed class KernelCall
{
    private readonly PlanInterpreter.Buffers _buffers;
    private readonly PlanInterpreter.PreparedOp _op;
    private readonly bool[] _read;

    internal KernelCall(PlanInterpreter.Buffers buffers, PlanInterpreter.PreparedOp op)
    {
        _buffers = buffers;
        _op = op;
        _read = new bool[op.Parameters.Length];
    }

    public PlanOp Op => _op.Op;
    public IReadOnlyDictionary<string, long> Dims => _buffers.Dims;
    public int InputCount => _op.Op.Inputs.Count;
    public int OutputCount => _op.Op.Outputs.Count;

    /// <summary>Whether input <paramref name="index"/> is present (the plan writes an absent one as <c>-</c>).</summary>
    public bool HasInput(int index) => Input(index) is not null;
    public ElementType InputType(int index) => (Input(index) ?? throw Error($"input {index} is absent")).Type;
    public ElementType OutputType(int index) => Output(index).Type;

    /// <summary>Input <paramref name="index"/> as the generated code passes it; an absent input is an empty span (<c>default</c>).</summary>
    public ReadOnlySpan<T> In<T>(int index) where T : unmanaged =>
        Input(index) is { } t ? _buffers.Span<T>(t, Op) : default;

    public Span<T> Out<T>(int index) where T : unmanaged => _buffers.Span<T>(Output(index), Op);

    public int Int(string name) => Parameter(name).Int(Dims);
    public float Float(string name) => Parameter(name).Float();
    public bool Bool(string name) => Parameter(name).Bool();
    public Activation Activation(string name) => Parameter(name).Activation();

    /// <summary>A typed literal (<c>Fill</c>'s value, <c>Range</c>'s start): float, long, int or bool.</summary>
    public T Literal<T>(string name) where T : unmanaged
    {
        var p = Parameter(name);
        if (typeof(T) == typeof(float)) return (T)(object)p.Float();
        if (typeof(T) == typeof(long)) return (T)(object)p.Long(Dims);
        if (typeof(T) == typeof(int)) return (T)(object)p.Int(Dims);
        if (typeof(T) == typeof(bool)) return (T)(object)p.Bool();
        throw Error($"parameter {name}: the plan has no {typeof(T).Name} literals");
    }

    /// <summary>
    /// The <c>workers</c> parameter: always null. The interpreter runs single-threaded; the kernels give the same
    /// numbers on any number of threads, so the values are those of the shipped code.
    /// </summary>
    public WorkerPool? Workers(string name = "workers")
    {
        var p = Parameter(name);
        return p.IsWorkers ? null : throw Error($"parameter {name}={p.Text}: expected the model's workers");
    }

    /// <summary>The shape named by generic type argument <paramref name="index"/> (<c>op Dense&lt;Dense64x128&gt;</c>).</summary>
    public PlanShape Shape(int index) =>
        index < _op.Shapes.Length ? _op.Shapes[index] : throw Error($"the op has no shape type argument {index}");

    internal void Begin() => Array.Clear(_read);

    /// <summary>Throws when the handler left a parameter of the op unread.</summary>
    internal void CheckAllParametersRead()
    {
        for (int i = 0; i < _read.Length; i++)
            if (!_read[i])
                throw Error($"the interpreter's handler for {Op.Kernel} does not pass parameter {_op.Parameters[i].Name}; update it in Calibration/KernelTable*.cs");
    }

    private PlanParameter Parameter(string name)
    {
        var ps = _op.Parameters;
        for (int i = 0; i < ps.Length; i++)
            if (ps[i].Name == name)
            {
                _read[i] = true;
                return ps[i];
            }
        throw Error($"the op has no parameter '{name}'");
    }

    private PlanTensor? Input(int index) =>
        index < Op.Inputs.Count ? Op.Inputs[index] : throw Error($"the op has {Op.Inputs.Count} inputs, the handler asks for input {index}");

    private PlanTensor Output(int index) =>
        index < Op.Outputs.Count ? Op.Outputs[index] : throw Error($"the op has {Op.Outputs.Count} outputs, the handler asks for output {index}");

    internal InvalidOperationException Error(string what) => PlanInterpreter.OpError(Op, what);
}
