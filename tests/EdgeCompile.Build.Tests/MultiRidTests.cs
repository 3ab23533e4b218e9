using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>A fact that runs linux-arm64 code under QEMU user mode and is skipped, with the reason,
/// when <c>qemu-aarch64-static</c> is not on PATH (see ../shared/DESIGN.md, "Testing ARM64 on an x64 machine").</summary>
public sealed class QemuArm64FactAttribute : FactAttribute
{
    public QemuArm64FactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "runs linux-arm64 builds under QEMU user mode: Linux only";
        else if (MultiRidTests.FindOnPath("qemu-aarch64-static") is null)
            Skip = "qemu-aarch64-static is not on PATH: install it with `dpkg --add-architecture arm64 && apt-get update && " +
                   "apt-get install -y qemu-user-static libc6:arm64 libstdc++6:arm64` (.ci/run does this when it runs as root)";
        else if (!File.Exists("/lib/ld-linux-aarch64.so.1") || !File.Exists("/usr/lib/aarch64-linux-gnu/libstdc++.so.6"))
            Skip = "the arm64 C/C++ runtime libraries are missing (QEMU needs them to run .NET for linux-arm64): " +
                   "`dpkg --add-architecture arm64 && apt-get update && apt-get install -y libc6:arm64 libstdc++6:arm64`";
    }
}

/// <summary>
/// One project published for linux-x64 and linux-arm64 in one MSBuild invocation: each RID gets its
/// own target profile (x64-avx2, arm64-neon), in the build log and in the generated <c>Info.Profile</c>,
/// and the self-contained linux-arm64 publish runs under QEMU and classifies a fixture digit like PyTorch.
/// </summary>
[Collection("dotnet build")]
public sealed class MultiRidTests
{
    private readonly ITestOutputHelper _output;

    public MultiRidTests(ITestOutputHelper output) => _output = output;

    [QemuArm64Fact]
    public void OneProjectPublishedForX64AndArm64GetsEachItsProfileAndTheArm64BuildRunsUnderQemu()
    {
        string fixture = Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit");
        // The first test sample that PyTorch classifies correctly: its label is the expected output.
        float[] pixels = Npy.ReadFloat32(Path.Combine(fixture, "test", "pixel_values.npy"), out int[] shape);
        float[] torchLogits = Npy.ReadFloat32(Path.Combine(fixture, "test", "torch_logits.npy"), out _);
        long[] labels = Npy.ReadInt64(Path.Combine(fixture, "test", "labels.npy"));
        int perSample = shape.Skip(1).Aggregate(1, (a, b) => a * b);
        int sample = Enumerable.Range(0, labels.Length).First(i => ArgMax(torchLogits.AsSpan(i * 10, 10)) == labels[i]);
        int expected = (int)labels[sample];

        using var p = new ConsumerProject(
            """<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" />""",
            """
            <OutputType>Exe</OutputType>
            <RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers>
            <InvariantGlobalization>true</InvariantGlobalization>
            <IsAotCompatible>true</IsAotCompatible>
            """);
        p.CopyFile(Path.Combine(fixture, "model.onnx"), "models/vit.onnx");
        var bytes = new byte[perSample * sizeof(float)];
        Buffer.BlockCopy(pixels, sample * bytes.Length, bytes, 0, bytes.Length);
        p.WriteFile("digit.bin", bytes);
        File.WriteAllText(Path.Combine(p.Directory, "Program.cs"), """
            using System;
            using System.IO;
            using System.Runtime.InteropServices;
            namespace My.App;
            public static class Program
            {
                public static int Main(string[] args)
                {
                    float[] pixels = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(args[0])).ToArray();
                    var logits = new float[10];
                    using var model = new DigitClassifier();
                    model.Run(batch: 1, pixelValues: pixels, logits: logits);
                    int best = 0;
                    for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                    Console.WriteLine("profile=" + DigitClassifier.Info.Profile);
                    Console.WriteLine("label=" + best);
                    return 0;
                }
            }
            """);
        // One MSBuild invocation publishes both RIDs (in parallel): a framework-dependent linux-x64
        // app and a self-contained linux-arm64 one. BuildProjectReferences=false as in
        // ConsumerProject.Build: the repository's task/runtime/generator are built before the tests.
        File.WriteAllText(Path.Combine(p.Directory, "PublishAll.proj"), $"""
            <Project>
              <ItemGroup>
                <Rid Include="x64" Properties="RuntimeIdentifier=linux-x64;SelfContained=false;PublishDir=$(MSBuildThisFileDirectory)out/x64/" />
                <Rid Include="arm64" Properties="RuntimeIdentifier=linux-arm64;SelfContained=true;PublishDir=$(MSBuildThisFileDirectory)out/arm64/" />
              </ItemGroup>
              <Target Name="Build">
                <MSBuild Projects="@(Rid->'Consumer.csproj')" Targets="Publish" BuildInParallel="true"
                         Properties="%(Rid.Properties);Configuration={ConsumerProject.Configuration};BuildProjectReferences=false" />
              </Target>
            </Project>
            """);

        var restore = Dotnet(p.Directory, TimeSpan.FromMinutes(10), "restore", "Consumer.csproj");
        Assert.True(restore.ExitCode == 0, "restore should succeed\n" + restore.Output);
        var publish = Dotnet(p.Directory, TimeSpan.FromMinutes(10), "build", "PublishAll.proj", "-v:normal", "-m:2");
        Assert.True(publish.ExitCode == 0, "publishing both RIDs should succeed\n" + publish.Output);
        Assert.Contains("EdgeCompile: target profile 'x64-avx2'", publish.Output);
        Assert.Contains("EdgeCompile: target profile 'arm64-neon'", publish.Output);
        // each RID has its own intermediate plan
        Assert.True(File.Exists(Path.Combine(p.Directory, "obj", ConsumerProject.Configuration, "net10.0", "linux-x64", "edgecompile", "DigitClassifier.edgeplan")));
        Assert.True(File.Exists(Path.Combine(p.Directory, "obj", ConsumerProject.Configuration, "net10.0", "linux-arm64", "edgecompile", "DigitClassifier.edgeplan")));

        string input = Path.Combine(p.Directory, "digit.bin");
        var x64 = Run("dotnet", p.Directory, new Dictionary<string, string>(), TimeSpan.FromMinutes(2), Path.Combine(p.Directory, "out", "x64", "Consumer.dll"), input);
        Assert.True(x64.ExitCode == 0, "the linux-x64 app should run\n" + x64.Output);
        Assert.Contains("profile=x64-avx2", x64.Output);
        Assert.Contains("label=" + expected, x64.Output);

        string arm64App = Path.Combine(p.Directory, "out", "arm64", "Consumer");
        Assert.True(File.Exists(arm64App), arm64App + " should exist");
        var arm64 = Run("qemu-aarch64-static", p.Directory,
            new Dictionary<string, string> { ["DOTNET_EnableWriteXorExecute"] = "0", ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1" },
            TimeSpan.FromMinutes(5), arm64App, input);
        Assert.True(arm64.ExitCode == 0, "the linux-arm64 app should run under QEMU\n" + arm64.Output);
        Assert.Contains("profile=arm64-neon", arm64.Output);
        Assert.Contains("label=" + expected, arm64.Output);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    internal static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private BuildResult Dotnet(string directory, TimeSpan timeout, params string[] args)
    {
        var all = new List<string>(args) { "-nologo", "-nodeReuse:false", "--disable-build-servers", "-p:UseSharedCompilation=false" };
        return Run("dotnet", directory, new Dictionary<string, string> { ["MSBUILDDISABLENODEREUSE"] = "1" }, timeout, all.ToArray());
    }

    private BuildResult Run(string program, string directory, Dictionary<string, string> environment, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's own MSBuild/SDK variables must not leak into the child process.
        foreach (var v in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "DOTNET_HOST_PATH" })
            psi.Environment.Remove(v);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        var output = new StringBuilder();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout}:\n{output}");
        }
        p.WaitForExit();
        var result = new BuildResult(p.ExitCode, output.ToString());
        _output.WriteLine($"$ {program} {string.Join(' ', args)}\n{result}");
        return result;
    }

    /// <summary>Just enough of the .npy format (version 1/2/3, little-endian, C order) for the fixtures' test arrays.</summary>
    private static class Npy
    {
        public static float[] ReadFloat32(string path, out int[] shape)
        {
            var data = Read(path, "<f4", out shape);
            var values = new float[data.Length / sizeof(float)];
            Buffer.BlockCopy(data, 0, values, 0, data.Length);
            return values;
        }

        public static long[] ReadInt64(string path)
        {
            var data = Read(path, "<i8", out _);
            var values = new long[data.Length / sizeof(long)];
            Buffer.BlockCopy(data, 0, values, 0, data.Length);
            return values;
        }

        private static byte[] Read(string path, string descr, out int[] shape)
        {
            byte[] bytes = File.ReadAllBytes(path);
            int major = bytes[6];
            int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
            int start = major == 1 ? 10 : 12;
            string header = Encoding.ASCII.GetString(bytes, start, headerLength);
            if (!header.Contains($"'descr': '{descr}'") || !header.Contains("'fortran_order': False"))
                throw new InvalidDataException($"{path}: expected {descr} in C order, header {header}");
            int open = header.IndexOf('(', header.IndexOf("'shape'", StringComparison.Ordinal));
            int close = header.IndexOf(')', open);
            shape = header[(open + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
            return bytes[(start + headerLength)..];
        }
    }
}
