using System;
using System.IO;
using System.Linq;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>
/// The same project built in two different folders gives byte-identical plans, weights blobs and
/// generated sources: nothing in them depends on the folder (the plan's <c>source</c> is the
/// project-relative item path), the clock, or iteration order.
/// </summary>
[Collection("dotnet build")]
public sealed class DeterminismTests
{
    private readonly ITestOutputHelper _output;

    public DeterminismTests(ITestOutputHelper output) => _output = output;

    private const string Items = """
        <EdgeModel Include="models/digits.onnx" ClassName="DigitClassifier" MaxShapes="batch=2" />
        <EdgeModel Include="models/sentiment.onnx" ClassName="TextClassifier" MaxShapes="batch=1;sequence=32" />
        """;

    private ConsumerProject CreateAndBuild()
    {
        var p = new ConsumerProject(Items);
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit", "model.onnx"), "models/digits.onnx");
        p.CopyFile(Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "distilbert", "model.onnx"), "models/sentiment.onnx");
        var result = p.Build("-p:EmitCompilerGeneratedFiles=true");
        _output.WriteLine($"===== {p.Directory}: {result}");
        Assert.True(result.ExitCode == 0, "the build should succeed\n" + result);
        return p;
    }

    /// <summary>The outputs to compare, relative to obj/&lt;config&gt;/net10.0/.</summary>
    private static string[] Outputs(ConsumerProject p)
    {
        string obj = p.IntermediateDirectory;
        var files = Directory.GetFiles(Path.Combine(obj, "edgecompile"), "*.edgeplan")
            .Concat(Directory.GetFiles(Path.Combine(obj, "edgecompile"), "*.edgeweights"))
            .Concat(Directory.GetFiles(Path.Combine(obj, "generated"), "*.g.cs", SearchOption.AllDirectories)
                .Where(f => f.Contains("EdgeCompile.Generators", StringComparison.Ordinal)))
            .Select(f => Path.GetRelativePath(obj, f).Replace('\\', '/'))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToArray();
        return files;
    }

    [Fact]
    public void BuildsInTwoFoldersGiveByteIdenticalPlansWeightsAndGeneratedSource()
    {
        using var first = CreateAndBuild();
        using var second = CreateAndBuild();
        Assert.NotEqual(first.Directory, second.Directory);

        var files = Outputs(first);
        _output.WriteLine(string.Join("\n", files));
        Assert.Equal(files, Outputs(second));
        foreach (string ext in new[] { ".edgeplan", ".edgeweights", ".g.cs" })
            Assert.Equal(2, files.Count(f => f.EndsWith(ext, StringComparison.Ordinal)));

        foreach (var f in files)
        {
            byte[] a = File.ReadAllBytes(Path.Combine(first.IntermediateDirectory, f));
            byte[] b = File.ReadAllBytes(Path.Combine(second.IntermediateDirectory, f));
            Assert.True(a.AsSpan().SequenceEqual(b), $"{f} differs between {first.Directory} and {second.Directory}");
        }

        // The plan and the generated code name the model by its project-relative path, never the folder.
        string plan = File.ReadAllText(Path.Combine(first.IntermediateDirectory, "edgecompile", "DigitClassifier.edgeplan"));
        Assert.Contains("\nsource models/digits.onnx\n", plan.Replace("\r\n", "\n"));
        foreach (var f in files.Where(f => !f.EndsWith(".edgeweights", StringComparison.Ordinal)))
            Assert.DoesNotContain(first.Directory, File.ReadAllText(Path.Combine(first.IntermediateDirectory, f)));
    }
}
