using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Compiler.Pruning;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Puts pruned conv channel groups (<see cref="ConvChannelCut"/>) back into the model's ONNX graph, which still has its
/// own weights and any BatchNormalization the compiler folded: the producer's and depthwise conv's filters
/// <c>[Cout, Cin/group, kh, kw]</c>, biases and following BatchNormalization scale, bias, mean and variance are sliced
/// to the kept channels on axis 0, the depthwise conv's <c>group</c> becomes the kept count, and the 1×1 consumer's
/// filters are sliced on axis 1 or replaced by its refitted weights (divided by the scale of a BatchNormalization
/// after it, which the compiler had folded into them). The nodes stay as they are, so ONNX Runtime running the file
/// computes exactly the pruned groups. Cuts are applied in order on the current initializers, so a conv that is one
/// group's consumer and another's producer gets both.
/// </summary>
public static class PrunedConvOnnxWriter
{
    internal static void Apply(ModelProto model, IReadOnlyList<ConvChannelCut> cuts)
    {
        var graph = model.Graph;
        foreach (var cut in cuts)
        {
            SliceOutputChannels(graph, ConvNode(graph, cut.Producer, cut), cut);
            if (cut.Depthwise is { } depthwiseName)
            {
                var depthwise = ConvNode(graph, depthwiseName, cut);
                SliceOutputChannels(graph, depthwise, cut);
                var group = depthwise.Attribute.FirstOrDefault(a => a.Name == "group")
                    ?? throw Unavailable(cut, $"depthwise Conv '{depthwiseName}' has no group attribute");
                group.I = cut.Kept.Length;
            }

            var consumer = ConvNode(graph, cut.Consumer, cut);
            var weight = OwnInitializer(graph, consumer, 1, cut);
            var dims = weight.Dims.ToArray();
            float[] values;
            if (cut.ConsumerWeights is null) values = Slice(OnnxProtos.ReadFloats(weight), dims, 1, cut.Kept);
            else
            {
                values = (float[])cut.ConsumerWeights.Clone();
                if (FollowingBatchNorm(graph, consumer) is { } bn)
                {
                    var scale = BatchNormScale(graph, bn, cut);
                    int perOutput = values.Length / scale.Length;
                    for (int i = 0; i < values.Length; i++)
                        values[i] = scale[i / perOutput] != 0 ? (float)(values[i] / scale[i / perOutput])
                            : throw Unavailable(cut, $"the BatchNormalization '{bn.Name}' after '{consumer.Name}' has a zero scale, so its refitted weights cannot be unfolded");
                }
            }
            dims[1] = cut.Kept.Length;
            Replace(graph, weight.Name, dims, values);
        }
    }

    /// <summary>Slices a conv's filters, bias and following BatchNormalization parameters to the kept output channels.</summary>
    private static void SliceOutputChannels(GraphProto graph, NodeProto conv, ConvChannelCut cut)
    {
        var tensors = new List<TensorProto> { OwnInitializer(graph, conv, 1, cut) };
        if (conv.Input.Count > 2 && conv.Input[2].Length > 0) tensors.Add(OwnInitializer(graph, conv, 2, cut));
        if (FollowingBatchNorm(graph, conv) is { } bn)
            for (int i = 1; i <= 4; i++) tensors.Add(OwnInitializer(graph, bn, i, cut));
        foreach (var t in tensors)
        {
            var dims = t.Dims.ToArray();
            var values = Slice(OnnxProtos.ReadFloats(t), dims, 0, cut.Kept);
            dims[0] = cut.Kept.Length;
            Replace(graph, t.Name, dims, values);
        }
    }

    /// <summary>As <see cref="PrunedOnnxWriter"/> does: the initializer, its listing among the inputs (IR &lt; 4), no value_info.</summary>
    private static void Replace(GraphProto graph, string name, long[] dims, float[] values)
    {
        int index = graph.Initializer.ToList().FindIndex(t => t.Name == name);
        graph.Initializer[index] = OnnxProtos.Floats(name, dims, values);
        if (graph.Input.FirstOrDefault(i => i.Name == name) is { Type.TensorType: { } listed })
        {
            listed.Shape = new TensorShapeProto();
            foreach (var d in dims) listed.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        graph.ValueInfo.Clear();
    }

    /// <summary>The kept indices of axis <paramref name="axis"/> of a row-major tensor.</summary>
    private static float[] Slice(float[] values, long[] dims, int axis, int[] kept)
    {
        long outer = dims.Take(axis).Aggregate(1L, (a, d) => a * d), n = dims[axis], inner = dims.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        var result = new float[outer * kept.Length * inner];
        for (long o = 0; o < outer; o++)
            for (int k = 0; k < kept.Length; k++)
                System.Array.Copy(values, (o * n + kept[k]) * inner, result, (o * kept.Length + k) * inner, inner);
        return result;
    }

    /// <summary>The BatchNormalization that is the only reader of a conv's output, if any (the compiler folded it).</summary>
    private static NodeProto? FollowingBatchNorm(GraphProto graph, NodeProto conv)
    {
        var output = conv.Output[0];
        var readers = graph.Node.Where(n => n.Input.Contains(output)).ToList();
        return readers is [{ OpType: "BatchNormalization" } bn] && bn.Input[0] == output && graph.Output.All(o => o.Name != output) ? bn : null;
    }

    /// <summary>γ / √(variance + ε) per channel.</summary>
    private static double[] BatchNormScale(GraphProto graph, NodeProto bn, ConvChannelCut cut)
    {
        var gamma = OnnxProtos.ReadFloats(OwnInitializer(graph, bn, 1, cut));
        var variance = OnnxProtos.ReadFloats(OwnInitializer(graph, bn, 4, cut));
        double epsilon = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5;
        return gamma.Select((g, c) => g / System.Math.Sqrt(variance[c] + epsilon)).ToArray();
    }

    private static NodeProto ConvNode(GraphProto graph, string name, ConvChannelCut cut) =>
        graph.Node.FirstOrDefault(n => n.Name == name && n.OpType == "Conv") ?? throw Unavailable(cut, $"the model has no Conv node named '{name}'");

    /// <summary>Input <paramref name="index"/> of a node: a FLOAT initializer that no other node reads.</summary>
    private static TensorProto OwnInitializer(GraphProto graph, NodeProto node, int index, ConvChannelCut cut)
    {
        var name = index < node.Input.Count ? node.Input[index] : "";
        var tensor = graph.Initializer.FirstOrDefault(t => t.Name == name);
        if (tensor is null || tensor.DataType != OnnxDataType.Float)
            throw Unavailable(cut, $"input {index} of {node.OpType} '{node.Name}' is not a FLOAT initializer");
        if (graph.Node.Sum(n => n.Input.Count(i => i == name)) != 1 || graph.Output.Any(o => o.Name == name))
            throw Unavailable(cut, $"initializer '{name}' of {node.OpType} '{node.Name}' is also read elsewhere");
        return tensor;
    }

    private static CompilerException Unavailable(ConvChannelCut cut, string why) =>
        new(Codes.PrunedConvOnnxUnavailable,
            $"the pruned ONNX file cannot be written for the conv channel group '{cut.Producer}' → '{cut.Consumer}': {why}. Remove PrunedOnnx and QuantizedOnnx (both files are written from the pruned model).", cut.Producer);
}
