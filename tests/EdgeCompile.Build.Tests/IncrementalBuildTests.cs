using System;
using System.IO;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>
/// Which models a build recompiles, read from the build log: the task prints
/// "EdgeCompile: compiled &lt;item&gt; -> &lt;Namespace.Class&gt; (profile ...)" once per model it compiles
/// (normal verbosity). A change to one model's ONNX file or metadata recompiles that model only;
/// a profile change recompiles all of them. (Nothing changed at all: see
/// <see cref="BuildIntegrationTests.SecondBuildWithoutChangesSkipsTheCompileAndTouchingTheModelReruns"/>.)
/// </summary>
[Collection("dotnet build")]
public sealed class IncrementalBuildTests
{
    private readonly ITestOutputHelper _output;

    public IncrementalBuildTests(ITestOutputHelper output) => _output = output;

    private static string Items(string maxShapesB, string extraA = "") => $"""
        <EdgeModel Include="models/a.onnx" ClassName="ModelA" MaxShapes="batch=1" {extraA} />
        <EdgeModel Include="models/b.onnx" ClassName="ModelB" MaxShapes="{maxShapesB}" />
        """;

    private static readonly Regex Compiled = new(@"EdgeCompile: compiled (\S+) -> My\.App\.(\w+) \(profile ([\w-]+)", RegexOptions.Compiled);

    /// <summary>Builds and returns "ModelA@portable,ModelB@portable": the models this build compiled, sorted.</summary>
    private string BuildAndListCompiled(ConsumerProject p, string step, params string[] args)
    {
        var result = p.Build([.. args, "-v:normal"]);
        _output.WriteLine($"===== {step}: {result}");
        Assert.True(result.ExitCode == 0, $"{step}: the build should succeed\n{result}");
        var names = new System.Collections.Generic.List<string>();
        foreach (Match m in Compiled.Matches(result.Output))
            names.Add(m.Groups[2].Value + "@" + m.Groups[3].Value);
        names.Sort(StringComparer.Ordinal);
        return string.Join(",", names);
    }

    [Fact]
    public void OnlyTheChangedModelIsRecompiledAndAProfileChangeRecompilesAll()
    {
        using var p = new ConsumerProject(Items("batch=1"));
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "model.onnx"), "models/a.onnx");
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "mobilevit", "model.onnx"), "models/b.onnx");

        Assert.Equal("ModelA@portable,ModelB@portable", BuildAndListCompiled(p, "first build"));
        Assert.Equal("", BuildAndListCompiled(p, "no change"));

        // (b) the ONNX file of one model changes (newer timestamp): that model only.
        File.SetLastWriteTimeUtc(Path.Combine(p.Directory, "models", "a.onnx"), DateTime.UtcNow);
        Assert.Equal("ModelA", BuildAndListCompiled(p, "a.onnx touched").Replace("@portable", ""));

        // another file copied over one model's file: that model only
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "model.onnx"), "models/b.onnx");
        File.SetLastWriteTimeUtc(Path.Combine(p.Directory, "models", "b.onnx"), DateTime.UtcNow);
        Assert.Equal("ModelB@portable", BuildAndListCompiled(p, "b.onnx replaced"));

        // (b) one item's MaxShapes changes (the project file changes, the ONNX files do not): that model only.
        p.WriteProject(Items("batch=2"));
        Assert.Equal("ModelB@portable", BuildAndListCompiled(p, "MaxShapes of b changed"));

        // any other metadata counts too (Quantize is ignored by this version, but it is an input)
        p.WriteProject(Items("batch=2", extraA: "Quantize=\"None\""));
        Assert.Equal("ModelA@portable", BuildAndListCompiled(p, "metadata added to a"));

        // an unrelated edit of the project file recompiles nothing
        p.WriteProject(Items("batch=2", extraA: "Quantize=\"None\""), "<Description>edited</Description>");
        Assert.Equal("", BuildAndListCompiled(p, "unrelated project edit"));

        // (c) the target profile changes: every model.
        Assert.Equal("ModelA@x64-avx2,ModelB@x64-avx2", BuildAndListCompiled(p, "profile changed", "-p:EdgeTargetProfile=x64-avx2"));
        Assert.Equal("", BuildAndListCompiled(p, "same profile again", "-p:EdgeTargetProfile=x64-avx2"));

        // the plan says what was compiled last: b at batch=2 with the new profile
        string plan = File.ReadAllText(Path.Combine(p.IntermediateDirectory, "edgecompile", "ModelB.edgeplan"));
        Assert.Contains("profile x64-avx2", plan);
        Assert.Contains("source models/b.onnx", plan);
        Assert.Contains("dim batch 2", plan);
    }
}
