using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
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

    // ---- The model bytes, written field by field (field numbers of onnx/onnx.proto). ----

    /// <summary>ModelProto for <c>y = MatMul(x, W)</c>: IR version 8, default opset 17, W <c>[k,n]</c> row-major as raw data.</summary>
    public static byte[] MatMulModel(int k, int n, float[] w)
    {
        if (w.Length != k * n) throw new ArgumentException($"W has {w.Length} values, expected {k}×{n}", nameof(w));
        byte[] raw = new byte[w.Length * sizeof(float)];
        Buffer.BlockCopy(w, 0, raw, 0, raw.Length);  // raw_data is little-endian, as float[] is on x64 and ARM64

        byte[] tensor = Message(o =>
        {
            Packed(o, 1, k, n);                                // dims
            o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt32(1);   // data_type FLOAT
            String(o, 8, "W");                                 // name
            o.WriteTag(9, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(raw));  // raw_data
        });
        byte[] node = Message(o =>
        {
            String(o, 1, "x"); String(o, 1, "W");              // input
            String(o, 2, "y");                                 // output
            String(o, 3, "gemm");                              // name
            String(o, 4, "MatMul");                            // op_type
        });
        byte[] graph = Message(o =>
        {
            Bytes(o, 1, node);
            String(o, 2, "dense");
            Bytes(o, 5, tensor);                               // initializer
            Bytes(o, 11, ValueInfo("x", "rows", k));           // input
            Bytes(o, 12, ValueInfo("y", "rows", n));           // output
        });
        byte[] opset = Message(o => { String(o, 1, ""); o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt64(17); });
        return Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt64(8);  // ir_version
            String(o, 2, "EdgeCompile.Benchmarks");            // producer_name
            Bytes(o, 7, graph);
            Bytes(o, 8, opset);
        });
    }

    /// <summary>ValueInfoProto of a float tensor [<paramref name="rowsParam"/>, <paramref name="columns"/>].</summary>
    private static byte[] ValueInfo(string name, string rowsParam, int columns)
    {
        byte[] rowsDim = Message(o => String(o, 2, rowsParam));                                        // dim_param
        byte[] colsDim = Message(o => { o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt64(columns); });  // dim_value
        byte[] shape = Message(o => { Bytes(o, 1, rowsDim); Bytes(o, 1, colsDim); });
        byte[] tensorType = Message(o => { o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt32(1); Bytes(o, 2, shape); });
        byte[] type = Message(o => Bytes(o, 1, tensorType));
        return Message(o => { String(o, 1, name); Bytes(o, 2, type); });
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        using (var output = new CodedOutputStream(stream, leaveOpen: true)) { write(output); output.Flush(); }
        return stream.ToArray();
    }

    private static void String(CodedOutputStream o, int field, string value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    }

    private static void Bytes(CodedOutputStream o, int field, byte[] value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(value));
    }

    private static void Packed(CodedOutputStream o, int field, params long[] values)
    {
        byte[] body = Message(p => { foreach (long v in values) p.WriteInt64(v); });
        Bytes(o, field, body);
    }
}
