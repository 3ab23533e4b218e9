using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// Turns the optimised graph into a schedule of runtime-kernel calls: every remaining node
/// becomes one or more calls whose shape, stride and offset arguments are resolved here, so
/// the generated code does no shape work at run time beyond multiplying named dimensions.
/// </summary>
public sealed partial class Lowerer
{
    private readonly Graph _graph;
    private readonly Plan _plan;
    /// <summary>Null: FP32 everywhere. Otherwise the policy asked per quantizable layer (Lowerer.Quantization.cs).</summary>
    private readonly Quantization.QuantizationContext? _quantization;
    private readonly Dictionary<Value, PlanTensor> _tensors = new();
    private int _nextId;
    private Node _node = null!;
    private HashSet<Value> _read = new();

    private Lowerer(Graph graph, Plan plan, Quantization.QuantizationContext? quantization)
    {
        _graph = graph;
        _plan = plan;
        _quantization = quantization;
    }

    public static void Lower(Graph graph, Plan plan, Quantization.QuantizationContext? quantization = null) => new Lowerer(graph, plan, quantization).Run();

    private void Run()
    {
        for (int i = 0; i < _graph.Inputs.Count; i++)
        {
            var v = _graph.Inputs[i];
            var t = NewTensor(v.Type, v.Shape!, StorageKind.Input);
            t.Location = i;
            _tensors[v] = t;
            _plan.Inputs.Add((v.Name, t));
        }
        _read = _graph.Nodes.SelectMany(n => n.Inputs).Where(v => v is not null).Select(v => v!).Concat(_graph.Outputs).ToHashSet();
        foreach (var node in _graph.Nodes)
        {
            _node = node;
            LowerNode(node);
        }
        for (int i = 0; i < _graph.Outputs.Count; i++)
        {
            var v = _graph.Outputs[i];
            var t = Tensor(v);
            if (t.Root.Storage != StorageKind.Output || t.Root.Location != i)
            {
                // The value lives elsewhere (a constant, an input, a view, or a second output): copy it out.
                var o = NewTensor(v.Type, v.Shape!, StorageKind.Output);
                o.Location = i;
                Emit("Copy", new[] { t }, new[] { o }, Array.Empty<(string, string)>(), v.Name + "/copy");
                t = o;
            }
            _plan.Outputs.Add((v.Name, t));
        }
        DropUnusedTensors();
    }

    /// <summary>
    /// Removes tensors no op, input, output or index check refers to (e.g. a weight that was replaced by its
    /// packed form), so they take no space in the weights blob.
    /// </summary>
    private void DropUnusedTensors()
    {
        var used = new HashSet<PlanTensor>();
        void Use(PlanTensor? t) { for (; t is not null; t = t.ViewOf) used.Add(t); }
        foreach (var op in _plan.Ops) { foreach (var t in op.Inputs) Use(t); foreach (var t in op.Outputs) Use(t); }
        foreach (var (_, t) in _plan.Inputs) Use(t);
        foreach (var (_, t) in _plan.Outputs) Use(t);
        foreach (var (t, _) in _plan.IndexChecks) Use(t);
        _plan.Tensors.RemoveAll(t => !used.Contains(t));
    }

    // ---- tensors ------------------------------------------------------------------------------

    private PlanTensor NewTensor(ElementType type, DimExpr[] shape, StorageKind storage)
    {
        var t = new PlanTensor(_nextId++, type, shape, storage);
        _plan.Tensors.Add(t);
        return t;
    }

    /// <summary>The tensor holding a value; constants become weights on first use.</summary>
    private PlanTensor Tensor(Value v)
    {
        if (_tensors.TryGetValue(v, out var t)) return t;
        if (v.Const is not null)
        {
            t = NewTensor(v.Type, v.Shape!, StorageKind.Weight);
            t.Data = v.Const;
            return _tensors[v] = t;
        }
        if (v.Symbolic is not null)
            throw new CompilerException(Codes.DynamicShape, $"'{v.Name}' holds shape values ({string.Join(",", v.Symbolic.Select(d => d.ToString()))}) that {_node.OpType} needs as a run-time tensor; EdgeCompile folds shapes at build time only.", _node.Name);
        throw new CompilerException(Codes.InvalidModel, $"value '{v.Name}' is used before it is computed.", _node.Name);
    }

    private PlanTensor? Optional(Value? v) => v is null ? null : Tensor(v);

    /// <summary>The tensor an op writes for a value: the caller's output span if it is a graph output, else arena.</summary>
    private PlanTensor Define(Value v)
    {
        if (_tensors.TryGetValue(v, out var existing)) return existing;
        int index = _graph.Outputs.IndexOf(v);
        var t = NewTensor(v.Type, v.Shape!, index >= 0 ? StorageKind.Output : StorageKind.Arena);
        if (index >= 0) t.Location = index;
        return _tensors[v] = t;
    }

    private PlanTensor Temp(ElementType type, DimExpr[] shape) => NewTensor(type, shape, StorageKind.Arena);

    /// <summary>A weight made at build time (folded BatchNorm statistics, a zero bias...).</summary>
    private PlanTensor Weight(ConstTensor data)
    {
        var t = NewTensor(data.Type, data.Shape.Select(DimExpr.Const).ToArray(), StorageKind.Weight);
        t.Data = data;
        return t;
    }

    private void View(Value source, Value result)
    {
        var src = Tensor(source);
        if (result.IsGraphOutput)
        {
            Emit("Copy", new[] { src }, new[] { Define(result) }, Array.Empty<(string, string)>());
            return;
        }
        var t = NewTensor(result.Type, result.Shape!, src.Root.Storage);
        t.ViewOf = src;
        _tensors[result] = t;
    }

    private void Emit(string kernel, IReadOnlyList<PlanTensor?> inputs, IReadOnlyList<PlanTensor> outputs, IEnumerable<(string, string)> parameters, string? node = null) =>
        _plan.Ops.Add(new PlanOp(kernel, inputs, outputs, parameters.ToList(), node ?? _node.Name));

    private static (string, string) P(string name, DimExpr value) => (name, value.ToString());
    private static (string, string) P(string name, long value) => (name, value.ToString(CultureInfo.InvariantCulture));
    private static (string, string) PF(string name, double value) => (name, Plan.FloatLiteral(value));
    private static (string, string) PB(string name, bool value) => (name, value ? "true" : "false");

    private CompilerException Unsupported(string what) => new(Codes.UnsupportedOperatorForm, $"{_node.OpType}: {what}", _node.Name);

    private void RequireFloat(Value v)
    {
        if (v.Type != ElementType.Float32)
            throw new CompilerException(Codes.UnsupportedType, $"{_node.OpType} on {v.Type} tensors is not supported (float32 only).", _node.Name);
    }

    // ---- dispatch -----------------------------------------------------------------------------

    private void LowerNode(Node n)
    {
        // Fully folded nodes need no code: their outputs are weights, materialised on use.
        if (n.Outputs.All(o => o.Const is not null)) return;
        if (n.Outputs.All(DeadCode.IsKnown) && !n.Outputs.Any(o => o.IsGraphOutput)) return;
        switch (n.OpType)
        {
            case "Identity": case "Dropout": case "Reshape": case "Flatten": case "Squeeze": case "Unsqueeze":
                View(n.In(0), n.Out);
                return;
            case "Cast":
                if (n.In(0).Type == n.Out.Type) View(n.In(0), n.Out);
                else Emit("Cast", new[] { Tensor(n.In(0)) }, new[] { Define(n.Out) }, Array.Empty<(string, string)>());
                return;
            case "Transpose": LowerTranspose(n); return;
            case "Slice": LowerSlice(n); return;
            case "Concat": LowerConcat(n); return;
            case "Split": LowerSplit(n); return;
            case "Expand": LowerExpand(n); return;
            case "Pad": LowerPad(n); return;
            case "Gather": LowerGather(n); return;
            case "Where": LowerWhere(n); return;
            case "MatMul": LowerMatMul(n); return;
            case "Gemm": LowerGemm(n); return;
            case "Softmax": LowerSoftmax(n); return;
            case "LayerNormalization": LowerLayerNorm(n); return;
            case "ReduceMean": case "ReduceSum": case "ReduceMax": LowerReduce(n); return;
            case "GlobalAveragePool": case "GlobalMaxPool": LowerGlobalPool(n); return;
            case "Conv": LowerConv(n); return;
            case "BatchNormalization": LowerBatchNorm(n); return;
            case "AveragePool": case "MaxPool": LowerPool(n); return;
            case "ConstantOfShape":
                Emit("Fill", Array.Empty<PlanTensor>(), new[] { Define(n.Out) }, new[] { ("value", Plan.Literal(n.Out.Type, ConstantOfShapeValue(n))) });
                return;
            case "Range":
                Emit("Range", Array.Empty<PlanTensor>(), new[] { Define(n.Out) },
                    new[] { ("start", Plan.Literal(n.Out.Type, ScalarOf(n.In(0)))), ("delta", Plan.Literal(n.Out.Type, ScalarOf(n.In(2)))) });
                return;
            case "Sum": case "Mean": case "Max" when n.Inputs.Count != 2: case "Min" when n.Inputs.Count != 2:
                LowerVariadic(n);
                return;
            case "Shape":
                throw new CompilerException(Codes.DynamicShape, "the values of a Shape op are needed at run time as a tensor; EdgeCompile folds shapes at build time only.", n.Name);
            case FusedOps.Dense: LowerDense(n); return;
            case FusedOps.ScaleShift: LowerScaleShift(n); return;
            case FusedOps.Attention: LowerAttention(n); return;
            case FusedOps.Silu:
                Emit("Silu", new[] { Tensor(n.In(0)) }, new[] { Define(n.Out) }, Array.Empty<(string, string)>());
                return;
        }
        if (ShapeInference.BinaryOps.Contains(n.OpType)) { LowerBinary(n.OpType, n.In(0), n.In(1), n.Out); return; }
        if (ShapeInference.UnaryOps.Contains(n.OpType)) { LowerUnary(n); return; }
        throw new CompilerException(Codes.UnsupportedOperator, $"operator {n.OpType} is not supported by EdgeCompile. See the supported-operator list in README.md.", n.Name);
    }

    private double ScalarOf(Value v) =>
        v.Const is { } c ? c[0] : ShapeInference.Known(v) is { Length: 1 } k && k[0].IsConstant ? k[0].ConstValue
            : throw Unsupported("needs this input to be a build-time constant");

    private static double ConstantOfShapeValue(Node n) =>
        n.Attributes.TryGetValue("value", out var a) && a.T is not null ? a.T[0] : 0;
}
