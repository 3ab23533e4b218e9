using System;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// Counts of |x| in bins that are the float values sharing their exponent and top 7 mantissa bits: 128 bins per
/// octave, each at most 2⁻⁷ ≈ 0.78 % wide relative to its lower edge, over the whole float range with no prior
/// knowledge of it (one pass, exact counts, deterministic). A percentile is then the upper edge of the bin holding
/// that rank: never below the true percentile, at most one bin width above it.
/// </summary>
public sealed class AbsHistogram
{
    private const int DroppedBits = 23 - 7;                 // keep 8 exponent + 7 mantissa bits of |x|
    private readonly long[] _counts = new long[1 << (31 - DroppedBits)];

    public long Count { get; private set; }
    public float MaxAbs { get; private set; }

    public void Add(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            float a = MathF.Abs(v);
            if (float.IsNaN(a)) throw new ArgumentException("a calibration activation is NaN: the model computes NaN on this calibration sample.");
            _counts[BitConverter.SingleToInt32Bits(a) >> DroppedBits]++;
            if (a > MaxAbs) MaxAbs = a;
        }
        Count += values.Length;
    }

    /// <summary>
    /// The <paramref name="percent"/>-th percentile of |x| (the smallest value at least that share of the values do
    /// not exceed), as the upper edge of its bin, capped at <see cref="MaxAbs"/>.
    /// </summary>
    public float Percentile(double percent)
    {
        if (percent is <= 0 or > 100) throw new ArgumentOutOfRangeException(nameof(percent), percent, "a percentile is in (0, 100].");
        if (Count == 0) return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(percent / 100 * Count));
        long seen = 0;
        for (int bin = 0; bin < _counts.Length; bin++)
        {
            seen += _counts[bin];
            if (seen >= rank)
            {
                float upper = BitConverter.Int32BitsToSingle((bin + 1) << DroppedBits);
                return float.IsNaN(upper) ? MaxAbs : MathF.Min(upper, MaxAbs);   // NaN: the bin of infinity
            }
        }
        return MaxAbs;
    }
}
