using System.Collections.Generic;
using EdgeCompile.Compiler.Onnx.Proto;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Fresh value and node names for what a writer adds to a graph: the hint as given when it is free, else the hint
/// with a counter. Every name already in the graph (values, initializers, nodes, nested graphs) is taken.
/// </summary>
internal sealed class UniqueNames
{
    private readonly HashSet<string> _taken = new(System.StringComparer.Ordinal);

    public UniqueNames(GraphProto graph) => Collect(graph);

    public string Make(string hint)
    {
        string name = hint;
        for (int i = 1; !_taken.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    private void Collect(GraphProto g)
    {
        foreach (var v in g.Input) _taken.Add(v.Name);
        foreach (var v in g.Output) _taken.Add(v.Name);
        foreach (var v in g.ValueInfo) _taken.Add(v.Name);
        foreach (var t in g.Initializer) _taken.Add(t.Name);
        foreach (var n in g.Node)
        {
            _taken.Add(n.Name);
            foreach (var o in n.Output) _taken.Add(o);
            foreach (var a in n.Attribute)
            {
                if (a.G is not null) Collect(a.G);
                foreach (var sub in a.Graphs) Collect(sub);
            }
        }
    }
}
