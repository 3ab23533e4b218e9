using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// The second moments <c>H = XᵀX</c> of every constant-weight Dense's input over a calibration set, summed over all
/// rows (tokens, patches, samples), measured by running the FP32 plan in the plan interpreter. What the OBS-style
/// updates need: GPTQ rounding (<see cref="Quantization.Int4Gptq"/>) and SparseGPT pruning (<see cref="Pruning.SparseGpt"/>).
/// </summary>
public static class DenseInputMoments
{
    /// <summary>Keyed by the Dense's node name: its input width K and H (<c>[K,K]</c> row-major).</summary>
    public static Dictionary<string, (int K, double[] H)> Collect(Plan fp32, IEnumerable<CalibrationSample> samples)
    {
        var k = fp32.Ops.Where(ActivationRanges.IsQuantizableDense)
            .GroupBy(op => op.Node, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (int)fp32.Shapes.First(s => s.Name == g.First().TypeArguments[0]).Members.First(m => m.Member == "K").Value, StringComparer.Ordinal);
        var sums = k.ToDictionary(p => p.Key, p => (p.Value, new double[(long)p.Value * p.Value]), StringComparer.Ordinal);
        var tap = new PlanTap(ActivationRanges.IsQuantizableDense, (op, index, x) =>
        {
            if (index != 0) return;
            var (width, h) = sums[op.Node];
            var row = new double[width];
            for (int r = 0; r + width <= x.Length; r += width)
            {
                for (int i = 0; i < width; i++) row[i] = x[r + i];
                for (int i = 0; i < width; i++)
                {
                    double xi = row[i];
                    if (xi == 0) continue;
                    var line = h.AsSpan(i * width, width);
                    for (int j = 0; j < width; j++) line[j] += xi * row[j];
                }
            }
        });
        var interpreter = new PlanInterpreter(fp32);
        foreach (var sample in samples) interpreter.Run(sample, tap);
        return sums;
    }
}
