using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// Issue 5's latency target: one inference (batch 1, 1 thread) of each benchmark model at sequence 128 (DeiT-Small:
/// its 197 tokens), unpruned against structured pruning at <see cref="PrunedModels.Fraction"/> (FFN neurons; no
/// calibration, the weights are random), in FP32 and in INT8. Each precision is its own category with the unpruned
/// class as its baseline, so the Ratio column is the pruned model's time over the unpruned one's at the same precision
/// (the target: at most 1/1.4 = 0.71).
/// Before anything is timed, the pruned FP32 class is checked against ONNX Runtime on the pruned model the build wrote
/// as ONNX (within 1e-3), and the unpruned FP32 class against ONNX Runtime on model.onnx.
/// </summary>
[Config(typeof(PrunedInferenceConfig))]
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class PrunedInference
{
    /// <summary>Models whose unpruned and pruned FP32 classes are both in this build.</summary>
    public static IEnumerable<string> Models => ModelCatalog.Available.Where(m => PrunedModels.Fp32(m.Name) is not null).Select(m => m.Name);

    [ParamsSource(nameof(Models))] public string Model { get; set; } = "";

    private const int Seed = 20261123, Threads = 1;

    private IEdgeModel fp32 = null!, fp32Pruned = null!;
    private IEdgeModel? int8, int8Pruned;
    private ModelInputs inputs = null!;
    private float[] fp32Logits = null!, fp32PrunedLogits = null!, int8Logits = null!, int8PrunedLogits = null!;

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkModel m = ModelCatalog.Get(Model);
        int sequence = m.QuantizedSequence;
        inputs = m.CreateInputs(sequence, Seed);
        fp32Logits = GC.AllocateArray<float>(m.Labels, pinned: true);
        fp32PrunedLogits = GC.AllocateArray<float>(m.Labels, pinned: true);
        int8Logits = GC.AllocateArray<float>(m.Labels, pinned: true);
        int8PrunedLogits = GC.AllocateArray<float>(m.Labels, pinned: true);
        fp32 = m.CreateEdge!(Threads);
        fp32Pruned = PrunedModels.Fp32(Model)!(Threads);
        int8 = m.CreateEdgeInt8?.Invoke(Threads);
        int8Pruned = PrunedModels.Int8(Model)?.Invoke(Threads);

        // A wrong fast result must never be reported: each FP32 class against ONNX Runtime on the file it was built from.
        string where = $"{Model} sequence {sequence} threads {Threads}";
        string prunedOnnx = PrunedModels.PrunedOnnxPath(Model);
        if (!File.Exists(prunedOnnx))
            throw new InvalidOperationException($"{where}: the build did not write the pruned model {prunedOnnx} (PrunedOnnx=\"true\"); rebuild the benchmark project.");
        float unprunedDiff = AgainstOnnxRuntime(m, m.OnnxPath, fp32, fp32Logits);
        float prunedDiff = AgainstOnnxRuntime(m, prunedOnnx, fp32Pruned, fp32PrunedLogits);
        if (!(unprunedDiff <= 1e-3f && prunedDiff <= 1e-3f))
            throw new InvalidOperationException($"{where}: EdgeCompile disagrees with ONNX Runtime (unpruned max |diff| {unprunedDiff}, pruned {prunedDiff}; limit 1e-3). Not benchmarking a wrong result.");
        Console.WriteLine($"// {where} ({fp32Pruned.Info.Profile}): Prune={PrunedModels.Fraction} Structured; EdgeCompile vs ONNX Runtime max |diff| unpruned {unprunedDiff:G3}, "
            + $"pruned {prunedDiff:G3} (on {Path.GetFileName(prunedOnnx)}); weights {fp32.Info.WeightBytes:N0} → {fp32Pruned.Info.WeightBytes:N0} bytes FP32"
            + (int8Pruned is null || int8 is null ? "; INT8 classes not in this build" : $", {int8.Info.WeightBytes:N0} → {int8Pruned.Info.WeightBytes:N0} bytes INT8"));
        if (int8 is not null) EdgeCompileInt8();
        if (int8Pruned is not null) EdgeCompileInt8Pruned();
        if (int8Pruned is not null && !int8PrunedLogits.All(float.IsFinite))
            throw new InvalidOperationException($"{where}: the pruned INT8 class returned non-finite logits. Not benchmarking it.");
    }

    private static float AgainstOnnxRuntime(BenchmarkModel m, string onnx, IEdgeModel edge, float[] logits)
    {
        edge.Run(m.CreateInputs(m.QuantizedSequence, Seed), logits);
        using var ort = new QuantizedInference.OrtRunner(m, onnx, m.CreateInputs(m.QuantizedSequence, Seed), Threads);
        ort.Run();
        float max = 0;
        for (int i = 0; i < logits.Length; i++) max = Math.Max(max, Math.Abs(logits[i] - ort.Logits[i]));
        return float.IsFinite(max) ? max : float.NaN;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("FP32")]
    public void EdgeCompileFp32() => fp32.Run(inputs, fp32Logits);

    [Benchmark, BenchmarkCategory("FP32")]
    public void EdgeCompileFp32Pruned() => fp32Pruned.Run(inputs, fp32PrunedLogits);

    [Benchmark(Baseline = true), BenchmarkCategory("INT8")]
    public void EdgeCompileInt8() => (int8 ?? throw new InvalidOperationException($"{Model}: no INT8 class in this build (-p:BenchmarkInt8=false)")).Run(inputs, int8Logits);

    [Benchmark, BenchmarkCategory("INT8")]
    public void EdgeCompileInt8Pruned() => (int8Pruned ?? throw new InvalidOperationException($"{Model}: no pruned INT8 class in this build (-p:BenchmarkInt8=false)")).Run(inputs, int8PrunedLogits);

    [GlobalCleanup]
    public void Cleanup()
    {
        int8Pruned?.Dispose();
        int8?.Dispose();
        fp32Pruned?.Dispose();
        fp32?.Dispose();
    }
}

/// <summary>
/// <see cref="BenchConfig"/> plus the column with the target profile and threads of the EdgeCompile code; the INT8 cases
/// of a model are left out when its INT8 classes are not in this build (<c>-p:BenchmarkInt8=false</c>).
/// </summary>
public sealed class PrunedInferenceConfig : BenchConfig
{
    public PrunedInferenceConfig()
    {
        AddColumn(new EdgeCompileColumn());
        AddFilter(new SimpleFilter(c =>
        {
            if (c.Descriptor.Type != typeof(PrunedInference) || !c.Descriptor.HasCategory("INT8")) return true;
            var model = c.Parameters.Items.FirstOrDefault(p => p.Name == nameof(PrunedInference.Model))?.Value as string;
            return model is not null && ModelCatalog.Get(model).CreateEdgeInt8 is not null && PrunedModels.Int8(model) is not null;
        }));
    }
}
