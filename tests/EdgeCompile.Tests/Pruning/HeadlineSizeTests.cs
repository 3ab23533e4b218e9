using System.IO;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// Issue 5's headline: a build at least 8× smaller than the FP32 ONNX file that loses at most 2 accuracy points:
/// structured pruning (attention heads, FFN neurons, conv channels) with the fixture's calibration set, then INT4 with
/// GPTQ-style rounding on the same set, at the smallest measured <c>Prune</c> that reaches 8× (the tiny fixtures'
/// embeddings keep the text models from getting there with less). Bytes are the plan's weights blob against the size of
/// <c>model.onnx</c>; accuracy is against the test labels on the whole test set (the plan run by the build's
/// interpreter), the reference being ONNX Runtime on the FP32 file. The full grid is tools/EdgeCompile.PruningSweep
/// (README, "Pruning").
/// </summary>
/// <remarks>
/// Left out because the target is not reached (sweep tool, 2026-11-24, Structured + INT4 + calibration at Prune 0.2,
/// 0.25, 0.4, 0.5, 0.6, 0.75, 0.9): <c>mobilevit</c>. Unpruned INT4 is 7.40× at 98.3 % (ONNX Runtime FP32 99.7 %);
/// the first 8× point, Prune 0.2 (8.86×), is at 93.0 %: its conv channel groups are 24–32 channels and its two
/// attention layers 4 heads, so every cut is coarse.
/// </remarks>
public sealed class HeadlineSizeTests(ITestOutputHelper output)
{
    private const double TargetRatio = 8, AllowedLossPoints = 2;

    [Theory]
    [InlineData("bert", 0.5)]            // measured 8.32×, −1.0 points
    [InlineData("distilbert", 0.5)]      // 8.29×, −1.3
    [InlineData("mobilebert", 0.75)]     // 8.70×, −0.3 (session 6, NoNorm channel groups too; before 8.07×, −1.3)
    [InlineData("vit", 0.25)]            // 8.72×, −1.7 (0.4 removes 2 of its 4 heads: −8.0)
    [InlineData("efficientformer", 0.4)] // 8.75×, ±0.0
    public void Pruned_int4_build_is_8x_smaller_than_the_onnx_file_within_2_points(string family, double fraction)
    {
        var set = FixtureTestSet.Load(family);
        string onnx = FixturePlan.ModelPath(family);
        double reference = PrunedBuild.Accuracy(PrunedBuild.OnnxRuntimeLogits(onnx, set, set.Count), set.Labels);

        using var build = PrunedBuild.Compile(family, fraction, calibrated: true, quantize: QuantizeMode.Int4, calibratedQuantize: true);
        double accuracy = PrunedBuild.Accuracy(build.InterpretedLogits(set, set.Count), set.Labels);
        long onnxBytes = new FileInfo(onnx).Length, weightBytes = build.Plan.WeightBytes;
        double ratio = (double)onnxBytes / weightBytes, points = 100 * (accuracy - reference);
        output.WriteLine($"{family} Prune={fraction} Structured + Int4 with calibration: {weightBytes:N0} bytes, {ratio:0.00}× smaller than model.onnx "
            + $"({onnxBytes:N0} bytes); accuracy {accuracy:P1} against ONNX Runtime FP32 {reference:P1} ({points:+0.0;-0.0} points)");

        Assert.True(ratio >= TargetRatio, $"{family}: weights {weightBytes:N0} bytes are only {ratio:0.00}× smaller than model.onnx ({onnxBytes:N0} bytes); the target is {TargetRatio}×");
        Assert.True(points >= -AllowedLossPoints - 1e-9, $"{family}: accuracy {accuracy:P1} is {-points:0.0} points below ONNX Runtime FP32's {reference:P1}; at most {AllowedLossPoints} may be lost");
    }
}
