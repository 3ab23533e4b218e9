using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Writes the reference ONNX file of a quantized model (docs/quantization.md, "The reference ONNX file"): the original
/// graph with each replaced weight initializer computed by <c>DequantizeLinear</c> (INT8 per axis, INT4 blocked) or
/// <c>Cast</c> (FP16), and the INT8 activation quantization in front of every MatMul/Gemm/Conv that reads an INT8 weight.
/// ONNX Runtime running the file is the oracle for the quantized numerics.
/// <para>
/// The dequantized value keeps the initializer's name, so every consumer (however many, and in nested graphs) reads it
/// unchanged; graph inputs and outputs keep their names. Everything added is named with <see cref="Prefix"/>. The
/// default-domain opset is raised only as far as needed: 13 for per-axis DequantizeLinear, 21 for INT4 blocks (see
/// <see cref="OpsetUpgrade"/> for what is rewritten on the way).
/// </para>
/// <para>
/// Running the file in ONNX Runtime (1.31): its graph optimizer fuses DequantizeLinear+MatMul into MatMulNBits for INT4
/// blocks and also for INT8 per-column weights, and MatMulNBits by default (accuracy level 4) quantizes the activations
/// to 8 bits in blocks of its own, which is not the contract's numerics. Set the session config entry
/// <see cref="OrtAccuracyLevelKey"/> = <see cref="OrtAccuracyLevelValue"/> (float compute) when the file is the oracle.
/// </para>
/// </summary>
public static class QuantizedOnnxWriter
{
    public const string Prefix = "ec_quant/";

    /// <summary>ONNX Runtime session config entry that makes its fused MatMulNBits compute in float, as the reference needs.</summary>
    public const string OrtAccuracyLevelKey = "session.qdq_matmulnbits_accuracy_level";
    public const string OrtAccuracyLevelValue = "1";

    public static void Write(string inputPath, string outputPath, IReadOnlyList<WeightReplacement> replacements)
    {
        var model = OnnxModelFile.Load(inputPath);
        Apply(model, replacements);
        OnnxModelFile.Save(model, outputPath);
    }

    internal static void Apply(ModelProto model, IReadOnlyList<WeightReplacement> replacements)
    {
        var graph = model.Graph;
        var duplicate = replacements.GroupBy(r => r.Initializer).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw Invalid($"initializer '{duplicate.Key}' is replaced twice.");

        long needed = replacements.Any(r => r is Int4WeightReplacement) ? 21 : replacements.Any(r => r is Int8WeightReplacement) ? 13 : 0;
        OpsetUpgrade.Raise(model, needed);
        long opset = OnnxModelFile.DefaultOpset(model).Version;

        var names = new UniqueNames(graph);
        var weightNodes = new List<NodeProto>();
        foreach (var r in replacements)
        {
            // The weight is an initializer, or the tensor of a Constant node (EfficientFormer's attention biases).
            var constant = graph.Node.FirstOrDefault(n => n.OpType == "Constant" && n.Output.Count == 1 && n.Output[0] == r.Initializer);
            var original = graph.Initializer.FirstOrDefault(t => t.Name == r.Initializer)
                ?? constant?.Attribute.FirstOrDefault(a => a.Name == "value")?.T
                ?? throw Invalid($"the model has no initializer or Constant '{r.Initializer}' to replace.");
            if (original.DataType != OnnxDataType.Float) throw Invalid($"initializer '{r.Initializer}' is not FLOAT; only float weights are quantized.");
            if (constant is not null) graph.Node.Remove(constant);
            else graph.Initializer.Remove(original);
            // IR < 4 lists initializers among the graph inputs; the name is now computed, so it is no input any more.
            if (graph.Input.FirstOrDefault(i => i.Name == r.Initializer) is { } listed) graph.Input.Remove(listed);
            var dims = original.Dims.ToArray();
            var writer = new ReplacedWeightNodes(graph, names, r.Initializer, dims, weightNodes);
            switch (r)
            {
                case Int8WeightReplacement q: writer.Int8(q); break;
                case Int4WeightReplacement q: writer.Int4(q); break;
                case HalfWeightReplacement h: writer.Half(h); break;
                default: throw new ArgumentException($"unknown replacement {r.GetType().Name}");
            }
        }

        var activations = new ActivationFakeQuant(graph, names, opset);
        var before = QuantizeActivations(graph, replacements.OfType<Int8WeightReplacement>().ToList(), activations);

        // Dequantized weights first (they read only initializers), then each activation quantization just before the
        // first node that reads it: the node list stays topologically sorted.
        var nodes = new List<NodeProto>(weightNodes);
        foreach (var n in graph.Node)
        {
            if (before.TryGetValue(n, out var extra)) nodes.AddRange(extra);
            nodes.Add(n);
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
    }

    /// <summary>
    /// Points the data input of every MatMul/Gemm/Conv that reads an INT8 weight at the fake-quantized activation.
    /// One activation read by several layers with the same quantization (BERT's q, k, v) is quantized once.
    /// </summary>
    private static Dictionary<NodeProto, List<NodeProto>> QuantizeActivations(GraphProto graph, List<Int8WeightReplacement> int8, ActivationFakeQuant fakeQuant)
    {
        // By reference: protobuf messages hash by value, and the node's input is rewritten below.
        var before = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        var done = new Dictionary<(string, float, string), string>();
        var byName = int8.Where(r => r.Activation is not null).ToDictionary(r => r.Initializer, r => r.Activation!);
        foreach (var n in graph.Node.ToList())
        {
            if (n.OpType is not ("MatMul" or "Gemm" or "Conv") || n.Input.Count < 2 || !byName.TryGetValue(n.Input[1], out var activation)) continue;
            string x = n.Input[0];
            string view = n.OpType == "Conv" ? PatchView(n, activation) : "row";
            if (n.OpType == "Gemm" && Attribute(n, "transA") is { I: not 0 } && activation.IsDynamic)
                throw Unsupported(n, "dynamic per-row activation quantization of a Gemm with transA=1 (its rows are the columns of A)");
            var key = (x, activation.Scale, view);
            if (!done.TryGetValue(key, out var quantized))
            {
                var nodes = new List<NodeProto>();
                quantized = activation.IsDynamic ? DynamicFor(n, x, view, fakeQuant, nodes) : fakeQuant.Static(x, activation.Scale, nodes);
                done[key] = quantized;
                before[n] = nodes;
            }
            n.Input[0] = quantized;
        }
        return before;
    }

    private static string DynamicFor(NodeProto n, string x, string view, ActivationFakeQuant fakeQuant, List<NodeProto> nodes)
    {
        if (view == "row") return fakeQuant.Dynamic(x, -1, nodes);
        // A patch Conv is a Dense over rows that are patches: SpaceToDepth makes each patch the channel vector of one
        // pixel, so the per-row maximum is a ReduceMax over axis 1, and DepthToSpace (DCR) puts the pixels back.
        long block = long.Parse(view, System.Globalization.CultureInfo.InvariantCulture);
        string p = $"{Prefix}{x}/patches";
        string patches = p + "/space_to_depth";
        nodes.Add(OnnxProtos.Node("SpaceToDepth", patches, new[] { x }, new[] { patches }, OnnxProtos.Int("blocksize", block)));
        string quantized = fakeQuant.Dynamic(patches, 1, nodes);
        string image = p + "/depth_to_space";
        nodes.Add(OnnxProtos.Node("DepthToSpace", image, new[] { quantized }, new[] { image }, OnnxProtos.Int("blocksize", block)));
        return image;
    }

    /// <summary>
    /// For a Conv reading an INT8 weight, how its activation is viewed: "elementwise" for static quantization, which fits
    /// every Conv, else the patch size: dynamic per-patch quantization needs the compiler's patch embedding (square kernel = stride,
    /// no padding or dilation, one group), which is the only Conv lowered to a Dense.
    /// </summary>
    private static string PatchView(NodeProto conv, ActivationQuantization activation)
    {
        if (!activation.IsDynamic) return "elementwise";
        var kernel = Attribute(conv, "kernel_shape")?.Ints.ToArray();
        var strides = Attribute(conv, "strides")?.Ints.ToArray();
        bool plain = kernel is { Length: 2 } && kernel[0] == kernel[1] && strides is { Length: 2 } && strides.SequenceEqual(kernel)
            && (Attribute(conv, "pads")?.Ints.All(v => v == 0) ?? true) && (Attribute(conv, "dilations")?.Ints.All(v => v == 1) ?? true)
            && (Attribute(conv, "group")?.I ?? 1) == 1 && (Attribute(conv, "auto_pad")?.S.ToStringUtf8() ?? "NOTSET") is "NOTSET" or "VALID";
        if (!plain) throw Unsupported(conv, "dynamic INT8 activation quantization of a Conv that is not a square non-overlapping patch embedding");
        return kernel![0].ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static AttributeProto? Attribute(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);

    private static CompilerException Invalid(string message) => new(Codes.InvalidModel, "reference ONNX file: " + message);

    private static CompilerException Unsupported(NodeProto n, string what) =>
        new(Codes.UnsupportedOperatorForm, $"reference ONNX file: {n.OpType} '{n.Name}' needs {what}, which it does not write.", n.Name);
}
