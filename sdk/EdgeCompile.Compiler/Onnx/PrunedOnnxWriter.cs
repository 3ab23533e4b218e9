using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Compiler.Pruning;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Puts a pruned model's weights back into its ONNX graph: each pruned FFN initializer is replaced by one of the same
/// name with its smaller shape; the MatMul/Add nodes that read it stay as they are, so ONNX Runtime running the file
/// computes exactly the pruned block and is the oracle for the pruned numerics.
/// <para>
/// The graph's <c>value_info</c> is dropped: it may record the old width of the FFN activations, which ONNX
/// Runtime would refuse as a shape conflict; it is only a hint, and the runtime infers the shapes again.
/// </para>
/// </summary>
public static class PrunedOnnxWriter
{
    /// <summary>Applies the pruned initializers to a loaded model (before quantization writes its own changes on top).</summary>
    internal static void Apply(ModelProto model, IReadOnlyList<PrunedInitializer> initializers)
    {
        var graph = model.Graph;
        foreach (var pruned in initializers)
        {
            int index = graph.Initializer.ToList().FindIndex(t => t.Name == pruned.Name);
            if (index < 0 && IdentityOfInitializer(graph, pruned.Name) is { } identity)
            {
                // The exporter shares equal initializers (MobileBERT's all-ones NoNorm γ at random init) and names the
                // other uses with Identity nodes: the pruned tensor becomes an initializer of that name instead.
                graph.Node.Remove(identity);
                graph.Initializer.Add(OnnxProtos.Floats(pruned.Name, pruned.Dims, pruned.Values));
                index = graph.Initializer.Count - 1;
            }
            if (index < 0) throw new CompilerException(Codes.PrunedOnnxUnavailable, $"pruned ONNX file: the model has no initializer '{pruned.Name}' to replace.");
            if (graph.Initializer[index].DataType != OnnxDataType.Float)
                throw new CompilerException(Codes.PrunedOnnxUnavailable, $"pruned ONNX file: initializer '{pruned.Name}' is not FLOAT.");
            graph.Initializer[index] = OnnxProtos.Floats(pruned.Name, pruned.Dims, pruned.Values);
            // IR < 4 lists initializers among the graph inputs, with their shape: give the entry the new one.
            if (graph.Input.FirstOrDefault(i => i.Name == pruned.Name) is { Type.TensorType: { } listed })
            {
                listed.Shape = new TensorShapeProto();
                foreach (var d in pruned.Dims) listed.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            }
        }
        if (initializers.Count > 0) graph.ValueInfo.Clear();
    }

    /// <summary>An Identity node whose output is <paramref name="name"/> and whose input is a FLOAT initializer, if any.</summary>
    private static NodeProto? IdentityOfInitializer(GraphProto graph, string name) =>
        graph.Node.FirstOrDefault(n => n.OpType == "Identity" && n.Output.Count == 1 && n.Output[0] == name && n.Input.Count == 1
            && graph.Initializer.Any(t => t.Name == n.Input[0] && t.DataType == OnnxDataType.Float));
}
