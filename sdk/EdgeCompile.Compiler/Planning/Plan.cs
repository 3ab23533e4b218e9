using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Planning;

public enum StorageKind { Input, Output, Arena, Weight }

/// <summary>A tensor of the schedule and where it lives.</summary>
public sealed class PlanTensor
{
    public PlanTensor(int id, ElementType type, DimExpr[] shape, StorageKind storage)
    {
        Id = id;
        Type = type;
        Shape = shape;
        Storage = storage;
    }

    public int Id { get; }
    public ElementType Type { get; }
    public DimExpr[] Shape { get; }
    public StorageKind Storage { get; set; }
    /// <summary>Input/output position, or byte offset in the arena or the weights blob.</summary>
    public long Location { get; set; }
    /// <summary>For views (Reshape and friends): the tensor whose memory this one shares.</summary>
    public PlanTensor? ViewOf { get; set; }
    public ConstTensor? Data { get; set; }
    public PlanTensor Root => ViewOf?.Root ?? this;
    public DimExpr ElementCount => DimExpr.Product(Shape);
    public string Name => $"t{Id}";
}

/// <summary>
/// A build-time shape that the generator turns into a struct implementing a runtime interface, passed to a
/// kernel as a generic type argument so the kernel is compiled once per shape with these numbers as constants.
/// </summary>
public sealed record PlanShape(string Name, string Interface, IReadOnlyList<(string Member, long Value)> Members);

/// <summary>One call of a runtime kernel; <paramref name="TypeArguments"/> names <see cref="PlanShape"/>s.</summary>
public sealed record PlanOp(string Kernel, IReadOnlyList<PlanTensor?> Inputs, IReadOnlyList<PlanTensor> Outputs, IReadOnlyList<(string Name, string Value)> Parameters, string Node)
{
    public IReadOnlyList<string> TypeArguments { get; init; } = Array.Empty<string>();
}

/// <summary>The schedule of one model, ready to be written as a plan file.</summary>
public sealed class Plan
{
    public string ClassName { get; init; } = "";
    public string Namespace { get; init; } = "";
    public string Source { get; init; } = "";
    public string Profile { get; init; } = "";
    public string Resource { get; init; } = "";
    public long WeightBytes { get; set; }
    public long Parameters { get; set; }
    public long ArenaBytes { get; set; }
    public List<(string Name, long Max)> Dimensions { get; } = new();
    public List<(string Name, PlanTensor Tensor)> Inputs { get; } = new();
    public List<(string Name, PlanTensor Tensor)> Outputs { get; } = new();
    public List<PlanTensor> Tensors { get; } = new();
    public List<PlanOp> Ops { get; } = new();
    public List<(PlanTensor Tensor, long Limit)> IndexChecks { get; } = new();
    public List<PlanShape> Shapes { get; } = new();
    /// <summary>For every constant FP32 Dense weight, whether it runs sparse and why (not written to the plan file: for the build log and the report).</summary>
    public List<Lowering.SparseDecision> SparseDecisions { get; } = new();
    /// <summary>How the lowering chooses DenseSparse (CompileRequest.SparseKernels).</summary>
    public Lowering.SparseKernelMode SparseKernels { get; init; } = Lowering.SparseKernelMode.Auto;

    public string Write()
    {
        var sb = new StringBuilder();
        void Line(string s) => sb.Append(s).Append('\n');
        Line("edgeplan 1");
        Line($"class {ClassName}");
        Line($"namespace {Namespace}");
        Line($"source {Source}");
        Line($"profile {Profile}");
        Line($"resource {Resource}");
        Line($"weights {WeightBytes}");
        Line($"parameters {Parameters}");
        Line($"arena {ArenaBytes}");
        foreach (var (name, max) in Dimensions) Line($"dim {name} {max}");
        foreach (var (name, t) in Inputs) Line($"input {name} {t.Type.PlanName()} {ShapeText(t.Shape)} {t.Name}");
        foreach (var (name, t) in Outputs) Line($"output {name} {t.Type.PlanName()} {ShapeText(t.Shape)} {t.Name}");
        foreach (var t in Tensors)
        {
            var root = t.Root;
            string storage = root.Storage switch
            {
                StorageKind.Input => $"input {root.Location}",
                StorageKind.Output => $"output {root.Location}",
                StorageKind.Arena => $"arena {root.Location}",
                _ => $"weight {root.Location}",
            };
            Line($"tensor {t.Name} {t.Type.PlanName()} {ShapeText(t.Shape)} {storage}");
        }
        foreach (var (t, limit) in IndexChecks) Line($"check-indices {t.Name} {limit}");
        foreach (var shape in Shapes)
            Line($"shape {shape.Name} {shape.Interface} " + string.Join(" ", shape.Members.Select(m => $"{m.Member}={m.Value.ToString(CultureInfo.InvariantCulture)}")));
        foreach (var op in Ops)
        {
            string kernel = op.TypeArguments.Count == 0 ? op.Kernel : $"{op.Kernel}<{string.Join(",", op.TypeArguments)}>";
            var parts = new List<string> { "op", kernel };
            parts.Add("in=" + string.Join(",", op.Inputs.Select(i => i?.Name ?? "-")));
            parts.Add("out=" + string.Join(",", op.Outputs.Select(o => o.Name)));
            parts.AddRange(op.Parameters.Select(p => $"{p.Name}={p.Value}"));
            parts.Add("node=" + op.Node.Replace('\n', ' ').Replace('\r', ' '));
            Line(string.Join(" ", parts));
        }
        return sb.ToString();
    }

    public static string ShapeText(DimExpr[] shape) => "[" + string.Join(",", shape.Select(d => d.ToString())) + "]";

    /// <summary>A float as a C# literal that round-trips.</summary>
    public static string FloatLiteral(double v)
    {
        float f = (float)v;
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        return f.ToString("R", CultureInfo.InvariantCulture) + "f";
    }

    public static string Literal(ElementType type, double value) => type switch
    {
        ElementType.Float32 => FloatLiteral(value),
        ElementType.Int64 => ((long)value).ToString(CultureInfo.InvariantCulture) + "L",
        ElementType.Int32 => ((int)value).ToString(CultureInfo.InvariantCulture),
        ElementType.Bool => value != 0 ? "true" : "false",
        _ => throw new CompilerException(Codes.UnsupportedType, $"a {type} constant parameter is not supported."),
    };
}
