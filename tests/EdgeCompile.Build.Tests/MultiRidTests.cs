using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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
        using var app = DigitApp.Create("""
            <RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers>
            <InvariantGlobalization>true</InvariantGlobalization>
            <IsAotCompatible>true</IsAotCompatible>
            """);
        var p = app.Project;
        int expected = app.ExpectedLabel;
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

        string input = app.InputPath;
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

    internal static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private BuildResult Dotnet(string directory, TimeSpan timeout, params string[] args)
    {
        var all = new List<string>(args) { "-nologo", "-nodeReuse:false", "--disable-build-servers", "-p:UseSharedCompilation=false" };
        return Run("dotnet", directory, new Dictionary<string, string>(), timeout, all.ToArray());
    }

    private BuildResult Run(string program, string directory, Dictionary<string, string> environment, TimeSpan timeout, params string[] args)
    {
        var result = ConsumerProject.Run(program, directory, args, environment, timeout);
        _output.WriteLine($"$ {program} {string.Join(' ', args)}\n{result}");
        return result;
    }
}
