using EdgeCompile.Compiler.Data;
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using EdgeCompile.Fixtures.Models;

namespace EdgeCompile.EndToEnd.Tests;

public delegate void TextRun(IDisposable model, int batch, int sequence,
    ReadOnlySpan<long> inputIds, ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> tokenTypeIds, Span<float> logits);

public delegate void VisionRun(IDisposable model, int batch, ReadOnlySpan<float> pixelValues, Span<float> logits);

/// <summary>One fixture family: its generated class (used directly, as a user would) and its test data.</summary>
public sealed class Family
{
    public const int MaxBatch = 8;      // MaxShapes in EdgeCompile.Fixtures.Models.csproj
    public const int MaxSequence = 64;

    public required string Name { get; init; }
    public required Type ModelType { get; init; }
    public required Func<IDisposable> Create { get; init; }
    public TextRun? RunText { get; init; }
    public VisionRun? RunVision { get; init; }
    public bool HasTokenTypeIds { get; init; }

    public bool IsText => RunText is not null;
    public string Directory => Path.Combine(Paths.Fixtures, Name);
    public string ModelPath => Path.Combine(Directory, "model.onnx");

    public static readonly IReadOnlyList<Family> All = new[]
    {
        new Family
        {
            Name = "bert", ModelType = typeof(BertClassifier), Create = () => new BertClassifier(), HasTokenTypeIds = true,
            RunText = static (m, b, s, ids, mask, tt, y) =>
                ((BertClassifier)m).Run(batch: b, sequence: s, inputIds: ids, attentionMask: mask, tokenTypeIds: tt, logits: y),
        },
        new Family
        {
            Name = "distilbert", ModelType = typeof(DistilBertClassifier), Create = () => new DistilBertClassifier(),
            RunText = static (m, b, s, ids, mask, tt, y) =>
                ((DistilBertClassifier)m).Run(batch: b, sequence: s, inputIds: ids, attentionMask: mask, logits: y),
        },
        new Family
        {
            Name = "mobilebert", ModelType = typeof(MobileBertClassifier), Create = () => new MobileBertClassifier(), HasTokenTypeIds = true,
            RunText = static (m, b, s, ids, mask, tt, y) =>
                ((MobileBertClassifier)m).Run(batch: b, sequence: s, inputIds: ids, attentionMask: mask, tokenTypeIds: tt, logits: y),
        },
        new Family
        {
            Name = "vit", ModelType = typeof(VitClassifier), Create = () => new VitClassifier(),
            RunVision = static (m, b, x, y) => ((VitClassifier)m).Run(batch: b, pixelValues: x, logits: y),
        },
        new Family
        {
            Name = "mobilevit", ModelType = typeof(MobileVitClassifier), Create = () => new MobileVitClassifier(),
            RunVision = static (m, b, x, y) => ((MobileVitClassifier)m).Run(batch: b, pixelValues: x, logits: y),
        },
        new Family
        {
            Name = "efficientformer", ModelType = typeof(EfficientFormerClassifier), Create = () => new EfficientFormerClassifier(),
            RunVision = static (m, b, x, y) => ((EfficientFormerClassifier)m).Run(batch: b, pixelValues: x, logits: y),
        },
    };

    public static Family Get(string name) => All.Single(f => f.Name == name);

    public static IEnumerable<object[]> Names => All.Select(f => new object[] { f.Name });
    public static IEnumerable<object[]> TextNames => All.Where(f => f.IsText).Select(f => new object[] { f.Name });
    public static IEnumerable<object[]> VisionNames => All.Where(f => !f.IsText).Select(f => new object[] { f.Name });

    private static readonly ConcurrentDictionary<string, Lazy<TestData>> Data = new();
    public TestData Test => Data.GetOrAdd(Name, _ => new Lazy<TestData>(() => TestData.Load(this))).Value;
}

/// <summary>test/*.npy and meta.json of one family.</summary>
public sealed class TestData
{
    public required int Samples { get; init; }
    public required int Classes { get; init; }
    public required long[] Labels { get; init; }
    public required double MetaAccuracy { get; init; }
    // text: [samples, 64]
    public long[]? InputIds { get; init; }
    public long[]? AttentionMask { get; init; }
    public long[]? TokenTypeIds { get; init; }
    public int VocabSize { get; init; }
    // vision: [samples, 1, H, W]
    public float[]? PixelValues { get; init; }
    public int[]? ImageShape { get; init; } // [1, H, W]

    public int SampleElements => ImageShape is null ? Family.MaxSequence : ImageShape[0] * ImageShape[1] * ImageShape[2];

    public static TestData Load(Family f)
    {
        string test = Path.Combine(f.Directory, "test");
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(f.Directory, "meta.json")));
        var root = meta.RootElement;
        var labels = NpyFile.Read(Path.Combine(test, "labels.npy")).As<long>();
        int classes = root.GetProperty("num_classes").GetInt32();
        double acc = root.TryGetProperty("test_accuracy", out var a) ? a.GetDouble() : double.NaN;
        if (f.IsText)
        {
            var ids = NpyFile.Read(Path.Combine(test, "input_ids.npy"));
            if (ids.Shape.Length != 2 || ids.Shape[1] != Family.MaxSequence)
                throw new InvalidDataException($"{f.Name}: input_ids has shape [{string.Join(",", ids.Shape)}], expected [n,{Family.MaxSequence}]");
            return new TestData
            {
                Samples = (int)ids.Shape[0],
                Classes = classes,
                Labels = labels,
                MetaAccuracy = acc,
                InputIds = ids.As<long>(),
                AttentionMask = NpyFile.Read(Path.Combine(test, "attention_mask.npy")).As<long>(),
                TokenTypeIds = f.HasTokenTypeIds ? NpyFile.Read(Path.Combine(test, "token_type_ids.npy")).As<long>() : null,
                VocabSize = root.GetProperty("vocab_size").GetInt32(),
            };
        }
        var px = NpyFile.Read(Path.Combine(test, "pixel_values.npy"));
        return new TestData
        {
            Samples = (int)px.Shape[0],
            Classes = classes,
            Labels = labels,
            MetaAccuracy = acc,
            PixelValues = px.As<float>(),
            ImageShape = px.Shape[1..].Select(d => (int)d).ToArray(),
        };
    }

    /// <summary>Rows <paramref name="start"/>..+<paramref name="rows"/> of a [samples, 64] array, first <paramref name="sequence"/> columns.</summary>
    public static long[] Rows(long[] source, int start, int rows, int sequence)
    {
        var result = new long[rows * sequence];
        for (int r = 0; r < rows; r++)
            Array.Copy(source, (start + r) * Family.MaxSequence, result, r * sequence, sequence);
        return result;
    }

    public float[] Pixels(int start, int rows) =>
        PixelValues.AsSpan(start * SampleElements, rows * SampleElements).ToArray();

    /// <summary>Number of real (non-padding) tokens of a sample: the nonzero attention-mask entries.</summary>
    public int Length(int sample)
    {
        int n = 0;
        for (int j = 0; j < Family.MaxSequence; j++)
            if (AttentionMask![sample * Family.MaxSequence + j] != 0) n++;
        return n;
    }
}

public static class Paths
{
    /// <summary>tests/fixtures of this repository (found by walking up to EdgeCompile.sln).</summary>
    public static string Fixtures { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeCompile.sln")))
                return Path.Combine(dir.FullName, "tests", "fixtures");
        throw new DirectoryNotFoundException("EdgeCompile.sln not found above " + AppContext.BaseDirectory);
    }
}
