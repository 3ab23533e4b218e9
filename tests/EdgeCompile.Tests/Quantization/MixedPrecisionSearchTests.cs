using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Quantization;
using Xunit;

namespace EdgeCompile.Tests.Quantization;

public class MixedPrecisionSearchTests
{
    // A stand-in model whose layers add independent noise: its error is exactly the root of the summed squares of
    // each layer's own error, so the best choice under a budget can be worked out by hand.
    private static readonly Dictionary<string, (double Int8, double Fp16)> Noise = new()
    {
        ["embeddings"] = (0.004, 0.0002),
        ["attention"] = (0.003, 0.0001),
        ["ffn.up"] = (0.002, 0.0001),
        ["ffn.down"] = (0.020, 0.0010), // the sensitive one
        ["classifier"] = (0.001, 0.0000),
    };

    private static readonly QuantizableLayer[] Layers = Noise.Keys.Select(n => new QuantizableLayer(n, 4000, 2000, 1000)).ToArray();

    private static double Error(IReadOnlyDictionary<string, Precision> choice) => Math.Sqrt(choice.Sum(c => c.Value switch
    {
        Precision.Int8 => Noise[c.Key].Int8 * Noise[c.Key].Int8,
        Precision.Fp16 => Noise[c.Key].Fp16 * Noise[c.Key].Fp16,
        _ => 0,
    }));

    [Fact]
    public void A_loose_budget_keeps_every_layer_int8()
    {
        var result = MixedPrecisionSearch.Run(Layers, Error, budget: 0.1);
        Assert.All(result.Choice.Values, p => Assert.Equal(Precision.Int8, p));
        Assert.Equal(2 * Layers.Length + 1, result.Evaluations);
    }

    [Fact]
    public void The_sensitive_layer_is_promoted_first_and_the_result_is_within_budget()
    {
        var result = MixedPrecisionSearch.Run(Layers, Error, budget: 0.01);
        Assert.Equal(Precision.Fp16, result.Choice["ffn.down"]);
        Assert.All(result.Choice.Where(c => c.Key != "ffn.down"), c => Assert.Equal(Precision.Int8, c.Value));
        Assert.True(result.Error <= 0.01);
        Assert.Equal(Error(result.Choice), result.Error, 12);
        var ffnDown = result.Sensitivities.Single(s => s.Node == "ffn.down");
        Assert.Equal(0.020, ffnDown.Int8Error, 12);
        Assert.Equal(0.001, ffnDown.Fp16Error, 12);
    }

    [Fact]
    public void A_zero_budget_ends_in_fp32_or_exact_layers_within_four_evaluations_per_layer()
    {
        var result = MixedPrecisionSearch.Run(Layers, Error, budget: 0);
        Assert.Equal(0, result.Error);
        Assert.All(result.Choice.Where(c => c.Key != "classifier"), c => Assert.Equal(Precision.Fp32, c.Value));
        Assert.True(result.Evaluations <= 4 * Layers.Length, $"{result.Evaluations} evaluations");
    }

    [Fact]
    public void A_negative_budget_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => MixedPrecisionSearch.Run(Layers, Error, budget: -1));
}
