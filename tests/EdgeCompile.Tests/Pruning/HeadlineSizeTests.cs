using System.IO;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// Issue 5's headline: a build at least 8× smaller than the FP32 ONNX file that loses at most 2 accuracy points, with the
/// best configuration available now: structured pruning (FFN neurons) with the fixture's calibration set, then INT4 with
/// GPTQ-style rounding on the same set. Bytes are the plan's weights blob against the size of <c>model.onnx</c>;
/// accuracy is against the test labels on the whole test set (the plan run by the build's interpreter), the reference
/// being ONNX Runtime on the FP32 file. The full grid is tools/EdgeCompile.PruningSweep (README, "Pruning").
/// </summary>
/// <remarks>
/// Left out because the target is not reached with FFN-neuron pruning alone (measured with the sweep tool, 2026-11-24):
/// <c>mobilebert</c>: Prune 0.9 + INT4 + calibration gives 70,912 bytes, 7.60× smaller than its 538,941-byte file, at
/// 92.0 % against ONNX Runtime's 92.3 %; its weights are mostly the embedding tables and the bottleneck and attention
/// layers, which this pruning does not touch (its FFNs are 64 wide). Attention-head pruning (in progress) is what
/// could bring it past 8×. Not asked for here but measured as well: mobilevit 7.04× and efficientformer 6.45× at 0.9.
/// bert and distilbert reach 8× only at Prune 0.9 (each FFN keeps 13 of 128 neurons): with 2 layers, the FFNs are a
/// small part of the parameters next to the embeddings (0.6 gives 7.74× and 7.69×). vit reaches it at 0.6 (8.50×,
/// −0.3 points; 0.75 gives 9.13× at −1.0, 0.9 loses 2.3 points).
/// </remarks>
public sealed class HeadlineSizeTests(ITestOutputHelper output)
{
    private const double TargetRatio = 8, AllowedLossPoints = 2;

    [Theory]
    [InlineData("bert", 0.9)]
    [InlineData("distilbert", 0.9)]
    [InlineData("vit", 0.6)]
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
