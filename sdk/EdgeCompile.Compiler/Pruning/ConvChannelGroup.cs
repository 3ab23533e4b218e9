using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Conv channels that can be removed without changing anything outside them, in a fused graph (BatchNorm folded into
/// the convs, activations fused into them):
/// <list type="bullet">
/// <item>a producer, a one-group Conv (any kernel, any fused activation) whose output channels are the group's channels;</item>
/// <item>optionally a depthwise Conv (group = channels, one filter per channel, any fused activation) right after it
/// (MobileNetV2's inverted residual: expand 1×1 → depthwise k×k → project 1×1);</item>
/// <item>a consumer, a 1×1 Conv (stride 1, no padding, one group), the only reader: at every pixel it is a Dense over
/// the channels (EfficientFormer's conv MLP 1×1 → GELU → 1×1; MobileViT's 3×3 → 1×1).</item>
/// </list>
/// Channel c is output channel c of the producer (filter c, bias c), filter c and bias c of the depthwise conv, and
/// input channel c of the consumer (<c>W[:, c]</c>), nothing else. Conv weights are <c>[Cout, Cin/group, kh, kw]</c>.
/// </summary>
public sealed record ConvChannelGroup(Node Producer, Node? Depthwise, Node Consumer)
{
    public int Channels => (int)Producer.In(1).Const!.Shape[0];
    public int Outputs => (int)Consumer.In(1).Const!.Shape[0];
    /// <summary>The tensor the consumer reads: the channels the ranking and the refit measure.</summary>
    public Value Activations => (Depthwise ?? Producer).Out;

    /// <summary>The channel groups of a fused graph, in execution order.</summary>
    public static List<ConvChannelGroup> Find(Graph graph)
    {
        var consumers = graph.Consumers();
        var groups = new List<ConvChannelGroup>();
        foreach (var producer in graph.Nodes)
        {
            if (producer.OpType != "Conv" || producer.Int("group", 1) != 1 || !IsOwnConstantWeight(producer, consumers)) continue;
            long channels = producer.In(1).Const!.Shape[0];
            if (OnlyReader(producer.Out, consumers) is not { } next) continue;
            Node? depthwise = null;
            if (IsDepthwise(next, channels) && IsOwnConstantWeight(next, consumers))
            {
                depthwise = next;
                if (OnlyReader(next.Out, consumers) is not { } afterDepthwise) continue;
                next = afterDepthwise;
            }
            if (!IsPointwise(next, channels) || next.Input(0) != (depthwise ?? producer).Out || !IsOwnConstantWeight(next, consumers)) continue;
            if ((depthwise ?? producer).Out.Shape is not { Length: 4 } shape || !shape[2].IsConstant || !shape[3].IsConstant) continue;
            groups.Add(new ConvChannelGroup(producer, depthwise, next));
        }
        return groups;
    }

    /// <summary>Pixels per channel of the tensor the consumer reads (H·W).</summary>
    public int Plane => (int)(Activations.Shape![2].ConstValue * Activations.Shape![3].ConstValue);

    private static Node? OnlyReader(Value v, Dictionary<Value, List<Node>> consumers) =>
        !v.IsGraphOutput && consumers.TryGetValue(v, out var readers) && readers.Count == 1 ? readers[0] : null;

    /// <summary>One filter <c>[1, kh, kw]</c> per channel, as many outputs as inputs.</summary>
    private static bool IsDepthwise(Node n, long channels) =>
        n.OpType == "Conv" && n.Int("group", 1) == channels && n.Input(1)?.Const is { Shape: [var cout, 1, _, _] } && cout == channels;

    /// <summary>A 1×1 convolution over all <paramref name="channels"/> with stride 1 and no padding: a Dense at every pixel.</summary>
    private static bool IsPointwise(Node n, long channels) =>
        n.OpType == "Conv" && n.Int("group", 1) == 1 && n.Input(1)?.Const is { Shape: [_, var cin, 1, 1] } && cin == channels
        && (n.Ints("strides") ?? new long[] { 1, 1 }).All(s => s == 1) && (n.Ints("pads") ?? new long[4]).All(p => p == 0)
        && n.Str("auto_pad", "NOTSET") is "NOTSET" or "VALID";

    /// <summary>
    /// A 4-D float weight and (optional) 1-D float bias, constants read by this node alone: pruning rewrites them in
    /// place, which must not change another layer that shares them.
    /// </summary>
    private static bool IsOwnConstantWeight(Node conv, Dictionary<Value, List<Node>> consumers)
    {
        if (conv.Input(1) is not { Const: { Real: not null, Shape.Length: 4 } } w || w.Type != ElementType.Float32) return false;
        if (conv.Input(2) is { } b && (b.Const is not { Real: not null, Shape.Length: 1 } || b.Type != ElementType.Float32)) return false;
        return new[] { w, conv.Input(2) }.Where(v => v is not null).All(v => consumers[v!].Count == 1 && !v!.IsGraphOutput);
    }
}
