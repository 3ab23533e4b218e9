using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// The inputs of one inference (batch 1), made once per benchmark case and shared by EdgeCompile and ONNX Runtime.
/// Arrays are pinned so ONNX Runtime's <c>OrtValue</c>s can wrap them for the whole run. A text model uses the token
/// arrays (length <see cref="Sequence"/>), an image model <see cref="PixelValues"/>; the others are empty.
/// </summary>
public sealed class ModelInputs
{
    public int Sequence { get; init; }
    public long[] InputIds { get; init; } = Array.Empty<long>();
    public long[] AttentionMask { get; init; } = Array.Empty<long>();
    public long[] TokenTypeIds { get; init; } = Array.Empty<long>();
    public float[] PixelValues { get; init; } = Array.Empty<float>();
}

/// <summary>One EdgeCompile-generated model behind a uniform call (batch 1), so one benchmark class covers all models.</summary>
public interface IEdgeModel : IDisposable
{
    /// <summary>The generated class's <c>Info</c> (name, target profile, sizes).</summary>
    ModelInfo Info { get; }

    /// <summary>Threads the generated code really uses (1 until the generated classes have a threads option).</summary>
    int Threads { get; }

    void Run(ModelInputs inputs, float[] logits);
}

public enum ModelKind { Text, Image }

/// <summary>
/// A benchmark model: its ONNX file (for ONNX Runtime) and, if it was compiled into this assembly, a factory for its
/// generated class taking the thread count.
/// </summary>
/// <param name="Tokens">Image models: the fixed sequence length of the encoder (patches + CLS), reported as the
/// Sequence parameter; text models: 0 (the sequence is a benchmark parameter).</param>
public sealed record BenchmarkModel(
    string Name, ModelKind Kind, string[] InputNames, int Labels, int Vocabulary, int ImageSize, int Tokens,
    Func<int, IEdgeModel>? CreateEdge)
{
    /// <summary>Sequence lengths a text model is measured at.</summary>
    public static readonly int[] TextSequences = { 16, 128 };

    public string OnnxPath => Path.Combine(ModelCatalog.ModelsDirectory, Name, "model.onnx");

    /// <summary>The generated class compiled with <c>Quantize="Int8"</c> (<c>&lt;Name&gt;Int8</c>), if it is in this build.</summary>
    public Func<int, IEdgeModel>? CreateEdgeInt8 { get; init; }

    /// <summary>ONNX Runtime's dynamically quantized version of <see cref="OnnxPath"/> (written by QuantizedInference).</summary>
    public string OrtDynamicPath => Path.Combine(ModelCatalog.ModelsDirectory, Name, "model.ort-dynamic.onnx");

    /// <summary>The one sequence length QuantizedInference measures: 128 for text, the fixed token count for images.</summary>
    public int QuantizedSequence => Kind == ModelKind.Text ? 128 : Tokens;

    /// <summary>The sequence lengths this model is measured at: 16 and 128 for text, its fixed token count for images.</summary>
    public IReadOnlyList<int> Sequences => Kind == ModelKind.Text ? TextSequences : new[] { Tokens };

    /// <summary>ONNX Runtime shape of every input (batch 1).</summary>
    public long[] InputShape(int sequence) =>
        Kind == ModelKind.Text ? new long[] { 1, sequence } : new long[] { 1, 3, ImageSize, ImageSize };

    /// <summary>Seeded inputs: random token ids (mask all ones, token types zero) or random pixels in [-1, 1).</summary>
    public ModelInputs CreateInputs(int sequence, int seed)
    {
        var rng = new Random(seed);
        if (Kind == ModelKind.Image)
        {
            var pixels = GC.AllocateArray<float>(3 * ImageSize * ImageSize, pinned: true);
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(rng.NextDouble() * 2 - 1);
            return new ModelInputs { Sequence = Tokens, PixelValues = pixels };
        }
        var ids = GC.AllocateArray<long>(sequence, pinned: true);
        for (int i = 0; i < sequence; i++) ids[i] = rng.Next(1, Vocabulary);
        var mask = GC.AllocateArray<long>(sequence, pinned: true);
        Array.Fill(mask, 1L);
        return new ModelInputs
        {
            Sequence = sequence, InputIds = ids, AttentionMask = mask,
            TokenTypeIds = GC.AllocateArray<long>(sequence, pinned: true),
        };
    }

    public override string ToString() => Name;
}

public static class ModelCatalog
{
    /// <summary>artifacts/benchmark-models/ of the repository this assembly was built from.</summary>
    public static string ModelsDirectory { get; } = Path.GetFullPath(
        typeof(ModelCatalog).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "BenchmarkModels").Value!);

    private static readonly string[] Bert = { "input_ids", "attention_mask", "token_type_ids" };

    /// <summary>Every model the benchmarks know, compiled in or not.</summary>
    public static IReadOnlyList<BenchmarkModel> All { get; } = new[]
    {
        new BenchmarkModel("tinybert4", ModelKind.Text, Bert, 2, 30522, 0, 0,
#if HAS_TINYBERT4
            threads => new TinyBert4Adapter(threads))
#else
            null)
#endif
#if HAS_TINYBERT4 && HAS_INT8
        { CreateEdgeInt8 = threads => new Adapter<TinyBert4Int8>(new TinyBert4Int8(threads: threads), TinyBert4Int8.Info, threads, TinyBert4Int8Run) },
#else
        ,
#endif
        new BenchmarkModel("distilbert", ModelKind.Text, new[] { "input_ids", "attention_mask" }, 2, 30522, 0, 0,
#if HAS_DISTILBERT
            threads => new DistilBertAdapter(threads))
#else
            null)
#endif
#if HAS_DISTILBERT && HAS_INT8
        { CreateEdgeInt8 = threads => new Adapter<DistilBertInt8>(new DistilBertInt8(threads: threads), DistilBertInt8.Info, threads, DistilBertInt8Run) },
#else
        ,
#endif
        new BenchmarkModel("mobilebert", ModelKind.Text, Bert, 2, 30522, 0, 0,
#if HAS_MOBILEBERT
            threads => new MobileBertAdapter(threads))
#else
            null)
#endif
#if HAS_MOBILEBERT && HAS_INT8
        { CreateEdgeInt8 = threads => new Adapter<MobileBertInt8>(new MobileBertInt8(threads: threads), MobileBertInt8.Info, threads, MobileBertInt8Run) },
#else
        ,
#endif
        // DeiT-Small: 224x224, patch 16 -> 196 patches + CLS = 197 tokens.
        new BenchmarkModel("deit-small", ModelKind.Image, new[] { "pixel_values" }, 1000, 0, 224, 197,
#if HAS_DEIT_SMALL
            threads => new DeitSmallAdapter(threads))
#else
            null)
#endif
#if HAS_DEIT_SMALL && HAS_INT8
        { CreateEdgeInt8 = threads => new Adapter<DeitSmallInt8>(new DeitSmallInt8(threads: threads), DeitSmallInt8.Info, threads, DeitSmallInt8Run) },
#else
        ,
#endif
    };

    /// <summary>Models whose generated class is in this build (the ONNX file existed when it was built).</summary>
    public static IEnumerable<BenchmarkModel> Available => All.Where(m => m.CreateEdge is not null && File.Exists(m.OnnxPath));

    public static BenchmarkModel Get(string name) => All.Single(m => m.Name == name);

    /// <summary>The target profile the models of this build were generated for (from the generated classes' Info).</summary>
    public static string Profiles
    {
        get
        {
            var profiles = Available.Select(m => m.Name + ": " + Profile(m.Name)).ToArray();
            return profiles.Length == 0 ? "(no model compiled in)" : string.Join(", ", profiles);
        }
    }

    /// <summary>The target profile of one model's generated class ("?" when it is not compiled in).</summary>
    public static string Profile(string name) => name switch
    {
#if HAS_TINYBERT4
        "tinybert4" => TinyBert4.Info.Profile,
#endif
#if HAS_DISTILBERT
        "distilbert" => DistilBert.Info.Profile,
#endif
#if HAS_MOBILEBERT
        "mobilebert" => MobileBert.Info.Profile,
#endif
#if HAS_DEIT_SMALL
        "deit-small" => DeitSmall.Info.Profile,
#endif
        _ => "?",
    };

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

    // The adapters: one per generated class, created with the case's thread count.

    /// <summary>A generated class behind <see cref="IEdgeModel"/> through a static (non-capturing, cached) run delegate.</summary>
    internal sealed class Adapter<T>(T model, ModelInfo info, int threads, Action<T, ModelInputs, float[]> run) : IEdgeModel
        where T : IDisposable
    {
        public int Threads => threads;
        public ModelInfo Info => info;
        public void Run(ModelInputs x, float[] logits) => run(model, x, logits);
        public void Dispose() => model.Dispose();
    }

#if HAS_INT8 && HAS_TINYBERT4
    private static void TinyBert4Int8Run(TinyBert4Int8 m, ModelInputs x, float[] logits) =>
        m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: logits);
#endif
#if HAS_INT8 && HAS_DISTILBERT
    private static void DistilBertInt8Run(DistilBertInt8 m, ModelInputs x, float[] logits) =>
        m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, logits: logits);
#endif
#if HAS_INT8 && HAS_MOBILEBERT
    private static void MobileBertInt8Run(MobileBertInt8 m, ModelInputs x, float[] logits) =>
        m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: logits);
#endif
#if HAS_INT8 && HAS_DEIT_SMALL
    private static void DeitSmallInt8Run(DeitSmallInt8 m, ModelInputs x, float[] logits) =>
        m.Run(batch: 1, pixelValues: x.PixelValues, logits: logits);
#endif

#if HAS_TINYBERT4
    private sealed class TinyBert4Adapter : IEdgeModel
    {
        private readonly TinyBert4 model;
        public TinyBert4Adapter(int threads) => (model, Threads) = (new TinyBert4(threads: threads), threads);
        public int Threads { get; }
        public ModelInfo Info => TinyBert4.Info;
        public void Run(ModelInputs x, float[] logits) =>
            model.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: logits);
        public void Dispose() => model.Dispose();
    }
#endif

#if HAS_DISTILBERT
    private sealed class DistilBertAdapter : IEdgeModel
    {
        private readonly DistilBert model;
        public DistilBertAdapter(int threads) => (model, Threads) = (new DistilBert(threads: threads), threads);
        public int Threads { get; }
        public ModelInfo Info => DistilBert.Info;
        public void Run(ModelInputs x, float[] logits) =>
            model.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, logits: logits);
        public void Dispose() => model.Dispose();
    }
#endif

#if HAS_MOBILEBERT
    private sealed class MobileBertAdapter : IEdgeModel
    {
        private readonly MobileBert model;
        public MobileBertAdapter(int threads) => (model, Threads) = (new MobileBert(threads: threads), threads);
        public int Threads { get; }
        public ModelInfo Info => MobileBert.Info;
        public void Run(ModelInputs x, float[] logits) =>
            model.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: logits);
        public void Dispose() => model.Dispose();
    }
#endif

#if HAS_DEIT_SMALL
    private sealed class DeitSmallAdapter : IEdgeModel
    {
        private readonly DeitSmall model;
        public DeitSmallAdapter(int threads) => (model, Threads) = (new DeitSmall(threads: threads), threads);
        public int Threads { get; }
        public ModelInfo Info => DeitSmall.Info;
        public void Run(ModelInputs x, float[] logits) =>
            model.Run(batch: 1, pixelValues: x.PixelValues, logits: logits);
        public void Dispose() => model.Dispose();
    }
#endif
}
