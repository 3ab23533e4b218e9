using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>
/// Rewrites the operator patterns exporters produce into the fused operators the kernels run
/// best. Each rule matches from one anchor node, builds the fused node in place of the
/// pattern's last node (so all its inputs are already computed there) and leaves the rest to
/// dead-code removal: an intermediate that something else still reads stays computed.
/// </summary>
public static partial class Fusion
{
    /// <param name="foldAffineIntoDense">False when quantizing: a quantized weight must be the model's own weight
    /// (docs/quantization.md), so a following per-channel Mul/Add stays a separate op.</param>
    public static void Run(Graph graph, bool foldAffineIntoDense = true)
    {
        RemoveNoOps(graph);
        BypassExpand(graph);
        Rewrite(graph, "Div", LayerNormFromDecomposition);
        Rewrite(graph, "Erf", GeluFromErf);
        Rewrite(graph, "BatchNormalization", FoldBatchNormIntoConv);
        Rewrite(graph, "Sigmoid", SiluFromSigmoid);
        Rewrite(graph, "Softmax", AttentionFromSoftmax);
        Rewrite(graph, "MatMul", DenseFromMatMul);
        if (foldAffineIntoDense) Rewrite(graph, FusedOps.Dense, AffineIntoDense);
        Rewrite(graph, "Mul", ScaleShiftFromMulAdd);
        Rewrite(graph, FusedOps.Dense, ActivationIntoProducer);
        Rewrite(graph, "Conv", ActivationIntoProducer);
        Rewrite(graph, FusedOps.Attention, MergeAttentionProjections);
    }

    /// <summary>
    /// A rule: given an anchor and the consumer map, returns the node it replaces and the fused
    /// node, or null. <paramref name="prelude"/> receives any helper nodes the fused node reads,
    /// which are placed just before it.
    /// </summary>
    private delegate (Node Root, Node Fused)? Rule(Graph graph, Node anchor, Dictionary<Value, List<Node>> consumers, List<Node> prelude);

    private static void Rewrite(Graph graph, string anchorOp, Rule rule)
    {
        bool changed = true;
        while (changed)
        {
            changed = false;
            var consumers = graph.Consumers();
            foreach (var anchor in graph.Nodes.Where(n => n.OpType == anchorOp).ToList())
            {
                if (!graph.Nodes.Contains(anchor)) continue;
                var prelude = new List<Node>();
                if (rule(graph, anchor, consumers, prelude) is not { } match) continue;
                int at = graph.Nodes.IndexOf(match.Root);
                graph.Nodes[at] = match.Fused;
                graph.Nodes.InsertRange(at, prelude);
                foreach (var p in prelude)
                    foreach (var o in p.Outputs) o.Producer = p;
                foreach (var o in match.Fused.Outputs) o.Producer = match.Fused;
                DeadCode.Run(graph);
                changed = true;
                break;
            }
        }
    }

    // ---- matching helpers ----------------------------------------------------------------------

    private static Node? From(Value? v, string op) => v?.Producer is { } p && p.OpType == op && !v.IsGraphInput ? p : null;

    private static Node? OnlyConsumer(Dictionary<Value, List<Node>> consumers, Value v, string op) =>
        !v.IsGraphOutput && consumers.TryGetValue(v, out var list) && list.Count == 1 && list[0].OpType == op ? list[0] : null;

    private static bool IsScalar(Value? v, out double value)
    {
        value = 0;
        if (v?.Const is not { Count: 1 } c) return false;
        value = c[0];
        return true;
    }

    private static bool IsScalar(Value? v, double expected, double tolerance = 1e-6) =>
        IsScalar(v, out var value) && Math.Abs(value - expected) <= tolerance * Math.Max(1, Math.Abs(expected));

    /// <summary>The input of a binary node that is not <paramref name="known"/>, or null if neither is.</summary>
    private static Value? Other(Node n, Value known) =>
        n.Inputs.Count == 2 ? (n.Inputs[0] == known ? n.Inputs[1] : n.Inputs[1] == known ? n.Inputs[0] : null) : null;

    private static bool LastAxis(Node reduce, int rank)
    {
        var (axes, keep) = ShapeInference.ReduceAxes(reduce, rank);
        return keep && axes.Length == 1 && axes[0] == rank - 1;
    }

    // ---- rules ----------------------------------------------------------------------------------

    /// <summary>
    /// Identity, Dropout (inference) and Cast to the same type pass their input through; reading
    /// the input directly lets the rules below see the real producer (masked_fill exports a
    /// bool→bool Cast between its Expand and its Where).
    /// </summary>
    private static void RemoveNoOps(Graph graph)
    {
        foreach (var n in graph.Nodes.ToList())
        {
            bool passThrough = n.OpType is "Identity" or "Dropout" || (n.OpType == "Cast" && n.In(0).Type == n.Out.Type);
            if (!passThrough || n.Out.IsGraphOutput || n.Outputs.Skip(1).Any(o => graph.Nodes.Any(c => c.Inputs.Contains(o)))) continue;
            foreach (var consumer in graph.Nodes)
                for (int i = 0; i < consumer.Inputs.Count; i++)
                    if (consumer.Inputs[i] == n.Out) consumer.Inputs[i] = n.In(0);
        }
        DeadCode.Run(graph);
    }

    /// <summary>
    /// Where and broadcasting binary ops broadcast by themselves, so an Expand that only feeds
    /// them (the exporter's masked_fill mask) is skipped: the kernel reads the small tensor.
    /// </summary>
    private static void BypassExpand(Graph graph)
    {
        foreach (var n in graph.Nodes)
        {
            if (n.OpType != "Where" && !ShapeInference.BinaryOps.Contains(n.OpType)) continue;
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                if (From(n.Inputs[i], "Expand") is not { } expand) continue;
                var shapes = n.Inputs.Select((v, k) => k == i ? expand.In(0).Shape! : v!.Shape!).ToArray();
                try
                {
                    if (Broadcasting.Shape(n.Name, shapes).SequenceEqual(n.Out.Shape!)) n.Inputs[i] = expand.In(0);
                }
                catch (CompilerException) { }
            }
        }
        DeadCode.Run(graph);
    }

    /// <summary>(x - mean) / sqrt(var + eps) [* gamma] [+ beta] over the last axis → LayerNormalization.</summary>
    private static (Node, Node)? LayerNormFromDecomposition(Graph graph, Node div, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        if (From(div.Input(0), "Sub") is not { } sub || From(div.Input(1), "Sqrt") is not { } sqrt) return null;
        var x = sub.In(0);
        if (x.Type != ElementType.Float32 || From(sub.Input(1), "ReduceMean") is not { } mean || mean.In(0) != x || !LastAxis(mean, x.Rank)) return null;
        if (From(sqrt.Input(0), "Add") is not { } addEps) return null;
        var variance = From(addEps.Input(0), "ReduceMean") ?? From(addEps.Input(1), "ReduceMean");
        if (variance is null || !IsScalar(Other(addEps, variance.Out), out double eps)) return null;
        if (From(variance.Input(0), "Pow") is not { } pow || pow.In(0) != sub.Out || !IsScalar(pow.Input(1), 2) || !LastAxis(variance, x.Rank)) return null;

        var width = x.Shape![^1];
        Node root = div;
        Value? gamma = null, beta = null;
        if (OnlyConsumer(consumers, div.Out, "Mul") is { } mul && Other(mul, div.Out) is { Const: not null } g && g.ElementCount == width && g.Rank == 1)
        {
            (root, gamma) = (mul, g);
            if (OnlyConsumer(consumers, mul.Out, "Add") is { } add && Other(add, mul.Out) is { Const: not null } b && b.ElementCount == width && b.Rank == 1)
                (root, beta) = (add, b);
        }
        if (!width.IsConstant) return null;
        gamma ??= new Value(div.Name + "/gamma", ElementType.Float32, new[] { width })
        {
            Const = ConstTensor.Floats(ElementType.Float32, new[] { width.ConstValue }, Enumerable.Repeat(1.0, (int)width.ConstValue).ToArray()),
        };
        var fused = new Node("LayerNormalization", root.Name, new[] { x, gamma, beta }, new[] { root.Out },
            new Dictionary<string, Attr> { ["axis"] = new(I: -1), ["epsilon"] = new(F: eps) });
        return (root, fused);
    }

    /// <summary>x · 0.5 · (1 + erf(x / √2)) in any association → Gelu.</summary>
    private static (Node, Node)? GeluFromErf(Graph graph, Node erf, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        Value x;
        if (From(erf.Input(0), "Div") is { } div && IsScalar(div.Input(1), Math.Sqrt(2))) x = div.In(0);
        else if (From(erf.Input(0), "Mul") is { } scale && IsScalar(scale.Input(1), Math.Sqrt(0.5))) x = scale.In(0);
        else return null;
        if (x.Type != ElementType.Float32) return null;
        if (OnlyConsumer(consumers, erf.Out, "Add") is not { } plusOne || !IsScalar(Other(plusOne, erf.Out), 1)) return null;
        if (OnlyConsumer(consumers, plusOne.Out, "Mul") is not { } mul) return null;
        var other = Other(mul, plusOne.Out);
        Node root;
        if (other == x)
        {
            if (OnlyConsumer(consumers, mul.Out, "Mul") is not { } half || !IsScalar(Other(half, mul.Out), 0.5)) return null;
            root = half;
        }
        else if (From(other, "Mul") is { } xHalf && ((xHalf.Input(0) == x && IsScalar(xHalf.Input(1), 0.5)) || (xHalf.Input(1) == x && IsScalar(xHalf.Input(0), 0.5))))
            root = mul;
        else return null;
        return (root, new Node("Gelu", root.Name, new[] { x }, new[] { root.Out }));
    }

    /// <summary>Conv followed by BatchNormalization (inference) → one Conv with rescaled weights.</summary>
    private static (Node, Node)? FoldBatchNormIntoConv(Graph graph, Node bn, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        if (From(bn.Input(0), "Conv") is not { } conv || conv.In(1).Const is not { } w || (conv.Input(2) is { } b0 && b0.Const is null)) return null;
        if (consumers[conv.Out].Count != 1 || conv.Out.IsGraphOutput || Enumerable.Range(1, 4).Any(i => bn.In(i).Const is null)) return null;
        var (scale, shift) = FusedOps.BatchNormAffine(bn);
        long perChannel = w.Count / w.Shape[0];
        var weights = new double[w.Count];
        for (int i = 0; i < w.Count; i++) weights[i] = w[i] * scale[(int)(i / perChannel)];
        var bias = new double[w.Shape[0]];
        for (int c = 0; c < bias.Length; c++) bias[c] = (conv.Input(2)?.Const?[c] ?? 0) * scale[c] + shift[c];
        var wv = new Value(conv.Name + "/folded_w", ElementType.Float32, conv.In(1).Shape) { Const = ConstTensor.Floats(ElementType.Float32, w.Shape, weights) };
        var bv = new Value(conv.Name + "/folded_b", ElementType.Float32, new[] { DimExpr.Const(bias.Length) }) { Const = ConstTensor.Floats(ElementType.Float32, new long[] { bias.Length }, bias) };
        var fused = new Node("Conv", conv.Name, new[] { conv.In(0), wv, bv }, new[] { bn.Out }, new Dictionary<string, Attr>(conv.Attributes));
        return (bn, fused);
    }

    /// <summary>MatMul by a constant matrix, plus a constant bias row → Dense.</summary>
    private static (Node, Node)? DenseFromMatMul(Graph graph, Node mm, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        var (x, w) = (mm.In(0), mm.In(1));
        if (w.Const is null || w.Rank != 2 || x.Rank < 2 || x.Type != ElementType.Float32) return null;
        Node root = mm;
        Value? bias = null;
        if (OnlyConsumer(consumers, mm.Out, "Add") is { } add && Other(add, mm.Out) is { Const: not null } b && b.Rank == 1 && b.Shape![0] == w.Shape![1])
            (root, bias) = (add, b);
        return (root, new Node(FusedOps.Dense, root.Name, new[] { x, w, bias }, new[] { root.Out }, new Dictionary<string, Attr> { ["activation"] = new(S: "None") }));
    }

    /// <summary>
    /// A constant per-channel vector over the last axis of <paramref name="x"/> (shape [N] or [1,...,1,N]), or null.
    /// </summary>
    private static ConstTensor? ChannelVector(Value? v, Value x)
    {
        if (v?.Const is not { } c || v.Type != ElementType.Float32 || !x.Shape![^1].IsConstant) return null;
        long n = x.Shape![^1].ConstValue;
        return c.Count == n && c.Shape.Length >= 1 && c.Shape[^1] == n && c.Shape.Length <= x.Rank ? c : null;
    }

    /// <summary>
    /// Dense (no activation) followed only by a per-channel Mul and optionally Add (MobileBERT's NoNorm) → one
    /// Dense with W·diag(scale) and bias·scale + shift, so the affine costs nothing at run time.
    /// </summary>
    private static (Node, Node)? AffineIntoDense(Graph graph, Node dense, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        if (dense.Str("activation", "None") != "None" || dense.In(1).Const is not { } w || (dense.Input(2) is { } b0 && b0.Const is null)) return null;
        if (OnlyConsumer(consumers, dense.Out, "Mul") is not { } mul || ChannelVector(Other(mul, dense.Out), dense.Out) is not { } scale) return null;
        Node root = mul;
        ConstTensor? shift = null;
        if (OnlyConsumer(consumers, mul.Out, "Add") is { } add && ChannelVector(Other(add, mul.Out), mul.Out) is { } s)
            (root, shift) = (add, s);
        if (!root.Out.Shape!.SequenceEqual(dense.Out.Shape!)) return null;
        long n = w.Shape[1];
        var weights = new double[w.Count];
        for (int i = 0; i < weights.Length; i++) weights[i] = w[i] * scale[(int)(i % n)];
        var bias = new double[n];
        for (int j = 0; j < n; j++) bias[j] = (dense.Input(2)?.Const?[j] ?? 0) * scale[j] + (shift?[j] ?? 0);
        var wv = new Value(dense.Name + "/affine_w", ElementType.Float32, dense.In(1).Shape) { Const = ConstTensor.Floats(ElementType.Float32, w.Shape, weights) };
        var bv = new Value(dense.Name + "/affine_b", ElementType.Float32, new[] { DimExpr.Const(n) }) { Const = ConstTensor.Floats(ElementType.Float32, new[] { n }, bias) };
        return (root, new Node(FusedOps.Dense, dense.Name, new[] { dense.In(0), wv, bv }, new[] { root.Out }, new Dictionary<string, Attr>(dense.Attributes)));
    }

    /// <summary>
    /// (x [+ r]) · scale + shift with per-channel constants → ScaleShift: one pass instead of two or three
    /// (the residual Add is taken in when the sum feeds only the Mul and needs no broadcasting).
    /// </summary>
    private static (Node, Node)? ScaleShiftFromMulAdd(Graph graph, Node mul, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        if (mul.Input(0) is not { } a || mul.Input(1) is not { } b) return null;
        var (x, scale) = b.Const is not null ? (a, b) : (b, a);
        if (x.Const is not null || x.Type != ElementType.Float32 || ChannelVector(scale, x) is null) return null;
        if (OnlyConsumer(consumers, mul.Out, "Add") is not { } add || Other(add, mul.Out) is not { } shift || ChannelVector(shift, mul.Out) is null) return null;
        if (!add.Out.Shape!.SequenceEqual(x.Shape!)) return null;
        Value? residual = null;
        if (From(x, "Add") is { } sum && OnlyConsumer(consumers, sum.Out, "Mul") == mul && sum.In(0).Type == ElementType.Float32
            && sum.In(0).Shape!.SequenceEqual(x.Shape!) && sum.In(1).Shape!.SequenceEqual(x.Shape!))
            (x, residual) = (sum.In(0), sum.In(1));
        return (add, new Node(FusedOps.ScaleShift, add.Name, new[] { x, residual, scale, shift }, new[] { add.Out }));
    }

    /// <summary>x · sigmoid(x) → SiLU.</summary>
    private static (Node, Node)? SiluFromSigmoid(Graph graph, Node sigmoid, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        var x = sigmoid.In(0);
        if (x.Type != ElementType.Float32 || OnlyConsumer(consumers, sigmoid.Out, "Mul") is not { } mul || Other(mul, sigmoid.Out) != x) return null;
        return (mul, new Node(FusedOps.Silu, mul.Name, new[] { x }, new[] { mul.Out }));
    }

    private static readonly Dictionary<string, string> Activations = new()
    {
        ["Relu"] = "Relu", ["Gelu"] = "Gelu", ["Tanh"] = "Tanh", ["Sigmoid"] = "Sigmoid", [FusedOps.Silu] = "Silu",
    };

    /// <summary>Dense or Conv followed by its only consumer, an activation → the same op with that epilogue.</summary>
    private static (Node, Node)? ActivationIntoProducer(Graph graph, Node producer, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        if (producer.Str("activation", "None") != "None" || producer.Out.IsGraphOutput) return null;
        if (!consumers.TryGetValue(producer.Out, out var list) || list.Count != 1 || !Activations.TryGetValue(list[0].OpType, out var act)) return null;
        var activation = list[0];
        if (activation.OpType == "Gelu" && activation.Str("approximate", "none") == "tanh") act = "GeluTanh";
        var attributes = new Dictionary<string, Attr>(producer.Attributes) { ["activation"] = new(S: act) };
        var fused = new Node(producer.OpType, producer.Name, producer.Inputs, new[] { activation.Out }, attributes);
        return (activation, fused);
    }
}
