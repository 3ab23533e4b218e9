using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Onnx;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// The quantized reference ONNX file of a pruned + quantized build (issue 5): the pruned file with every quantized weight
/// computed by DequantizeLinear, the head-pruned attention projections included. The plan's q/k/v projections lost the
/// removed heads' columns and the output projection their rows, while the file keeps the full shapes; the build writes
/// the plan's integers back at full size with the removed heads exactly zero, so ONNX Runtime running the file checks the
/// INT8/INT4 numerics of those layers too.
/// </summary>
public sealed class PrunedQuantizedReferenceTests(ITestOutputHelper output)
{
    /// <summary>As QuantizationReferenceTests: INT8 quantizes activations (an input an ulp from a rounding boundary moves one
    /// quantum in one engine), INT4 is weight-only float arithmetic on the same weights. Mixed has INT8 layers.</summary>
    private static double Tolerance(QuantizeMode mode) => mode == QuantizeMode.Int4 ? 1e-4 : 0.1;

    private const int Samples = 32;

    [Theory]
    [InlineData("bert", QuantizeMode.Int8)]
    [InlineData("bert", QuantizeMode.Int4)]
    [InlineData("bert", QuantizeMode.Mixed)]
    [InlineData("distilbert", QuantizeMode.Int8)]
    [InlineData("distilbert", QuantizeMode.Int4)]
    [InlineData("distilbert", QuantizeMode.Mixed)]
    [InlineData("mobilebert", QuantizeMode.Int8)]
    [InlineData("mobilebert", QuantizeMode.Int4)]
    [InlineData("mobilebert", QuantizeMode.Mixed)]
    [InlineData("vit", QuantizeMode.Int8)]
    [InlineData("vit", QuantizeMode.Int4)]
    [InlineData("vit", QuantizeMode.Mixed)]
    public void Head_pruned_projections_are_quantized_in_the_reference_and_match_onnx_runtime(string family, QuantizeMode mode)
    {
        using var build = PrunedBuild.Compile(family, 0.5, calibrated: true, quantize: mode);
        var set = FixtureTestSet.Load(family);
        var (worst, differ) = CompareWithReference(build, set);
        output.WriteLine($"{family} Structured 0.5 + {mode}: max |ours − ORT(quantized reference)| {worst:E2}, labels differ on {differ}/{Samples}");
        Assert.True(worst <= Tolerance(mode), $"max |logit difference| {worst:E2} > {Tolerance(mode)}");
        Assert.Equal(0, differ);

        // The pruned file keeps the head-pruned projections at full size with the removed heads zero (q, k, v and the output
        // projection of each of the 2 layers); the FFN projections are smaller.
        var original = FloatInitializers(FixturePlan.ModelPath(family));
        var pruned = FloatInitializers(build.PrunedOnnx);
        var headPruned = pruned.Where(p => p.Value.Dims.Length == 2 && p.Value.Dims.SequenceEqual(original[p.Key].Dims)
            && !original[p.Key].Values.AsSpan().SequenceEqual(p.Value.Values)).Select(p => p.Key).ToList();
        output.WriteLine($"  head-pruned projections at full size: {headPruned.Count}");
        if (family == "mobilebert")
        {
            // Its q|k and output projections also lose intra-block channels (ResidualChannelPruningTests): narrower, not
            // full size; only v (from the 64-wide layer input) stays full size with the removed heads' columns zero.
            int narrowed = pruned.Count(p => p.Value.Dims.Length == 2 && original[p.Key].Dims.Length == 2 && p.Value.Dims.SequenceEqual(original[p.Key].Dims) is false);
            output.WriteLine($"  2-D initializers narrowed: {narrowed}");
            Assert.True(headPruned.Count >= 2 && narrowed >= 8, $"{headPruned.Count} head-pruned projections at full size, {narrowed} narrowed");
        }
        else Assert.True(headPruned.Count >= 8, $"only {headPruned.Count} head-pruned projections in the pruned file");

        // In the reference every MatMul weight of the model, pruned ones included, is computed from integers: no FP32 copy.
        var reference = OnnxModelFile.Load(build.QuantizedOnnx).Graph;
        var weights = OnnxFiles.Weights(OnnxFiles.Load(FixturePlan.ModelPath(family)), "MatMul").Select(w => w.Name).ToList();
        Assert.Superset(headPruned.ToHashSet(), weights.ToHashSet());
        foreach (var name in weights)
        {
            Assert.DoesNotContain(reference.Initializer, t => t.Name == name);
            var producer = reference.Node.Single(n => n.Output.Contains(name));
            var source = reference.Initializer.Single(t => t.Name == producer.Input[0]);
            if (headPruned.Contains(name)) output.WriteLine($"  {name}: {producer.OpType} of {OnnxTypeName(source.DataType)} [{string.Join(",", source.Dims)}]");
            Assert.True(producer.OpType == "DequantizeLinear" && source.DataType is OnnxDataType.Int8 or OnnxDataType.Int4
                || mode == QuantizeMode.Mixed && producer.OpType == "Cast" && source.DataType == OnnxDataType.Float16,
                $"'{name}' is {producer.OpType} of type {source.DataType} in the reference");
        }
        var report = File.ReadAllText(build.QuantizationReport);
        Assert.DoesNotContain("FP32 in the reference ONNX", report);
    }

    /// <summary>
    /// <c>QuantizedOnnx</c> without <c>PrunedOnnx</c>: the reference still starts from the pruned model (the pruned weights are
    /// recorded for it), instead of writing the plan's smaller FFN weights over the original initializers.
    /// </summary>
    [Fact]
    public void The_quantized_reference_of_a_pruned_build_does_not_need_the_pruned_file()
    {
        using var build = PrunedBuild.Compile("bert", 0.5, calibrated: true, quantize: QuantizeMode.Int8, prunedOnnx: false);
        Assert.False(File.Exists(build.PrunedOnnx));
        var (worst, differ) = CompareWithReference(build, FixtureTestSet.Load("bert"));
        output.WriteLine($"bert Structured 0.5 + Int8, no PrunedOnnx: max |ours − ORT(quantized reference)| {worst:E2}, labels differ on {differ}/{Samples}");
        Assert.True(worst <= Tolerance(QuantizeMode.Int8), $"max |logit difference| {worst:E2}");
        Assert.Equal(0, differ);
    }

    /// <summary>
    /// Conv-channel pruning (mobilevit, efficientformer) then INT4: the sliced filters are quantized in the reference as
    /// they are in the plan (the INT8 case at 0.25 is ConvChannelPruningTests).
    /// </summary>
    [Theory]
    [InlineData("mobilevit", QuantizeMode.Int8)]
    [InlineData("mobilevit", QuantizeMode.Int4)]
    [InlineData("efficientformer", QuantizeMode.Int8)]
    [InlineData("efficientformer", QuantizeMode.Int4)]
    public void Conv_pruned_builds_match_onnx_runtime_on_the_quantized_reference(string family, QuantizeMode mode)
    {
        using var build = PrunedBuild.Compile(family, 0.5, calibrated: true, quantize: mode);
        var set = FixtureTestSet.Load(family);
        var (worst, differ) = CompareWithReference(build, set);
        var notInReference = File.ReadAllLines(build.QuantizationReport).Count(l => l.Contains("FP32 in the reference ONNX"));
        output.WriteLine($"{family} Structured 0.5 + {mode}: max |ours − ORT(quantized reference)| {worst:E2}, labels differ on {differ}/{Samples}; layers FP32 in the reference: {notInReference}");
        Assert.True(worst <= Tolerance(mode), $"max |logit difference| {worst:E2} > {Tolerance(mode)}");
        Assert.Equal(0, differ);
    }

    private static (double Worst, int Differ) CompareWithReference(PrunedBuild build, FixtureTestSet set)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        options.AddSessionConfigEntry(QuantizedOnnxWriter.OrtAccuracyLevelKey, QuantizedOnnxWriter.OrtAccuracyLevelValue);
        var ours = build.InterpretedLogits(set, Samples);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.QuantizedOnnx, set, Samples, options);
        int classes = ours.Length / Samples, differ = 0;
        for (int s = 0; s < Samples; s++) differ += ArgMax(ours, s, classes) != ArgMax(reference, s, classes) ? 1 : 0;
        return (FixturePlan.MaxAbsDifference(ours, reference), differ);
    }

    private static string OnnxTypeName(int type) => type switch
    {
        OnnxDataType.Int8 => "INT8",
        OnnxDataType.Int4 => "INT4",
        OnnxDataType.Float16 => "FLOAT16",
        OnnxDataType.Float => "FLOAT",
        _ => type.ToString(),
    };

    private static Dictionary<string, (long[] Dims, float[] Values)> FloatInitializers(string onnx) =>
        OnnxModelFile.Load(onnx).Graph.Initializer.Where(t => t.DataType == OnnxDataType.Float)
            .ToDictionary(t => t.Name, t => (t.Dims.ToArray(), OnnxProtos.ReadFloats(t)));

    private static int ArgMax(float[] logits, int sample, int classes)
    {
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (logits[sample * classes + j] > logits[sample * classes + best]) best = j;
        return best;
    }
}
