using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

public static partial class Fusion
{
    /// <summary>
    /// Multi-head scaled-dot-product attention as Hugging Face models export it:
    /// q, k, v each a [B,S,H·D] projection reshaped to [B,S,H,D] and transposed to heads-first,
    /// scores = q·kᵀ (scaled on q or on the scores, masked by an additive mask or masked_fill),
    /// softmax, ·v, transposed back to [B,S,H,D]. The fused kernel reads q, k, v and writes the
    /// result in their token-major layout, so none of the four transposes is materialised.
    /// </summary>
    private static (Node, Node)? AttentionFromSoftmax(Graph graph, Node softmax, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        var scoresShape = softmax.In(0).Shape!;
        if (scoresShape.Length != 4 || ShapeInference.Axis(softmax, softmax.Int("axis", -1), 4) != 3 || softmax.In(0).Type != ElementType.Float32) return null;

        // Forward: probs (through Dropout) · v, then the transpose back to token-major.
        var probs = softmax.Out;
        while (consumers.TryGetValue(probs, out var next) && next.Count == 1 && next[0].OpType is "Dropout" or "Identity") probs = next[0].Out;
        if (OnlyConsumer(consumers, probs, "MatMul") is not { } context || context.In(0) != probs) return null;
        if (HeadsFirst(context.In(1), transposedKey: false) is not { } v) return null;
        if (OnlyConsumer(consumers, context.Out, "Transpose") is not { } back || !back.Ints("perm")!.SequenceEqual(new long[] { 0, 2, 1, 3 })) return null;

        // Backward: mask, scale, q·kᵀ.
        var s = softmax.In(0);
        Value? mask = null;
        double scale = 1;
        if (From(s, "Add") is { } add && IsScoreLike(add.Input(0)) != IsScoreLike(add.Input(1)))
            (mask, s) = IsScoreLike(add.Input(0)) ? (add.In(1), add.In(0)) : (add.In(0), add.In(1));
        else if (From(s, "Where") is { } where && IsScalar(where.Input(1), out double fill) && where.In(2).Shape!.SequenceEqual(scoresShape))
        {
            // masked_fill(cond, fill): fill + score rounds to fill in float for any score the
            // softmax can see, so it equals adding where(cond, fill, 0).
            var zero = new Value(where.Name + "/zero", ElementType.Float32, System.Array.Empty<DimExpr>()) { Const = ConstTensor.Scalar(ElementType.Float32, 0) };
            var cond = where.In(0);
            mask = graph.NewValue(where.Name + "/additive_mask", ElementType.Float32, Broadcasting.Shape(where.Name, cond.Shape!, where.In(1).Shape!));
            prelude.Add(new Node("Where", where.Name + "/additive_mask", new[] { cond, where.In(1), zero }, new[] { mask }));
            s = where.In(2);
        }
        if (From(s, "Div") is { } div && IsScalar(div.Input(1), out double d)) (scale, s) = (1 / d, div.In(0));
        else if (From(s, "Mul") is { } mul && IsScalar(mul.Input(1), out double m)) (scale, s) = (m, mul.In(0));
        if (From(s, "MatMul") is not { } qk) return null;
        var qValue = qk.In(0);
        if (From(qValue, "Div") is { } qDiv && IsScalar(qDiv.Input(1), out double qd)) (scale, qValue) = (scale / qd, qDiv.In(0));
        else if (From(qValue, "Mul") is { } qMul && IsScalar(qMul.Input(1), out double qm)) (scale, qValue) = (scale * qm, qMul.In(0));
        if (HeadsFirst(qValue, transposedKey: false) is not { } q || HeadsFirst(qk.In(1), transposedKey: true) is not { } k) return null;

        DimExpr batch = q.Source.Shape![0], seqQ = q.Source.Shape![1], heads = q.Heads, headDim = q.Dim, seqK = k.Source.Shape![1];
        if (k.Heads != heads || v.Heads != heads || k.Dim != headDim || v.Source.Shape![1] != seqK || k.Source.Shape![0] != batch || v.Source.Shape![0] != batch) return null;

        AttentionMask? maskLayout = null;
        if (mask is not null)
        {
            if (mask.Type != ElementType.Float32 || mask.Rank > 4) return null;
            var full = new[] { batch, heads, seqQ, seqK };
            var strides = Lowering.StridedSpace.BroadcastStrides(mask.Shape!, full);
            if (strides[3] != DimExpr.One && seqK != DimExpr.One) return null;
            maskLayout = new AttentionMask(strides[0], strides[1], strides[2]);
        }
        var layout = new AttentionLayout(batch, heads, seqQ, seqK, headDim, v.Dim, scale, Operand(q), Operand(k), Operand(v), maskLayout);
        var fused = new Node(FusedOps.Attention, softmax.Name, new[] { q.Source, k.Source, v.Source, mask }, new[] { back.Out }) { Payload = layout };
        return (back, fused);
    }

    /// <summary>
    /// Two or three of an attention's q, k, v projections that read the same input (BERT's q, k and v;
    /// MobileBERT's q and k) → one Dense with their weight columns side by side, which the attention reads in
    /// place at column offsets: one wider GEMM instead of two or three narrow ones.
    /// </summary>
    private static (Node, Node)? MergeAttentionProjections(Graph graph, Node attention, Dictionary<Value, List<Node>> consumers, List<Node> prelude)
    {
        var layout = FusedOps.ReadAttention(attention);
        var operands = new[] { layout.Q, layout.K, layout.V };
        Node? Projection(int slot)
        {
            var v = attention.In(slot);
            if (From(v, FusedOps.Dense) is not { } dense || dense.Str("activation", "None") != "None" || dense.In(1).Const is null) return null;
            if (dense.Input(2) is { } b && b.Const is null) return null;
            if (v.IsGraphOutput || !consumers.TryGetValue(v, out var readers) || readers.Count != 1 || v.Rank != 3) return null;
            if (operands[slot].BatchStride != v.Shape![1] * v.Shape![2] || operands[slot].RowStride != v.Shape![2]) return null;
            return dense;
        }
        var projections = Enumerable.Range(0, 3).Select(Projection).ToArray();
        var group = Enumerable.Range(0, 3).Where(i => projections[i] is not null)
            .GroupBy(i => projections[i]!.In(0)).FirstOrDefault(g => g.Select(i => attention.In(i)).Distinct().Count() >= 2)?.ToArray();
        if (group is null || group.Select(i => attention.In(i)).Distinct().Count() != group.Length) return null;

        var x = projections[group[0]]!.In(0);
        var weights = group.Select(i => projections[i]!.In(1).Const!).ToArray();
        long k = weights[0].Shape[0];
        if (weights.Any(w => w.Shape.Length != 2 || w.Shape[0] != k)) return null;
        var columnOffsets = new long[group.Length];
        for (int m = 1; m < group.Length; m++) columnOffsets[m] = columnOffsets[m - 1] + weights[m - 1].Shape[1];
        long width = columnOffsets[^1] + weights[^1].Shape[1];

        var merged = ConstEval.Concat(weights, axis: 1);
        var bias = new double[width];
        for (int m = 0; m < group.Length; m++)
            if (projections[group[m]]!.Input(2)?.Const is { } b)
                for (int j = 0; j < b.Count; j++) bias[columnOffsets[m] + j] = b[j];
        var source = attention.In(group[0]);
        var wv = new Value(attention.Name + "/projections_w", ElementType.Float32, new[] { DimExpr.Const(k), DimExpr.Const(width) })
        {
            Const = merged,
            // Each original q/k/v weight and its column range, for the reference ONNX file.
            WeightOrigin = WeightOrigins.Concatenated(group.Select(i => projections[i]!.In(1))),
        };
        var bv = new Value(attention.Name + "/projections_b", ElementType.Float32, new[] { DimExpr.Const(width) })
        {
            Const = ConstTensor.Floats(ElementType.Float32, new[] { width }, bias),
            // Each original bias initializer and its range, for the pruned ONNX file (head pruning zeroes removed heads' biases).
            WeightOrigin = BiasOrigin(group.Select(i => projections[i]!.Input(2)).ToArray(), columnOffsets, weights),
        };
        var output = graph.NewValue(attention.Name + "/projections", ElementType.Float32, new[] { source.Shape![0], source.Shape![1], DimExpr.Const(width) });
        prelude.Add(new Node(FusedOps.Dense, attention.Name + "/projections", new[] { x, wv, bv }, new[] { output },
            new Dictionary<string, Attr> { ["activation"] = new(S: "None") }));

        var inputs = attention.Inputs.ToList();
        for (int m = 0; m < group.Length; m++)
        {
            int slot = group[m];
            var o = operands[slot];
            operands[slot] = o with { Offset = o.Offset + DimExpr.Const(columnOffsets[m]), BatchStride = source.Shape![1] * DimExpr.Const(width), RowStride = DimExpr.Const(width) };
            inputs[slot] = output;
        }
        var fused = new Node(FusedOps.Attention, attention.Name, inputs, attention.Outputs)
        {
            Payload = layout with { Q = operands[0], K = operands[1], V = operands[2] },
        };
        return (attention, fused);
    }

    /// <summary>The merged bias's origin: each part's own initializer at its column offset, or null if a part has none.</summary>
    private static IReadOnlyList<WeightSlice>? BiasOrigin(Value?[] biases, long[] columnOffsets, ConstTensor[] weights)
    {
        var slices = new List<WeightSlice>();
        for (int m = 0; m < biases.Length; m++)
        {
            if (biases[m] is not { SourceInitializer: { } name, Const: { Shape.Length: 1 } c } || c.Shape[0] != weights[m].Shape[1]) return null;
            slices.Add(new WeightSlice(name, columnOffsets[m], c.Shape[0], WeightFrame.AsIs));
        }
        return slices;
    }

    private static bool IsScoreLike(Value? v) => From(v, "MatMul") is not null || From(v, "Div") is { } d && From(d.Input(0), "MatMul") is not null || From(v, "Mul") is { } m && From(m.Input(0), "MatMul") is not null;

    /// <summary>
    /// A [B,S,H·C] tensor viewed as [B,S,H,C] and transposed heads-first (keys also transposed to
    /// [B,H,D,S]); D = C unless a Split along the last axis takes D channels at Offset of each
    /// head's C (EfficientFormer's packed per-head q|k|v).
    /// </summary>
    private sealed record HeadsView(Value Source, DimExpr Heads, DimExpr Dim, DimExpr Offset, DimExpr HeadStride);

    private static HeadsView? HeadsFirst(Value v, bool transposedKey)
    {
        if (From(v, "Transpose") is not { } t) return null;
        var perm = t.Ints("perm");
        Value perHead;
        if (transposedKey && perm is not null && perm.SequenceEqual(new long[] { 0, 2, 3, 1 })) perHead = t.In(0);
        else if (transposedKey && perm is not null && perm.SequenceEqual(new long[] { 0, 1, 3, 2 }) && From(t.In(0), "Transpose") is { } inner
                 && inner.Ints("perm") is { } p2 && p2.SequenceEqual(new long[] { 0, 2, 1, 3 })) perHead = inner.In(0);
        else if (!transposedKey && perm is not null && perm.SequenceEqual(new long[] { 0, 2, 1, 3 })) perHead = t.In(0);
        else return null;
        if (perHead.Rank != 4) return null;

        var offset = DimExpr.Const(0);
        var reshaped = perHead;
        if (From(perHead, "Split") is { } split)
        {
            if (ShapeInference.Axis(split, split.Int("axis", 0), 4) != 3) return null;
            reshaped = split.In(0);
            var sizes = ShapeInference.SplitSizes(split, reshaped.Shape![3]);
            offset = sizes.Take(split.Outputs.IndexOf(perHead)).Aggregate(DimExpr.Const(0), (a, b) => a + b);
        }
        if (From(reshaped, "Reshape") is not { } reshape || reshaped.Rank != 4) return null;
        var source = reshape.In(0);
        if (source.Rank != 3 || source.Type != ElementType.Float32 || source.Shape![0] != reshaped.Shape![0] || source.Shape![1] != reshaped.Shape![1]) return null;
        if (reshaped.Shape![2] * reshaped.Shape![3] != source.Shape![2]) return null;
        return new HeadsView(source, reshaped.Shape![2], perHead.Shape![3], offset, reshaped.Shape![3]);
    }

    private static AttentionOperand Operand(HeadsView h)
    {
        var shape = h.Source.Shape!;
        return new AttentionOperand(h.Offset, shape[1] * shape[2], shape[2], h.HeadStride);
    }
}
