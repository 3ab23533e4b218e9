using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>How a static INT8 input range is taken from the calibration activations.</summary>
public enum RangeMethod
{
    /// <summary>The largest |x| seen: nothing clips on the calibration data.</summary>
    MinMax,
    /// <summary>A high percentile of |x| (<see cref="ActivationRanges.Percent"/>): rare outliers clip, the rest gets finer steps.</summary>
    Percentile,
}

/// <summary>The |x| statistics of one constant-weight Dense layer's input over the calibration set.</summary>
public sealed record LayerRange(string Node, long Count, float MaxAbs, float PercentileAbs)
{
    /// <summary>
    /// The static INT8 input scale of docs/quantization.md: <c>inputScale = range / 127</c>, so that
    /// <c>q_x = clamp(round(x / inputScale), -127, 127)</c> spans the range. An input that was all zeros gets 1 (as a
    /// zero weight column does): any positive scale quantizes it exactly, and 0 would mean dynamic quantization.
    /// </summary>
    public float Int8Scale(RangeMethod method)
    {
        float range = method == RangeMethod.MinMax ? MaxAbs : PercentileAbs;
        return range > 0 ? range / 127f : 1f;
    }
}

/// <summary>
/// Collects, through the interpreter's tap, the range of the input <c>x</c> of every constant-weight Dense (the
/// shape-specialised <c>Dense&lt;...&gt;</c> ops, the layers INT8 can take), keyed by <see cref="PlanOp.Node"/> as
/// <see cref="Quantization.LayerChoice"/>s are. Per layer: max |x| (MinMax) and the <see cref="Percent"/>-th
/// percentile of |x| from an <see cref="AbsHistogram"/> (within 0.78 %, rounded up).
/// </summary>
public static class ActivationRanges
{
    /// <summary>The percentile <see cref="RangeMethod.Percentile"/> uses.</summary>
    public const double Percent = 99.99;

    public static IReadOnlyDictionary<string, LayerRange> Collect(PlanInterpreter interpreter, IEnumerable<CalibrationSample> samples, double percent = Percent)
    {
        var histograms = new Dictionary<string, AbsHistogram>(StringComparer.Ordinal);
        var tap = new PlanTap(IsQuantizableDense, (op, index, values) =>
        {
            if (index != 0) return;   // x; the weights and bias are constants
            if (!histograms.TryGetValue(op.Node, out var h)) histograms[op.Node] = h = new AbsHistogram();
            h.Add(values);
        });
        int count = 0;
        foreach (var sample in samples)
        {
            try
            {
                interpreter.Run(sample, tap);
            }
            catch (ArgumentException e)
            {
                throw new InvalidOperationException($"calibration sample {sample.Source}: {e.Message}", e);
            }
            count++;
        }
        if (count == 0) throw new ArgumentException("the calibration set has no samples.", nameof(samples));
        return histograms.ToDictionary(p => p.Key, p => new LayerRange(p.Key, p.Value.Count, p.Value.MaxAbs, p.Value.Percentile(percent)), StringComparer.Ordinal);
    }

    /// <summary>A Dense whose weights are constants (packed and shape-specialised at build time).</summary>
    public static bool IsQuantizableDense(PlanOp op) => op.Kernel == "Dense" && op.TypeArguments.Count > 0;
}
