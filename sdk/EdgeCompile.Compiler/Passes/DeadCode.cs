using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>
/// Removes nodes whose results nobody reads, and nodes whose results are known at build time:
/// constants, and shape values (tracked symbolically, so no kernel ever computes them).
/// </summary>
public static class DeadCode
{
    public static bool IsKnown(Value v) => v.Const is not null || v.Symbolic is not null;

    public static void Run(Graph graph)
    {
        var live = new HashSet<Value>(graph.Outputs);
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            var n = graph.Nodes[i];
            bool needed = n.Outputs.Any(live.Contains) && !n.Outputs.All(o => IsKnown(o) && !o.IsGraphOutput);
            if (!needed)
            {
                graph.Nodes.RemoveAt(i);
                continue;
            }
            foreach (var input in n.Inputs)
                if (input is not null && !IsKnown(input)) live.Add(input);
        }
    }
}
