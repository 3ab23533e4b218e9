using System;
using System.Collections.Generic;
using System.Linq;

namespace EdgeCompile.Compiler.Ir;

/// <summary>A tensor-valued edge of the graph.</summary>
public sealed class Value
{
    public Value(string name, ElementType type, DimExpr[]? shape = null)
    {
        Name = name;
        Type = type;
        Shape = shape;
    }

    public string Name { get; }
    public ElementType Type { get; set; }
    /// <summary>Static shape over symbolic dimensions; null until shape inference has run.</summary>
    public DimExpr[]? Shape { get; set; }
    /// <summary>Values known at build time (initializers and folded results).</summary>
    public ConstTensor? Const { get; set; }
    /// <summary>For integer tensors computed from shapes: their values as dimension expressions.</summary>
    public DimExpr[]? Symbolic { get; set; }
    public Node? Producer { get; set; }
    /// <summary>The ONNX initializer this value is, unchanged (set on import); null for anything computed or rebuilt.</summary>
    public string? SourceInitializer { get; set; }
    /// <summary>Set on the output of an ONNX <c>Constant</c> node with a tensor value (its name), unchanged; null otherwise.
    /// The reference ONNX file can replace such a tensor as it replaces an initializer.</summary>
    public string? SourceConstant { get; set; }
    /// <summary>For a weight built from initializers by a pass (merged projections): where its columns come from. See <see cref="WeightOrigins"/>.</summary>
    public IReadOnlyList<WeightSlice>? WeightOrigin { get; set; }
    /// <summary>For a weight pruning cut out of a larger one (attention heads): where it sits in that weight and its initializers. See <see cref="WeightPlacement"/>.</summary>
    public WeightPlacement? PrunedFrom { get; set; }
    public bool IsGraphInput { get; set; }
    public bool IsGraphOutput { get; set; }

    public int Rank => Shape!.Length;
    public DimExpr ElementCount => DimExpr.Product(Shape!);
    public override string ToString() => $"{Name}:{Type.PlanName()}[{(Shape is null ? "?" : string.Join(",", Shape.Select(d => d.ToString())))}]";
}

/// <summary>An ONNX attribute value (only the kinds EdgeCompile reads).</summary>
public sealed record Attr(double? F = null, long? I = null, string? S = null, ConstTensor? T = null, double[]? Floats = null, long[]? Ints = null);

public sealed class Node
{
    public Node(string opType, string name, IEnumerable<Value?> inputs, IEnumerable<Value> outputs, Dictionary<string, Attr>? attributes = null, string domain = "")
    {
        OpType = opType;
        Name = name;
        Domain = domain;
        Inputs = inputs.ToList();
        Outputs = outputs.ToList();
        Attributes = attributes ?? new Dictionary<string, Attr>();
    }

    public string OpType { get; set; }
    public string Name { get; }
    public string Domain { get; }
    /// <summary>Inputs by position; null where an optional input is omitted.</summary>
    public List<Value?> Inputs { get; }
    public List<Value> Outputs { get; }
    public Dictionary<string, Attr> Attributes { get; }
    /// <summary>Build-time data of a fused operator (e.g. the attention layout).</summary>
    public object? Payload { get; set; }

    public Value? Input(int i) => i < Inputs.Count ? Inputs[i] : null;
    public Value In(int i) => Input(i) ?? throw new CompilerException(Codes.InvalidModel, $"{OpType} needs input {i}", Name);
    public Value Out => Outputs[0];

    public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) && a.I is long v ? v : fallback;
    public double Float(string name, double fallback) => Attributes.TryGetValue(name, out var a) && a.F is double v ? v : fallback;
    public string Str(string name, string fallback) => Attributes.TryGetValue(name, out var a) && a.S is string v ? v : fallback;
    public long[]? Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;
    public bool Has(string name) => Attributes.ContainsKey(name);

    public override string ToString() => $"{OpType} '{Name}'";
}

/// <summary>The graph IR every pass reads and rewrites. Nodes are kept in execution order.</summary>
public sealed class Graph
{
    public List<Node> Nodes { get; } = new();
    public List<Value> Inputs { get; } = new();
    public List<Value> Outputs { get; } = new();
    public int Opset { get; set; }
    public string SourcePath { get; set; } = "";
    /// <summary>Elements of the floating-point initializers: the model's parameter count.</summary>
    public long ParameterCount { get; set; }
    /// <summary>Symbolic dimension names in order of first appearance in the graph inputs.</summary>
    public List<string> Dimensions { get; } = new();

    private int _fresh;
    public Value NewValue(string hint, ElementType type, DimExpr[]? shape = null) => new($"{hint}__ec{_fresh++}", type, shape);

    /// <summary>Nodes reading each value, recomputed on demand (passes rewrite freely).</summary>
    public Dictionary<Value, List<Node>> Consumers()
    {
        var map = new Dictionary<Value, List<Node>>();
        foreach (var n in Nodes)
            foreach (var v in n.Inputs)
                if (v is not null)
                {
                    if (!map.TryGetValue(v, out var list)) map[v] = list = new List<Node>();
                    if (!list.Contains(n)) list.Add(n);
                }
        return map;
    }

    /// <summary>Replaces every use of <paramref name="from"/> by <paramref name="to"/>.</summary>
    public void ReplaceUses(Value from, Value to)
    {
        foreach (var n in Nodes)
            for (int i = 0; i < n.Inputs.Count; i++)
                if (n.Inputs[i] == from) n.Inputs[i] = to;
        for (int i = 0; i < Outputs.Count; i++)
            if (Outputs[i] == from)
            {
                // A graph output keeps its name and storage: route it through an Identity.
                var id = new Node("Identity", from.Name + "/output", new[] { to }, new[] { from });
                from.Producer = id;
                Nodes.Add(id);
            }
    }
}
