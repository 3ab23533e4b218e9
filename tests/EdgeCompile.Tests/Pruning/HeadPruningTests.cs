using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// Structured pruning of attention heads on the fixtures whose attention is fed by constant-weight Dense projections
/// and feeds an output-projection Dense (bert, distilbert, mobilebert, vit, mobilevit; all 2 layers of 4 heads):
/// the plan's attention really runs fewer heads over narrower projections, and it computes what ONNX Runtime
/// computes on the pruned ONNX file (removed heads written as zero output-projection rows).
/// </summary>
public sealed class HeadPruningTests(ITestOutputHelper output)
{
    private const int Heads = 4;

    public static TheoryData<string> Covered => new() { "bert", "distilbert", "mobilebert", "vit", "mobilevit" };

    [Theory]
    [MemberData(nameof(Covered))]
    public void Heads_and_projections_shrink_in_the_plan(string family)
    {
        using var unpruned = PrunedBuild.Compile(family, 0, calibrated: false);
        using var pruned = PrunedBuild.Compile(family, 0.5, calibrated: false);
        var before = AttentionHeads(unpruned.Plan);
        var after = AttentionHeads(pruned.Plan);
        Assert.NotEmpty(before);
        Assert.All(before, h => Assert.Equal(Heads, h));
        // round(4 · (1 − 0.5)) = 2 heads per layer (mobilebert: its per-dimension fraction, README "Pruning").
        int kept = KeptHeads(family, 0.5);
        Assert.Equal(before.Count, after.Count);
        Assert.All(after, h => Assert.Equal(kept, h));

        // The q/k/v projections lose half their columns and the output projections half their rows: the plan's
        // total Dense work (K·N summed) falls by more than the FFN pruning alone removes.
        var denseBefore = DenseShapes(unpruned.Plan);
        var denseAfter = DenseShapes(pruned.Plan);
        long ffnOnly = FfnSavings(denseBefore, denseAfter);
        long total = denseBefore.Sum(s => s.K * s.N) - denseAfter.Sum(s => s.K * s.N);
        output.WriteLine($"{family}: heads {string.Join(",", before)} → {string.Join(",", after)}; Dense K·N {denseBefore.Sum(s => s.K * s.N):N0} → {denseAfter.Sum(s => s.K * s.N):N0}");
        Assert.True(total > ffnOnly, $"{family}: Dense work fell by {total}, no more than the FFN's {ffnOnly}");
        Assert.Contains(pruned.Result.Messages, m => m.Message.Contains($"attention layers, heads {before.Count * Heads} → {before.Count * kept}"));
        Assert.DoesNotContain(pruned.Result.Messages, m => m.Code == Codes.AttentionHeadsKept);
    }

    [Theory]
    [InlineData("bert", false)]
    [InlineData("bert", true)]
    [InlineData("distilbert", true)]
    [InlineData("mobilebert", true)]
    [InlineData("vit", false)]
    [InlineData("vit", true)]
    [InlineData("mobilevit", true)]
    public void Pruned_plan_matches_onnx_runtime_with_equal_labels_on_the_test_set(string family, bool calibrated)
    {
        using var build = PrunedBuild.Compile(family, 0.5, calibrated);
        var set = FixtureTestSet.Load(family);
        var ours = build.InterpretedLogits(set, set.Count);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, set.Count);
        double worst = FixturePlan.MaxAbsDifference(ours, reference);
        int classes = ours.Length / set.Count, differ = 0;
        for (int s = 0; s < set.Count; s++) differ += ArgMax(ours, s, classes) != ArgMax(reference, s, classes) ? 1 : 0;
        output.WriteLine($"{family} prune 0.5 calibrated={calibrated}: max |ours − ORT(pruned)| {worst:E2} over {set.Count} samples, labels differ on {differ}; accuracy ours {PrunedBuild.Accuracy(ours, set.Labels):P1}, ORT {PrunedBuild.Accuracy(reference, set.Labels):P1}");
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:E2} > 1e-4");
        Assert.Equal(0, differ);
        // The pruned file is a different model: otherwise the comparison above would not show the pruning was written.
        var unpruned = PrunedBuild.OnnxRuntimeLogits(FixturePlan.ModelPath(family), set, 64);
        Assert.True(FixturePlan.MaxAbsDifference(unpruned, reference[..unpruned.Length]) > 1e-3);
    }

    /// <summary>
    /// The heads alone: the pruned ONNX file zeroes the removed heads' output-projection rows, so a file that only
    /// differs from the original there must differ in its logits (else the writer wrote nothing), and compensation,
    /// measured by ONNX Runtime on the calibration inputs against the original model, lowers the error.
    /// </summary>
    [Theory]
    [InlineData("bert")]
    [InlineData("vit")]
    [InlineData("mobilebert")]
    public void Compensation_lowers_the_calibration_error_and_the_report_has_every_layer(string family)
    {
        using var dropped = PrunedBuild.Compile(family, 0.5, calibrated: true, compensate: false);
        using var refit = PrunedBuild.Compile(family, 0.5, calibrated: true);
        // ONNX Runtime on each pruned file against the original model, on the calibration inputs.
        double errorDropped = dropped.CalibrationError(), errorRefit = refit.CalibrationError();
        var report = File.ReadAllText(refit.PruningReport);
        output.WriteLine($"{family} prune 0.5: logits relative error on the calibration set (ORT), dropped {errorDropped:0.####}, compensated {errorRefit:0.####}");
        output.WriteLine(report);
        output.WriteLine(refit.Result.Messages.Single(m => m.Message.Contains("pruned 0.5 structured")).Message);
        Assert.True(errorRefit < errorDropped, $"compensated {errorRefit} ≥ dropped {errorDropped}");
        var rows = report.Split('\n').Where(l => l.Contains($"| {Heads} → {KeptHeads(family, 0.5)} |")).ToList();
        Assert.Equal(2, rows.Count);
        Assert.DoesNotContain("(not used)", report);
        Assert.Contains("heads ranked by sqrt(E‖o_h·W_o[rows of h]‖²)", report);
    }

    [Fact]
    public void Efficientformer_keeps_its_heads_with_a_coded_message_and_still_prunes_its_ffn()
    {
        using var unpruned = PrunedBuild.Compile("efficientformer", 0, calibrated: false);
        using var pruned = PrunedBuild.Compile("efficientformer", 0.5, calibrated: true);
        // Its learned attention biases differ per head: the attention stays whole, the FFN blocks still shrink.
        var kept = pruned.Result.Messages.Where(m => m.Code == Codes.AttentionHeadsKept).ToList();
        Assert.NotEmpty(kept);
        Assert.All(kept, m => Assert.Contains("differs per head", m.Message));
        Assert.Equal(AttentionHeads(unpruned.Plan), AttentionHeads(pruned.Plan));
        Assert.True(pruned.Plan.Parameters < unpruned.Plan.Parameters);

        var set = FixtureTestSet.Load("efficientformer");
        var ours = pruned.InterpretedLogits(set, 64);
        var reference = PrunedBuild.OnnxRuntimeLogits(pruned.PrunedOnnx, set, 64);
        Assert.True(FixturePlan.MaxAbsDifference(ours, reference) <= 1e-4);
    }

    [Theory]
    [InlineData(4, 0.5, 2)]
    [InlineData(4, 0.25, 3)]
    [InlineData(4, 0.4, 2)]
    [InlineData(4, 0.1, 4)]
    [InlineData(4, 0.9, 1)]
    [InlineData(12, 0.4, 7)]
    [InlineData(12, 0.375, 8)]
    public void Kept_head_count_is_rounded_half_up_and_at_least_one(int heads, double fraction, int kept) =>
        Assert.Equal(kept, EdgeCompile.Compiler.Pruning.HeadRanking.KeptCount(heads, fraction));

    /// <summary>
    /// Heads kept per layer: Prune itself is the per-dimension fraction, except for a model with residual channel groups
    /// (mobilebert), where it is the one that removes Prune of the prunable weights (ResidualChannelPruningTests).
    /// </summary>
    private static int KeptHeads(string family, double fraction) =>
        EdgeCompile.Compiler.Pruning.HeadRanking.KeptCount(Heads,
            EdgeCompile.Compiler.Pruning.ResidualChannelPruner.PerDimensionFraction(ResidualChannelPruningTests.FusedGraph(family), fraction));

    private static List<long> AttentionHeads(Plan plan) =>
        plan.Ops.Where(op => op.Kernel == "Attention").Select(op => long.Parse(op.Parameters.First(p => p.Name == "heads").Value)).ToList();

    private static List<(long K, long N)> DenseShapes(Plan plan) =>
        plan.Ops.Where(op => op.Kernel == "Dense" && op.TypeArguments.Count > 0).Select(op =>
        {
            var members = plan.Shapes.First(s => s.Name == op.TypeArguments[0]).Members;
            return (members.First(m => m.Member == "K").Value, members.First(m => m.Member == "N").Value);
        }).ToList();

    /// <summary>What halving the FFN width (the only layers with K or N = 128 in these fixtures) saves.</summary>
    private static long FfnSavings(List<(long K, long N)> before, List<(long K, long N)> after) =>
        before.Where(s => s.K == 128 || s.N == 128).Sum(s => s.K * s.N) / 2;

    private static int ArgMax(float[] logits, int sample, int classes)
    {
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (logits[sample * classes + j] > logits[sample * classes + best]) best = j;
        return best;
    }
}
