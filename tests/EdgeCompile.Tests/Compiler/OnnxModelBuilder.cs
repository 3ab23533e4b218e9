using System;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;
using Google.Protobuf;

namespace EdgeCompile.Tests.Compiler;

/// <summary>Writes small ONNX models for tests that need a precise, unusual file (external data, bad opsets).</summary>
internal sealed class OnnxModelBuilder
{
    private readonly ModelProto _model = new() { IrVersion = 8, ProducerName = "EdgeCompile.Tests", Graph = new GraphProto { Name = "g" } };

    public OnnxModelBuilder(long opset = 17, string domain = "") =>
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = opset });

    public GraphProto Graph => _model.Graph;

    public OnnxModelBuilder Input(string name, params object[] dims) { Graph.Input.Add(Info(name, dims)); return this; }
    public OnnxModelBuilder Output(string name, params object[] dims) { Graph.Output.Add(Info(name, dims)); return this; }

    public OnnxModelBuilder Node(string op, string name, string[] inputs, string[] outputs, string domain = "")
    {
        var n = new NodeProto { OpType = op, Name = name, Domain = domain };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        Graph.Node.Add(n);
        return this;
    }

    /// <summary>A float initializer stored in the typed float_data field.</summary>
    public OnnxModelBuilder TypedInitializer(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        Graph.Initializer.Add(t);
        return this;
    }

    /// <summary>A float initializer whose bytes live in <paramref name="file"/> at <paramref name="offset"/>.</summary>
    public OnnxModelBuilder ExternalInitializer(string name, long[] dims, string file, long offset, long length)
    {
        var t = new TensorProto { Name = name, DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.AddRange(dims);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = file });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
        Graph.Initializer.Add(t);
        return this;
    }

    public string Save(string path)
    {
        File.WriteAllBytes(path, _model.ToByteArray());
        return path;
    }

    private static ValueInfoProto Info(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }
}
