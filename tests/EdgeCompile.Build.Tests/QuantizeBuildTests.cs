using System;
using System.IO;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>
/// The quantization metadata of <c>EdgeModel</c> items through `dotnet build`: its errors, the build report and
/// the build-log summary, and the calibration files as inputs of the incremental build.
/// </summary>
[Collection("dotnet build")]
public sealed class QuantizeBuildTests
{
    private readonly ITestOutputHelper _output;

    public QuantizeBuildTests(ITestOutputHelper output) => _output = output;

    private BuildResult Build(ConsumerProject project, string step, params string[] args)
    {
        var result = project.Build(args);
        _output.WriteLine($"===== {step}: {result}");
        return result;
    }

    [Fact]
    public void BadQuantizationMetadataGivesEC1011ToEC1016AndIgnoredMetadataEC1017()
    {
        using var p = new ConsumerProject("""
            <EdgeModel Include="q1.onnx" ClassName="Q1" Quantize="Int3" />
            <EdgeModel Include="q2.onnx" ClassName="Q2" Quantize="Int8" Calibration="nowhere" />
            <EdgeModel Include="q3.onnx" ClassName="Q3" Quantize="Mixed" MaxOutputError="0" />
            <EdgeModel Include="q4.onnx" ClassName="Q4" Quantize="int8" ActivationScales="Static" />
            <EdgeModel Include="q5.onnx" ClassName="Q5" Quantize="INT8" ActivationScales="MinMax" />
            <EdgeModel Include="q6.onnx" ClassName="Q6" Quantize="Fp16" QuantizedOnnx="yes" />
            <EdgeModel Include="q7.onnx" ClassName="Q7" Quantize="Int4" MaxOutputError="0.02" />
            """);
        foreach (var f in new[] { "q1", "q2", "q3", "q4", "q5", "q6", "q7" })
            p.WriteFile(f + ".onnx", new byte[] { 1, 2, 3 });

        var result = Build(p, "bad metadata");
        Assert.True(result.ExitCode != 0, "the build should fail\n" + result);
        Assert.DoesNotContain("EC1999", result.Output);
        Assert.DoesNotContain("MSB4018", result.Output);
        void Expect(string kind, string code, string item, string mentions) =>
            Assert.Matches(new Regex($@"{kind} {code}: EdgeModel '{Regex.Escape(item)}'[^\n]*{Regex.Escape(mentions)}"), result.Output);
        Expect("error", "EC1011", "q1.onnx", "'Int3'");
        Expect("error", "EC1011", "q1.onnx", "None, Fp16, Int8, Mixed, Int4");
        Expect("error", "EC1012", "q2.onnx", "nowhere");
        Expect("error", "EC1013", "q3.onnx", "'0'");
        Expect("error", "EC1014", "q4.onnx", "'Static'");
        Expect("error", "EC1015", "q5.onnx", "no Calibration folder");
        Expect("error", "EC1016", "q6.onnx", "'yes'");
        Expect("warning", "EC1017", "q7.onnx", "MaxOutputError has no effect with Quantize=\"Int4\"");
    }

    [Fact]
    public void QuantizedBuildWritesTheReportAndRecompilesWhenACalibrationFileChanges()
    {
        using var p = new ConsumerProject("""<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" Quantize="int8" Calibration="calib" />""");
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "model.onnx"), "models/vit.onnx");
        // A real calibration set (the fixture's): with one, the build measures the quantized model's output error on it.
        string samples = Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "calibration", "pixel_values.npy");
        p.CopyFile(samples, "calib/pixel_values.npy");
        var compiled = new Regex(@"EdgeCompile: compiled models/vit\.onnx -> My\.App\.DigitClassifier");

        var first = Build(p, "first build", "-v:normal");
        Assert.True(first.ExitCode == 0, "first build should succeed\n" + first);
        Assert.Matches(compiled, first.Output);
        Assert.Matches(new Regex(@"DigitClassifier: Int8, \d+ layers \(\d+ INT8\), weights [\d,]+ → [\d,]+ bytes \(\d+\.\d\dx smaller\)"), first.Output);
        string report = Path.Combine(p.IntermediateDirectory, "edgecompile", "DigitClassifier.quantization.md");
        Assert.True(File.Exists(report), report + " should exist");
        Assert.Contains("| INT8 |", File.ReadAllText(report));

        var second = Build(p, "no change", "-v:normal");
        Assert.True(second.ExitCode == 0, "second build should succeed\n" + second);
        Assert.DoesNotMatch(compiled, second.Output);

        File.SetLastWriteTimeUtc(Path.Combine(p.Directory, "calib", "pixel_values.npy"), DateTime.UtcNow);
        var third = Build(p, "calibration file touched", "-v:normal");
        Assert.True(third.ExitCode == 0, "third build should succeed\n" + third);
        Assert.Matches(compiled, third.Output);

        p.CopyFile(samples, "calib/more/pixel_values.npy");   // a second set in a subfolder
        File.SetLastWriteTimeUtc(Path.Combine(p.Directory, "calib", "more", "pixel_values.npy"), DateTime.UtcNow.AddDays(-1));   // an old file: only the stamp can notice
        var fourth = Build(p, "calibration file added", "-v:normal");
        Assert.True(fourth.ExitCode == 0, "fourth build should succeed\n" + fourth);
        Assert.Matches(compiled, fourth.Output);

        // Back to FP32: the stale report goes.
        p.WriteProject("""<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" />""");
        var fifth = Build(p, "Quantize removed", "-v:normal");
        Assert.True(fifth.ExitCode == 0, "fifth build should succeed\n" + fifth);
        Assert.False(File.Exists(report), "the report of an earlier quantized build should be deleted");
    }
}
