using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Calibration;

/// <summary>
/// Activation ranges from the calibration set, against the same statistics computed directly (sorting) from ONNX
/// Runtime's values of each Dense layer's input on the same samples.
/// </summary>
public sealed class ActivationRangesTests(ITestOutputHelper output)
{
    private const double BinWidth = 1.0 / 128;   // AbsHistogram: 128 bins per octave

    /// <summary>The <paramref name="percent"/>-th percentile of |x| by sorting: the smallest value ≥ that share of the values.</summary>
    private static float ExactPercentile(IEnumerable<float> values, double percent)
    {
        var sorted = values.Select(MathF.Abs).Order().ToArray();
        long rank = Math.Max(1, (long)Math.Ceiling(percent / 100 * sorted.Length));
        return sorted[rank - 1];
    }

    [Fact]
    public void Histogram_percentile_is_the_sorted_one_to_within_a_bin()
    {
        var random = new Random(3);
        // Heavy tailed, both signs, some exact zeros.
        var values = Enumerable.Range(0, 50_000).Select(i => i % 97 == 0 ? 0f : (float)(Math.Tan((random.NextDouble() - 0.5) * 3.1) * 0.3)).ToArray();
        var h = new AbsHistogram();
        h.Add(values.AsSpan(0, 20_000));
        h.Add(values.AsSpan(20_000));
        Assert.Equal(values.Max(MathF.Abs), h.MaxAbs);
        Assert.Equal(values.Length, h.Count);
        foreach (double p in new[] { 50, 90, 99, 99.9, 99.99, 100 })
        {
            float exact = ExactPercentile(values, p), ours = h.Percentile(p);
            Assert.True(ours >= exact && ours <= exact * (1 + BinWidth), $"p{p}: {ours} vs sorted {exact}");
        }
    }

    [Fact]
    public void Dense_input_ranges_match_onnx_runtime_values_on_the_calibration_samples()
    {
        const string family = "bert";
        var plan = FixturePlan.Build(family, "batch=1;sequence=64");
        var set = CalibrationSet.Load(Path.Combine(Repository.Fixture(family), "calibration"), plan);
        var samples = set.Samples().Take(8).ToList();

        var ranges = ActivationRanges.Collect(new PlanInterpreter(plan), samples);

        var dense = plan.Ops.Where(ActivationRanges.IsQuantizableDense).ToList();
        Assert.Equal(dense.Select(o => o.Node).Distinct().Order(), ranges.Keys.Order());

        // Direct computation: every x value ONNX Runtime computes for the same samples, per layer.
        var onnx = new OnnxIntermediates(FixturePlan.ModelPath(family));
        var layers = dense.Select(op => (op.Node, X: onnx.DenseInput(op.Node))).Where(l => l.X is not null).ToList();
        Assert.True(layers.Count >= 8);
        var values = layers.ToDictionary(l => l.Node, _ => new List<float>());
        using var session = onnx.SessionExposing(layers.Select(l => l.X!));
        foreach (var sample in samples)
        {
            var inputs = plan.Inputs.Select((input, i) => (input.Name, sample.Inputs[i], new[] { 1, (int)sample.Dims["sequence"] }));
            var result = FixturePlan.RunOnnxRuntime(session, inputs, layers.Select(l => l.X!).Distinct().ToArray());
            foreach (var (node, x) in layers) values[node].AddRange(result[x!]);
        }
        foreach (var (node, x) in values)
        {
            var r = ranges[node];
            float max = x.Max(MathF.Abs), p = ExactPercentile(x, ActivationRanges.Percent);
            output.WriteLine($"{node}: {r.Count} values, max |x| {r.MaxAbs} (ORT {max}), p99.99 {r.PercentileAbs} (ORT sorted {p}), scales {r.Int8Scale(RangeMethod.MinMax)} / {r.Int8Scale(RangeMethod.Percentile)}");
            Assert.Equal(x.Count, r.Count);
            Assert.True(Math.Abs(r.MaxAbs - max) <= 1e-4 * max, $"{node}: max |x| {r.MaxAbs} vs {max}");
            Assert.True(r.PercentileAbs >= p * (1 - 1e-4) && r.PercentileAbs <= p * (1 + BinWidth) * (1 + 1e-4), $"{node}: p99.99 {r.PercentileAbs} vs {p}");
            Assert.True(r.PercentileAbs <= r.MaxAbs);
            Assert.Equal(r.MaxAbs / 127f, r.Int8Scale(RangeMethod.MinMax));
            Assert.Equal(r.PercentileAbs / 127f, r.Int8Scale(RangeMethod.Percentile));
        }
    }

    [Fact]
    public void An_all_zero_input_gets_scale_one()
    {
        var r = new LayerRange("n", 10, 0, 0);
        Assert.Equal(1f, r.Int8Scale(RangeMethod.MinMax));
        Assert.Equal(1f, r.Int8Scale(RangeMethod.Percentile));
    }
}
