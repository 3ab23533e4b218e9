using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Tests.Calibration;

/// <summary>
/// An ONNX Runtime session on a fixture with chosen intermediate values added as graph outputs, so tests can compare
/// what the interpreter sees inside the model with an independent computation of it.
/// </summary>
internal sealed class OnnxIntermediates
{
    private readonly ModelProto _model;

    public OnnxIntermediates(string modelPath) => _model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath));

    /// <summary>The ONNX node named <paramref name="name"/>, or null.</summary>
    public NodeProto? Node(string name) => _model.Graph.Node.FirstOrDefault(n => n.Name == name);

    /// <summary>
    /// The x of the fully connected layer a fused Dense op is named after: the first input of its Gemm or MatMul node,
    /// or, when the op is named after the bias Add (MatMul + Add fused), of the MatMul feeding that Add. Null for
    /// anything else (a patch Conv, fused Q/K/V projections).
    /// </summary>
    public string? DenseInput(string nodeName)
    {
        var node = Node(nodeName);
        if (node?.OpType is "Gemm" or "MatMul") return node.Input[0];
        if (node?.OpType != "Add") return null;
        var matMul = _model.Graph.Node.FirstOrDefault(n => n.OpType == "MatMul" && node.Input.Contains(n.Output[0]));
        return matMul?.Input[0];
    }

    /// <summary>A session whose outputs are the graph's plus the float values <paramref name="values"/>.</summary>
    public InferenceSession SessionExposing(IEnumerable<string> values)
    {
        var model = _model.Clone();
        foreach (var name in values.Distinct().Where(v => model.Graph.Output.All(o => o.Name != v)))
            model.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        return new InferenceSession(model.ToByteArray(), new SessionOptions { IntraOpNumThreads = 1 });
    }
}
