using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Calibration;

/// <summary>
/// The plan interpreter on every fixture's FP32 plan, against ONNX Runtime on the same ONNX file: a batch of test
/// samples at the padded length and, for text, single samples at their true length.
/// </summary>
public sealed class PlanInterpreterFixtureTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    /// <summary>Every family; panel width 16 (portable) and 32 (x64-avx512, run by whatever this CPU has) between them.</summary>
    public static TheoryData<string, string> Families => new()
    {
        { "bert", "portable" }, { "distilbert", "x64-avx512" }, { "mobilebert", "portable" },
        { "vit", "x64-avx512" }, { "mobilevit", "portable" }, { "efficientformer", "x64-avx2" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void Matches_onnx_runtime_on_a_batch_of_test_samples(string family, string profile)
    {
        var set = FixtureTestSet.Load(family);
        var plan = FixturePlan.Build(family, set.IsText ? "batch=8;sequence=64" : "batch=8", profile);
        var interpreter = new PlanInterpreter(plan);
        using var session = FixturePlan.Session(family);

        const int start = 10, count = 5;
        var inputs = set.Batch(start, count);
        var expected = FixturePlan.RunOnnxRuntime(session, inputs, "logits")["logits"];
        var dims = set.IsText ? new Dictionary<string, long> { ["batch"] = count, ["sequence"] = inputs[0].Shape[1] } : new Dictionary<string, long> { ["batch"] = count };
        var actual = (float[])interpreter.Run(inputs.Select(i => i.Values).ToArray(), dims)[0];

        double worst = FixturePlan.MaxAbsDifference(actual, expected);
        output.WriteLine($"{family} ({profile}): {plan.Ops.Count} ops, max |logit diff| {worst:E2}; kernels {string.Join(" ", plan.Ops.Select(o => o.Kernel + (o.TypeArguments.Count > 0 ? "<>" : "")).Distinct().Order())}");
        Assert.True(worst <= Tolerance, $"max |logit diff| {worst:E3} > {Tolerance}");
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("distilbert")]
    [InlineData("mobilebert")]
    public void Matches_onnx_runtime_at_each_samples_true_length(string family)
    {
        var set = FixtureTestSet.Load(family);
        var interpreter = new PlanInterpreter(FixturePlan.Build(family, "batch=8;sequence=64"));
        using var session = FixturePlan.Session(family);
        double worst = 0;
        var lengths = new HashSet<long>();
        // Most mails fill all 64 tokens: one sample for each of 6 lengths spread over the distinct lengths there are.
        var firstOfLength = Enumerable.Range(0, set.Count).GroupBy(set.Length).OrderBy(g => g.Key).Select(g => g.First()).ToArray();
        foreach (int s in Enumerable.Range(0, 6).Select(q => firstOfLength[q * (firstOfLength.Length - 1) / 5]))
        {
            int length = Math.Max(1, set.Length(s));
            lengths.Add(length);
            var inputs = set.Batch(s, 1, length);
            var expected = FixturePlan.RunOnnxRuntime(session, inputs, "logits")["logits"];
            var actual = (float[])interpreter.Run(inputs.Select(i => i.Values).ToArray(), new Dictionary<string, long> { ["batch"] = 1, ["sequence"] = length })[0];
            worst = Math.Max(worst, FixturePlan.MaxAbsDifference(actual, expected));
        }
        output.WriteLine($"{family}: lengths {string.Join(",", lengths)}, max |logit diff| {worst:E2}");
        Assert.True(lengths.Count > 1, "the samples should cover several lengths");
        Assert.True(worst <= Tolerance, $"max |logit diff| {worst:E3} > {Tolerance}");
    }
}
