using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <c>--ort-profile &lt;model&gt; &lt;calls&gt; [json]</c>: where ONNX Runtime's FP32 time goes, per operator. One
/// session with the benchmark's options (ORT_ENABLE_ALL, sequential, 1 intra-op thread) and ONNX Runtime's own
/// profiler on (<c>SessionOptions.EnableProfiling</c>), 10 warm-up calls then <c>calls</c> timed ones at sequence 128
/// (DeiT-Small: 197). Only the nodes inside the last <c>calls</c> <c>model_run</c> events are counted, so session
/// creation and the warm-up stay out. Prints ms per call per op type (after ORT's fusions: e.g. its Attention node
/// includes the QKV projection GEMM, SkipLayerNormalization the residual add) and per operator class
/// (<see cref="ClassOf"/>, the classes of the BENCHMARKS.md table), and keeps the JSON (the path printed, or [json]).
/// First the same number of calls without the profiler, timed by the calling thread's CPU time (see
/// <see cref="ThreadCpuMsPerCall"/>): each share times that is the "CPU ms" column.
/// </summary>
public static class OrtProfile
{
    public static int Run(string model, int calls, string? jsonPath)
    {
        BenchmarkModel m = ModelCatalog.Get(model);
        ModelInputs inputs = m.CreateInputs(m.QuantizedSequence, 20261123);
        string prefix = Path.Combine(Path.GetTempPath(), $"ort-profile-{model}");
        double cpuMs = ThreadCpuMsPerCall(m, inputs, calls);
        string written;
        using (var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            EnableProfiling = true,
            ProfileOutputPathPrefix = prefix,
        })
        using (var session = new InferenceSession(m.OnnxPath, options))
        {
            long[] shape = m.InputShape(inputs.Sequence);
            var feeds = m.InputNames.Select(name => name switch
            {
                "input_ids" => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(inputs.InputIds, shape.Select(d => (int)d).ToArray())),
                "attention_mask" => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(inputs.AttentionMask, shape.Select(d => (int)d).ToArray())),
                "token_type_ids" => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(inputs.TokenTypeIds, shape.Select(d => (int)d).ToArray())),
                "pixel_values" => NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(inputs.PixelValues, shape.Select(d => (int)d).ToArray())),
                _ => throw new InvalidOperationException($"unexpected input {name}"),
            }).ToList();
            for (int i = 0; i < 10 + calls; i++)
                using (session.Run(feeds)) { }
            written = session.EndProfiling();
        }
        if (jsonPath is not null) File.Move(written, jsonPath, overwrite: true);
        else jsonPath = written;

        using var document = JsonDocument.Parse(File.ReadAllText(jsonPath));
        var events = document.RootElement.EnumerateArray().ToList();
        var runs = events.Where(e => e.GetProperty("name").GetString() == "model_run")
            .Select(e => (Start: e.GetProperty("ts").GetInt64(), End: e.GetProperty("ts").GetInt64() + e.GetProperty("dur").GetInt64()))
            .OrderBy(r => r.Start).TakeLast(calls).ToArray();
        double runMs = runs.Sum(r => r.End - r.Start) / 1000.0 / runs.Length;
        var perOp = new Dictionary<string, double>();
        var perClass = new Dictionary<string, double>();
        foreach (var e in events)
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time")) continue;
            long ts = e.GetProperty("ts").GetInt64();
            if (!runs.Any(r => ts >= r.Start && ts <= r.End)) continue;
            string op = e.GetProperty("args").GetProperty("op_name").GetString()!;
            double ms = e.GetProperty("dur").GetInt64() / 1000.0 / runs.Length;
            perOp[op] = perOp.GetValueOrDefault(op) + ms;
            string group = ClassOf(op, InputRanks(e));
            perClass[group] = perClass.GetValueOrDefault(group) + ms;
        }
        double nodesMs = perOp.Values.Sum();
        Console.WriteLine($"--ort-profile {model} (sequence {inputs.Sequence}, 1 thread, ORT_ENABLE_ALL): {runs.Length} calls, model_run {runMs:F2} ms per call, nodes {nodesMs:F2} ms; profile {jsonPath}");
        Console.WriteLine($"without the profiler: thread CPU time {cpuMs:F2} ms per call (column 'CPU ms' = share of model_run × this)");
        Console.WriteLine("op type                          ms/call   share    CPU ms");
        foreach (var (op, ms) in perOp.OrderByDescending(p => p.Value))
            Console.WriteLine($"{op,-30} {ms,9:F3} {ms / runMs,7:P1} {ms / runMs * cpuMs,9:F3}");
        Console.WriteLine("operator class                   ms/call   share    CPU ms");
        foreach (var (group, ms) in perClass.OrderByDescending(p => p.Value))
            Console.WriteLine($"{group,-30} {ms,9:F3} {ms / runMs,7:P1} {ms / runMs * cpuMs,9:F3}");
        Console.WriteLine($"{"(between nodes)",-30} {runMs - nodesMs,9:F3} {(runMs - nodesMs) / runMs,7:P1} {(runMs - nodesMs) / runMs * cpuMs,9:F3}");
        return 0;
    }

    /// <summary>
    /// The same session without the profiler: the calling thread's CPU time per call (ORT runs every node on the
    /// calling thread with 1 intra-op thread), after 10 warm-up calls. On this shared machine the profiler's
    /// wall-clock durations include time spent waiting for a core; their shares are still fair, their ms are not.
    /// </summary>
    private static double ThreadCpuMsPerCall(BenchmarkModel m, ModelInputs inputs, int calls)
    {
        using var runner = new QuantizedInference.OrtRunner(m, m.OnnxPath, inputs, threads: 1);
        for (int i = 0; i < 10; i++) runner.Run();
        double start = SparseCpuTime.ThreadCpuSeconds();
        for (int i = 0; i < calls; i++) runner.Run();
        return (SparseCpuTime.ThreadCpuSeconds() - start) * 1000 / calls;
    }

    /// <summary>The ranks of a node's inputs as ORT's profile lists them (a MatMul's pre-packed weight is not listed).</summary>
    private static int[] InputRanks(JsonElement e)
    {
        if (!e.GetProperty("args").TryGetProperty("input_type_shape", out var inputs)) return Array.Empty<int>();
        return inputs.EnumerateArray().Select(i => i.EnumerateObject().First().Value.GetArrayLength()).ToArray();
    }

    /// <summary>
    /// The operator class of one ONNX Runtime node (after its graph fusions), comparable with EdgeCompile's kernels:
    /// a MatMul of two run-time 4-D tensors (Q·Kᵀ, P·V) and the mask Add on the 4-D scores are attention, as is the
    /// Transpose of heads around them (EdgeCompile's Attention kernel reads the heads in place); a MatMul/Gemm with a
    /// weight and the bias Add after it (a rank-1 operand) are the dense GEMMs (EdgeCompile's Dense adds its bias); an
    /// Add of two tensors of rank 2–3 is a residual (or embedding) add.
    /// </summary>
    public static string ClassOf(string op, int[] ranks) => op switch
    {
        "MatMul" or "FusedMatMul" when ranks.Length == 2 && ranks.All(r => r == 4) => "attention",
        "Attention" or "MultiHeadAttention" => "attention",
        "Transpose" when ranks.Length == 1 && ranks[0] == 4 => "attention",
        "Add" when ranks.Length == 2 && ranks.Max() == 4 => "attention",
        "MatMul" or "FusedMatMul" or "Gemm" or "FusedGemm" or "MatMulNBits" => "dense/MatMul GEMMs",
        "Add" when ranks.Length == 2 && ranks.Min() == 1 => "dense/MatMul GEMMs",
        "LayerNormalization" or "SkipLayerNormalization" or "SimplifiedLayerNormalization" => "LayerNorm",
        "Gelu" or "BiasGelu" or "FastGelu" or "Erf" => "GELU",
        "Softmax" => "softmax",
        "Add" or "Mul" or "Sub" or "Div" or "Where" => "add/residual/elementwise",
        "Gather" or "EmbedLayerNormalization" => "embeddings/gather",
        "Conv" => "conv",
        _ => "other",
    };
}
