using System;
using System.IO;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>
/// `dotnet build` of small consumer projects: item metadata errors, a corrupt model, incremental
/// builds. One collection: the builds share the repository's build outputs, so they run one at a
/// time. Each build is a few seconds to a minute, so one build checks many items at once.
/// </summary>
[Collection("dotnet build")]
public sealed class BuildIntegrationTests
{
    private readonly ITestOutputHelper _output;

    public BuildIntegrationTests(ITestOutputHelper output) => _output = output;

    private static string FixtureModel(string family) => Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", family, "model.onnx");

    private BuildResult Build(ConsumerProject project, params string[] args)
    {
        var result = project.Build(args);
        _output.WriteLine(result.ToString());
        return result;
    }

    private static void AssertNoCrash(BuildResult result)
    {
        Assert.DoesNotContain("EC1999", result.Output);
        Assert.DoesNotContain("MSB4018", result.Output); // "task failed unexpectedly" = a crash
        Assert.DoesNotContain("MSB4181", result.Output); // "task returned false but did not log an error"
    }

    [Fact]
    public void BadItemMetadataGivesEC1ErrorsNamingTheItem()
    {
        using var p = new ConsumerProject("""
            <EdgeModel Include="models/nothere.onnx" ClassName="Missing" />
            <EdgeModel Include="m1.onnx" ClassName="2Fast" />
            <EdgeModel Include="m2.onnx" ClassName="class" />
            <EdgeModel Include="m3.onnx" ClassName="Spam Classifier" />
            <EdgeModel Include="m4.onnx" ClassName="Ok4" Namespace="My..App" />
            <EdgeModel Include="m5.onnx" ClassName="Ok5" MaxShapes="batch" />
            <EdgeModel Include="m6.onnx" ClassName="Ok6" MaxShapes="batch=1;=4" />
            <EdgeModel Include="m7.onnx" ClassName="Ok7" MaxShapes="batch=0" />
            <EdgeModel Include="m8.onnx" ClassName="Ok8" MaxShapes="sequence=abc" />
            <EdgeModel Include="m9.onnx" ClassName="Ok9" MaxShapes="batch=1;batch=2" />
            <EdgeModel Include="a/model.onnx" />
            <EdgeModel Include="b/model.onnx" />
            <EdgeModel Include="fine.onnx" ClassName="Fine" MaxShapes=" batch = 2 ; sequence=8; " Quantize="Mixed" Unknown="x" />
            """, "<EdgeTargetProfile>x86-mmx</EdgeTargetProfile>");
        foreach (var f in new[] { "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "fine" })
            p.WriteFile(f + ".onnx", new byte[] { 1, 2, 3 });
        p.WriteFile("a/model.onnx", new byte[] { 1 });
        p.WriteFile("b/model.onnx", new byte[] { 1 });

        var result = Build(p);
        Assert.True(result.ExitCode != 0, "the build should fail\n" + result);
        AssertNoCrash(result);
        void Expect(string code, string item, string mentions) =>
            Assert.Matches(new Regex($@"error {code}: EdgeModel '{Regex.Escape(item)}'[^\n]*{Regex.Escape(mentions)}"), result.Output);
        Expect("EC1001", "models/nothere.onnx", "does not exist");
        Expect("EC1002", "m1.onnx", "'2Fast'");
        Expect("EC1002", "m2.onnx", "'class'");
        Expect("EC1002", "m3.onnx", "'Spam Classifier'");
        Expect("EC1003", "m4.onnx", "'My..App'");
        Expect("EC1004", "m5.onnx", "'batch'");
        Expect("EC1004", "m6.onnx", "'=4'");
        Expect("EC1005", "m7.onnx", "'batch'");
        Expect("EC1005", "m8.onnx", "'sequence'");
        Expect("EC1006", "m9.onnx", "'batch'");
        // No ClassName: the default is the file name in PascalCase, so both are My.App.Model.
        Assert.Matches(new Regex(@"error EC1007: [^\n]*'My\.App\.Model'"), result.Output);
        Assert.Matches(new Regex(@"error EC1008: [^\n]*'x86-mmx'"), result.Output);
        // well-formed metadata (spaces, trailing ';', unknown metadata) is accepted
        Assert.DoesNotContain("'fine.onnx'", result.Output);
        // the errors point at the project file
        Assert.Contains("Consumer.csproj : error EC1002", result.Output);
    }

    [Fact]
    public void CorruptOnnxFileIsAnEC2ErrorNotACrash()
    {
        using var p = new ConsumerProject("""<EdgeModel Include="corrupt.onnx" ClassName="Corrupt" MaxShapes="batch=1" />""");
        var bytes = new byte[4096];
        new Random(1234).NextBytes(bytes);
        p.WriteFile("corrupt.onnx", bytes);
        var result = Build(p);
        Assert.True(result.ExitCode != 0, "the build should fail\n" + result);
        Assert.Matches(new Regex(@"corrupt\.onnx[^\n]*: error EC2\d{3}: "), result.Output);
        AssertNoCrash(result);
        // nothing half-written is left behind for the next build to pick up (the .edgeinputs stamp
        // is not an output: without a plan and weights the next build compiles again anyway)
        Assert.Empty(Directory.GetFiles(p.Directory, "Corrupt.edgeplan", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(p.Directory, "Corrupt.edgeweights", SearchOption.AllDirectories));
    }

    [Fact]
    public void SecondBuildWithoutChangesSkipsTheCompileAndTouchingTheModelReruns()
    {
        using var p = new ConsumerProject("""<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" />""");
        p.CopyFile(FixtureModel("vit"), "models/vit.onnx");
        File.WriteAllText(Path.Combine(p.Directory, "Use.cs"), """
            namespace My.App;
            public static class Use
            {
                public static int Classes()
                {
                    using var model = new DigitClassifier();
                    var logits = new float[10];
                    model.Run(batch: 1, pixelValues: new float[16 * 16], logits: logits);
                    return logits.Length;
                }
            }
            """);
        var first = Build(p, "-v:normal");
        Assert.True(first.ExitCode == 0, "first build should succeed\n" + first);
        Assert.Contains("profile 'portable'", first.Output);
        Assert.Matches(new Regex(@"models/vit\.onnx -> My\.App\.DigitClassifier"), first.Output);

        var second = Build(p, "-v:detailed");
        Assert.True(second.ExitCode == 0, "second build should succeed\n" + second);
        Assert.Contains("Skipping target \"EdgeCompileModels\" because all output files are up-to-date", second.Output);

        File.SetLastWriteTimeUtc(Path.Combine(p.Directory, "models", "vit.onnx"), DateTime.UtcNow);
        var third = Build(p, "-v:detailed");
        Assert.True(third.ExitCode == 0, "third build should succeed\n" + third);
        Assert.DoesNotContain("Skipping target \"EdgeCompileModels\"", third.Output);
        Assert.Matches(new Regex(@"models/vit\.onnx -> My\.App\.DigitClassifier"), third.Output);
    }
}
