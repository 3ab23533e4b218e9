using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
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
    }
}

/// <summary>
/// Every fixture model on every CPU path the target profiles emit, against ONNX Runtime: the runner
/// (tests/EdgeCompile.PathRunner, the six fixture models as one consumer app) is published once per
/// target, x64-avx2 and x64-avx512 (linux-x64) and arm64-neon (linux-arm64, self-contained), and run
/// natively, with instruction sets disabled through the runtime's DOTNET_Enable* settings, and under
/// qemu-aarch64-static. Each run feeds all test samples twice (batches of 8 padded to 64 tokens, and one
/// sample per call at its true length, see <see cref="RunMode"/>); every logit must be within 1e-4 of
/// ONNX Runtime's and every predicted label the same. The runner reports what the runtime saw of the CPU,
/// so each test also checks that the forced path is the one taken.
/// </summary>
[Collection("dotnet build")]
public sealed class CpuPathTests : IClassFixture<PathRunnerBuilds>
{
    private const float Tolerance = 1e-4f;

    private readonly PathRunnerBuilds _builds;
    private readonly ITestOutputHelper _output;

    public CpuPathTests(PathRunnerBuilds builds, ITestOutputHelper output)
    {
        _builds = builds;
        _output = output;
    }

    /// <summary>With 2 threads: the worker pool splits the GEMMs and attention heads.</summary>
    [X64PathFact(requires: "AVX2")]
    public void X64Avx2_native() =>
        Check(RunnerTarget.X64Avx2, new() { ["EDGECOMPILE_PATHRUNNER_THREADS"] = "2" },
            new() { ["Avx2"] = "True", ["Fma"] = "True", ["Vector256.IsHardwareAccelerated"] = "True", ["threads"] = "2" });

    /// <summary>AVX2 off (on .NET 10 that also turns off FMA and AVX-512): AVX with 128-bit vectors.</summary>
    [X64PathFact]
    public void X64Avx2_with_DOTNET_EnableAVX2_0() =>
        Check(RunnerTarget.X64Avx2, new() { ["DOTNET_EnableAVX2"] = "0" },
            new() { ["Avx2"] = "False", ["Fma"] = "False", ["Avx512F"] = "False", ["Vector256.IsHardwareAccelerated"] = "False", ["Vector128.IsHardwareAccelerated"] = "True" });

    [X64PathFact]
    public void X64Avx2_with_DOTNET_EnableAVX_0() =>
        Check(RunnerTarget.X64Avx2, new() { ["DOTNET_EnableAVX"] = "0" },
            new() { ["Avx"] = "False", ["Avx2"] = "False", ["Fma"] = "False", ["Vector256.IsHardwareAccelerated"] = "False", ["Vector128.IsHardwareAccelerated"] = "True" });

    [X64PathFact(requires: "AVX-512F")]
    public void X64Avx512_native() =>
        Check(RunnerTarget.X64Avx512, new() { ["EDGECOMPILE_PATHRUNNER_THREADS"] = "3" }, new() { ["Avx512F"] = "True", ["Avx2"] = "True", ["Fma"] = "True", ["threads"] = "3" });

    /// <summary>AVX-512 off, AVX2 below it. .NET 10 ignores <c>DOTNET_EnableAVX512F</c> (Avx512F stays
    /// supported); its setting is <c>DOTNET_EnableAVX512</c>.</summary>
    [X64PathFact(requires: "AVX2")]
    public void X64Avx512_with_DOTNET_EnableAVX512_0() =>
        Check(RunnerTarget.X64Avx512, new() { ["DOTNET_EnableAVX512"] = "0" },
            new() { ["Avx512F"] = "False", ["Avx512BW"] = "False", ["Vector512.IsHardwareAccelerated"] = "False", ["Avx2"] = "True", ["Fma"] = "True" });

    [QemuArm64Fact]
    public void Arm64Neon_under_qemu() =>
        Check(RunnerTarget.Arm64Neon, new() { ["DOTNET_EnableWriteXorExecute"] = "0", ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1", ["EDGECOMPILE_PATHRUNNER_THREADS"] = "2" },
            new() { ["architecture"] = "Arm64", ["AdvSimd"] = "True", ["AdvSimd.Arm64"] = "True", ["threads"] = "2" });

    private void Check(RunnerTarget target, Dictionary<string, string> environment, Dictionary<string, string> expectedCpu)
    {
        string settings = string.Join(" ", environment.Where(e => e.Key.StartsWith("DOTNET_Enable", StringComparison.Ordinal) && e.Key != "DOTNET_EnableWriteXorExecute")
            .Select(e => $"{e.Key}={e.Value}"));
        string path = target.Name + (target.Emulated ? " under qemu-aarch64-static" : settings.Length > 0 ? " with " + settings : " native");

        var published = _builds.Publish(target);
        _output.WriteLine($"publish {target.Name} ({target.Rid}): {published.Seconds:F1} s{(published.Reused ? " (published by an earlier test of this class)" : "")}");

        var run = _builds.Run(target, published, environment, path);
        _output.WriteLine($"run {path}: {run.Seconds:F1} s");
        var report = run.Report;
        _output.WriteLine("CPU as the runtime reported it: " + string.Join(", ", report.Where(r => !r.Key.StartsWith("profile.") && !r.Key.StartsWith("seconds."))
            .Select(r => $"{r.Key}={r.Value}")));

        foreach (var (key, value) in expectedCpu)
            Assert.True(report.TryGetValue(key, out var got) && got == value,
                $"{path}: the runner should report {key}={value} (the path under test), it reported {key}={got ?? "(nothing)"}");

        var failures = new List<string>();
        foreach (var family in _builds.Fixtures)
        {
            Assert.True(report.TryGetValue("profile." + family.Name, out var profile), $"{path}: the runner ran no model for fixture {family.Name}");
            Assert.True(profile == target.Name, $"{path}: {family.Name} was generated for profile '{profile}', expected '{target.Name}'");
            var line = new List<string>();
            foreach (var mode in Enum.GetValues<RunMode>())
            {
                float[] got = LogitsFile.Read(Path.Combine(run.Directory, LogitsFile.Name(family.Name, mode)), family.Classes);
                float[] want = _builds.Reference(family, mode);
                Assert.True(got.Length == want.Length, $"{path}: {family.Name} {mode}: the runner wrote {got.Length / family.Classes} samples, expected {family.Count}");
                float worst = 0;
                int sameLabels = 0;
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
                        if (failure is null && (diff > Tolerance || !sameLabel))
                            failure = $"{path}: model {family.Name}, {mode} (Run with batch {call.Batch}{(family.IsText ? $", sequence {call.Sequence}" : "")}), sample {sample}: " +
                                      $"max |logit - ONNX Runtime| = {diff:E2} (tolerance {Tolerance:E0}), label {ArgMax(g)} vs ONNX Runtime {ArgMax(w)}; " +
                                      $"generated [{Format(g)}] vs ONNX Runtime [{Format(w)}]";
                    }
                }
                line.Add($"{mode.ToString().ToLowerInvariant()} max |diff| {worst:E2}, labels {sameLabels}/{family.Count}");
                if (failure is not null) failures.Add(failure + $" (max over all samples {worst:E2}, {family.Count - sameLabels} different labels)");
            }
            string seconds = report.TryGetValue("seconds." + family.Name, out var s) ? s + " s" : "?";
            _output.WriteLine($"  {family.Name}: {string.Join("; ", line)} ({seconds})");
            Console.WriteLine($"[EdgeCompile paths] {path}: {family.Name}: {string.Join("; ", line)} ({seconds})");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} model/mode(s) differ from ONNX Runtime:\n" + string.Join("\n", failures));
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

    public PathRunnerBuilds()
    {
        Root = Path.Combine(Path.GetTempPath(), "edgecompile-path-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        _fixtures = new(() => Directory.GetDirectories(FixturesDirectory).Where(FixtureSamples.IsFixture)
            .Order(StringComparer.Ordinal).Select(FixtureSamples.Load).ToList());
    }

    public string Root { get; }
    public static string FixturesDirectory => Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures");
    public static string Project => Path.Combine(ConsumerProject.RepoRoot, "tests", "EdgeCompile.PathRunner", "EdgeCompile.PathRunner.csproj");
    public IReadOnlyList<FixtureSamples> Fixtures => _fixtures.Value;

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

    /// <summary>ONNX Runtime's logits for every test sample, fed exactly as the runner feeds the generated class.</summary>
    public float[] Reference(FixtureSamples fixture, RunMode mode) =>
        _references.GetOrAdd((fixture.Name, mode), _ => new Lazy<float[]>(() => ComputeReference(fixture, mode))).Value;

    private static float[] ComputeReference(FixtureSamples fixture, RunMode mode)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(fixture.ModelPath, options);
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
