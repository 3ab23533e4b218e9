using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;

namespace EdgeCompile.Benchmarks;

/// <summary>One EdgeCompile-generated model behind a uniform call (batch 1), so one benchmark class covers all models.</summary>
public interface IEdgeModel : IDisposable
{
    void Run(int sequence, long[] inputIds, long[] attentionMask, long[] tokenTypeIds, float[] logits);
}

/// <summary>A benchmark model: its ONNX file (for ONNX Runtime) and, if it was compiled into this assembly, its generated class.</summary>
public sealed record BenchmarkModel(string Name, string[] InputNames, int Labels, int Vocabulary, Func<IEdgeModel>? CreateEdge)
{
    public string OnnxPath => Path.Combine(ModelCatalog.ModelsDirectory, Name, "model.onnx");
    public bool HasTokenTypeIds => InputNames.Contains("token_type_ids");
    public override string ToString() => Name;
}

public static class ModelCatalog
{
    /// <summary>artifacts/benchmark-models/ of the repository this assembly was built from.</summary>
    public static string ModelsDirectory { get; } = Path.GetFullPath(
        typeof(ModelCatalog).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "BenchmarkModels").Value!);

    /// <summary>Every model the benchmarks know, compiled in or not.</summary>
    public static IReadOnlyList<BenchmarkModel> All { get; } = new[]
    {
        new BenchmarkModel("tinybert4", new[] { "input_ids", "attention_mask", "token_type_ids" }, 2, 30522,
#if HAS_TINYBERT4
            () => new TinyBert4Adapter()),
#else
            null),
#endif
        new BenchmarkModel("distilbert", new[] { "input_ids", "attention_mask" }, 2, 30522,
#if HAS_DISTILBERT
            () => new DistilBertAdapter()),
#else
            null),
#endif
    };

    /// <summary>Models whose generated class is in this build (the ONNX file existed when it was built).</summary>
    public static IEnumerable<BenchmarkModel> Available => All.Where(m => m.CreateEdge is not null && File.Exists(m.OnnxPath));

    public static BenchmarkModel Get(string name) => All.Single(m => m.Name == name);

    /// <summary>One line per model that cannot be benchmarked, saying what to do.</summary>
    public static IEnumerable<string> Problems()
    {
        foreach (var m in All)
        {
            if (!File.Exists(m.OnnxPath))
                yield return $"model '{m.Name}' is missing ({m.OnnxPath}): generate it with "
                    + $"`/usr/bin/python3 tests/fixtures/make_benchmark_models.py {m.Name}` from the repository root, then rebuild.";
            else if (m.CreateEdge is null)
                yield return $"model '{m.Name}' exists but was not compiled into this build (it was generated after the last build): rebuild the benchmark project.";
        }
    }

#if HAS_TINYBERT4
    private sealed class TinyBert4Adapter : IEdgeModel
    {
        private readonly TinyBert4 model = new();
        public void Run(int sequence, long[] inputIds, long[] attentionMask, long[] tokenTypeIds, float[] logits) =>
            model.Run(batch: 1, sequence: sequence, inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds, logits: logits);
        public void Dispose() => model.Dispose();
    }
#endif

#if HAS_DISTILBERT
    private sealed class DistilBertAdapter : IEdgeModel
    {
        private readonly DistilBert model = new();
        public void Run(int sequence, long[] inputIds, long[] attentionMask, long[] tokenTypeIds, float[] logits) =>
            model.Run(batch: 1, sequence: sequence, inputIds: inputIds, attentionMask: attentionMask, logits: logits);
        public void Dispose() => model.Dispose();
    }
#endif
}
