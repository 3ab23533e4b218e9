using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Tests.Compiler;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeCompile.Tests.Onnx;

/// <summary>Reading, editing and running ONNX files in the writer tests.</summary>
internal static class OnnxFiles
{
    public static ModelProto Load(string path) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));

    public static void Save(ModelProto model, string path) => File.WriteAllBytes(path, model.ToByteArray());

    public static TensorProto Initializer(ModelProto model, string name) => model.Graph.Initializer.Single(t => t.Name == name);

    public static float[] Floats(TensorProto t) => OnnxProtos.ReadFloats(t);

    /// <summary>The 2-D FLOAT initializers read as the weight (input 1) of a node of one of <paramref name="ops"/>, once each.</summary>
    public static List<(string Name, long[] Dims, string Op, NodeProto Node)> Weights(ModelProto model, params string[] ops)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        var found = new List<(string, long[], string, NodeProto)>();
        foreach (var n in model.Graph.Node)
            if (ops.Contains(n.OpType) && n.Input.Count > 1 && initializers.TryGetValue(n.Input[1], out var t) && t.DataType == 1
                && found.All(f => f.Item1 != t.Name))
                found.Add((t.Name, t.Dims.ToArray(), n.OpType, n));
        return found;
    }

    /// <summary>Makes a computed value (or a value that used to be an initializer) an extra FLOAT graph output.</summary>
    public static void AddFloatOutput(ModelProto model, string name) =>
        model.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });

    public static InferenceSession Session(string path, Action<SessionOptions>? configure = null)
    {
        var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        configure?.Invoke(options);
        return new InferenceSession(path, options);
    }

    /// <summary>
    /// A session on a reference file as the oracle: MatMulNBits (fused from DequantizeLinear+MatMul) computing in float,
    /// not quantizing activations on its own (see QuantizedOnnxWriter).
    /// </summary>
    public static InferenceSession ReferenceSession(string path, Action<SessionOptions>? configure = null) => Session(path, o =>
    {
        o.AddSessionConfigEntry(QuantizedOnnxWriter.OrtAccuracyLevelKey, QuantizedOnnxWriter.OrtAccuracyLevelValue);
        configure?.Invoke(o);
    });

    /// <summary>Runs a session; returns every requested output as flat floats.</summary>
    public static Dictionary<string, float[]> Run(InferenceSession session, IReadOnlyList<(string Name, Array Values, int[] Shape)> inputs, params string[] outputs)
    {
        var values = inputs.Select(i => i.Values switch
        {
            long[] l => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<long>(l, i.Shape)),
            float[] f => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(f, i.Shape)),
            _ => throw new NotSupportedException(i.Values.GetType().Name),
        }).ToList();
        using var results = session.Run(values, outputs);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }

    /// <summary>Logits of a whole fixture test set, in batches.</summary>
    public static float[] Logits(InferenceSession session, FixtureTestSet set, int batch = 50)
    {
        var all = new List<float>();
        for (int start = 0; start < set.Count; start += batch)
            all.AddRange(Run(session, set.Batch(start, Math.Min(batch, set.Count - start)), "logits")["logits"]);
        return all.ToArray();
    }

    public static double Accuracy(float[] logits, FixtureTestSet set)
    {
        int classes = logits.Length / set.Count, correct = 0;
        for (int b = 0; b < set.Count; b++)
        {
            int best = 0;
            for (int j = 1; j < classes; j++) if (logits[b * classes + j] > logits[b * classes + best]) best = j;
            correct += best == set.Labels[b] ? 1 : 0;
        }
        return (double)correct / set.Count;
    }

    public static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("edgecompile-onnx-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => Directory.Delete(Path, recursive: true);
}
