using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Raises a model's default-domain opset (the INT4 reference file needs opset 21 for blocked DequantizeLinear) and
/// rewrites the operators whose form changed on the way, so that every node means what it meant before:
/// <list type="bullet">
/// <item>12: Dropout's <c>ratio</c> attribute becomes an input;</item>
/// <item>13: Squeeze, Unsqueeze, ReduceSum take <c>axes</c> and Split takes <c>split</c> as inputs; Softmax, LogSoftmax
/// and Hardmax stop flattening to 2-D, which is the same only for the last axis (other axes are refused);</item>
/// <item>16: RoiAlign's default coordinate mode changed (the old default is written out);</item>
/// <item>18: the other Reduce* ops take <c>axes</c> as an input; Split without a <c>split</c> input needs <c>num_outputs</c>;</item>
/// <item>20: GridSample's modes were renamed; DFT's axis became an input (refused).</item>
/// </list>
/// Every other standard operator the fixtures use (Add … Where, see tests/fixtures/OPS.md) only gained types or optional
/// inputs/attributes whose defaults keep the old meaning between opsets 11 and 21.
/// </summary>
internal static class OpsetUpgrade
{
    private static readonly HashSet<string> ReduceOpsAt18 = new()
    {
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    };

    public static void Raise(ModelProto model, long target)
    {
        var opset = OnnxModelFile.DefaultOpset(model);
        long from = opset.Version;
        if (from >= target) return;
        var names = new UniqueNames(model.Graph);
        Rewrite(model.Graph, from, target, names);
        opset.Version = target;
        // The IR version that introduced the opset (and, at 21, the INT4 element type): onnx/docs/Versioning.md.
        long ir = target switch { >= 21 => 10, >= 19 => 9, >= 15 => 8, _ => 7 };
        if (model.IrVersion < ir) model.IrVersion = ir;
    }

    private static bool Crosses(long from, long target, int version) => from < version && version <= target;

    private static void Rewrite(GraphProto graph, long from, long target, UniqueNames names)
    {
        foreach (var node in graph.Node)
        {
            foreach (var a in node.Attribute)
            {
                if (a.G is not null) Rewrite(a.G, from, target, names);
                foreach (var sub in a.Graphs) Rewrite(sub, from, target, names);
            }
            if (node.Domain is not ("" or "ai.onnx")) continue;
            string op = node.OpType;
            if (Crosses(from, target, 12) && op == "Dropout" && Take(node, "ratio") is { } ratio)
            {
                var name = names.Make($"ec_opset/{node.Name}/ratio");
                graph.Initializer.Add(OnnxProtos.ScalarFloat(name, ratio.F));
                SetInput(node, 1, name);
            }
            if (Crosses(from, target, 13))
            {
                if (op is "Squeeze" or "Unsqueeze" or "ReduceSum") MoveIntsToInput(graph, node, "axes", names);
                if (op == "Split") MoveIntsToInput(graph, node, "split", names);
                if (op is "Softmax" or "LogSoftmax" or "Hardmax" && (node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 1) != -1)
                    throw Refuse(node, "before opset 13 it flattens its input to 2-D at 'axis'; only axis=-1 keeps its meaning at opset 13+");
            }
            if (Crosses(from, target, 16) && op == "RoiAlign" && !node.Attribute.Any(a => a.Name == "coordinate_transformation_mode"))
                node.Attribute.Add(new AttributeProto { Name = "coordinate_transformation_mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("output_half_pixel") });
            if (Crosses(from, target, 18))
            {
                if (ReduceOpsAt18.Contains(op)) MoveIntsToInput(graph, node, "axes", names);
                if (op == "Split" && (node.Input.Count < 2 || node.Input[1].Length == 0) && !node.Attribute.Any(a => a.Name == "num_outputs"))
                    node.Attribute.Add(OnnxProtos.Int("num_outputs", node.Output.Count));
            }
            if (Crosses(from, target, 20))
            {
                if (op == "DFT") throw Refuse(node, "its axis moved from an attribute to an input at opset 20");
                if (op == "GridSample" && node.Attribute.FirstOrDefault(a => a.Name == "mode") is { } mode)
                {
                    string m = mode.S.ToStringUtf8();
                    if (m == "bilinear") mode.S = Google.Protobuf.ByteString.CopyFromUtf8("linear");
                    else if (m == "bicubic") mode.S = Google.Protobuf.ByteString.CopyFromUtf8("cubic");
                }
            }
        }
    }

    /// <summary>An INTS attribute that became an int64 input: written as an initializer in the input slot 1.</summary>
    private static void MoveIntsToInput(GraphProto graph, NodeProto node, string attribute, UniqueNames names)
    {
        if (Take(node, attribute) is not { } a) return;
        var name = names.Make($"ec_opset/{node.Name}/{attribute}");
        graph.Initializer.Add(OnnxProtos.Int64s(name, new long[] { a.Ints.Count }, a.Ints.ToArray()));
        SetInput(node, 1, name);
    }

    private static AttributeProto? Take(NodeProto node, string name)
    {
        var a = node.Attribute.FirstOrDefault(x => x.Name == name);
        if (a is not null) node.Attribute.Remove(a);
        return a;
    }

    private static void SetInput(NodeProto node, int slot, string name)
    {
        while (node.Input.Count <= slot) node.Input.Add("");
        node.Input[slot] = name;
    }

    private static CompilerException Refuse(NodeProto node, string why) =>
        new(Codes.UnsupportedOperatorForm, $"cannot raise the opset of {node.OpType} '{node.Name}': {why}. Re-export the model at a newer opset.", node.Name);
}
