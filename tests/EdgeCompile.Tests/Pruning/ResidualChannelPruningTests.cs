using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// Structured pruning of MobileBERT's NoNorm channel groups (<see cref="ResidualChannelGroup"/>): per layer the 32-wide
/// intra-block stream (fixture size; 128 in google/mobilebert-uncased) and the shared q/k bottleneck. The plan's Dense
/// layers lose those rows and columns, Prune stays the fraction of the prunable weights removed, the plan computes what
/// ONNX Runtime computes on the pruned file (and, quantized, on the quantized reference), and LayerNorm models have no
/// such groups, so they prune as before.
/// </summary>
public sealed class ResidualChannelPruningTests(ITestOutputHelper output)
{
    private const int Intra = 32, Layers = 2;

    /// <summary>The fused graph the pruning passes see (as ModelCompiler.Build makes it when pruning).</summary>
    public static Graph FusedGraph(string family)
    {
        var graph = OnnxImporter.Import(FixturePlan.ModelPath(family));
        ShapeInference.Run(graph);
        DeadCode.Run(graph);
        Fusion.Run(graph, foldAffineIntoDense: false);
        DeadCode.Run(graph);
        return graph;
    }

    [Fact]
    public void Mobilebert_has_an_intra_block_and_a_shared_bottleneck_group_per_layer()
    {
        var groups = ResidualChannelGroup.Find(FusedGraph("mobilebert"));
        foreach (var g in groups)
            output.WriteLine($"{g.Channels} channels: producers {string.Join(", ", g.Producers.Select(p => p.Name))}; {g.ScaleShifts.Count} NoNorms; consumers {string.Join(", ", g.Consumers.Select(c => c.Name))}");
        Assert.Equal(2 * Layers, groups.Count);
        Assert.All(groups, g => Assert.Equal(Intra, g.Channels));
        // Intra-block: bottleneck input, attention output, 1 extra FFN's output, output dense; NoNorms: those 4; consumers:
        // the extra FFN's intermediate, the last intermediate, the output bottleneck.
        Assert.Equal(Layers, groups.Count(g => g.Producers.Count == 4 && g.ScaleShifts.Count == 4 && g.Consumers.Count == 3));
        // Shared q/k bottleneck: its Dense and NoNorm, read by the merged q|k projection (64 columns: q and k).
        Assert.Equal(Layers, groups.Count(g => g.Producers.Count == 1 && g.ScaleShifts.Count == 1 && g.Consumers is [var qk] && qk.In(1).Const!.Shape[1] == 2 * Intra));
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("distilbert")]
    [InlineData("vit")]
    [InlineData("mobilevit")]
    [InlineData("efficientformer")]
    public void LayerNorm_and_conv_models_have_no_group_and_keep_prune_per_dimension(string family)
    {
        var graph = FusedGraph(family);
        Assert.Empty(ResidualChannelGroup.Find(graph));
        // The fraction reaches the head, FFN and conv pruners unchanged: their plans are those of before this pass.
        Assert.Equal(0.4, ResidualChannelPruner.PerDimensionFraction(graph, 0.4));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Prune_is_the_fraction_of_prunable_weights_and_every_member_shrinks(bool calibrated)
    {
        var (plan0, _) = Build(0, calibrated: false);
        var (plan, report) = Build(0.4, calibrated);
        output.WriteLine(report.ToMarkdown());
        Assert.NotNull(report.DimensionFraction);
        double p = report.DimensionFraction!.Value;
        Assert.Equal(0.4, report.Fraction);
        Assert.Equal(2 * Layers, report.ResidualGroups.Count);
        int kept = report.ResidualGroups[0].Kept;
        Assert.All(report.ResidualGroups, g => Assert.Equal((Intra, kept), (g.Channels, g.Kept)));
        Assert.True(kept < Intra && kept % ResidualChannelPruner.ChannelMultiple == 0, $"kept {kept}");

        var before = DenseShapes(plan0);
        var after = DenseShapes(plan);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        // Per layer, rows 32 → kept: the q|k projection, both FFN intermediates, the output bottleneck; columns 32 → kept:
        // the bottleneck input and attention Dense, the attention output, both FFN outputs.
        Assert.Equal(4 * Layers, before.Count(b => b.Value.K == Intra && b.Value.N != Intra && after[b.Key].K == kept));
        // (The v projection is 32 wide too, in heads: it may also end at kept, so at least 5.)
        Assert.True(before.Count(b => b.Value.N == Intra && after[b.Key].N == kept) >= 5 * Layers);

        // Independently of the pass's own accounting: the Dense weights of the layers that shrank lose Prune of their
        // total (within the rounding of kept counts: 8 channels, 16 neurons, whole heads).
        var changed = before.Keys.Where(k => after[k] != before[k]).ToList();
        double total = changed.Sum(k => (double)before[k].K * before[k].N);
        double removed = total - changed.Sum(k => (double)after[k].K * after[k].N);
        output.WriteLine($"per-dimension fraction {p}; Dense weights of the {changed.Count} pruned layers {total:N0} → {total - removed:N0}: {removed / total:P1} removed");
        // The fixture's dimensions are small (4 heads, 64 neurons, 32 channels: steps of 1, 16 and 8), so the nearest
        // reachable fraction is 36 % (3 heads, 48 neurons, 24 channels); the next step removes about two thirds.
        Assert.InRange(removed / total, 0.3, 0.5);
        Assert.InRange(p, 0.1, 0.375);
    }

    [Theory]
    [InlineData(0.4, false)]
    [InlineData(0.4, true)]
    [InlineData(0.6, true)]
    public void Pruned_plan_matches_onnx_runtime_on_the_pruned_file_with_equal_labels(double fraction, bool calibrated)
    {
        using var build = PrunedBuild.Compile("mobilebert", fraction, calibrated);
        var set = FixtureTestSet.Load("mobilebert");
        var ours = build.InterpretedLogits(set, set.Count);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, set.Count);
        double worst = FixturePlan.MaxAbsDifference(ours, reference);
        int differ = Differ(ours, reference, set.Count);
        // The pruned file's intra-block initializers are narrower than the original's.
        // Per layer 5 producer biases and 5 NoNorms' γ and β, 32 long in the original file.
        var original = OnnxModelFile.Load(FixturePlan.ModelPath("mobilebert")).Graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        var narrower = OnnxModelFile.Load(build.PrunedOnnx).Graph.Initializer.Count(t => original[t.Name] is [Intra] && t.Dims is [< Intra]);
        output.WriteLine($"mobilebert prune {fraction} calibrated={calibrated}: max |ours − ORT(pruned)| {worst:E2} over {set.Count} samples, labels differ on {differ}; narrowed initializers {narrower}");
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:E2} > 1e-4");
        Assert.Equal(0, differ);
        Assert.True(narrower >= Layers * 15, $"only {narrower} per-channel initializers narrowed");
    }

    /// <summary>
    /// A NoNorm γ that is not an initializer of its own but the output of an Identity of one, as the exporter writes
    /// equal initializers (the all-ones γ of a randomly initialised MobileBERT, the benchmark model): the pruned file
    /// gets an initializer of that name in place of the Identity and still computes the pruned plan.
    /// </summary>
    [Fact]
    public void A_nonorm_gamma_read_through_an_identity_is_written_as_its_own_initializer()
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-identity-").FullName;
        try
        {
            const string gamma = "layer.0.attention_output.LayerNorm.weight", shared = "shared_gamma";
            var model = OnnxModelFile.Load(FixturePlan.ModelPath("mobilebert"));
            var graph = model.Graph;
            graph.Initializer.Single(t => t.Name == gamma).Name = shared;
            var identity = new EdgeCompile.Compiler.Onnx.Proto.NodeProto { OpType = "Identity", Name = "identity_of_shared_gamma" };
            identity.Input.Add(shared);
            identity.Output.Add(gamma);
            graph.Node.Insert(0, identity);
            string edited = Path.Combine(dir, "model.onnx");
            OnnxModelFile.Save(model, edited);

            using var build = PrunedBuild.Compile("mobilebert", 0.4, calibrated: false, modelPath: edited);
            var set = FixtureTestSet.Load("mobilebert");
            var ours = build.InterpretedLogits(set, 64);
            var reference = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, 64);
            var written = OnnxModelFile.Load(build.PrunedOnnx).Graph;
            Assert.DoesNotContain(written.Node, n => n.Name == identity.Name);
            Assert.Equal(24, written.Initializer.Single(t => t.Name == gamma).Dims.Single());
            double worst = FixturePlan.MaxAbsDifference(ours, reference);
            output.WriteLine($"γ through an Identity: max |ours − ORT(pruned)| {worst:E2}");
            Assert.True(worst <= 1e-4, $"{worst:E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData(QuantizeMode.Int8)]
    [InlineData(QuantizeMode.Mixed)]
    [InlineData(QuantizeMode.Int4)]
    public void Pruned_and_quantized_plan_matches_onnx_runtime_on_the_quantized_reference(QuantizeMode mode)
    {
        using var build = PrunedBuild.Compile("mobilebert", 0.4, calibrated: true, quantize: mode);
        var set = FixtureTestSet.Load("mobilebert");
        const int samples = 32;
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        options.AddSessionConfigEntry(QuantizedOnnxWriter.OrtAccuracyLevelKey, QuantizedOnnxWriter.OrtAccuracyLevelValue);
        var ours = build.InterpretedLogits(set, samples);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.QuantizedOnnx, set, samples, options);
        double worst = FixturePlan.MaxAbsDifference(ours, reference);
        int differ = Differ(ours, reference, samples);
        var report = File.ReadAllText(build.QuantizationReport);
        output.WriteLine($"mobilebert Structured 0.4 + {mode}: max |ours − ORT(quantized reference)| {worst:E2}, labels differ on {differ}/{samples}");
        // As PrunedQuantizedReferenceTests: INT8 quantizes activations (one quantum may move), INT4 is weight-only.
        Assert.True(worst <= (mode == QuantizeMode.Int4 ? 1e-4 : 0.1), $"max |logit difference| {worst:E2}");
        Assert.Equal(0, differ);
        Assert.DoesNotContain("FP32 in the reference ONNX", report);
        Assert.Contains("Residual channel groups", report);
    }

    /// <summary>Issue 5's sweep rows for MobileBERT: accuracy of the plan at 0.2/0.4/0.6 against ONNX Runtime FP32.</summary>
    [Fact]
    public void Accuracy_at_02_04_06_with_and_without_calibration()
    {
        var set = FixtureTestSet.Load("mobilebert");
        double reference = PrunedBuild.Accuracy(PrunedBuild.OnnxRuntimeLogits(FixturePlan.ModelPath("mobilebert"), set, set.Count), set.Labels);
        var at04 = 0.0;
        foreach (var fraction in new[] { 0.2, 0.4, 0.6 })
            foreach (var calibrated in new[] { false, true })
            {
                using var build = PrunedBuild.Compile("mobilebert", fraction, calibrated);
                double accuracy = PrunedBuild.Accuracy(build.InterpretedLogits(set, set.Count), set.Labels);
                output.WriteLine($"mobilebert Structured {fraction} calibrated={calibrated}: accuracy {accuracy:P1} (ONNX Runtime FP32 {reference:P1}, {100 * (accuracy - reference):+0.0;-0.0} points); {build.Result.Messages.Single(m => m.Message.Contains("structured")).Message}");
                if (fraction == 0.4 && calibrated) at04 = accuracy;
            }
        Assert.True(at04 >= reference - 0.02 - 1e-9, $"Prune 0.4 with calibration: {at04:P1}, more than 2 points below {reference:P1}");
    }

    private static (Plan Plan, PruningReport Report) Build(double fraction, bool calibrated)
    {
        var request = new CompileRequest(FixturePlan.ModelPath("mobilebert"), "M", "N", PrunedBuild.MaxShapes("mobilebert"), "portable", "unused.edgeplan", "unused.edgeweights", "r",
            Prune: new PruneOptions { Fraction = fraction, CalibrationDirectory = calibrated ? PrunedBuild.Calibration("mobilebert") : null });
        var plan = ModelCompiler.Build(request, new List<CompilerMessage>(), out _, out var pruning);
        return (plan, pruning?.Report ?? new PruningReport(0));
    }

    private static Dictionary<string, (long K, long N)> DenseShapes(Plan plan) =>
        plan.Ops.Where(op => op.Kernel == "Dense" && op.TypeArguments.Count > 0).ToDictionary(op => op.Node, op =>
        {
            var members = plan.Shapes.First(s => s.Name == op.TypeArguments[0]).Members;
            return (members.First(m => m.Member == "K").Value, members.First(m => m.Member == "N").Value);
        });

    private static int Differ(float[] a, float[] b, int count)
    {
        int classes = a.Length / count, differ = 0;
        for (int s = 0; s < count; s++) differ += ArgMax(a, s, classes) != ArgMax(b, s, classes) ? 1 : 0;
        return differ;
    }

    private static int ArgMax(float[] logits, int sample, int classes)
    {
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (logits[sample * classes + j] > logits[sample * classes + best]) best = j;
        return best;
    }
}
