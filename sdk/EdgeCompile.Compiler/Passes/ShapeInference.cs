using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>
/// Gives every value its element type and static (symbolic) shape, and folds what is known at
/// build time: constants, and integer tensors computed from shapes (the exporter's
/// Shape→Gather→Unsqueeze→Concat→Reshape chains), whose values are tracked as dimension
/// expressions. After this pass a value's shape never needs run-time shape arithmetic.
/// </summary>
public static class ShapeInference
{
    /// <summary>Constants larger than this stay run-time work instead of being folded into the blob.</summary>
    private const long MaxFoldedElements = 1 << 22;

    public static void Run(Graph graph)
    {
        foreach (var node in graph.Nodes)
        {
            foreach (var input in node.Inputs)
                if (input is not null && input.Shape is null)
                    throw new CompilerException(Codes.InvalidModel, $"input '{input.Name}' has no shape (its producer was not inferred).", node.Name);
            Infer(graph, node);
            foreach (var o in node.Outputs)
                if (o.Shape is null && IsUsed(graph, o))
                    throw new CompilerException(Codes.DynamicShape, $"cannot determine the shape of '{o.Name}' at build time.", node.Name);
        }
    }

    private static bool IsUsed(Graph g, Value v) => v.IsGraphOutput || g.Nodes.Any(n => n.Inputs.Contains(v));

    // ---- helpers -------------------------------------------------------------------------

    private static void Set(Value v, ElementType type, DimExpr[] shape)
    {
        v.Type = type;
        v.Shape = shape;
    }

    private static void SetConst(Value v, ConstTensor c)
    {
        v.Type = c.Type;
        v.Shape = c.Shape.Select(DimExpr.Const).ToArray();
        v.Const = c;
        if (!c.Type.IsFloat() && c.Count <= 64) v.Symbolic = c.Integer!.Select(DimExpr.Const).ToArray();
    }

    private static void SetSymbolic(Value v, ElementType type, DimExpr[] shape, DimExpr[] values)
    {
        if (values.All(d => d.IsConstant))
        {
            SetConst(v, ConstTensor.Ints(type, shape.Select(d => d.ConstValue).ToArray(), values.Select(d => d.ConstValue).ToArray()));
            return;
        }
        Set(v, type, shape);
        v.Symbolic = values;
    }

    /// <summary>Integer values known at build time, constant or symbolic.</summary>
    public static DimExpr[]? Known(Value? v) =>
        v is null ? null : v.Symbolic ?? (v.Const is { } c && !c.Type.IsFloat() && c.Count <= 1 << 16 ? c.Integer!.Select(DimExpr.Const).ToArray() : null);

    public static long[] ConstInts(Node n, int input, string what)
    {
        var k = Known(n.Input(input));
        if (k is null || !k.All(d => d.IsConstant))
            throw new CompilerException(Codes.DynamicShape, $"{n.OpType} needs its {what} (input {input}) to be known at build time.", n.Name);
        return k.Select(d => d.ConstValue).ToArray();
    }

    public static int Axis(Node n, long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new CompilerException(Codes.InvalidModel, $"axis {axis} is out of range for rank {rank}.", n.Name);
        return (int)a;
    }

    private static bool AllConst(Node n) => n.Inputs.All(i => i is null || i.Const is not null);

    private static bool Small(DimExpr[] shape) => shape.All(d => d.IsConstant) && DimExpr.Product(shape).ConstValue <= MaxFoldedElements;

    private static long[] Concrete(DimExpr[] shape) => shape.Select(d => d.ConstValue).ToArray();

    // ---- per operator -----------------------------------------------------------------------

    private static readonly Dictionary<string, Func<double, double>> FoldableUnary = new()
    {
        ["Sqrt"] = Math.Sqrt, ["Neg"] = x => -x, ["Abs"] = Math.Abs, ["Exp"] = Math.Exp, ["Log"] = Math.Log,
        ["Reciprocal"] = x => 1 / x, ["Floor"] = Math.Floor, ["Ceil"] = Math.Ceiling, ["Relu"] = x => Math.Max(x, 0),
        ["Tanh"] = Math.Tanh, ["Sigmoid"] = x => 1 / (1 + Math.Exp(-x)), ["Sin"] = Math.Sin, ["Cos"] = Math.Cos,
        ["Sign"] = x => Math.Sign(x), ["Identity"] = x => x,
    };

    /// <summary>Elementwise unary operators compiled to runtime kernels, with their kernel names.</summary>
    public static readonly HashSet<string> UnaryOps = new()
    {
        "Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Floor", "Ceil",
        "Sin", "Cos", "Softplus", "Sign", "HardSwish", "LeakyRelu", "Elu", "HardSigmoid", "Clip", "Gelu", "Not",
    };

    public static readonly HashSet<string> BinaryOps = new() { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Greater", "Less", "And", "Or" };

    private static void Infer(Graph g, Node n)
    {
        switch (n.OpType)
        {
            case "Constant": InferConstant(n); return;
            case "Identity":
            case "Dropout":
                {
                    var x = n.In(0);
                    if (n.Outputs.Count > 1 && IsUsed(g, n.Outputs[1]))
                        throw new CompilerException(Codes.UnsupportedOperatorForm, "the mask output of Dropout is used; export the model in eval mode.", n.Name);
                    Set(n.Out, x.Type, x.Shape!);
                    n.Out.Const = x.Const;
                    n.Out.Symbolic = x.Symbolic;
                    if (n.Outputs.Count > 1) Set(n.Outputs[1], ElementType.Bool, x.Shape!);
                    return;
                }
            case "Cast": InferCast(n); return;
            case "Shape": InferShape(n); return;
            case "Gather": InferGather(n); return;
            case "Unsqueeze": InferUnsqueeze(n); return;
            case "Squeeze": InferSqueeze(n); return;
            case "Reshape": InferReshape(n); return;
            case "Flatten":
                {
                    var x = n.In(0);
                    int axis = n.Int("axis", 1) is var a && a < 0 ? (int)a + x.Rank : (int)n.Int("axis", 1);
                    if (axis < 0 || axis > x.Rank) throw new CompilerException(Codes.InvalidModel, "Flatten axis out of range.", n.Name);
                    var shape = new[] { DimExpr.Product(x.Shape!.Take(axis)), DimExpr.Product(x.Shape!.Skip(axis)) };
                    Reshaped(n, x, shape);
                    return;
                }
            case "Concat": InferConcat(n); return;
            case "Slice": InferSlice(n); return;
            case "Transpose":
                {
                    var x = n.In(0);
                    var perm = Perm(n, x.Rank);
                    if (x.Const is not null && Small(x.Shape!)) { SetConst(n.Out, ConstEval.Transpose(x.Const, perm)); return; }
                    Set(n.Out, x.Type, perm.Select(p => x.Shape![p]).ToArray());
                    return;
                }
            case "Expand": InferExpand(n); return;
            case "ConstantOfShape": InferConstantOfShape(n); return;
            case "Range": InferRange(n); return;
            case "Where":
                {
                    var (c, x, y) = (n.In(0), n.In(1), n.In(2));
                    var shape = Broadcasting.Shape(n.Name, c.Shape!, x.Shape!, y.Shape!);
                    if (AllConst(n) && Small(shape)) { SetConst(n.Out, ConstEval.Where(c.Const!, x.Const!, y.Const!)); return; }
                    if (c.Const is not null && Known(x) is { } kx && Known(y) is { } ky && shape.Length <= 1 && c.Const.Count == DimExpr.Product(shape).ConstValue)
                    {
                        var vals = Enumerable.Range(0, c.Const.Count).Select(i => c.Const.IntAt(i) != 0 ? kx[kx.Length == 1 ? 0 : i] : ky[ky.Length == 1 ? 0 : i]).ToArray();
                        SetSymbolic(n.Out, x.Type, shape, vals);
                        return;
                    }
                    Set(n.Out, x.Type, shape);
                    return;
                }
            case "MatMul": InferMatMul(n); return;
            case "Gemm":
                {
                    var (a, b) = (n.In(0), n.In(1));
                    var m = n.Int("transA", 0) != 0 ? a.Shape![1] : a.Shape![0];
                    var nn = n.Int("transB", 0) != 0 ? b.Shape![0] : b.Shape![1];
                    Set(n.Out, a.Type, new[] { m, nn });
                    return;
                }
            case "Softmax":
            case "LogSoftmax":
                Set(n.Out, n.In(0).Type, n.In(0).Shape!);
                return;
            case "LayerNormalization":
                {
                    var x = n.In(0);
                    Set(n.Out, x.Type, x.Shape!);
                    // Mean and InvStdDev keep the leading axes and have 1 on the normalised ones.
                    int axis = Axis(n, n.Int("axis", -1), x.Rank);
                    var statistics = x.Shape!.Select((d, i) => i < axis ? d : DimExpr.One).ToArray();
                    for (int i = 1; i < n.Outputs.Count; i++) Set(n.Outputs[i], ElementType.Float32, statistics);
                    return;
                }
            case "ReduceMean":
            case "ReduceSum":
            case "ReduceMax":
                InferReduce(n);
                return;
            case "Conv": InferConv(n); return;
            case "BatchNormalization":
                {
                    for (int i = 1; i < n.Outputs.Count; i++)
                        if (IsUsed(g, n.Outputs[i]))
                            throw new CompilerException(Codes.UnsupportedOperatorForm, "BatchNormalization in training mode is not supported; export the model in eval mode.", n.Name);
                    Set(n.Out, n.In(0).Type, n.In(0).Shape!);
                    return;
                }
            case "AveragePool":
            case "MaxPool":
                {
                    if (n.Outputs.Count > 1 && IsUsed(g, n.Outputs[1]))
                        throw new CompilerException(Codes.UnsupportedOperatorForm, "the Indices output of MaxPool is not supported.", n.Name);
                    var p = PoolGeometry.From(n, n.In(0).Shape!);
                    Set(n.Out, n.In(0).Type, p.OutputShape);
                    return;
                }
            case "GlobalAveragePool":
            case "GlobalMaxPool":
                {
                    var x = n.In(0);
                    Set(n.Out, x.Type, x.Shape!.Take(2).Concat(Enumerable.Repeat(DimExpr.One, x.Rank - 2)).ToArray());
                    return;
                }
            case "Split": InferSplit(n); return;
            case "Pad":
                {
                    var x = n.In(0);
                    var (begin, end) = PadAmounts(n, x.Rank);
                    Set(n.Out, x.Type, x.Shape!.Select((d, i) => d + DimExpr.Const(begin[i] + end[i])).ToArray());
                    return;
                }
            case "Sum":
            case "Mean":
                {
                    var shape = Broadcasting.Shape(n.Name, n.Inputs.Select(i => i!.Shape!).ToArray());
                    Set(n.Out, n.In(0).Type, shape);
                    return;
                }
        }
        if (BinaryOps.Contains(n.OpType) && n.Inputs.Count == 2) { InferBinary(n); return; }
        if ((n.OpType is "Max" or "Min") && n.Inputs.Count != 2)
        {
            Set(n.Out, n.In(0).Type, Broadcasting.Shape(n.Name, n.Inputs.Select(i => i!.Shape!).ToArray()));
            return;
        }
        if (UnaryOps.Contains(n.OpType))
        {
            var x = n.In(0);
            if (x.Const is not null && FoldableUnary.TryGetValue(n.OpType, out var f)) { SetConst(n.Out, ConstEval.Unary(x.Const, f)); return; }
            Set(n.Out, x.Type, x.Shape!);
            return;
        }
        throw new CompilerException(Codes.UnsupportedOperator,
            $"operator {n.OpType} is not supported by EdgeCompile. See the supported-operator list in README.md; re-export the model without it or file an issue.", n.Name);
    }

    private static void InferConstant(Node n)
    {
        ConstTensor c;
        if (n.Attributes.TryGetValue("value", out var v) && v.T is not null)
        {
            c = v.T;
            n.Out.SourceConstant = n.Out.Name;
        }
        else if (n.Attributes.TryGetValue("value_float", out v) && v.F is double f) c = ConstTensor.Scalar(ElementType.Float32, f);
        else if (n.Attributes.TryGetValue("value_int", out v) && v.I is long i) c = ConstTensor.Scalar(ElementType.Int64, i);
        else if (n.Attributes.TryGetValue("value_floats", out v) && v.Floats is { } fs) c = ConstTensor.Floats(ElementType.Float32, new long[] { fs.Length }, fs);
        else if (n.Attributes.TryGetValue("value_ints", out v) && v.Ints is { } @is) c = ConstTensor.Ints(ElementType.Int64, new long[] { @is.Length }, @is);
        else throw new CompilerException(Codes.UnsupportedOperatorForm, "Constant without a tensor, float or int value (sparse and string constants are not supported).", n.Name);
        SetConst(n.Out, c);
    }

    private static void InferCast(Node n)
    {
        var x = n.In(0);
        long to = n.Int("to", 0);
        if (!ElementTypes.IsSupported((int)to))
            throw new CompilerException(Codes.UnsupportedType, $"Cast to {ElementTypes.OnnxName((int)to)} is not supported.", n.Name);
        var type = (ElementType)to;
        if (x.Const is not null) { SetConst(n.Out, x.Const.CastTo(type)); return; }
        if (x.Symbolic is not null && type is ElementType.Int64 or ElementType.Int32) { SetSymbolic(n.Out, type, x.Shape!, x.Symbolic); return; }
        Set(n.Out, type, x.Shape!);
    }

    private static void InferShape(Node n)
    {
        var x = n.In(0);
        int rank = x.Rank;
        long start = n.Int("start", 0), end = n.Int("end", rank);
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Math.Clamp(start, 0, rank);
        end = Math.Clamp(end, start, rank);
        var dims = x.Shape!.Skip((int)start).Take((int)(end - start)).ToArray();
        SetSymbolic(n.Out, ElementType.Int64, new[] { DimExpr.Const(dims.Length) }, dims);
    }

    private static void InferGather(Node n)
    {
        var (data, indices) = (n.In(0), n.In(1));
        int axis = Axis(n, n.Int("axis", 0), data.Rank);
        var shape = data.Shape!.Take(axis).Concat(indices.Shape!).Concat(data.Shape!.Skip(axis + 1)).ToArray();
        var known = Known(data);
        var idx = indices.Const;
        if (known is not null && data.Rank == 1 && idx is not null)
        {
            var vals = Enumerable.Range(0, idx.Count).Select(i =>
            {
                long k = idx.IntAt(i);
                if (k < 0) k += known.Length;
                if (k < 0 || k >= known.Length) throw new CompilerException(Codes.InvalidModel, $"Gather index {idx.IntAt(i)} is out of range.", n.Name);
                return known[k];
            }).ToArray();
            SetSymbolic(n.Out, data.Type, shape, vals);
            return;
        }
        if (data.Const is not null && idx is not null && Small(shape))
        {
            var d = data.Const;
            long outer = d.Shape.Take(axis).Aggregate(1L, (a, b) => a * b);
            long axisLen = d.Shape[axis];
            long inner = d.Shape.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
            var src = new List<int>();
            for (long o = 0; o < outer; o++)
                for (int i = 0; i < idx.Count; i++)
                {
                    long k = idx.IntAt(i);
                    if (k < 0) k += axisLen;
                    if (k < 0 || k >= axisLen) throw new CompilerException(Codes.InvalidModel, $"Gather index {idx.IntAt(i)} is out of range [0,{axisLen}).", n.Name);
                    for (long j = 0; j < inner; j++) src.Add((int)((o * axisLen + k) * inner + j));
                }
            var outShape = Concrete(shape);
            SetConst(n.Out, d.Real is not null
                ? new ConstTensor(d.Type, outShape, src.Select(s => d.Real[s]).ToArray(), null)
                : new ConstTensor(d.Type, outShape, null, src.Select(s => d.Integer![s]).ToArray()));
            return;
        }
        if (indices.Type is not (ElementType.Int64 or ElementType.Int32))
            throw new CompilerException(Codes.InvalidModel, "Gather indices must be int32 or int64.", n.Name);
        Set(n.Out, data.Type, shape);
    }

    private static long[] AxesOf(Node n, int input)
    {
        if (n.Input(input) is not null) return ConstInts(n, input, "axes");
        return n.Ints("axes") ?? Array.Empty<long>();
    }

    private static void Reshaped(Node n, Value x, DimExpr[] shape)
    {
        if (x.Const is not null) { SetConst(n.Out, x.Const.WithShape(Concrete(shape))); return; }
        if (x.Symbolic is not null) { SetSymbolic(n.Out, x.Type, shape, x.Symbolic); return; }
        Set(n.Out, x.Type, shape);
    }

    private static void InferUnsqueeze(Node n)
    {
        var x = n.In(0);
        var axes = AxesOf(n, 1);
        int outRank = x.Rank + axes.Length;
        var norm = axes.Select(a => Axis(n, a, outRank)).ToHashSet();
        var shape = new DimExpr[outRank];
        int src = 0;
        for (int i = 0; i < outRank; i++) shape[i] = norm.Contains(i) ? DimExpr.One : x.Shape![src++];
        Reshaped(n, x, shape);
    }

    private static void InferSqueeze(Node n)
    {
        var x = n.In(0);
        var axes = AxesOf(n, 1);
        var norm = axes.Length == 0
            ? Enumerable.Range(0, x.Rank).Where(i => x.Shape![i] == DimExpr.One).ToHashSet()
            : axes.Select(a => Axis(n, a, x.Rank)).ToHashSet();
        Reshaped(n, x, x.Shape!.Where((_, i) => !norm.Contains(i)).ToArray());
    }

    private static void InferReshape(Node n)
    {
        var x = n.In(0);
        var target = Known(n.Input(1))
            ?? throw new CompilerException(Codes.DynamicShape, "the target shape of Reshape is not known at build time (it depends on tensor values, not only on shapes).", n.Name);
        bool allowZero = n.Int("allowzero", 0) != 0;
        var shape = new DimExpr?[target.Length];
        int inferred = -1;
        for (int i = 0; i < target.Length; i++)
        {
            var t = target[i];
            if (t.IsConstant && t.ConstValue == -1) { inferred = i; continue; }
            if (t.IsConstant && t.ConstValue == 0 && !allowZero) { shape[i] = x.Shape![i]; continue; }
            shape[i] = t;
        }
        if (inferred >= 0)
        {
            var known = DimExpr.Product(shape.Where(d => d is not null)!);
            shape[inferred] = x.ElementCount.TryDivide(known)
                ?? throw new CompilerException(Codes.DynamicShape, $"Reshape of [{string.Join(",", x.Shape!.Select(d => d.ToString()))}] to [{string.Join(",", target.Select(d => d.ToString()))}]: the -1 dimension is not a whole multiple.", n.Name);
        }
        Reshaped(n, x, shape!);
    }

    private static void InferConcat(Node n)
    {
        var parts = n.Inputs.Where(i => i is not null).Select(i => i!).ToArray();
        int axis = Axis(n, n.Int("axis", 0), parts[0].Rank);
        var shape = (DimExpr[])parts[0].Shape!.Clone();
        shape[axis] = parts.Aggregate(DimExpr.Const(0), (sum, p) => sum + p.Shape![axis]);
        if (parts[0].Rank == 1 && parts.All(p => Known(p) is not null))
        {
            SetSymbolic(n.Out, parts[0].Type, shape, parts.SelectMany(p => Known(p)!).ToArray());
            return;
        }
        if (parts.All(p => p.Const is not null) && Small(shape)) { SetConst(n.Out, ConstEval.Concat(parts.Select(p => p.Const!).ToArray(), axis)); return; }
        Set(n.Out, parts[0].Type, shape);
    }

    private static void InferSlice(Node n)
    {
        var x = n.In(0);
        var s = SliceGeometry.From(n, x.Shape!);
        var shape = s.OutputShape;
        if (Known(x) is { } k && x.Rank == 1 && s.Starts[0].IsConstant)
        {
            long start = s.Starts[0].ConstValue, step = s.Steps[0];
            var count = shape[0].ConstValue;
            SetSymbolic(n.Out, x.Type, shape, Enumerable.Range(0, (int)count).Select(i => k[start + i * step]).ToArray());
            return;
        }
        if (x.Const is not null && Small(shape) && s.Starts.All(d => d.IsConstant))
        {
            var inStrides = ConstEval.ContiguousStrides(x.Const.Shape);
            long offset = 0;
            var strides = new long[x.Rank];
            for (int i = 0; i < x.Rank; i++) { offset += s.Starts[i].ConstValue * inStrides[i]; strides[i] = s.Steps[i] * inStrides[i]; }
            SetConst(n.Out, ConstEval.Strided(x.Const, Concrete(shape), strides, offset));
            return;
        }
        Set(n.Out, x.Type, shape);
    }

    public static int[] Perm(Node n, int rank)
    {
        var perm = n.Ints("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
        if (perm.Length != rank || perm.OrderBy(p => p).Where((p, i) => p != i).Any())
            throw new CompilerException(Codes.InvalidModel, $"Transpose perm [{string.Join(",", perm)}] does not fit rank {rank}.", n.Name);
        return perm;
    }

    private static void InferExpand(Node n)
    {
        var x = n.In(0);
        var target = Known(n.Input(1)) ?? throw new CompilerException(Codes.DynamicShape, "the shape input of Expand is not known at build time.", n.Name);
        var shape = Broadcasting.Shape(n.Name, x.Shape!, target);
        if (x.Const is not null && Small(shape))
        {
            var outShape = Concrete(shape);
            SetConst(n.Out, ConstEval.Strided(x.Const, outShape, Broadcasting.Strides(x.Const.Shape, outShape), 0));
            return;
        }
        Set(n.Out, x.Type, shape);
    }

    private static void InferConstantOfShape(Node n)
    {
        var shape = Known(n.In(0)) ?? throw new CompilerException(Codes.DynamicShape, "the shape input of ConstantOfShape is not known at build time.", n.Name);
        var value = n.Attributes.TryGetValue("value", out var a) && a.T is not null ? a.T : ConstTensor.Scalar(ElementType.Float32, 0);
        if (Small(shape))
        {
            var s = Concrete(shape);
            long count = ConstTensor.ElementCount(s);
            SetConst(n.Out, value.Type.IsFloat()
                ? new ConstTensor(value.Type, s, Enumerable.Repeat(value[0], (int)count).ToArray(), null)
                : new ConstTensor(value.Type, s, null, Enumerable.Repeat(value.IntAt(0), (int)count).ToArray()));
            return;
        }
        Set(n.Out, value.Type, shape);
    }

    private static void InferRange(Node n)
    {
        var (start, limit, delta) = (n.In(0), n.In(1), n.In(2));
        if (start.Const is not null && limit.Const is not null && delta.Const is not null)
        {
            double s = start.Const[0], l = limit.Const[0], d = delta.Const[0];
            long count = Math.Max((long)Math.Ceiling((l - s) / d), 0);
            var values = Enumerable.Range(0, (int)count).Select(i => s + i * d).ToArray();
            SetConst(n.Out, start.Type.IsFloat()
                ? ConstTensor.Floats(start.Type, new[] { count }, values)
                : ConstTensor.Ints(start.Type, new[] { count }, values.Select(v => (long)v).ToArray()));
            return;
        }
        var (ks, kl, kd) = (Known(start), Known(limit), Known(delta));
        if (ks is { Length: 1 } && kl is { Length: 1 } && kd is { Length: 1 } && kd[0].IsConstant && ks[0].IsConstant)
        {
            if ((kl[0] - ks[0]).TryDivide(kd[0]) is { } count)
            {
                Set(n.Out, start.Type, new[] { count });
                return;
            }
        }
        throw new CompilerException(Codes.DynamicShape, "the length of Range's output is not known at build time.", n.Name);
    }

    private static void InferBinary(Node n)
    {
        var (a, b) = (n.In(0), n.In(1));
        var shape = Broadcasting.Shape(n.Name, a.Shape!, b.Shape!);
        bool comparison = n.OpType is "Equal" or "Greater" or "Less";
        var type = comparison ? ElementType.Bool : a.Type;
        if (a.Const is not null && b.Const is not null && Small(shape))
        {
            SetConst(n.Out, FoldBinary(n.OpType, a.Const, b.Const, type));
            return;
        }
        if (Known(a) is { } ka && Known(b) is { } kb && a.Rank <= 1 && b.Rank <= 1 && !a.Type.IsFloat())
        {
            int len = Math.Max(ka.Length, kb.Length);
            var vals = new DimExpr[len];
            for (int i = 0; i < len; i++)
            {
                var (x, y) = (ka[ka.Length == 1 ? 0 : i], kb[kb.Length == 1 ? 0 : i]);
                DimExpr? r = n.OpType switch
                {
                    "Mul" => x * y,
                    "Div" => x.TryDivide(y),
                    "Add" => x + y,
                    "Sub" => x - y,
                    "Equal" => x == y ? DimExpr.One : (x.IsConstant && y.IsConstant) || (x.IsConstant && x.ConstValue <= 0) || (y.IsConstant && y.ConstValue <= 0) ? DimExpr.Const(0) : null,
                    _ => null,
                };
                if (r is null) { Set(n.Out, type, shape); return; }
                vals[i] = r;
            }
            SetSymbolic(n.Out, type, shape, vals);
            return;
        }
        Set(n.Out, type, shape);
    }

    private static ConstTensor FoldBinary(string op, ConstTensor a, ConstTensor b, ElementType type) => op switch
    {
        "Add" => ConstEval.Elementwise(a, b, type, (x, y) => x + y, (x, y) => x + y),
        "Sub" => ConstEval.Elementwise(a, b, type, (x, y) => x - y, (x, y) => x - y),
        "Mul" => ConstEval.Elementwise(a, b, type, (x, y) => x * y, (x, y) => x * y),
        "Div" => ConstEval.Elementwise(a, b, type, (x, y) => x / y, (x, y) => y == 0 ? 0 : x / y),
        "Pow" => ConstEval.Elementwise(a, b, type, Math.Pow, (x, y) => (long)Math.Pow(x, y)),
        "Max" => ConstEval.Elementwise(a, b, type, Math.Max, Math.Max),
        "Min" => ConstEval.Elementwise(a, b, type, Math.Min, Math.Min),
        "Equal" => ConstEval.Elementwise(a, b, type, (x, y) => x == y ? 1 : 0, (x, y) => x == y ? 1 : 0),
        "Greater" => ConstEval.Elementwise(a, b, type, (x, y) => x > y ? 1 : 0, (x, y) => x > y ? 1 : 0),
        "Less" => ConstEval.Elementwise(a, b, type, (x, y) => x < y ? 1 : 0, (x, y) => x < y ? 1 : 0),
        "And" => ConstEval.Elementwise(a, b, type, (x, y) => x != 0 && y != 0 ? 1 : 0, (x, y) => x != 0 && y != 0 ? 1 : 0),
        "Or" => ConstEval.Elementwise(a, b, type, (x, y) => x != 0 || y != 0 ? 1 : 0, (x, y) => x != 0 || y != 0 ? 1 : 0),
        _ => throw new InvalidOperationException(op),
    };

    private static void InferMatMul(Node n)
    {
        var (a, b) = (n.In(0), n.In(1));
        var sa = a.Shape!; var sb = b.Shape!;
        if (sa.Length == 0 || sb.Length == 0) throw new CompilerException(Codes.InvalidModel, "MatMul of a scalar.", n.Name);
        var am = sa.Length == 1 ? new[] { DimExpr.One, sa[0] } : sa;
        var bm = sb.Length == 1 ? new[] { sb[0], DimExpr.One } : sb;
        var batch = Broadcasting.Shape(n.Name, am[..^2], bm[..^2]);
        var shape = batch.ToList();
        if (sa.Length > 1) shape.Add(am[^2]);
        if (sb.Length > 1) shape.Add(bm[^1]);
        Set(n.Out, a.Type, shape.ToArray());
    }

    public static (int[] Axes, bool KeepDims) ReduceAxes(Node n, int rank)
    {
        long[]? axes = n.Input(1) is not null ? ConstInts(n, 1, "axes") : n.Ints("axes");
        bool noop = n.Int("noop_with_empty_axes", 0) != 0;
        int[] norm = axes is null || axes.Length == 0
            ? (noop ? Array.Empty<int>() : Enumerable.Range(0, rank).ToArray())
            : axes.Select(a => Axis(n, a, rank)).Distinct().OrderBy(a => a).ToArray();
        return (norm, n.Int("keepdims", 1) != 0);
    }

    private static void InferReduce(Node n)
    {
        var x = n.In(0);
        var (axes, keep) = ReduceAxes(n, x.Rank);
        var shape = new List<DimExpr>();
        for (int i = 0; i < x.Rank; i++)
            if (!axes.Contains(i)) shape.Add(x.Shape![i]);
            else if (keep) shape.Add(DimExpr.One);
        Set(n.Out, x.Type, shape.ToArray());
    }

    private static void InferConv(Node n)
    {
        var (x, w) = (n.In(0), n.In(1));
        var geometry = ConvGeometry.From(n, x.Shape!, w.Shape!);
        Set(n.Out, x.Type, geometry.OutputShape);
    }

    public static DimExpr[] SplitSizes(Node n, DimExpr dim)
    {
        int parts = n.Outputs.Count;
        long[]? split = n.Input(1) is not null ? ConstInts(n, 1, "split sizes") : n.Ints("split");
        if (split is not null) return split.Select(DimExpr.Const).ToArray();
        if (dim.IsConstant)
        {
            long size = (dim.ConstValue + parts - 1) / parts;
            return Enumerable.Range(0, parts).Select(i => DimExpr.Const(Math.Min(size, dim.ConstValue - i * size))).ToArray();
        }
        var even = dim.TryDivide(DimExpr.Const(parts)) ?? throw new CompilerException(Codes.DynamicShape, "Split of a named dimension into unequal parts.", n.Name);
        return Enumerable.Repeat(even, parts).ToArray();
    }

    /// <summary>Pad's per-axis amounts (constant mode, non-negative: what exporters emit for F.pad).</summary>
    public static (long[] Begin, long[] End) PadAmounts(Node n, int rank)
    {
        if (n.Str("mode", "constant") != "constant")
            throw new CompilerException(Codes.UnsupportedOperatorForm, $"Pad mode '{n.Str("mode", "constant")}' is not supported (constant only).", n.Name);
        var pads = ConstInts(n, 1, "pads");
        long[] axes = n.Input(3) is not null ? ConstInts(n, 3, "axes") : Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        if (pads.Length != axes.Length * 2) throw new CompilerException(Codes.InvalidModel, "Pad's pads do not match its axes.", n.Name);
        var begin = new long[rank];
        var end = new long[rank];
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = Axis(n, axes[i], rank);
            (begin[axis], end[axis]) = (pads[i], pads[i + axes.Length]);
        }
        if (begin.Concat(end).Any(p => p < 0))
            throw new CompilerException(Codes.UnsupportedOperatorForm, "Pad with negative amounts (cropping) is not supported; use Slice.", n.Name);
        return (begin, end);
    }

    private static void InferSplit(Node n)
    {
        var x = n.In(0);
        int axis = Axis(n, n.Int("axis", 0), x.Rank);
        var sizes = SplitSizes(n, x.Shape![axis]);
        for (int i = 0; i < n.Outputs.Count; i++)
        {
            var shape = (DimExpr[])x.Shape!.Clone();
            shape[axis] = sizes[i];
            Set(n.Outputs[i], x.Type, shape);
        }
    }
}
