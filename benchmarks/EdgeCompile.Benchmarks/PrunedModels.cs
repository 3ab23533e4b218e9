using System;
using System.IO;
using System.Linq;
using System.Reflection;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// The benchmark models compiled a second time with <c>Prune="0.4" PruneMode="Structured"</c> and no calibration (the
/// weights are random, so neurons are ranked from the weights alone), in FP32 (<c>&lt;Name&gt;Pruned</c>, also written
/// back as ONNX with <c>PrunedOnnx="true"</c>) and INT8 (<c>&lt;Name&gt;Int8Pruned</c>). <c>-p:BenchmarkPruned=false</c>
/// leaves them out; the INT8 ones need <c>BenchmarkInt8</c> as well.
/// </summary>
public static class PrunedModels
{
    /// <summary>The Prune fraction of the pruned items in the project file.</summary>
    public const double Fraction = 0.4;

    /// <summary>obj/.../edgecompile/ of this build: where the build wrote each pruned model as ONNX.</summary>
    public static string IntermediateDirectory { get; } = Path.GetFullPath(
        typeof(PrunedModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "EdgeCompileIntermediate").Value!);

    /// <summary>The pruned FP32 model as ONNX (the original graph with the pruned FFN initializers), for ONNX Runtime.</summary>
    public static string PrunedOnnxPath(string model) => Path.Combine(IntermediateDirectory, ClassPrefix(model) + "Pruned.pruned.onnx");

    /// <summary>The pruned FP32 generated class of a model, or null when it is not in this build.</summary>
    public static Func<int, IEdgeModel>? Fp32(string model) => model switch
    {
#if HAS_PRUNED && HAS_TINYBERT4
        "tinybert4" => t => new ModelCatalog.Adapter<TinyBert4Pruned>(new TinyBert4Pruned(threads: t), TinyBert4Pruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: l)),
#endif
#if HAS_PRUNED && HAS_DISTILBERT
        "distilbert" => t => new ModelCatalog.Adapter<DistilBertPruned>(new DistilBertPruned(threads: t), DistilBertPruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, logits: l)),
#endif
#if HAS_PRUNED && HAS_MOBILEBERT
        "mobilebert" => t => new ModelCatalog.Adapter<MobileBertPruned>(new MobileBertPruned(threads: t), MobileBertPruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: l)),
#endif
#if HAS_PRUNED && HAS_DEIT_SMALL
        "deit-small" => t => new ModelCatalog.Adapter<DeitSmallPruned>(new DeitSmallPruned(threads: t), DeitSmallPruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, pixelValues: x.PixelValues, logits: l)),
#endif
        _ => null,
    };

    /// <summary>The pruned INT8 generated class of a model, or null when it is not in this build.</summary>
    public static Func<int, IEdgeModel>? Int8(string model) => model switch
    {
#if HAS_PRUNED && HAS_INT8 && HAS_TINYBERT4
        "tinybert4" => t => new ModelCatalog.Adapter<TinyBert4Int8Pruned>(new TinyBert4Int8Pruned(threads: t), TinyBert4Int8Pruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: l)),
#endif
#if HAS_PRUNED && HAS_INT8 && HAS_DISTILBERT
        "distilbert" => t => new ModelCatalog.Adapter<DistilBertInt8Pruned>(new DistilBertInt8Pruned(threads: t), DistilBertInt8Pruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, logits: l)),
#endif
#if HAS_PRUNED && HAS_INT8 && HAS_MOBILEBERT
        "mobilebert" => t => new ModelCatalog.Adapter<MobileBertInt8Pruned>(new MobileBertInt8Pruned(threads: t), MobileBertInt8Pruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, sequence: x.Sequence, inputIds: x.InputIds, attentionMask: x.AttentionMask, tokenTypeIds: x.TokenTypeIds, logits: l)),
#endif
#if HAS_PRUNED && HAS_INT8 && HAS_DEIT_SMALL
        "deit-small" => t => new ModelCatalog.Adapter<DeitSmallInt8Pruned>(new DeitSmallInt8Pruned(threads: t), DeitSmallInt8Pruned.Info, t,
            static (m, x, l) => m.Run(batch: 1, pixelValues: x.PixelValues, logits: l)),
#endif
        _ => null,
    };

    private static string ClassPrefix(string model) => model switch
    {
        "tinybert4" => "TinyBert4",
        "distilbert" => "DistilBert",
        "mobilebert" => "MobileBert",
        "deit-small" => "DeitSmall",
        _ => throw new ArgumentException($"unknown benchmark model '{model}'", nameof(model)),
    };
}
