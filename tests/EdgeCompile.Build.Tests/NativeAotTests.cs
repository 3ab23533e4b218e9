using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>A fact that needs NativeAOT's native toolchain (clang) and is skipped, with the reason, without it.</summary>
public sealed class NativeToolchainFactAttribute : FactAttribute
{
    public NativeToolchainFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Skip = "publishes a linux-x64 NativeAOT app: Linux x64 only";
        else if (MultiRidTests.FindOnPath("clang") is null)
            Skip = "clang is not on PATH: NativeAOT links with it (`apt-get install -y clang`; .ci/run does this when it runs as root)";
        else if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported || !System.Runtime.Intrinsics.X86.Fma.IsSupported)
            Skip = "the x64-avx2 profile's NativeAOT binary needs AVX2 and FMA (x86-64-v3), which this CPU lacks";
    }
}

/// <summary>
/// A project with an EdgeModel publishes as NativeAOT with no trimming or AOT warning, and the
/// native executable classifies like PyTorch: the generated code and the runtime use nothing
/// that ahead-of-time compilation cannot see.
/// </summary>
[Collection("dotnet build")]
public sealed class NativeAotTests(ITestOutputHelper output)
{
    [NativeToolchainFact]
    public void Publishes_as_NativeAOT_without_warnings_and_runs()
    {
        using var app = DigitApp.Create("""
            <RuntimeIdentifier>linux-x64</RuntimeIdentifier>
            <PublishAot>true</PublishAot>
            <InvariantGlobalization>true</InvariantGlobalization>
            """);
        var dir = app.Project.Directory;
        string outDir = Path.Combine(dir, "out");
        var publish = ConsumerProject.RunDotnet(dir, new[]
        {
            "publish", "Consumer.csproj", "-c", ConsumerProject.Configuration, "-o", outDir, "-nologo", "-nodeReuse:false",
            "--disable-build-servers", "-p:UseSharedCompilation=false", "-p:BuildProjectReferences=false", "-v:normal",
        }, timeoutMinutes: 15);
        output.WriteLine(publish.ToString());
        Assert.True(publish.ExitCode == 0, "NativeAOT publish should succeed\n" + publish.Output);
        var warnings = Regex.Matches(publish.Output, @"warning (IL\d{4}|NETSDK\d{4}|EC\d{4})[^\r\n]*").Select(m => m.Value).Distinct().ToList();
        Assert.True(warnings.Count == 0, "trimming/AOT warnings:\n" + string.Join("\n", warnings));
        Assert.Contains("EdgeCompile: target profile 'x64-avx2'", publish.Output);
        Assert.Contains("EdgeCompile: NativeAOT instruction set 'x86-64-v3'", publish.Output);

        string exe = Path.Combine(outDir, "Consumer");
        Assert.True(File.Exists(exe), exe + " should exist");
        Assert.False(File.Exists(Path.Combine(outDir, "Consumer.dll")), "a NativeAOT publish has no IL assembly to run");
        var run = ConsumerProject.Run(exe, dir, new[] { app.InputPath }, new Dictionary<string, string>(), TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, "the native app should run\n" + run.Output);
        Assert.Contains("profile=x64-avx2", run.Output);
        // Without the profile's instruction set, NativeAOT's baseline makes Vector256 a compile-time false and the
        // profile's AVX2 kernels dead code (this machine has AVX2, like every CPU the profile is for).
        Assert.Contains("vector256=True", run.Output);
        Assert.Contains("label=" + app.ExpectedLabel, run.Output);
    }
}
