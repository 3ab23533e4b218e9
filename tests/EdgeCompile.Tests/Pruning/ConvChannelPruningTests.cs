using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// Structured pruning of conv channels on the vision fixtures (README, "Pruning"): the channel groups are found, their
/// convolutions really shrink in the plan, the pruned plan computes what ONNX Runtime computes on the pruned ONNX file
/// (sliced filters, biases, depthwise <c>group</c>), and compensation lowers each 1×1 consumer's error.
/// </summary>
public sealed class ConvChannelPruningTests(ITestOutputHelper output)
{
    /// <summary>A group as the ONNX file names its convs: producer, depthwise conv (or null), 1×1 consumer, channels.</summary>
    private sealed record Group(string Producer, string? Depthwise, string Consumer, int Channels);

    /// <summary>Read off the fixtures' graphs (tests/fixtures/README.md): what a person would call the prunable channels.</summary>
    private static readonly Dictionary<string, Group[]> Groups = new()
    {
        ["mobilevit"] = new[]
        {
            // MobileNetV2 inverted residuals: expand 1×1 + SiLU → depthwise 3×3 + SiLU → project 1×1.
            new Group("/layer.0/expand_1x1/convolution/Conv", "/layer.0/conv_3x3/convolution/Conv", "/layer.0/reduce_1x1/convolution/Conv", 32),
            new Group("/layer.1/expand_1x1/convolution/Conv", "/layer.1/conv_3x3/convolution/Conv", "/layer.1/reduce_1x1/convolution/Conv", 32),
            // MobileViT block: conv 3×3 + SiLU → conv 1×1 (no bias) to 48; fusion 3×3 + SiLU → 1×1 expansion to 64.
            new Group("/layer.2/conv_kxk/convolution/Conv", null, "/layer.2/conv_1x1/convolution/Conv", 24),
            new Group("/layer.2/fusion/convolution/Conv", null, "/conv_1x1_exp/convolution/Conv", 24),
        },
        ["efficientformer"] = new[]
        {
            // Meta4D conv MLP: 1×1 + GELU → 1×1.
            new Group("/stage0.0/mlp/convolution1/Conv", null, "/stage0.0/mlp/convolution2/Conv", 96),
            new Group("/stage0.1/mlp/convolution1/Conv", null, "/stage0.1/mlp/convolution2/Conv", 96),
            new Group("/stage1.0/mlp/convolution1/Conv", null, "/stage1.0/mlp/convolution2/Conv", 192),
        },
    };

    /// <summary>Channels kept out of 24, 32, 96, 192: (1 − Prune)·C to the nearest multiple of 4.</summary>
    private static int Kept(int channels, double fraction) => (channels, fraction) switch
    {
        (24, 0.25) => 20, (32, 0.25) => 24, (96, 0.25) => 72, (192, 0.25) => 144,
        (24, 0.5) => 12, (32, 0.5) => 16, (96, 0.5) => 48, (192, 0.5) => 96,
        _ => throw new ArgumentException($"no expectation for {channels} channels at {fraction}"),
    };

    [Theory]
    [InlineData("mobilevit", 0.25)]
    [InlineData("mobilevit", 0.5)]
    [InlineData("efficientformer", 0.25)]
    [InlineData("efficientformer", 0.5)]
    public void Conv_channels_shrink_in_the_plan(string family, double fraction)
    {
        using var unpruned = PrunedBuild.Compile(family, 0, calibrated: false);
        using var pruned = PrunedBuild.Compile(family, fraction, calibrated: false);
        var before = ConvShapes(unpruned.Plan);
        var after = ConvShapes(pruned.Plan);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());

        var expected = new Dictionary<string, ConvShape>(before);
        foreach (var g in Groups[family])
        {
            int kept = Kept(g.Channels, fraction);
            Assert.Equal(g.Channels, before[g.Producer].Out);
            expected[g.Producer] = before[g.Producer] with { Out = kept };
            if (g.Depthwise is { } dw) expected[dw] = new ConvShape(kept, kept, kept);
            expected[g.Consumer] = before[g.Consumer] with { In = kept };
        }
        // Exactly the groups' convs change, and as said; every other conv keeps its shape.
        foreach (var (node, shape) in expected) Assert.True(shape == after[node], $"{node}: expected {shape}, plan has {after[node]} (was {before[node]})");

        int channels = Groups[family].Sum(g => g.Channels), keptTotal = Groups[family].Sum(g => Kept(g.Channels, fraction));
        Assert.Contains(pruned.Result.Messages, m => m.Message.Contains($"{Groups[family].Length} conv channel groups, channels {channels:N0} → {keptTotal:N0}"));
        Assert.True(pruned.Plan.WeightBytes < unpruned.Plan.WeightBytes);
        output.WriteLine($"{family} prune {fraction}: weights blob {unpruned.Plan.WeightBytes:N0} → {pruned.Plan.WeightBytes:N0} bytes, parameters {unpruned.Plan.Parameters:N0} → {pruned.Plan.Parameters:N0}");
        output.WriteLine(pruned.Result.Messages.First(m => m.Message.Contains("pruned ")).Message);
    }

    [Theory]
    [InlineData("mobilevit", 0.25, true)]
    [InlineData("mobilevit", 0.5, true)]
    [InlineData("mobilevit", 0.5, false)]
    [InlineData("efficientformer", 0.25, true)]
    [InlineData("efficientformer", 0.5, true)]
    [InlineData("efficientformer", 0.5, false)]
    public void Pruned_plan_matches_onnx_runtime_on_the_pruned_file(string family, double fraction, bool calibrated)
    {
        using var build = PrunedBuild.Compile(family, fraction, calibrated);
        var set = FixtureTestSet.Load(family);
        var ours = build.InterpretedLogits(set, set.Count);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, set.Count);
        var original = PrunedBuild.OnnxRuntimeLogits(FixturePlan.ModelPath(family), set, set.Count);
        double worst = FixturePlan.MaxAbsDifference(ours, reference), moved = FixturePlan.MaxAbsDifference(original, reference);
        output.WriteLine($"{family} prune {fraction} calibrated={calibrated}: max |ours − ORT(pruned)| {worst:E2}; max |ORT(pruned) − ORT(original)| {moved:E2}; "
            + $"accuracy original {PrunedBuild.Accuracy(original, set.Labels):P1}, pruned plan {PrunedBuild.Accuracy(ours, set.Labels):P1}, ORT(pruned) {PrunedBuild.Accuracy(reference, set.Labels):P1}; "
            + $"model.onnx {new FileInfo(FixturePlan.ModelPath(family)).Length:N0} → pruned {new FileInfo(build.PrunedOnnx).Length:N0} bytes");
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:E2} > 1e-4");
        Assert.Equal(Labels(reference, set.Count), Labels(ours, set.Count));
        Assert.True(moved > 1e-3, $"the pruned file's logits differ from the original's by only {moved:E2}");

        // The pruned file itself carries the smaller convs (ONNX Runtime loaded it above with these shapes).
        var onnx = new OnnxIntermediates(build.PrunedOnnx);
        foreach (var g in Groups[family])
        {
            int kept = Kept(g.Channels, fraction);
            Assert.Equal(kept, Dims(build.PrunedOnnx, onnx.Node(g.Producer)!.Input[1])[0]);
            Assert.Equal(kept, Dims(build.PrunedOnnx, onnx.Node(g.Consumer)!.Input[1])[1]);
            if (g.Depthwise is { } dw) Assert.Equal(kept, onnx.Node(dw)!.Attribute.Single(a => a.Name == "group").I);
        }
    }

    /// <summary>
    /// Independent of the build's own numbers: ONNX Runtime on the two pruned files (compensated or not) against the
    /// original model, comparing each group's 1×1 consumer output (before its activation, which is what the refit
    /// fits) on the calibration inputs.
    /// </summary>
    [Theory]
    [InlineData("mobilevit")]
    [InlineData("efficientformer")]
    public void Compensation_lowers_each_consumers_error_on_the_calibration_set(string family)
    {
        using var dropped = PrunedBuild.Compile(family, 0.5, calibrated: true, compensate: false);
        using var refit = PrunedBuild.Compile(family, 0.5, calibrated: true);
        var inputs = PrunedBuild.CalibrationInputs(family);
        var consumers = Groups[family].Select(g => new OnnxIntermediates(FixturePlan.ModelPath(family)).Node(g.Consumer)!.Output[0]).ToArray();
        var original = Intermediates(FixturePlan.ModelPath(family), consumers, inputs);
        var withoutRefit = Intermediates(dropped.PrunedOnnx, consumers, inputs);
        var withRefit = Intermediates(refit.PrunedOnnx, consumers, inputs);
        foreach (var (g, value) in Groups[family].Zip(consumers))
        {
            double errorDropped = PrunedBuild.RelativeError(withoutRefit[value], original[value]), errorRefit = PrunedBuild.RelativeError(withRefit[value], original[value]);
            output.WriteLine($"{family} 0.5 {g.Consumer}: relative error on the calibration set, dropped {errorDropped:0.####}, compensated {errorRefit:0.####}");
            Assert.True(errorRefit < errorDropped, $"{g.Consumer}: compensated {errorRefit} ≥ dropped {errorDropped}");
        }
        var report = File.ReadAllText(refit.PruningReport);
        output.WriteLine(report);
        Assert.Contains("Conv channel groups: conv channels ranked by E|a_c|", report);
        foreach (var g in Groups[family]) Assert.Contains($"`{g.Consumer}` | {g.Channels} → {Kept(g.Channels, 0.5)} |", report);
        Assert.DoesNotContain("(not used)", report);
    }

    /// <summary>
    /// The fixtures' exporter folded every BatchNorm into its conv; models exported otherwise keep it. Here mobilevit's
    /// first inverted residual gets a BatchNormalization after each of its three convs, with the conv's weights and
    /// bias rescaled so that the model computes the same function (checked against the original by ONNX Runtime). The
    /// compiler folds them back; the pruned file must slice the producer's and depthwise conv's BatchNorm parameters and
    /// write the consumer's refitted weights with its BatchNorm's scale divided out.
    /// </summary>
    [Fact]
    public void Batch_norm_kept_in_the_onnx_file_is_sliced_and_the_refit_unfolded()
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-bn-").FullName;
        try
        {
            var model = EdgeCompile.Compiler.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(FixturePlan.ModelPath("mobilevit")));
            var group = Groups["mobilevit"][0];
            var random = new Random(1234);
            foreach (var conv in new[] { group.Producer, group.Depthwise!, group.Consumer }) SplitOffBatchNorm(model, conv, random);
            var path = Path.Combine(dir, "model.onnx");
            File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));

            var set = FixtureTestSet.Load("mobilevit");
            int count = 64;
            double same = FixturePlan.MaxAbsDifference(PrunedBuild.OnnxRuntimeLogits(path, set, count), PrunedBuild.OnnxRuntimeLogits(FixturePlan.ModelPath("mobilevit"), set, count));
            Assert.True(same <= 1e-4, $"the re-parameterised model differs from the fixture by {same:E2}");

            using var build = PrunedBuild.Compile("mobilevit", 0.5, calibrated: true, modelPath: path);
            var ours = build.InterpretedLogits(set, count);
            var reference = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, count);
            double worst = FixturePlan.MaxAbsDifference(ours, reference);
            output.WriteLine($"mobilevit with BatchNormalization kept, prune 0.5 calibrated: max |ours − ORT(pruned)| {worst:E2}");
            Assert.True(worst <= 1e-4, $"max |logit difference| {worst:E2} > 1e-4");
            var report = File.ReadAllText(build.PruningReport);
            Assert.Contains($"`{group.Consumer}` | 32 → 16 | ", report);
            Assert.DoesNotContain("(not used)", report); // every consumer's refit was written, this one through its BatchNorm

            var pruned = EdgeCompile.Compiler.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(build.PrunedOnnx));
            foreach (var conv in new[] { group.Producer, group.Depthwise! })
                foreach (var parameter in new[] { "scale", "bias", "mean", "var" })
                    Assert.Equal(new long[] { 16 }, pruned.Graph.Initializer.Single(t => t.Name == $"{conv}/bn_{parameter}").Dims.ToArray());
            // The consumer's BatchNorm is over its 16 outputs, which pruning does not touch.
            Assert.Equal(new long[] { 16 }, pruned.Graph.Initializer.Single(t => t.Name == $"{group.Consumer}/bn_scale").Dims.ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Pruning then INT8 in one build: the quantized reference file starts from the pruned one (sliced convs, depthwise
    /// group) and ONNX Runtime on it agrees with the plan to INT8's tolerance (as StructuredPruningTests.Prune_then_int8_composes).
    /// </summary>
    [Theory]
    [InlineData("mobilevit")]
    [InlineData("efficientformer")]
    public void Prune_then_int8_reference_has_the_pruned_convs(string family)
    {
        using var build = PrunedBuild.Compile(family, 0.25, calibrated: true, quantize: EdgeCompile.Compiler.Quantization.QuantizeMode.Int8);
        var set = FixtureTestSet.Load(family);
        var ours = build.InterpretedLogits(set, 32);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.QuantizedOnnx, set, 32);
        double worst = FixturePlan.MaxAbsDifference(ours, reference);
        output.WriteLine($"{family} prune 0.25 + Int8: max |ours − ORT(pruned+quantized reference)| {worst:E2}");
        Assert.True(worst <= 0.1, $"{worst:E2}");
        Assert.Contains("Conv channel groups:", File.ReadAllText(build.QuantizationReport));
    }

    /// <summary>
    /// A conv the pruned file cannot find under the name the compiler knows it by (an unnamed node: the compiler names
    /// it itself) stops the build with EC2210 and says what to do, instead of writing a file ONNX Runtime would refuse.
    /// </summary>
    [Fact]
    public void Unnamed_conv_in_a_channel_group_is_a_coded_error_for_the_pruned_onnx()
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-unnamed-").FullName;
        try
        {
            var model = EdgeCompile.Compiler.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(FixturePlan.ModelPath("mobilevit")));
            model.Graph.Node.Single(n => n.Name == Groups["mobilevit"][0].Depthwise).Name = "";
            var path = Path.Combine(dir, "model.onnx");
            File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
            var e = Assert.Throws<InvalidOperationException>(() => PrunedBuild.Compile("mobilevit", 0.5, calibrated: false, modelPath: path));
            output.WriteLine(e.Message);
            Assert.Contains("error EC2210", e.Message);
            Assert.Contains("Remove PrunedOnnx", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Conv → BatchNormalization computing what the conv computed: BN(y) = k·(y − mean) + β with k = γ/√(var + ε), so
    /// the conv's filters become W/k and its bias (b − β)/k + mean.
    /// </summary>
    private static void SplitOffBatchNorm(EdgeCompile.Compiler.Onnx.Proto.ModelProto model, string convName, Random random)
    {
        var graph = model.Graph;
        var conv = graph.Node.Single(n => n.Name == convName);
        int wIndex = graph.Initializer.ToList().FindIndex(t => t.Name == conv.Input[1]), bIndex = graph.Initializer.ToList().FindIndex(t => t.Name == conv.Input[2]);
        var (wTensor, bTensor) = (graph.Initializer[wIndex], graph.Initializer[bIndex]);
        var w = EdgeCompile.Compiler.Onnx.OnnxProtos.ReadFloats(wTensor);
        var b = EdgeCompile.Compiler.Onnx.OnnxProtos.ReadFloats(bTensor);
        int channels = (int)wTensor.Dims[0], perChannel = w.Length / channels;
        const float epsilon = 1e-5f;
        var (gamma, beta, mean, variance) = (new float[channels], new float[channels], new float[channels], new float[channels]);
        for (int c = 0; c < channels; c++)
        {
            gamma[c] = 0.5f + (float)random.NextDouble();
            variance[c] = 0.5f + (float)random.NextDouble();
            mean[c] = (float)random.NextDouble() - 0.5f;
            beta[c] = (float)random.NextDouble() - 0.5f;
            double k = gamma[c] / Math.Sqrt(variance[c] + epsilon);
            for (int i = 0; i < perChannel; i++) w[c * perChannel + i] = (float)(w[c * perChannel + i] / k);
            b[c] = (float)((b[c] - beta[c]) / k + mean[c]);
        }
        graph.Initializer[wIndex] = EdgeCompile.Compiler.Onnx.OnnxProtos.Floats(wTensor.Name, wTensor.Dims.ToArray(), w);
        graph.Initializer[bIndex] = EdgeCompile.Compiler.Onnx.OnnxProtos.Floats(bTensor.Name, bTensor.Dims.ToArray(), b);
        var names = new[] { "scale", "bias", "mean", "var" }.Select(p => $"{convName}/bn_{p}").ToArray();
        foreach (var (name, values) in names.Zip(new[] { gamma, beta, mean, variance }))
            graph.Initializer.Add(EdgeCompile.Compiler.Onnx.OnnxProtos.Floats(name, new long[] { channels }, values));
        var output = conv.Output[0];
        conv.Output[0] = output + "_before_bn";
        var bn = EdgeCompile.Compiler.Onnx.OnnxProtos.Node("BatchNormalization", convName + "/bn", new[] { conv.Output[0] }.Concat(names), new[] { output },
            new EdgeCompile.Compiler.Onnx.Proto.AttributeProto { Name = "epsilon", Type = EdgeCompile.Compiler.Onnx.Proto.AttributeProto.Types.AttributeType.Float, F = epsilon });
        graph.Node.Insert(graph.Node.IndexOf(conv) + 1, bn);
    }

    private sealed record ConvShape(long In, long Out, long Groups);

    private static Dictionary<string, ConvShape> ConvShapes(Plan plan) =>
        plan.Ops.Where(op => op.Kernel == "Conv2d").ToDictionary(op => op.Node, op => new ConvShape(
            long.Parse(Parameter(op, "inChannels")), long.Parse(Parameter(op, "outChannels")), long.Parse(Parameter(op, "groups"))));

    private static string Parameter(PlanOp op, string name) => op.Parameters.Single(p => p.Name == name).Value;

    private static int[] Labels(float[] logits, int count)
    {
        int classes = logits.Length / count;
        return Enumerable.Range(0, count).Select(s => Enumerable.Range(0, classes).MaxBy(j => logits[s * classes + j])).ToArray();
    }

    private static long[] Dims(string onnx, string initializer)
    {
        var model = EdgeCompile.Compiler.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
        return model.Graph.Initializer.Single(t => t.Name == initializer).Dims.ToArray();
    }

    private static Dictionary<string, float[]> Intermediates(string onnx, string[] values, List<(string Name, Array Values, int[] Shape)> inputs)
    {
        using var session = new OnnxIntermediates(onnx).SessionExposing(values);
        return FixturePlan.RunOnnxRuntime(session, inputs, values);
    }
}
