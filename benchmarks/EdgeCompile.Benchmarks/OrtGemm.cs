using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// ONNX Runtime's FP32 GEMM (MLAS) on one shape: a one-node ONNX model <c>y = MatMul(x, W)</c>, x <c>[rows,K]</c> with
/// a symbolic row count, W <c>[K,N]</c> a constant initializer, so that ONNX Runtime prepacks W at session creation
/// (MatMul&lt;float&gt;::PrePack) and each run is one MlasGemm call on the packed B, as in its fused BERT graphs.
/// No bias, no activation: the same product as the <c>Dense&lt;TShape&gt;</c> side. The model bytes are written here at
/// setup (no model file); inputs and outputs are bound once per row count to caller-owned arrays, so a run allocates
/// nothing managed. The session runs with the benchmark's usual options and <c>threads</c> intra-op threads (at 1
/// thread ONNX Runtime computes on the calling thread, which <c>--gemm-cpu</c>'s thread-CPU clock relies on).
/// </summary>
internal sealed class OrtGemm : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly int _k, _n;
    private readonly Dictionary<int, (OrtValue[] Inputs, OrtValue[] Outputs)> _bound = new();
    private static readonly string[] InputNames = { "x" }, OutputNames = { "y" };

    public OrtGemm(int k, int n, float[] w, int threads, string? profilePrefix = null)
    {
        (_k, _n) = (k, n);
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        if (profilePrefix is not null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }
        _session = new InferenceSession(MatMulModel(k, n, w), options);
    }

    /// <summary>Binds <paramref name="x"/> (its first rows·K floats) and <paramref name="y"/> (rows·N) for <see cref="Run"/>.</summary>
    public void Bind(int rows, float[] x, float[] y)
    {
        var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(x, 0, rows * _k), new long[] { rows, _k });
        var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(y, 0, rows * _n), new long[] { rows, _n });
        _bound[rows] = (new[] { input }, new[] { output });
    }

    public void Run(int rows)
    {
        var (inputs, outputs) = _bound[rows];
        _session.Run(_runOptions, InputNames, inputs, OutputNames, outputs);
    }

    /// <summary>Ends profiling (the session must have been created with a profile prefix) and returns the node
    /// events' "op_name/name" pairs, so the caller can see that a run was one MatMul and nothing else.</summary>
    public string[] ProfiledNodes()
    {
        string path = _session.EndProfiling();
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.EnumerateArray()
                .Where(e => e.GetProperty("cat").GetString() == "Node" && e.GetProperty("name").GetString()!.EndsWith("_kernel_time"))
                .Select(e => e.GetProperty("args").GetProperty("op_name").GetString() + "/" + e.GetProperty("name").GetString())
                .Distinct().ToArray();
        }
        finally { File.Delete(path); }
    }

    public void Dispose()
    {
        foreach (var (inputs, outputs) in _bound.Values)
        {
            foreach (var v in inputs) v.Dispose();
            foreach (var v in outputs) v.Dispose();
        }
        _runOptions.Dispose();
        _session.Dispose();
    }

    /// <summary>ModelProto for <c>y = MatMul(x, W)</c>: IR version 8, default opset 17, W <c>[k,n]</c> row-major as raw data.</summary>
    public static byte[] MatMulModel(int k, int n, float[] w)
    {
        var graph = new GraphProto { Name = "dense" };
        graph.Node.Add(OnnxProtos.Node("MatMul", "gemm", new[] { "x", "W" }, new[] { "y" }));
        graph.Initializer.Add(OnnxProtos.Floats("W", new long[] { k, n }, w));
        graph.Input.Add(FloatMatrix("x", "rows", k));
        graph.Output.Add(FloatMatrix("y", "rows", n));
        var model = new ModelProto { IrVersion = 8, ProducerName = "EdgeCompile.Benchmarks", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    /// <summary>ValueInfoProto of a float tensor [<paramref name="rowsParam"/>, <paramref name="columns"/>].</summary>
    private static ValueInfoProto FloatMatrix(string name, string rowsParam, int columns)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = rowsParam });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = columns });
        var type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float, Shape = shape } };
        return new ValueInfoProto { Name = name, Type = type };
    }
}
