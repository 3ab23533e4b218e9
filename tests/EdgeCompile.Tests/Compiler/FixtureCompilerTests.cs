using System;
using System.Linq;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// The compiler on every real exported fixture, checked against ONNX Runtime on the same ONNX
/// file: whole test sets at several batch sizes, and text at each sample's true length.
/// (The same models through the MSBuild path are checked in EdgeCompile.EndToEnd.Tests.)
/// </summary>
public sealed class FixtureCompilerTests(ITestOutputHelper output)
{
    public const double Tolerance = 1e-4;

    public static readonly string[] FamilyNames = { "bert", "distilbert", "mobilebert", "vit", "mobilevit", "efficientformer" };

    /// <summary>
    /// Every family under each weight layout and some thread counts: <c>portable</c> and <c>x64-avx2</c> pack
    /// 16-column panels, <c>x64-avx512</c> 32-column ones (run by whatever this CPU has: the kernels fall back).
    /// </summary>
    public static TheoryData<string, string, int> Families
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (var family in FamilyNames)
            {
                data.Add(family, "portable", 1);
                data.Add(family, "x64-avx2", 2);
                data.Add(family, "x64-avx512", 3);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Matches_onnx_runtime_on_the_whole_test_set(string family, string profile, int threads)
    {
        var set = FixtureTestSet.Load(family);
        using var f = CompiledFixture.Compile(System.IO.Path.Combine(Repository.Fixture(family), "model.onnx"), set.IsText ? "batch=8;sequence=64" : "batch=8", profile: profile, threads: threads);
        int classes = (int)f.Model.Info.Outputs[0].Shape.Last().Length switch { _ => int.Parse(f.Model.Info.Outputs[0].Shape.Last()) };
        double worst = 0;
        int agree = 0, correct = 0;
        for (int start = 0; start < set.Count; start += 8)
        {
            int count = Math.Min(8, set.Count - start);
            var inputs = set.Batch(start, count);
            var expected = f.RunOnnxRuntime(inputs);
            var actual = new float[count * classes];
            var dims = set.IsText ? new[] { count, inputs[0].Shape[1] } : new[] { count };
            f.Model.Run(dims, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
            for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
            for (int b = 0; b < count; b++)
            {
                int ours = ArgMax(actual, b, classes), theirs = ArgMax(expected, b, classes);
                agree += ours == theirs ? 1 : 0;
                correct += ours == set.Labels[start + b] ? 1 : 0;
            }
        }
        output.WriteLine($"{family} ({profile}, {threads} threads): max |logit diff| {worst:E2}, labels agree {agree}/{set.Count}, accuracy {(double)correct / set.Count:P1}");
        Assert.True(worst <= Tolerance, $"max |logit diff| {worst:E3} > {Tolerance}");
        Assert.Equal(set.Count, agree);
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("distilbert")]
    [InlineData("mobilebert")]
    public void Matches_onnx_runtime_at_each_samples_true_length(string family)
    {
        var set = FixtureTestSet.Load(family);
        using var f = CompiledFixture.Compile(System.IO.Path.Combine(Repository.Fixture(family), "model.onnx"), "batch=8;sequence=64");
        double worst = 0;
        for (int s = 0; s < Math.Min(set.Count, 60); s++)
        {
            int length = Math.Max(1, set.Length(s));
            var inputs = set.Batch(s, 1, length);
            var expected = f.RunOnnxRuntime(inputs);
            var actual = new float[expected.Length];
            f.Model.Run(new[] { 1, length }, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
            for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        }
        output.WriteLine($"{family}: max |logit diff| at true lengths {worst:E2}");
        Assert.True(worst <= Tolerance, $"max |logit diff| {worst:E3} > {Tolerance}");
    }

    private static int ArgMax(float[] values, int row, int width)
    {
        int best = 0;
        for (int j = 1; j < width; j++) if (values[row * width + j] > values[row * width + best]) best = j;
        return best;
    }
}
