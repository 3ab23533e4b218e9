using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// A feed-forward block after fusion: the up projection, a constant-weight Dense <c>[H,F]</c> with an activation,
/// whose output feeds only the down projection, a constant-weight Dense <c>[F,H]</c>. Its F neurons can be removed
/// without changing anything outside the block: the activation is elementwise, so neuron j is column j of the up
/// weight and bias and row j of the down weight, nothing else.
/// </summary>
public sealed record FfnBlock(Node Up, Node Down)
{
    public int Hidden => (int)Up.In(1).Const!.Shape[0];
    public int Neurons => (int)Up.In(1).Const!.Shape[1];
    public int Output => (int)Down.In(1).Const!.Shape[1];

    /// <summary>The FFN blocks of a fused graph, in execution order.</summary>
    public static List<FfnBlock> Find(Graph graph)
    {
        var consumers = graph.Consumers();
        var blocks = new List<FfnBlock>();
        foreach (var up in graph.Nodes)
        {
            if (up.OpType != FusedOps.Dense || up.Str("activation", "None") == "None" || !IsOwnConstantWeight(up, consumers)) continue;
            if (up.Out.IsGraphOutput || !consumers.TryGetValue(up.Out, out var readers) || readers.Count != 1) continue;
            var down = readers[0];
            if (down.OpType != FusedOps.Dense || down.Input(0) != up.Out || !IsOwnConstantWeight(down, consumers)) continue;
            // Back to the width it came from (the residual stream): this leaves out classifier heads such as BERT's
            // pooler → classifier or DistilBERT's pre_classifier → classifier, which are not FFN blocks.
            if (down.In(1).Const!.Shape[0] != up.In(1).Const!.Shape[1] || down.In(1).Const!.Shape[1] != up.In(1).Const!.Shape[0]) continue;
            blocks.Add(new FfnBlock(up, down));
        }
        return blocks;
    }

    /// <summary>
    /// A 2-D float weight and (optional) 1-D bias, both constants read by this node alone: pruning rewrites them in
    /// place, which must not change another layer that shares them (tied weights).
    /// </summary>
    internal static bool IsOwnConstantWeight(Node dense, Dictionary<Value, List<Node>> consumers)
    {
        if (dense.Input(1) is not { Const: { Real: not null, Shape.Length: 2 } } w || w.Type != ElementType.Float32) return false;
        if (dense.Input(2) is { } b && (b.Const is not { Real: not null, Shape.Length: 1 } || b.Type != ElementType.Float32)) return false;
        return new[] { w, dense.Input(2) }.Where(v => v is not null).All(v => consumers[v!].Count == 1 && !v!.IsGraphOutput);
    }
}
