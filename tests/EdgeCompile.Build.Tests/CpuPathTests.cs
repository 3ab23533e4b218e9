using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.PathRunner;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>A fact that runs a linux-x64 publish on this machine; skipped, with the reason, off Linux x64
/// or when the CPU (as this process sees it) lacks the instruction set the path needs.</summary>
public sealed class X64PathFactAttribute : FactAttribute
{
    public X64PathFactAttribute(string requires = "")
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            Skip = "runs linux-x64 publishes: Linux x64 only";
        else if (requires == "AVX2" && !(Avx2.IsSupported && Fma.IsSupported))
            Skip = "the CPU lacks AVX2+FMA (or this process was started with them disabled): no native x64-avx2 path to test";
        else if (requires == "AVX-512F" && !Avx512F.IsSupported)
            Skip = "the CPU lacks AVX-512F (or this process was started with DOTNET_EnableAVX512=0): no native x64-avx512 path to test";
        else if (requires == "AVX-VNNI" && !(AvxVnni.IsSupported && Avx2.IsSupported))
            Skip = "the CPU lacks AVX-VNNI: DOTNET_EnableAVXVNNI=0 would run the DenseInt8 path the native test already runs";
        else if (requires == "AVX-512BW+AVX-VNNI" && !(AvxVnni.IsSupported && Avx512BW.IsSupported))
            Skip = "the CPU lacks AVX-512BW or AVX-VNNI: no separate AVX-512 int16 DenseInt8 path to force with DOTNET_EnableAVXVNNI=0";
    }
}

/// <summary>
/// Every fixture model on every CPU path the target profiles emit, against ONNX Runtime: the runner
/// (tests/EdgeCompile.PathRunner, the six fixture models as one consumer app) is published once per
/// target, x64-avx2 and x64-avx512 (linux-x64) and arm64-neon (linux-arm64, self-contained), and run
/// natively, with instruction sets disabled through the runtime's DOTNET_Enable* settings, and under
/// qemu-aarch64-static. Each run feeds all test samples twice (batches of 8 padded to 64 tokens, and one
/// sample per call at its true length, see <see cref="RunMode"/>); every logit must be within 1e-4 of
/// ONNX Runtime's and every predicted label the same. The runner reports what the runtime saw of the CPU
/// (and which DenseInt8 micro-kernel it leaves), so each test also checks that the forced path is the one taken.
/// <para>
/// The runner also holds quantized builds of bert and vit (<c>Quantize</c> Int8, Fp16, Int4; <see cref="PathModel"/>),
/// checked against ONNX Runtime on the reference file their own build wrote (<c>&lt;ClassName&gt;.quantized.onnx</c>,
/// with <see cref="QuantizedOnnxWriter.OrtAccuracyLevelKey"/> = 1), never against FP32: FP16 and INT4 (weight-only)
/// with the FP32 criterion, INT8 with the one at <see cref="Int8MaxDifferentLabels"/>. Paths that differ only in the DenseInt8
/// micro-kernel (AVX-VNNI off; an ARM CPU without DotProd) run the INT8 models only.
/// </para>
/// <para>
/// And pruned builds (<see cref="PathModel.PrunedBuilds"/>, with their calibration sets): Structured bert, vit, mobilevit,
/// efficientformer and mobilebert (heads, FFN neurons, conv channels, NoNorm channel groups), NM 2:4 bert on the dense kernel, and Unstructured distilbert
/// and 2:4 vit forced onto DenseSparse (<c>SparseKernels="Always"</c>), checked with the FP32 criterion against ONNX
/// Runtime on the pruned ONNX file their build wrote (<c>&lt;ClassName&gt;.pruned.onnx</c>), not against the unpruned model.
/// mobilebert is also pruned and quantized to INT8 (<c>mobilebert.pruned.int8</c>): INT8 criterion against its quantized
/// reference, bounded by that reference's distance from the build's pruned file; the reports of both mobilebert builds must
/// show narrowed NoNorm channel groups (<see cref="PathModel.ResidualGroups"/>).
/// mobilevit and efficientformer are quantized too (their convolutions on Conv2dInt8, Conv2dHalf, Conv2dInt4). Each such
/// class's plan must call the kernel it is there for (<see cref="PathModel.Kernel"/>), and the slow ones run fewer
/// samples (<see cref="PathModel.SamplesOn"/>).
/// </para>
/// </summary>
[Collection("dotnet build")]
public sealed class CpuPathTests : IClassFixture<PathRunnerBuilds>
{
    private const float Tolerance = 1e-4f;

    /// <summary>
    /// INT8 quantizes activations (per row, round to nearest): a difference of an ulp in a float activation, from a
    /// different but equally correct summation order (ONNX Runtime's kernels vs ours, AVX-VNNI vs NEON), can land on the
    /// other side of a rounding boundary and move one quantized input a whole step; later layers carry that on. So most
    /// samples match the reference as closely as FP32 does, and a few differ by much more. Measured (x64-avx2 native,
    /// 300 samples per mode): bert.int8 median 2.4e-7, 9 samples beyond 1e-4, max 4.8e-3; vit.int8 median 2.4e-7,
    /// 6 samples beyond 1e-4, max 5.5e-2 (vit's whole INT8-vs-FP32 error on the same samples is 1.2e-1). The criterion:
    /// <list type="bullet">
    /// <item>every sample's max |logit - reference| is at most the reference's own quantization error, max over the
    /// samples of |reference - ONNX Runtime FP32| (one flipped rounding cannot move the logits further than all of the
    /// model's roundings together do; a wrong kernel, scale or offset does);</item>
    /// <item>the median |logit - reference| over all logits is within the FP32 <see cref="Tolerance"/>, and at most
    /// <see cref="Int8MaxFractionBeyondTolerance"/> of the samples exceed it (flips are rare; a wrong kernel moves
    /// every sample);</item>
    /// <item>every label equals the reference's, except at most <see cref="Int8MaxDifferentLabels"/> near tie (the
    /// reference's top-two margin within twice that sample's deviation); the count is printed.</item>
    /// </list>
    /// </summary>
    private const int Int8MaxDifferentLabels = 1;
    private const double Int8MaxFractionBeyondTolerance = 0.1;

    private readonly PathRunnerBuilds _builds;
    private readonly ITestOutputHelper _output;

    public CpuPathTests(PathRunnerBuilds builds, ITestOutputHelper output)
    {
        _builds = builds;
        _output = output;
    }

    /// <summary>With 2 threads: the worker pool splits the GEMMs and attention heads. DenseInt8 takes the best path the
    /// CPU offers: AVX-VNNI (vpdpbusd) where present, else the AVX2 int16 path.</summary>
    [X64PathFact(requires: "AVX2")]
    public void X64Avx2_native() =>
        Check(RunnerTarget.X64Avx2, new() { ["EDGECOMPILE_PATHRUNNER_THREADS"] = "2" },
            new() { ["Avx2"] = "True", ["Fma"] = "True", ["Vector256.IsHardwareAccelerated"] = "True", ["threads"] = "2",
                    ["DenseInt8Path"] = AvxVnni.IsSupported ? "AvxVnni" : "Avx2", ["DenseSparsePath"] = "Avx2" });

    /// <summary>AVX-VNNI off: DenseInt8's AVX2 int16 (vpmaddwd) path. Only the INT8 models: nothing else uses AVX-VNNI.</summary>
    [X64PathFact(requires: "AVX-VNNI")]
    public void X64Avx2_with_DOTNET_EnableAVXVNNI_0() =>
        Check(RunnerTarget.X64Avx2, new() { ["DOTNET_EnableAVXVNNI"] = "0" },
            new() { ["AvxVnni"] = "False", ["Avx2"] = "True", ["DenseInt8Path"] = "Avx2" }, only: Int8Models);

    /// <summary>AVX2 off (on .NET 10 that also turns off FMA and AVX-512): AVX with 128-bit vectors; DenseInt8 on Vector128.</summary>
    [X64PathFact]
    public void X64Avx2_with_DOTNET_EnableAVX2_0() =>
        Check(RunnerTarget.X64Avx2, new() { ["DOTNET_EnableAVX2"] = "0" },
            new() { ["Avx2"] = "False", ["Fma"] = "False", ["Avx512F"] = "False", ["Vector256.IsHardwareAccelerated"] = "False", ["Vector128.IsHardwareAccelerated"] = "True",
                    ["AvxVnni"] = "False", ["DenseInt8Path"] = "Vector128", ["DenseSparsePath"] = "Vector128" });

    [X64PathFact]
    public void X64Avx2_with_DOTNET_EnableAVX_0() =>
        Check(RunnerTarget.X64Avx2, new() { ["DOTNET_EnableAVX"] = "0" },
            new() { ["Avx"] = "False", ["Avx2"] = "False", ["Fma"] = "False", ["Vector256.IsHardwareAccelerated"] = "False", ["Vector128.IsHardwareAccelerated"] = "True",
                    ["AvxVnni"] = "False", ["DenseInt8Path"] = "Vector128", ["DenseSparsePath"] = "Vector128" });

    /// <summary>
    /// No hardware intrinsics at all: every kernel's scalar path, DenseSparse's and DenseInt8's included (the only place
    /// a whole model runs them). Vector128 is not accelerated (Vector&lt;float&gt; stays 4 wide, in software). Every
    /// class on its first <see cref="ScalarSamples"/> samples: the scalar loops are slower (64 samples per class took about
    /// as long, 21.6 s, as the native run of up to 300 at 19.1 s, on a loaded machine).
    /// </summary>
    [X64PathFact]
    public void X64Avx2_with_DOTNET_EnableHWIntrinsic_0() =>
        Check(RunnerTarget.X64Avx2, new() { ["DOTNET_EnableHWIntrinsic"] = "0" },
            new() { ["Sse42"] = "False", ["Avx"] = "False", ["Avx2"] = "False", ["Vector128.IsHardwareAccelerated"] = "False", ["Vector256.IsHardwareAccelerated"] = "False",
                    ["AvxVnni"] = "False", ["DenseInt8Path"] = "Scalar", ["DenseSparsePath"] = "Scalar" }, samples: ScalarSamples);

    private const int ScalarSamples = 64;

    [X64PathFact(requires: "AVX-512F")]
    public void X64Avx512_native() =>
        Check(RunnerTarget.X64Avx512, new() { ["EDGECOMPILE_PATHRUNNER_THREADS"] = "3" }, new() { ["Avx512F"] = "True", ["Avx2"] = "True", ["Fma"] = "True", ["threads"] = "3",
            ["DenseInt8Path"] = AvxVnni.IsSupported ? "AvxVnni" : Avx512BW.IsSupported ? "Avx512BW" : "Avx2", ["DenseSparsePath"] = "Avx2" });

    /// <summary>AVX-VNNI off on an AVX-512 CPU: DenseInt8's AVX-512BW int16 micro-kernel for 32-column panels. INT8 models only.</summary>
    [X64PathFact(requires: "AVX-512BW+AVX-VNNI")]
    public void X64Avx512_with_DOTNET_EnableAVXVNNI_0() =>
        Check(RunnerTarget.X64Avx512, new() { ["DOTNET_EnableAVXVNNI"] = "0" },
            new() { ["AvxVnni"] = "False", ["Avx512BW"] = "True", ["DenseInt8Path"] = "Avx512BW" }, only: Int8Models);

    /// <summary>AVX-512 off, AVX2 below it. .NET 10 ignores <c>DOTNET_EnableAVX512F</c> (Avx512F stays
    /// supported); its setting is <c>DOTNET_EnableAVX512</c>.</summary>
    [X64PathFact(requires: "AVX2")]
    public void X64Avx512_with_DOTNET_EnableAVX512_0() =>
        Check(RunnerTarget.X64Avx512, new() { ["DOTNET_EnableAVX512"] = "0" },
            new() { ["Avx512F"] = "False", ["Avx512BW"] = "False", ["Vector512.IsHardwareAccelerated"] = "False", ["Avx2"] = "True", ["Fma"] = "True",
                    ["DenseInt8Path"] = AvxVnni.IsSupported ? "AvxVnni" : "Avx2", ["DenseSparsePath"] = "Avx2" });

    /// <summary>QEMU's default CPU (max) has the dot-product extension: DenseInt8 on sdot.</summary>
    [QemuArm64Fact]
    public void Arm64Neon_under_qemu() =>
        Check(RunnerTarget.Arm64Neon, new() { ["DOTNET_EnableWriteXorExecute"] = "0", ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1", ["EDGECOMPILE_PATHRUNNER_THREADS"] = "2" },
            new() { ["architecture"] = "Arm64", ["AdvSimd"] = "True", ["AdvSimd.Arm64"] = "True", ["threads"] = "2", ["Dp"] = "True", ["DenseInt8Path"] = "Dp", ["DenseSparsePath"] = "AdvSimd" });

    /// <summary>An ARMv8.0 CPU model without the dot-product extension (QEMU_CPU=cortex-a57): DenseInt8's widening
    /// (smull/sadalp) path. INT8 models only: nothing else uses Dp.</summary>
    [QemuArm64Fact]
    public void Arm64Neon_under_qemu_with_QEMU_CPU_cortex_a57() =>
        Check(RunnerTarget.Arm64Neon, new() { ["DOTNET_EnableWriteXorExecute"] = "0", ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1", ["QEMU_CPU"] = "cortex-a57" },
            new() { ["architecture"] = "Arm64", ["AdvSimd"] = "True", ["AdvSimd.Arm64"] = "True", ["Dp"] = "False", ["DenseInt8Path"] = "AdvSimd" }, only: Int8Models);

    /// <summary>The runner's classes with INT8 weights and activations: the ones a DenseInt8-only path changes.</summary>
    private static readonly string[] Int8Models = PathModel.Quantized.Where(q => q.Quantize == "Int8").Select(q => $"{q.Fixture}.int8")
        .Concat(PathModel.PrunedBuilds.Where(p => p.Quantize == "Int8").Select(p => p.Name)).ToArray();

    /// <param name="samples">At most this many test samples per class (a multiple of 8), for a slow path; null: <see cref="PathModel.SamplesOn"/>.</param>
    private void Check(RunnerTarget target, Dictionary<string, string> environment, Dictionary<string, string> expectedCpu, string[]? only = null, int? samples = null)
    {
        string settings = string.Join(" ", environment.Where(e => (e.Key.StartsWith("DOTNET_Enable", StringComparison.Ordinal) && e.Key != "DOTNET_EnableWriteXorExecute") || e.Key == "QEMU_CPU")
            .Select(e => $"{e.Key}={e.Value}"));
        string path = target.Name + (target.Emulated ? " under qemu-aarch64-static" + (settings.Length > 0 ? " with " + settings : "") : settings.Length > 0 ? " with " + settings : " native");
        if (only is not null) environment = new(environment) { ["EDGECOMPILE_PATHRUNNER_MODELS"] = string.Join(",", only) };
        int SamplesOf(PathModel m) => Math.Min(m.SamplesOn(target), samples ?? int.MaxValue);
        var fewer = _builds.Models.Where(m => SamplesOf(m) < m.Samples.Count).Select(m => $"{m.Name}={SamplesOf(m)}").ToList();
        if (fewer.Count > 0) environment = new(environment) { ["EDGECOMPILE_PATHRUNNER_SAMPLES"] = string.Join(",", fewer) };

        var published = _builds.Publish(target);
        _output.WriteLine($"publish {target.Name} ({target.Rid}): {published.Seconds:F1} s{(published.Reused ? " (published by an earlier test of this class)" : "")}");

        var run = _builds.Run(target, published, environment, path);
        _output.WriteLine($"run {path}: {run.Seconds:F1} s");
        var report = run.Report;
        _output.WriteLine("CPU as the runtime reported it: " + string.Join(", ", report.Where(r => !r.Key.StartsWith("profile.") && !r.Key.StartsWith("seconds."))
            .Select(r => $"{r.Key}={r.Value}").Where(r => !r.StartsWith("samples.", StringComparison.Ordinal))));

        foreach (var (key, value) in expectedCpu)
            Assert.True(report.TryGetValue(key, out var got) && got == value,
                $"{path}: the runner should report {key}={value} (the path under test), it reported {key}={got ?? "(nothing)"}");

        var failures = new List<string>();
        var models = _builds.Models.Where(m => only is null || only.Contains(m.Name)).ToList();
        Assert.True(only is null || models.Count == only.Length, $"unknown model in [{string.Join(", ", only ?? [])}]");
        foreach (var model in models)
        {
            var family = model.Samples.Take(SamplesOf(model));
            Assert.True(report.TryGetValue("profile." + model.Name, out var profile), $"{path}: the runner ran no model {model.Name}");
            Assert.True(report.TryGetValue("samples." + model.Name, out var ran) && ran == family.Count.ToString(CultureInfo.InvariantCulture),
                $"{path}: the runner ran {ran ?? "?"} samples of {model.Name}, expected {family.Count}");
            Assert.True(profile == target.Name, $"{path}: {model.Name} was generated for profile '{profile}', expected '{target.Name}'");
            if (model.Kernel is not null)
            {
                int calls = PlanKernelCalls(model.PlanPath(published), model.Kernel);
                Assert.True(calls > 0, $"{path}: the plan of {model.Name} ({model.PlanPath(published)}) calls no {model.Kernel}, the kernel it is here to test");
                _output.WriteLine($"  {model.Name}: {calls} {model.Kernel} calls in the plan");
            }
            if (model.ResidualGroups)
            {
                var groups = ResidualGroupChannels(model.PruningReportPath(published));
                Assert.True(groups.Count > 0 && groups.All(g => g.Kept < g.Channels),
                    $"{path}: the build report of {model.Name} ({model.PruningReportPath(published)}) shows {(groups.Count == 0 ? "no residual (NoNorm) channel group" : "a residual channel group that kept all its channels")}: " +
                    "Structured pruning did not narrow MobileBERT's NoNorm streams, only heads and neurons");
                _output.WriteLine($"  {model.Name}: {groups.Count} residual channel groups, channels {string.Join(", ", groups.Select(g => $"{g.Channels} → {g.Kept}"))}");
            }
            var line = new List<string>();
            foreach (var mode in Enum.GetValues<RunMode>())
            {
                float[] got = LogitsFile.Read(Path.Combine(run.Directory, LogitsFile.Name(model.Name, mode)), family.Classes);
                float[] want = _builds.Reference(model, published, mode)[..(family.Count * family.Classes)];
                Assert.True(got.Length == want.Length, $"{path}: {model.Name} {mode}: the runner wrote {got.Length / family.Classes} samples, expected {family.Count}");
                var diffs = new float[got.Length];
                for (int i = 0; i < got.Length; i++) diffs[i] = float.IsNaN(got[i] - want[i]) ? float.PositiveInfinity : Math.Abs(got[i] - want[i]);
                // INT8: the bound on a sample's deviation is the reference's own quantization error (see Int8MaxDifferentLabels).
                float quantizationError = 0;
                if (model.Int8)
                {
                    float[] fp32 = _builds.UnquantizedReference(model, published, mode)[..(family.Count * family.Classes)];
                    for (int sample = 0; sample < family.Count; sample++)
                        quantizationError = Math.Max(quantizationError, MaxAbsDiff(want.AsSpan(sample * family.Classes, family.Classes), fp32.AsSpan(sample * family.Classes, family.Classes)));
                }
                float worst = 0;
                int sameLabels = 0, beyond = 0, nearTies = 0;
                string? failure = null;
                foreach (var call in family.Calls(mode))
                {
                    for (int sample = call.Start; sample < call.Start + call.Batch; sample++)
                    {
                        var g = got.AsSpan(sample * family.Classes, family.Classes);
                        var w = want.AsSpan(sample * family.Classes, family.Classes);
                        float diff = MaxAbsDiff(g, w);
                        worst = Math.Max(worst, diff);
                        bool sameLabel = ArgMax(g) == ArgMax(w);
                        if (sameLabel) sameLabels++;
                        if (diff > Tolerance) beyond++;
                        string? bad;
                        if (!model.Int8)
                            bad = diff > Tolerance || !sameLabel ? $"tolerance {Tolerance:E0}" : null;
                        else if (diff > quantizationError)
                            bad = $"INT8 bound: the reference's own quantization error, max |reference - FP32| = {quantizationError:E2}";
                        else if (!sameLabel && !(Margin(w) <= 2 * diff))
                            bad = $"INT8: a different label is allowed only at a near tie (reference's top-two margin {Margin(w):E2} ≤ 2·|diff|)";
                        else
                        {
                            if (!sameLabel) nearTies++;
                            bad = null;
                        }
                        if (failure is null && bad is not null)
                            failure = $"{path}: model {model.Name}, {mode} (Run with batch {call.Batch}{(family.IsText ? $", sequence {call.Sequence}" : "")}), sample {sample}: " +
                                      $"max |logit - {model.Oracle}| = {diff:E2} ({bad}), label {ArgMax(g)} vs {model.Oracle} {ArgMax(w)}; " +
                                      $"generated [{Format(g)}] vs {model.Oracle} [{Format(w)}]";
                    }
                }
                Array.Sort(diffs);
                float median = diffs[diffs.Length / 2], p99 = diffs[(int)(0.99 * (diffs.Length - 1))];
                int differentLabels = family.Count - sameLabels;
                if (model.Int8 && failure is null)
                {
                    if (nearTies > Int8MaxDifferentLabels)
                        failure = $"{path}: model {model.Name}, {mode}: {nearTies} labels differ from {model.Oracle} (near ties; at most {Int8MaxDifferentLabels} allowed)";
                    else if (!(median <= Tolerance))
                        failure = $"{path}: model {model.Name}, {mode}: median |logit - {model.Oracle}| = {median:E2} > {Tolerance:E0}";
                    else if (beyond > Int8MaxFractionBeyondTolerance * family.Count)
                        failure = $"{path}: model {model.Name}, {mode}: {beyond} of {family.Count} samples differ by more than {Tolerance:E0} " +
                                  $"(at most {Int8MaxFractionBeyondTolerance:P0}: rounding flips are rare, a wrong kernel moves every sample)";
                }
                line.Add($"{mode.ToString().ToLowerInvariant()} max |diff| {worst:E2} (median {median:E2}, p99 {p99:E2}, samples > {Tolerance:E0}: {beyond}" +
                         (model.Int8 ? $", bound {quantizationError:E2} = max |reference - FP32|" : "") + $"), labels {sameLabels}/{family.Count}");
                if (failure is not null) failures.Add(failure + $" (max over all samples {worst:E2}, {differentLabels} different labels)");
            }
            string seconds = report.TryGetValue("seconds." + model.Name, out var s) ? s + " s" : "?";
            _output.WriteLine($"  {model.Name}: {string.Join("; ", line)} ({seconds})");
            Console.WriteLine($"[EdgeCompile paths] {path}: {model.Name}: {string.Join("; ", line)} ({seconds})");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} model/mode(s) differ from their oracle:\n" + string.Join("\n", failures));
    }

    /// <summary>How many <c>op</c> lines of a plan call the kernel (docs/plan-format.md: <c>op &lt;Kernel&gt;[&lt;Shapes&gt;] ...</c>).</summary>
    private static int PlanKernelCalls(string plan, string kernel) =>
        File.ReadLines(plan).Count(line => line.StartsWith("op ", StringComparison.Ordinal)
            && line.Split(' ')[1].Split('<')[0] == kernel);

    /// <summary>The rows of the residual channel group table of a pruning report (PruningReport.ToMarkdown: its 5th column is
    /// <c>channels → kept</c>), read from the build's own report file.</summary>
    private static List<(int Channels, int Kept)> ResidualGroupChannels(string report)
    {
        Assert.True(File.Exists(report), $"the publish has no pruning report {report} (the runner's _PathRunnerPublishReferences copies it)");
        var rows = new List<(int, int)>();
        bool inTable = false;
        foreach (string line in File.ReadLines(report))
        {
            if (line.StartsWith("| first producer |", StringComparison.Ordinal)) inTable = true;
            else if (inTable && !line.StartsWith('|')) break;
            else if (inTable && !line.StartsWith("| ---", StringComparison.Ordinal))
            {
                string[] channels = line.Split('|')[5].Split('→', StringSplitOptions.TrimEntries);
                rows.Add((int.Parse(channels[0], CultureInfo.InvariantCulture), int.Parse(channels[1], CultureInfo.InvariantCulture)));
            }
        }
        return rows;
    }

    private static string Format(ReadOnlySpan<float> values) =>
        string.Join(", ", values.ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = Math.Abs(a[i] - b[i]);
            if (!(d <= max)) max = float.IsNaN(d) ? float.PositiveInfinity : d;
        }
        return max;
    }

    /// <summary>The gap between the largest and the second largest value.</summary>
    private static float Margin(ReadOnlySpan<float> values)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float v in values)
        {
            if (v > first) (first, second) = (v, first);
            else if (v > second) second = v;
        }
        return first - second;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}

/// <summary>A publish of the runner: the RuntimeIdentifier and, where it is not the RID's default, the profile.</summary>
public sealed record RunnerTarget(string Name, string Rid, bool SelfContained, bool SetProfile, bool Emulated)
{
    public static readonly RunnerTarget X64Avx2 = new("x64-avx2", "linux-x64", SelfContained: false, SetProfile: false, Emulated: false);
    public static readonly RunnerTarget X64Avx512 = new("x64-avx512", "linux-x64", SelfContained: false, SetProfile: true, Emulated: false);
    public static readonly RunnerTarget Arm64Neon = new("arm64-neon", "linux-arm64", SelfContained: true, SetProfile: false, Emulated: true);
}

/// <summary>
/// A class of the runner: an FP32 fixture model (<see cref="Quantize"/> null, oracle: ONNX Runtime on model.onnx), a
/// quantized build of one (<c>&lt;fixture&gt;.&lt;mode&gt;</c>, oracle: ONNX Runtime on the build's own
/// <c>&lt;ClassName&gt;.quantized.onnx</c>, never FP32) or a pruned one (oracle: the build's <c>&lt;ClassName&gt;.pruned.onnx</c>).
/// <see cref="Kernel"/>: a kernel the class is there to run on every path, which its plan must call.
/// </summary>
public sealed record PathModel(string Name, FixtureSamples Samples, string? Quantize, string? ClassName, bool Pruned = false, string? Kernel = null,
    int? MaxSamples = null, int? EmulatedSamples = null, bool ResidualGroups = false)
{
    /// <summary>The quantized EdgeModel items of tests/EdgeCompile.PathRunner/EdgeCompile.PathRunner.csproj, the kernel each
    /// must run (the vision fixtures' convolutions are quantized too) and the samples each runs (null: all 300; see
    /// <see cref="SamplesOn"/>). The quantized convolutions are the slowest classes of the runner (dequantizing each
    /// filter tap by tap: efficientformer INT4 4× its FP32 time), so they run 64 samples, 16 under QEMU.</summary>
    public static readonly (string Fixture, string Quantize, string ClassName, string? Kernel, int? MaxSamples, int? EmulatedSamples)[] Quantized =
    {
        ("bert", "Int8", "BertInt8", "DenseInt8", null, null), ("bert", "Fp16", "BertFp16", "DenseHalf", null, null), ("bert", "Int4", "BertInt4", "DenseInt4", null, null),
        ("vit", "Int8", "VitInt8", "DenseInt8", null, null), ("vit", "Fp16", "VitFp16", "DenseHalf", null, null), ("vit", "Int4", "VitInt4", "DenseInt4", null, null),
        ("mobilevit", "Int8", "MobileVitInt8", "Conv2dInt8", 64, 16), ("mobilevit", "Fp16", "MobileVitFp16", "Conv2dHalf", 64, 16),
        ("mobilevit", "Int4", "MobileVitInt4", "Conv2dInt4", 64, 16),
        ("efficientformer", "Int8", "EfficientFormerInt8", "Conv2dInt8", 64, 16), ("efficientformer", "Fp16", "EfficientFormerFp16", "Conv2dHalf", 64, 16),
        ("efficientformer", "Int4", "EfficientFormerInt4", "Conv2dInt4", 64, 16),
    };

    /// <summary>The pruned EdgeModel items of the runner (each with the fixture's Calibration and PrunedOnnx): Structured
    /// (<c>&lt;fixture&gt;.pruned</c>: heads, FFN neurons, conv channels; mobilebert's NoNorm channel groups, FP32 and
    /// <c>mobilebert.pruned.int8</c>), NM 2:4 on the dense kernel (<c>bert.nm</c>), and with SparseKernels="Always" on
    /// DenseSparse (<c>distilbert.sparse</c> Unstructured, <c>vit.sparse</c> 2:4). The ones added after bert.pruned and
    /// vit.pruned run 64 samples under QEMU. <c>Quantize</c>: a pruned and quantized build, whose oracle is its quantized
    /// reference (written from the pruned graph) and whose INT8 bound is taken against its own pruned file.
    /// <c>ResidualGroups</c>: the build's report must show NoNorm channel groups that lost channels (not only heads and neurons).</summary>
    public static readonly (string Fixture, string Name, string ClassName, string? Kernel, int? EmulatedSamples, string? Quantize, bool ResidualGroups)[] PrunedBuilds =
    {
        ("bert", "bert.pruned", "BertPruned", null, null, null, false), ("vit", "vit.pruned", "VitPruned", null, null, null, false),
        ("mobilevit", "mobilevit.pruned", "MobileVitPruned", null, 64, null, false), ("efficientformer", "efficientformer.pruned", "EfficientFormerPruned", null, 64, null, false),
        ("mobilebert", "mobilebert.pruned", "MobileBertPruned", null, 64, null, true),
        ("mobilebert", "mobilebert.pruned.int8", "MobileBertPrunedInt8", "DenseInt8", 64, "Int8", true),
        ("bert", "bert.nm", "BertNm", null, 64, null, false),
        ("distilbert", "distilbert.sparse", "DistilBertSparse", "DenseSparse", 64, null, false), ("vit", "vit.sparse", "VitSparse", "DenseSparse", 64, null, false),
    };

    /// <summary>How many test samples (the first ones) the class runs on a target: <see cref="MaxSamples"/> (null: all),
    /// under QEMU <see cref="EmulatedSamples"/> if smaller. Multiples of <see cref="FixtureSamples.MaxBatch"/>, so the
    /// batched calls are the first calls of the full set and ONNX Runtime's logits for them are the same.</summary>
    public int SamplesOn(RunnerTarget target) =>
        Math.Min(Math.Min(Samples.Count, MaxSamples ?? int.MaxValue), target.Emulated ? EmulatedSamples ?? int.MaxValue : int.MaxValue);

    public bool Int8 => Quantize == "Int8";
    /// <summary>The plain fixture model, whose oracle is its own model.onnx.</summary>
    public bool Fp32 => Quantize is null && !Pruned;
    public string Oracle => Fp32 ? "ONNX Runtime" : Quantize is null ? "ONNX Runtime on the pruned file" : "ONNX Runtime on the reference";
    /// <summary>The file ONNX Runtime runs as the oracle: the fixture's model, or the quantized reference of a quantized
    /// class (pruned or not), or the pruned file of a pruned FP32 class.</summary>
    public string ReferencePath(PublishedRunner published) =>
        Fp32 ? Samples.ModelPath : Path.Combine(published.Directory, "reference", ClassName + (Quantize is null ? ".pruned.onnx" : ".quantized.onnx"));
    /// <summary>The build report that holds the pruning table: its own file, or a section of the quantization report.</summary>
    public string PruningReportPath(PublishedRunner published) =>
        Path.Combine(published.Directory, "reference", ClassName + (Quantize is null ? ".pruning.md" : ".quantization.md"));
    /// <summary>The plan the publish compiled this class from (copied next to the app with the reference files).</summary>
    public string PlanPath(PublishedRunner published) => Path.Combine(published.Directory, "reference", ClassName + ".edgeplan");
}

public sealed record PublishedRunner(string Directory, double Seconds, bool Reused);

public sealed record RunnerRun(string Directory, double Seconds, IReadOnlyDictionary<string, string> Report);

/// <summary>
/// Shared by the tests of <see cref="CpuPathTests"/>: each target is published once (on first use, so a
/// skipped path publishes nothing), and ONNX Runtime's logits are computed once per fixture and mode.
/// The runner is published in Release (as an app is shipped; also several times faster under QEMU than
/// Debug), which builds the runtime, generator and build task in Release too.
/// </summary>
public sealed class PathRunnerBuilds : IDisposable
{
    public static string Configuration => "Release";

    private readonly ConcurrentDictionary<string, Lazy<PublishedRunner>> _published = new();
    private readonly ConcurrentDictionary<string, bool> _used = new();
    private readonly ConcurrentDictionary<(string, RunMode), Lazy<float[]>> _references = new();
    private readonly Lazy<IReadOnlyList<FixtureSamples>> _fixtures;
    private readonly Lazy<IReadOnlyList<PathModel>> _models;

    public PathRunnerBuilds()
    {
        Root = Path.Combine(Path.GetTempPath(), "edgecompile-path-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        _fixtures = new(() => Directory.GetDirectories(FixturesDirectory).Where(FixtureSamples.IsFixture)
            .Order(StringComparer.Ordinal).Select(FixtureSamples.Load).ToList());
        _models = new(() => Fixtures.Select(f => new PathModel(f.Name, f, null, null))
            .Concat(PathModel.Quantized.Select(q => new PathModel($"{q.Fixture}.{q.Quantize.ToLowerInvariant()}", Fixtures.Single(f => f.Name == q.Fixture), q.Quantize, q.ClassName, Kernel: q.Kernel, MaxSamples: q.MaxSamples, EmulatedSamples: q.EmulatedSamples)))
            .Concat(PathModel.PrunedBuilds.Select(p => new PathModel(p.Name, Fixtures.Single(f => f.Name == p.Fixture), p.Quantize, p.ClassName, Pruned: true, Kernel: p.Kernel,
                EmulatedSamples: p.EmulatedSamples, ResidualGroups: p.ResidualGroups)))
            .ToList());
    }

    public string Root { get; }
    public static string FixturesDirectory => Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures");
    public static string Project => Path.Combine(ConsumerProject.RepoRoot, "tests", "EdgeCompile.PathRunner", "EdgeCompile.PathRunner.csproj");
    public IReadOnlyList<FixtureSamples> Fixtures => _fixtures.Value;
    /// <summary>Every class of the runner: the six FP32 fixture models, then the quantized and the pruned builds.</summary>
    public IReadOnlyList<PathModel> Models => _models.Value;

    public PublishedRunner Publish(RunnerTarget target)
    {
        var published = _published.GetOrAdd(target.Name, _ => new Lazy<PublishedRunner>(() => DoPublish(target))).Value;
        return _used.TryAdd(target.Name, true) ? published : published with { Reused = true };
    }

    private PublishedRunner DoPublish(RunnerTarget target)
    {
        string output = Path.Combine(Root, "publish", target.Name);
        var args = new List<string>
        {
            "publish", Project, "-c", Configuration, "-r", target.Rid, "--self-contained", target.SelfContained ? "true" : "false",
            "-o", output, "-nologo", "-nodeReuse:false", "--disable-build-servers", "-p:UseSharedCompilation=false", "-v:n",
        };
        if (target.SetProfile) args.Add("-p:EdgeTargetProfile=" + target.Name);
        var clock = Stopwatch.StartNew();
        var result = ConsumerProject.RunDotnet(ConsumerProject.RepoRoot, args, timeoutMinutes: 15);
        double seconds = clock.Elapsed.TotalSeconds;
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"publishing the runner for {target.Name} failed after {seconds:F0} s:\n{result.Output}");
        return new PublishedRunner(output, seconds, Reused: false);
    }

    /// <summary>Runs the published runner on all fixtures (natively, or under QEMU for an emulated target).</summary>
    public RunnerRun Run(RunnerTarget target, PublishedRunner published, Dictionary<string, string> environment, string path)
    {
        string output = Path.Combine(Root, "runs", string.Concat(path.Select(c => char.IsLetterOrDigit(c) || c == '-' ? c : '_')));
        string program = target.Emulated ? "qemu-aarch64-static" : "dotnet";
        var args = target.Emulated
            ? new[] { Path.Combine(published.Directory, "EdgeCompile.PathRunner"), FixturesDirectory, output }
            : new[] { Path.Combine(published.Directory, "EdgeCompile.PathRunner.dll"), FixturesDirectory, output };
        var clock = Stopwatch.StartNew();
        var result = ConsumerProject.Run(program, Root, args, environment, TimeSpan.FromMinutes(target.Emulated ? 30 : 10));
        double seconds = clock.Elapsed.TotalSeconds;
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{path}: the runner failed after {seconds:F0} s:\n{result}");
        var report = File.ReadAllLines(Path.Combine(output, "report.txt"))
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        return new RunnerRun(output, seconds, report);
    }

    /// <summary>ONNX Runtime's logits for every test sample the class runs (<see cref="PathModel.MaxSamples"/>), fed exactly as the runner feeds the generated class: on the
    /// fixture's model.onnx (FP32), or on the reference file the publish under test wrote for a quantized class (cached by
    /// the file's content, so publishes that wrote the same reference share it).</summary>
    public float[] Reference(PathModel model, PublishedRunner published, RunMode mode)
    {
        return Reference(model, model.ReferencePath(published), model.Quantize is not null, mode);
    }

    /// <summary>What a quantized class's INT8 bound is measured against: ONNX Runtime FP32 on the model before quantization,
    /// the fixture's model.onnx, or for a pruned and quantized class the pruned file its own build wrote.</summary>
    public float[] UnquantizedReference(PathModel model, PublishedRunner published, RunMode mode) =>
        model.Pruned
            ? Reference(model, Path.Combine(published.Directory, "reference", model.ClassName + ".pruned.onnx"), quantized: false, mode)
            : Reference(Models.Single(m => m.Fp32 && m.Samples == model.Samples), published, mode);

    private float[] Reference(PathModel model, string file, bool quantized, RunMode mode)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"the publish has no reference file for {model.Name} (QuantizedOnnx or PrunedOnnx=\"true\" copied to reference/)", file);
        string key = file == model.Samples.ModelPath ? model.Name : model.Name + "@" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        return _references.GetOrAdd((key, mode), _ => new Lazy<float[]>(() => ComputeReference(model.Samples.Take(model.MaxSamples ?? model.Samples.Count), file, quantized, mode))).Value;
    }

    private static float[] ComputeReference(FixtureSamples fixture, string file, bool quantized, RunMode mode)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        if (quantized)
        {
            // As the reference is meant to be run (QuantizedOnnxWriter; OnnxFiles.ReferenceSession in EdgeCompile.Tests):
            // ORT's optimizer fuses DequantizeLinear+MatMul into MatMulNBits, which by default quantizes the activations
            // itself; accuracy level 1 makes it compute in float, the reference's numerics.
            options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
            options.AddSessionConfigEntry(QuantizedOnnxWriter.OrtAccuracyLevelKey, QuantizedOnnxWriter.OrtAccuracyLevelValue);
        }
        using var session = new InferenceSession(file, options);
        using var runOptions = new RunOptions();
        var logits = new float[fixture.Count * fixture.Classes];
        foreach (var call in fixture.Calls(mode))
        {
            var values = new List<OrtValue>();
            try
            {
                if (fixture.IsText)
                    foreach (string input in fixture.Inputs)
                        values.Add(OrtValue.CreateTensorValueFromMemory(fixture.Tokens(input, call), new long[] { call.Batch, call.Sequence }));
                else
                    values.Add(OrtValue.CreateTensorValueFromMemory(fixture.Pixels(call), new long[] { call.Batch }.Concat(fixture.SampleShape).ToArray()));
                using var outputs = session.Run(runOptions, fixture.Inputs, values, new[] { "logits" });
                outputs[0].GetTensorDataAsSpan<float>().CopyTo(logits.AsSpan(call.Start * fixture.Classes, call.Batch * fixture.Classes));
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        return logits;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
