using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Where one of q, k, v sits in the output of the projection Dense it is read from: head h's channel d is column
/// <c>Offset + h·HeadStride + d</c>, d &lt; <paramref name="Width"/> (HeadDim for q and k, ValueDim for v).
/// </summary>
public sealed record HeadColumns(int Slot, Node Projection, int Offset, int HeadStride, int Width)
{
    public IEnumerable<int> Of(int head) => Enumerable.Range(Offset + head * HeadStride, Width);
}

/// <summary>
/// A fused multi-head attention whose heads can be removed: q, k and v each read from a constant-weight Dense with no
/// activation (one, two or three distinct Dense: BERT's merged q|k|v, MobileBERT's q|k and v; the column arithmetic
/// also covers EfficientFormer's per-head packed q|k|v, though its per-head biases keep it out) whose output nothing else reads, and the attention output, through views only, is the input
/// of the output projection, a constant-weight Dense with <c>Heads·ValueDim</c> rows.
/// <para>
/// Head h is then columns <see cref="HeadColumns.Of"/> of the projections and rows <c>[h·ValueDim, (h+1)·ValueDim)</c>
/// of the output projection, and nothing else: the softmax is per head, so the other heads compute exactly what they
/// did. A mask or bias that differs per head (EfficientFormer's learned attention biases) would also need slicing;
/// such an attention is not a block (<see cref="Find"/> says why).
/// </para>
/// </summary>
public sealed record AttentionBlock(Node Attention, IReadOnlyList<Node> Projections, IReadOnlyList<HeadColumns> Operands,
    IReadOnlyList<Value> Views, Node Output)
{
    public AttentionLayout Layout => FusedOps.ReadAttention(Attention);
    public int Heads => (int)Layout.Heads.ConstValue;
    public int ValueDim => (int)Layout.ValueDim.ConstValue;
    public int OutputWidth => (int)Output.In(1).Const!.Shape[1];

    /// <summary>The attention layers of a fused graph that can lose heads, in execution order, and why the others cannot.</summary>
    public static (List<AttentionBlock> Blocks, List<(Node Attention, string Reason)> Skipped) Find(Graph graph)
    {
        var consumers = graph.Consumers();
        var blocks = new List<AttentionBlock>();
        var skipped = new List<(Node, string)>();
        foreach (var attention in graph.Nodes.Where(n => n.OpType == FusedOps.Attention))
        {
            var found = TryBlock(attention, consumers, out var reason);
            if (found is not null) blocks.Add(found);
            else skipped.Add((attention, reason!));
        }
        return (blocks, skipped);
    }

    private static AttentionBlock? TryBlock(Node attention, Dictionary<Value, List<Node>> consumers, out string? reason)
    {
        reason = null;
        var a = FusedOps.ReadAttention(attention);
        if (!a.Heads.IsConstant || !a.HeadDim.IsConstant || !a.ValueDim.IsConstant) { reason = "its head count or head size is not a constant"; return null; }
        if (a.Mask is { } mask && mask.HeadStride != DimExpr.Const(0)) { reason = "its mask or attention bias differs per head"; return null; }
        int heads = (int)a.Heads.ConstValue;
        if (heads < 2) { reason = "it has a single head"; return null; }

        var operands = new List<HeadColumns>();
        var layouts = new[] { a.Q, a.K, a.V };
        var widths = new[] { a.HeadDim, a.HeadDim, a.ValueDim };
        for (int slot = 0; slot < 3; slot++)
        {
            var v = attention.In(slot);
            if (v.Producer is not { OpType: FusedOps.Dense } dense || dense.Str("activation", "None") != "None" || !FfnBlock.IsOwnConstantWeight(dense, consumers))
            { reason = "q, k or v is not the output of a constant-weight Dense"; return null; }
            if (v.IsGraphOutput || consumers[v].Any(n => n != attention)) { reason = "a q, k or v projection is also read elsewhere"; return null; }
            long n = dense.In(1).Const!.Shape[1];
            var o = layouts[slot];
            if (v.Rank != 3 || o.RowStride != DimExpr.Const(n) || o.BatchStride != v.Shape![1] * DimExpr.Const(n) || !o.Offset.IsConstant || !o.HeadStride.IsConstant)
            { reason = "q, k or v is not read token-major from its projection"; return null; }
            operands.Add(new HeadColumns(slot, dense, (int)o.Offset.ConstValue, (int)o.HeadStride.ConstValue, (int)widths[slot].ConstValue));
        }

        // Attention output [B,S,H,Dv] → views ([B,S,H·Dv]) → output projection.
        if (attention.Out.Shape is not { Length: 4 } y || y[2] != a.Heads || y[3] != a.ValueDim) { reason = "its output is not [batch, sequence, heads, valueDim]"; return null; }
        var views = new List<Value>();
        var x = attention.Out;
        int valueDim = (int)a.ValueDim.ConstValue;
        while (true)
        {
            if (x.IsGraphOutput || !consumers.TryGetValue(x, out var readers) || readers.Count != 1) { reason = "the attention output is read by more than its output projection"; return null; }
            var next = readers[0];
            if (next.OpType is "Reshape" or "Identity" or "Dropout" or "Flatten" && next.In(0) == x)
            {
                x = next.Out;
                if (!IsHeadsLastView(x, heads, valueDim)) { reason = "the attention output is reshaped to something other than [.., heads·valueDim]"; return null; }
                views.Add(x);
                continue;
            }
            if (next.OpType == FusedOps.Dense && next.Input(0) == x && FfnBlock.IsOwnConstantWeight(next, consumers)
                && next.In(1).Const!.Shape[0] == (long)heads * valueDim && views.Count > 0 && x.Shape![^1] == DimExpr.Const((long)heads * valueDim))
                return new AttentionBlock(attention, operands.Select(o => o.Projection).Distinct().ToList(), operands, views, next);
            reason = "the attention output does not go straight to an output-projection Dense";
            return null;
        }
    }

    /// <summary>A view whose last axis is all heads' values side by side, <c>[.., H·Dv]</c>.</summary>
    private static bool IsHeadsLastView(Value v, int heads, int valueDim) => v.Shape is { Length: >= 2 } s && s[^1] == DimExpr.Const((long)heads * valueDim);
}
