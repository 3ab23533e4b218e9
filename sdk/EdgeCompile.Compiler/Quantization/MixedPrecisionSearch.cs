using System;
using System.Collections.Generic;
using System.Linq;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>One layer the mixed-precision search may place, with its weight bytes at each precision.</summary>
public sealed record QuantizableLayer(string Node, long Fp32Bytes, long Fp16Bytes, long Int8Bytes);

/// <summary>The output error with only this layer quantized (the rest FP32), per precision.</summary>
public sealed record LayerSensitivity(string Node, double Int8Error, double Fp16Error);

/// <summary>What the search chose, what it measured, and how many model evaluations that took.</summary>
public sealed record MixedPrecisionResult(
    IReadOnlyDictionary<string, Precision> Choice, IReadOnlyList<LayerSensitivity> Sensitivities, double Error, int Evaluations);

/// <summary>
/// Chooses INT8, FP16 or FP32 per layer so that the model's output error stays within a budget, cheapest first.
/// </summary>
/// <remarks>
/// The error of a configuration is measured, never estimated: <c>error</c> runs the model on the calibration set
/// with the given precisions (layers not named stay FP32) and returns its output error against FP32.
/// <list type="number">
/// <item>Sensitivity: each layer alone at INT8 and alone at FP16 (2 evaluations per layer).</item>
/// <item>Start with every layer at INT8 and measure.</item>
/// <item>While over budget, promote one layer one step (INT8 → FP16 → FP32): the one whose promotion buys the
/// most error per added byte, estimated from the sensitivities (independent rounding noise adds in squares, so the
/// estimate is the drop in squared single-layer error over the bytes it costs), then measure again.</item>
/// </list>
/// At most four evaluations per layer in all (two for sensitivity, one per promotion step); the last measured
/// configuration is the answer, so the returned error is the one of the choice returned (0 once everything is FP32).
/// </remarks>
public static class MixedPrecisionSearch
{
    public static MixedPrecisionResult Run(
        IReadOnlyList<QuantizableLayer> layers, Func<IReadOnlyDictionary<string, Precision>, double> error, double budget)
    {
        if (budget < 0 || double.IsNaN(budget)) throw new ArgumentOutOfRangeException(nameof(budget), budget, "The error budget must be a non-negative number.");
        int evaluations = 0;
        double Measure(IReadOnlyDictionary<string, Precision> choice)
        {
            evaluations++;
            double e = error(choice);
            if (double.IsNaN(e) || e < 0) throw new InvalidOperationException($"the error measure returned {e}");
            return e;
        }

        var sensitivities = layers.Select(l => new LayerSensitivity(l.Node,
            Measure(new Dictionary<string, Precision> { [l.Node] = Precision.Int8 }),
            Measure(new Dictionary<string, Precision> { [l.Node] = Precision.Fp16 }))).ToList();
        var byNode = layers.Zip(sensitivities).ToDictionary(p => p.First.Node, p => (Layer: p.First, Sensitivity: p.Second));

        var choice = layers.ToDictionary(l => l.Node, _ => Precision.Int8);
        double current = layers.Count == 0 ? 0 : Measure(choice);
        while (current > budget)
        {
            string? best = null;
            double bestGain = double.NegativeInfinity;
            foreach (var (node, precision) in choice)
            {
                if (precision == Precision.Fp32) continue;
                var (layer, s) = byNode[node];
                double gain = precision == Precision.Int8
                    ? (s.Int8Error * s.Int8Error - s.Fp16Error * s.Fp16Error) / Math.Max(1, layer.Fp16Bytes - layer.Int8Bytes)
                    : s.Fp16Error * s.Fp16Error / Math.Max(1, layer.Fp32Bytes - layer.Fp16Bytes);
                if (gain > bestGain) (best, bestGain) = (node, gain);
            }
            if (best is null) break; // everything is FP32 already
            choice[best] = choice[best] == Precision.Int8 ? Precision.Fp16 : Precision.Fp32;
            current = choice.Values.All(p => p == Precision.Fp32) ? 0 : Measure(choice);
        }
        return new MixedPrecisionResult(choice, sensitivities, current, evaluations);
    }
}
