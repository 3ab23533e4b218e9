using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Channels of a stream of per-channel (elementwise) ops between Dense layers, in a fused graph, that can be removed
/// exactly: MobileBERT's NoNorm (<see cref="FusedOps.ScaleShift"/>, <c>(x [+ r])·γ + β</c>, no statistics over the
/// channels) keeps channel c of its output a function of channel c of its inputs alone, so within one layer:
/// <list type="bullet">
/// <item>the 128-wide intra-block stream: written by the Dense layers that produce it (bottleneck input 512→128,
/// attention output 128→128, each FFN's output 128←F), passed through NoNorms and the residual sums between them, and
/// read by the Dense layers that consume it (each FFN's intermediate 128→F, the output bottleneck 128→512);</item>
/// <item>the shared q/k bottleneck: the bottleneck attention Dense 512→128 and its NoNorm, read by the (merged) q|k
/// projection.</item>
/// </list>
/// Channel c is column c (and bias c) of every producer, γ[c] and β[c] of every ScaleShift, row c of every consumer,
/// nothing else. A group is found by its graph pattern (not by names): starting from a ScaleShift, every value of the
/// stream is produced by a ScaleShift or by a producer Dense (no activation), and read only by ScaleShifts (as x or
/// residual) or as input 0 of consumer Dense layers; every weight, bias, γ and β is a float constant read by its node
/// alone. A stream that reaches anything else (a graph input or output, a Gather, a LayerNorm, an attention, a view) is
/// not a group; nor is a stream with no producer or no consumer. LayerNorm models (BERT, DistilBERT, ViT) have none.
/// </summary>
public sealed record ResidualChannelGroup(IReadOnlyList<Node> Producers, IReadOnlyList<Node> ScaleShifts, IReadOnlyList<Node> Consumers, IReadOnlyList<Value> Stream)
{
    public int Channels => (int)Stream[0].Shape![^1].ConstValue;

    /// <summary>The groups of a fused graph, in the order their first ScaleShift runs.</summary>
    public static List<ResidualChannelGroup> Find(Graph graph)
    {
        var consumers = graph.Consumers();
        var seen = new HashSet<Node>();
        var groups = new List<ResidualChannelGroup>();
        foreach (var start in graph.Nodes.Where(n => n.OpType == FusedOps.ScaleShift))
        {
            if (!seen.Add(start)) continue;
            var group = Grow(start, consumers, seen);
            if (group is not null) groups.Add(group);
        }
        return groups;
    }

    /// <summary>The whole stream reachable from one ScaleShift, or null if any part of it is not prunable.</summary>
    private static ResidualChannelGroup? Grow(Node start, Dictionary<Value, List<Node>> consumers, HashSet<Node> seen)
    {
        var stream = new List<Value>();
        var inStream = new HashSet<Value>();
        var producers = new List<Node>();
        var scaleShifts = new List<Node>();
        var readers = new List<Node>();
        var pending = new Queue<Value>();
        bool prunable = true;
        void Visit(Value v)
        {
            if (inStream.Add(v)) { stream.Add(v); pending.Enqueue(v); }
        }
        Visit(start.Out);
        while (pending.Count > 0)
        {
            var v = pending.Dequeue();
            if (v.IsGraphInput || v.IsGraphOutput || v.Const is not null || v.Type != ElementType.Float32) { prunable = false; continue; }
            // Who writes it.
            switch (v.Producer)
            {
                case { OpType: FusedOps.ScaleShift } s:
                    if (!scaleShifts.Contains(s)) scaleShifts.Add(s);
                    seen.Add(s);
                    Visit(s.In(0));
                    if (s.Input(1) is { } residual) Visit(residual);
                    break;
                case { OpType: FusedOps.Dense } d when d.Str("activation", "None") == "None":
                    if (!producers.Contains(d)) producers.Add(d);
                    break;
                default:
                    prunable = false;
                    continue;
            }
            // Who reads it.
            foreach (var reader in consumers.TryGetValue(v, out var list) ? list : new List<Node>())
            {
                if (reader.OpType == FusedOps.ScaleShift && (reader.Input(0) == v || reader.Input(1) == v) && reader.Input(2) != v && reader.Input(3) != v)
                {
                    if (!scaleShifts.Contains(reader)) scaleShifts.Add(reader);
                    seen.Add(reader);
                    Visit(reader.Out);
                }
                else if (reader.OpType == FusedOps.Dense && reader.Input(0) == v && reader.Inputs.Skip(1).All(i => i != v))
                {
                    if (!readers.Contains(reader)) readers.Add(reader);
                }
                else prunable = false;
            }
        }
        if (!prunable || producers.Count == 0 || readers.Count == 0) return null;

        // One channel count, known; weights of their own; no Dense both writes and reads the stream.
        if (stream[0].Shape is not { Length: >= 2 } first || !first[^1].IsConstant) return null;
        long channels = first[^1].ConstValue;
        if (stream.Any(v => v.Shape is not { Length: >= 2 } s || s[^1] != DimExpr.Const(channels))) return null;
        if (producers.Intersect(readers).Any()) return null;
        foreach (var dense in producers.Concat(readers))
            if (!FfnBlock.IsOwnConstantWeight(dense, consumers)) return null;
        if (producers.Any(p => p.In(1).Const!.Shape[1] != channels) || readers.Any(r => r.In(1).Const!.Shape[0] != channels)) return null;
        foreach (var s in scaleShifts)
            for (int i = 2; i <= 3; i++)
                if (s.Input(i) is not { Const: { Real: not null } c } p || p.Type != ElementType.Float32 || c.Count != channels || c.Shape[^1] != channels
                    || consumers[p].Count != 1 || p.IsGraphOutput)
                    return null;
        return new ResidualChannelGroup(producers, scaleShifts, readers, stream);
    }
}
