using System.IO;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>The pruning metadata of <c>EdgeModel</c> items through `dotnet build`: its errors and warnings.</summary>
[Collection("dotnet build")]
public sealed class PruneBuildTests
{
    private readonly ITestOutputHelper _output;

    public PruneBuildTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void BadPruneMetadataGivesEC1018ToEC1021AndIgnoredMetadataEC1022AndBadSparseKernelsEC1023()
    {
        using var p = new ConsumerProject("""
            <EdgeModel Include="p1.onnx" ClassName="P1" Prune="0.95" />
            <EdgeModel Include="p2.onnx" ClassName="P2" Prune="half" />
            <EdgeModel Include="p3.onnx" ClassName="P3" Prune="0.5" PruneMode="Channels" />
            <EdgeModel Include="p4.onnx" ClassName="P4" Prune="0.1" PruneMode="nm" />
            <EdgeModel Include="p5.onnx" ClassName="P5" Prune="0.5" PruneMode="Unstructured" />
            <EdgeModel Include="p6.onnx" ClassName="P6" Prune="0.5" PrunedOnnx="yes" />
            <EdgeModel Include="p7.onnx" ClassName="P7" PrunedOnnx="true" />
            <EdgeModel Include="p8.onnx" ClassName="P8" Prune="0.5" PruneMode="NM" SparseKernels="Sometimes" />
            <EdgeModel Include="p9.onnx" ClassName="P9" SparseKernels="2" />
            <EdgeModel Include="p10.onnx" ClassName="P10" Prune="0.5" PruneMode="NM" SparseKernels="always" />
            """);
        foreach (var f in new[] { "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10" })
            p.WriteFile(f + ".onnx", new byte[] { 1, 2, 3 });

        var result = p.Build();
        _output.WriteLine(result.ToString());
        Assert.True(result.ExitCode != 0, "the build should fail\n" + result);
        Assert.DoesNotContain("EC1999", result.Output);
        Assert.DoesNotContain("MSB4018", result.Output);
        void Expect(string kind, string code, string item, string mentions) =>
            Assert.Matches(new Regex($@"{kind} {code}: EdgeModel '{Regex.Escape(item)}'[^\n]*{Regex.Escape(mentions)}"), result.Output);
        Expect("error", "EC1018", "p1.onnx", "'0.95'");
        Expect("error", "EC1018", "p2.onnx", "'half'");
        Expect("error", "EC1019", "p3.onnx", "'Channels'");
        Expect("error", "EC1020", "p4.onnx", "PruneMode=\"NM\" with Prune=\"0.1\" would remove 0 of every 4 weights");
        // Unstructured is built: p5's metadata is fine (the build stops at the others' errors before compiling it).
        Assert.DoesNotContain("EdgeModel 'p5.onnx'", result.Output);
        Expect("error", "EC1021", "p6.onnx", "'yes'");
        Expect("warning", "EC1022", "p7.onnx", "PrunedOnnx has no effect without Prune");
        Expect("error", "EC1023", "p8.onnx", "SparseKernels 'Sometimes' is not known. Use Auto");
        // A number is not one of the names, although Enum.TryParse would take it.
        Expect("error", "EC1023", "p9.onnx", "SparseKernels '2'");
        // Any case, as Quantize and PruneMode.
        Assert.DoesNotContain("EdgeModel 'p10.onnx'", result.Output);
    }

    [Fact]
    public void PrunedBuildWritesReportAndPrunedOnnxAndRecompilesWhenPruneChanges()
    {
        using var p = new ConsumerProject("""<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" Prune="0.5" PrunedOnnx="true" Calibration="calib" />""");
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "model.onnx"), "models/vit.onnx");
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "calibration", "pixel_values.npy"), "calib/pixel_values.npy");
        var compiled = new Regex(@"EdgeCompile: compiled models/vit\.onnx -> My\.App\.DigitClassifier");

        var first = p.Build("-v:normal");
        _output.WriteLine("===== first build: " + first);
        Assert.True(first.ExitCode == 0, "first build should succeed\n" + first);
        Assert.Matches(compiled, first.Output);
        Assert.Matches(new Regex(@"DigitClassifier: pruned 0\.5 structured, 2 FFN blocks, neurons 256 → 128, parameters [\d,]+ → [\d,]+, FP32 weights [\d,]+ → [\d,]+ bytes, worst block error [\d.]+ dropped → [\d.]+ compensated, 2 attention layers, heads 8 → 4 \(worst layer error"), first.Output);
        string dir = Path.Combine(p.IntermediateDirectory, "edgecompile");
        Assert.Contains("| 128 → 64 |", File.ReadAllText(Path.Combine(dir, "DigitClassifier.pruning.md")));
        Assert.Contains("| 4 → 2 |", File.ReadAllText(Path.Combine(dir, "DigitClassifier.pruning.md")));
        Assert.True(File.Exists(Path.Combine(dir, "DigitClassifier.pruned.onnx")));

        p.WriteProject("""<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" Prune="0.25" Calibration="calib" />""");
        var second = p.Build("-v:normal");
        _output.WriteLine("===== Prune changed: " + second);
        Assert.True(second.ExitCode == 0, "second build should succeed\n" + second);
        Assert.Matches(compiled, second.Output);
        Assert.Contains("| 128 → 96 |", File.ReadAllText(Path.Combine(dir, "DigitClassifier.pruning.md")));
        Assert.Contains("| 4 → 3 |", File.ReadAllText(Path.Combine(dir, "DigitClassifier.pruning.md")));
        Assert.False(File.Exists(Path.Combine(dir, "DigitClassifier.pruned.onnx")), "a pruned ONNX file no longer asked for should be deleted");
    }
}
