using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeCompile.Runtime;

namespace EdgeCompile.PathRunner;

/// <summary>
/// Runs every test sample of the fixture models through the classes EdgeCompile generated for this
/// build's target profile, and writes the logits and what the CPU reported, so a test can compare
/// each CPU path (native AVX2/AVX-512, forced-down x64 paths, arm64 under QEMU) with ONNX Runtime.
/// <code>
/// EdgeCompile.PathRunner &lt;fixture folder, or a folder of them (tests/fixtures)&gt; &lt;output folder&gt;
/// </code>
/// Besides the six FP32 fixture models, quantized builds of bert and vit (<c>bert.int8</c>, <c>bert.fp16</c>, ...) and
/// of mobilevit and efficientformer (their convolutions quantized), and pruned ones (<c>bert.pruned</c>, ... Structured,
/// <c>mobilebert.pruned</c> and <c>mobilebert.pruned.int8</c> with its NoNorm channels; <c>bert.nm</c>; <c>distilbert.sparse</c> and <c>vit.sparse</c> on DenseSparse).
/// Output: &lt;family&gt;.batched.txt and &lt;family&gt;.single.txt (see <see cref="RunMode"/>, <see cref="LogitsFile"/>)
/// and report.txt, <c>key=value</c> lines: the CPU features, the DenseInt8 and DenseSparse paths, the profile of each class, seconds and
/// samples per model.
/// </summary>
public static class Program
{
    private delegate void RunCall(IDisposable model, FixtureSamples samples, Call call, float[] logits);

    /// <summary>A generated class: <see cref="Name"/> is the fixture folder for FP32 builds, <c>&lt;fixture&gt;.&lt;mode&gt;</c>
    /// (int8, fp16, int4; pruned) for the quantized and pruned builds of the same ONNX file (EdgeCompile.PathRunner.csproj).</summary>
    private sealed record Family(string Name, string Fixture, Type Class, ModelInfo Info, RunCall Run);

    private static readonly Family[] Families =
    {
        new("bert", "bert", typeof(BertClassifier), BertClassifier.Info, static (m, s, c, y) => ((BertClassifier)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("distilbert", "distilbert", typeof(DistilBertClassifier), DistilBertClassifier.Info, static (m, s, c, y) => ((DistilBertClassifier)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), logits: y)),
        new("mobilebert", "mobilebert", typeof(MobileBertClassifier), MobileBertClassifier.Info, static (m, s, c, y) => ((MobileBertClassifier)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("vit", "vit", typeof(VitClassifier), VitClassifier.Info, static (m, s, c, y) => ((VitClassifier)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("mobilevit", "mobilevit", typeof(MobileVitClassifier), MobileVitClassifier.Info, static (m, s, c, y) => ((MobileVitClassifier)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("efficientformer", "efficientformer", typeof(EfficientFormerClassifier), EfficientFormerClassifier.Info, static (m, s, c, y) => ((EfficientFormerClassifier)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("bert.int8", "bert", typeof(BertInt8), BertInt8.Info, static (m, s, c, y) => ((BertInt8)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("bert.fp16", "bert", typeof(BertFp16), BertFp16.Info, static (m, s, c, y) => ((BertFp16)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("bert.int4", "bert", typeof(BertInt4), BertInt4.Info, static (m, s, c, y) => ((BertInt4)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("vit.int8", "vit", typeof(VitInt8), VitInt8.Info, static (m, s, c, y) => ((VitInt8)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("vit.fp16", "vit", typeof(VitFp16), VitFp16.Info, static (m, s, c, y) => ((VitFp16)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("vit.int4", "vit", typeof(VitInt4), VitInt4.Info, static (m, s, c, y) => ((VitInt4)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("bert.pruned", "bert", typeof(BertPruned), BertPruned.Info, static (m, s, c, y) => ((BertPruned)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("vit.pruned", "vit", typeof(VitPruned), VitPruned.Info, static (m, s, c, y) => ((VitPruned)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("mobilevit.pruned", "mobilevit", typeof(MobileVitPruned), MobileVitPruned.Info, static (m, s, c, y) => ((MobileVitPruned)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("efficientformer.pruned", "efficientformer", typeof(EfficientFormerPruned), EfficientFormerPruned.Info, static (m, s, c, y) => ((EfficientFormerPruned)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("mobilebert.pruned", "mobilebert", typeof(MobileBertPruned), MobileBertPruned.Info, static (m, s, c, y) => ((MobileBertPruned)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("mobilebert.pruned.int8", "mobilebert", typeof(MobileBertPrunedInt8), MobileBertPrunedInt8.Info, static (m, s, c, y) => ((MobileBertPrunedInt8)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("bert.nm", "bert", typeof(BertNm), BertNm.Info, static (m, s, c, y) => ((BertNm)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), tokenTypeIds: s.Tokens("token_type_ids", c), logits: y)),
        new("distilbert.sparse", "distilbert", typeof(DistilBertSparse), DistilBertSparse.Info, static (m, s, c, y) => ((DistilBertSparse)m).Run(batch: c.Batch, sequence: c.Sequence,
            inputIds: s.Tokens("input_ids", c), attentionMask: s.Tokens("attention_mask", c), logits: y)),
        new("vit.sparse", "vit", typeof(VitSparse), VitSparse.Info, static (m, s, c, y) => ((VitSparse)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("mobilevit.int8", "mobilevit", typeof(MobileVitInt8), MobileVitInt8.Info, static (m, s, c, y) => ((MobileVitInt8)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("mobilevit.fp16", "mobilevit", typeof(MobileVitFp16), MobileVitFp16.Info, static (m, s, c, y) => ((MobileVitFp16)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("mobilevit.int4", "mobilevit", typeof(MobileVitInt4), MobileVitInt4.Info, static (m, s, c, y) => ((MobileVitInt4)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("efficientformer.int8", "efficientformer", typeof(EfficientFormerInt8), EfficientFormerInt8.Info, static (m, s, c, y) => ((EfficientFormerInt8)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("efficientformer.fp16", "efficientformer", typeof(EfficientFormerFp16), EfficientFormerFp16.Info, static (m, s, c, y) => ((EfficientFormerFp16)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
        new("efficientformer.int4", "efficientformer", typeof(EfficientFormerInt4), EfficientFormerInt4.Info, static (m, s, c, y) => ((EfficientFormerInt4)m).Run(batch: c.Batch, pixelValues: s.Pixels(c), logits: y)),
    };

    /// <summary>Which classes run: <c>EDGECOMPILE_PATHRUNNER_MODELS</c>, a comma-separated list of family names (e.g.
    /// <c>bert.int8,vit.int8</c> for a path that differs only in the INT8 kernel); default all of them.</summary>
    private static readonly HashSet<string>? Only =
        Environment.GetEnvironmentVariable("EDGECOMPILE_PATHRUNNER_MODELS") is { Length: > 0 } only
            ? only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal)
            : null;

    /// <summary>How many test samples a class runs (the first ones): <c>EDGECOMPILE_PATHRUNNER_SAMPLES</c>, a comma-separated
    /// list of <c>&lt;class&gt;=&lt;count&gt;</c> (e.g. <c>mobilevit.int4=64</c>, for paths as slow as QEMU); default all.</summary>
    private static readonly Dictionary<string, int> SampleLimits =
        (Environment.GetEnvironmentVariable("EDGECOMPILE_PATHRUNNER_SAMPLES") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(entry => entry.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair.Length == 2 && int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
                ? n : throw new ArgumentException($"EDGECOMPILE_PATHRUNNER_SAMPLES: '{string.Join("=", pair)}' is not <class>=<positive count>"), StringComparer.Ordinal);

    /// <summary>The thread count each model is created with: <c>EDGECOMPILE_PATHRUNNER_THREADS</c>, default 1.</summary>
    private static readonly int Threads =
        int.TryParse(Environment.GetEnvironmentVariable("EDGECOMPILE_PATHRUNNER_THREADS"), NumberStyles.None, CultureInfo.InvariantCulture, out int t) ? t : 1;

    /// <summary>The one place a model is constructed.</summary>
    private static IDisposable Create(Family family) => (IDisposable)Activator.CreateInstance(family.Class, Threads)!;

    public static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: EdgeCompile.PathRunner <fixture folder, or a folder of fixture folders> <output folder>");
            return 2;
        }
        string input = Path.GetFullPath(args[0]);
        string output = Path.GetFullPath(args[1]);
        string[] folders = FixtureSamples.IsFixture(input)
            ? new[] { input }
            : Directory.GetDirectories(input).Where(FixtureSamples.IsFixture).Order(StringComparer.Ordinal).ToArray();
        if (folders.Length == 0)
        {
            Console.Error.WriteLine($"no fixture (a folder with meta.json) in {input}");
            return 2;
        }
        Directory.CreateDirectory(output);

        var report = new List<string>(Cpu())
        {
            "threads=" + Threads.ToString(CultureInfo.InvariantCulture),
            // The integer micro-kernel DenseInt8 takes here, for the panel width of this build's profile (16; 32 on x64-avx512).
            "DenseInt8Path=" + Kernels.DenseInt8Path(BertClassifier.Info.Profile == "x64-avx512" ? 32 : 16),
            // The inner loop DenseSparse takes here (distilbert.sparse, vit.sparse).
            "DenseSparsePath=" + Kernels.DenseSparsePath,
        };
        if (Only is not null && Only.FirstOrDefault(o => Families.All(f => f.Name != o)) is { } unknown)
        {
            Console.Error.WriteLine($"EDGECOMPILE_PATHRUNNER_MODELS: no class '{unknown}' (known: {string.Join(", ", Families.Select(f => f.Name))})");
            return 2;
        }
        if (SampleLimits.Keys.FirstOrDefault(o => Families.All(f => f.Name != o)) is { } unknownLimit)
        {
            Console.Error.WriteLine($"EDGECOMPILE_PATHRUNNER_SAMPLES: no class '{unknownLimit}' (known: {string.Join(", ", Families.Select(f => f.Name))})");
            return 2;
        }
        foreach (string folder in folders)
        {
            string name = Path.GetFileName(folder);
            var families = Families.Where(f => f.Fixture == name).ToList();
            if (families.Count == 0)
            {
                Console.Error.WriteLine($"{folder}: no generated class for fixture '{name}' (known: {string.Join(", ", Families.Select(f => f.Fixture).Distinct())})");
                return 2;
            }
            families.RemoveAll(f => Only is not null && !Only.Contains(f.Name));
            if (families.Count == 0) continue;
            var allSamples = FixtureSamples.Load(folder);
            foreach (var family in families)
            {
                var samples = SampleLimits.TryGetValue(family.Name, out int limit) ? allSamples.Take(limit) : allSamples;
                var clock = Stopwatch.StartNew();
                using (var model = Create(family))
                {
                    foreach (var mode in Enum.GetValues<RunMode>())
                    {
                        var logits = new float[samples.Count * samples.Classes];
                        foreach (var call in samples.Calls(mode))
                        {
                            var y = new float[call.Batch * samples.Classes];
                            family.Run(model, samples, call, y);
                            y.CopyTo(logits, call.Start * samples.Classes);
                        }
                        LogitsFile.Write(Path.Combine(output, LogitsFile.Name(family.Name, mode)), logits, samples.Classes);
                    }
                }
                report.Add($"profile.{family.Name}={family.Info.Profile}");
                report.Add($"seconds.{family.Name}={clock.Elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)}");
                report.Add($"samples.{family.Name}={samples.Count.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        File.WriteAllLines(Path.Combine(output, "report.txt"), report);
        foreach (string line in report) Console.WriteLine(line);
        return 0;
    }

    /// <summary>What the runtime reports about the CPU: the JIT's view, after any DOTNET_Enable* setting.</summary>
    private static IEnumerable<string> Cpu()
    {
        yield return "architecture=" + RuntimeInformation.ProcessArchitecture;
        yield return "framework=" + RuntimeInformation.FrameworkDescription;
        yield return "Sse42=" + Sse42.IsSupported;
        yield return "Avx=" + Avx.IsSupported;
        yield return "Avx2=" + Avx2.IsSupported;
        yield return "Fma=" + Fma.IsSupported;
        yield return "Avx512F=" + Avx512F.IsSupported;
        yield return "Avx512BW=" + Avx512BW.IsSupported;
        yield return "AvxVnni=" + AvxVnni.IsSupported;
        yield return "AdvSimd=" + AdvSimd.IsSupported;
        yield return "AdvSimd.Arm64=" + AdvSimd.Arm64.IsSupported;
        yield return "Dp=" + Dp.IsSupported;
        yield return "Vector128.IsHardwareAccelerated=" + Vector128.IsHardwareAccelerated;
        yield return "Vector256.IsHardwareAccelerated=" + Vector256.IsHardwareAccelerated;
        yield return "Vector512.IsHardwareAccelerated=" + Vector512.IsHardwareAccelerated;
        yield return "Vector<float>.Count=" + Vector<float>.Count;
        foreach (var variable in Environment.GetEnvironmentVariables().Keys.Cast<string>()
                     .Where(k => k.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal))
            yield return "env." + variable + "=" + Environment.GetEnvironmentVariable(variable);
    }
}
