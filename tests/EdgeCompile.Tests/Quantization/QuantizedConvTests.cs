using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using EdgeCompile.Tests.Onnx;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Quantization;

/// <summary>
/// Weight-only quantized convolutions on the vision fixtures: the plan uses Conv2dInt8 / Conv2dHalf, the generated
/// code matches ONNX Runtime on the reference ONNX file (the same dequantized weights) and the test-set accuracy
/// stays within a point of FP32 (the stored labels are the independent reference).
/// </summary>
public sealed class QuantizedConvTests(ITestOutputHelper output)
{
    public static TheoryData<string, QuantizeMode> Cases => new()
    {
        { "mobilevit", QuantizeMode.Int8 }, { "mobilevit", QuantizeMode.Fp16 },
        { "efficientformer", QuantizeMode.Int8 }, { "efficientformer", QuantizeMode.Fp16 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vision_fixtures_quantize_their_convolutions(string family, QuantizeMode mode)
    {
        using var dir = new TempDir();
        var set = FixtureTestSet.Load(family);
        string model = Path.Combine(Repository.Fixture(family), "model.onnx"), reference = dir.File("reference.onnx");
        using var fp32 = CompiledFixture.Compile(model, "batch=8");
        using var q = CompiledFixture.Compile(model, "batch=8", quantize: new QuantizeOptions { Mode = mode, QuantizedOnnxPath = reference });
        string kernel = mode == QuantizeMode.Int8 ? "Conv2dInt8" : "Conv2dHalf";
        var ops = q.Result.Plan!.Ops;
        int quantizedConvs = ops.Count(o => o.Kernel == kernel), floatConvs = ops.Count(o => o.Kernel == "Conv2d");
        Assert.True(quantizedConvs > 0, $"no {kernel} in the plan");
        Assert.Equal(0, floatConvs);

        // Against ONNX Runtime on the reference file, batches of 8 over the first 40 samples.
        using var session = OnnxFiles.ReferenceSession(reference);
        double worst = 0, scale = 0;
        for (int start = 0; start < 40; start += 8)
        {
            var inputs = set.Batch(start, 8);
            var expected = OnnxFiles.Run(session, inputs, "logits")["logits"];
            var actual = new float[expected.Length];
            q.Model.Run(new[] { 8 }, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
            worst = Math.Max(worst, OnnxFiles.MaxAbsDiff(expected, actual));
            scale = Math.Max(scale, expected.Max(v => Math.Abs(v)));
        }

        double accuracy = Accuracy(q, set), fp32Accuracy = Accuracy(fp32, set);
        var summary = q.Result.Messages.Single(m => m.Message.Contains($": {mode}, ")).Message;
        output.WriteLine($"{family} {mode}: {quantizedConvs} {kernel}; max |logit − ORT(reference)| {worst:E2} (max |logit| {scale:F2}); " +
            $"accuracy {accuracy:P1} (FP32 {fp32Accuracy:P1}); {summary}");
        Assert.True(worst <= 1e-3 * Math.Max(1, scale), $"max |logit diff| {worst:E3} against ONNX Runtime on the reference file");
        Assert.True(accuracy >= fp32Accuracy - 0.01 - 1e-9, $"accuracy {accuracy:P1} more than 1 point below FP32 {fp32Accuracy:P1}");
    }

    public static TheoryData<string> Families
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var family in FixtureCompilerTests.FamilyNames) data.Add(family);
            return data;
        }
    }

    /// <summary>The size ratios (printed for the record); the vision fixtures must now shrink well past FP32's.</summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void Size_ratios(string family)
    {
        string model = Path.Combine(Repository.Fixture(family), "model.onnx");
        string shapes = family is "bert" or "distilbert" or "mobilebert" ? "batch=8;sequence=64" : "batch=8";
        foreach (var mode in new[] { QuantizeMode.Int8, QuantizeMode.Int4 })
        {
            using var dir = new TempDir();
            var request = new EdgeCompile.Compiler.CompileRequest(model, "M", "N", shapes, "portable", dir.File("M.edgeplan"), dir.File("M.edgeweights"), "N.M.edgeweights",
                Quantize: new QuantizeOptions { Mode = mode, QuantizedOnnxPath = dir.File("ref.onnx"), ReportPath = dir.File("report.md") });
            var result = EdgeCompile.Compiler.ModelCompiler.Compile(request);
            Assert.True(result.Success, string.Join("\n", result.Messages));
            var summary = result.Messages.Single(m => m.Message.StartsWith($"M: {mode},", StringComparison.Ordinal)).Message;
            double ratio = double.Parse(Regex.Match(summary, @"\((\d+\.\d\d)x smaller\)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            // Conv layers whose weight the build computed (BatchNorm folded in): FP32 in the reference file only.
            var convRows = File.ReadAllLines(dir.File("report.md")).Where(l => l.Contains("| Conv |")).ToList();
            int computed = convRows.Count(l => l.Contains("computed weight"));
            output.WriteLine($"{family} {mode}: ratio {ratio:F2}x; {convRows.Count} Conv rows, {computed} with a computed (BN-folded) weight; {summary}");
            Assert.True(ratio > 1);
        }
    }

    private static double Accuracy(CompiledFixture f, FixtureTestSet set)
    {
        int classes = int.Parse(f.Model.Info.Outputs[0].Shape.Last()), correct = 0;
        for (int start = 0; start < set.Count; start += 8)
        {
            int count = Math.Min(8, set.Count - start);
            var inputs = set.Batch(start, count);
            var y = new float[count * classes];
            f.Model.Run(new[] { count }, inputs.Select(i => i.Values).ToArray(), new Array[] { y });
            for (int s = 0; s < count; s++)
            {
                int best = 0;
                for (int j = 1; j < classes; j++) if (y[s * classes + j] > y[s * classes + best]) best = j;
                if (best == set.Labels[start + s]) correct++;
            }
        }
        return (double)correct / set.Count;
    }
}
