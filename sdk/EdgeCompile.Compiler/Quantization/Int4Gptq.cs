using System;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// INT4 block quantization of one Dense weight with GPTQ-style error compensation (Frantar et al., 2022), in the
/// kernel's frame: <c>W</c> is <c>[K,N]</c> and the layer computes <c>y = x·W</c>.
/// </summary>
/// <remarks>
/// Plain rounding minimises the error of each weight; what matters is the error of the layer's output on real
/// inputs, <c>‖X·(W − Ŵ)‖</c>. GPTQ walks the input features k = 0..K-1 in order, rounds row k of W, and spreads
/// that row's rounding error over the rows not yet rounded, weighted by the inverse of the inputs' second-moment
/// matrix <c>H = XᵀX</c>, so that correlated inputs absorb each other's error. The block scales (docs/quantization.md:
/// blocks of 32 along K, <c>s = Half(max|w| / 7)</c>) are taken from the updated weights when a block starts, so
/// each scale fits the weights it quantizes. With a diagonal H there is nothing to spread and the result is plain
/// rounding. Cost: O(K³) for the factorisations and O(K²·N) for the updates, in double precision.
/// </remarks>
public static class Int4Gptq
{
    /// <summary>Block length along K (docs/quantization.md).</summary>
    public const int Block = 32;

    /// <summary>Fraction of the mean diagonal of H added to the diagonal (GPTQ's "percdamp"), for a stable inverse.</summary>
    public const double Damping = ObsFactorization.Damping;

    /// <summary>The block scale for a block whose largest magnitude is <paramref name="maxAbs"/> (a zero block gets 1).</summary>
    public static Half Scale(double maxAbs) => maxAbs > 0 ? (Half)(maxAbs / 7) : (Half)1;

    /// <summary>Round to nearest, ties to even, into the signed 4-bit range.</summary>
    public static sbyte Round(double w, Half scale) => (sbyte)Math.Clamp(Math.Round(w / (float)scale, MidpointRounding.ToEven), -8, 7);

    /// <summary>
    /// Quantizes <paramref name="w"/> (<c>[k,n]</c> row-major) against <paramref name="hessian"/> (<c>XᵀX</c>,
    /// <c>[k,k]</c> row-major, summed over the calibration rows). Returns the integers (<c>[k,n]</c>, in [-8,7]) and
    /// the block scales (<c>[⌈k/32⌉,n]</c>), or null when H cannot be factorised even with extra damping (the caller
    /// then rounds plainly and says so).
    /// </summary>
    public static (sbyte[] Values, Half[] Scales)? Quantize(ReadOnlySpan<float> w, int k, int n, ReadOnlySpan<double> hessian)
    {
        if (w.Length != (long)k * n) throw new ArgumentException($"w has {w.Length} values, not {k}x{n}", nameof(w));
        if (hessian.Length != (long)k * k) throw new ArgumentException($"the hessian has {hessian.Length} values, not {k}x{k}", nameof(hessian));

        var weights = new double[w.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = w[i];
        // A weight that is exactly zero stays zero: after pruning (README, "Pruning") the zeros are the sparsity
        // pattern, and spreading the neighbours' rounding error into them would bring pruned weights back. Zero is an
        // INT4 value, so pinning it costs nothing; the error of pinning (the updates it received) is spread in turn.
        var pinned = new bool[w.Length];
        for (int i = 0; i < pinned.Length; i++) pinned[i] = w[i] == 0;
        var u = ObsFactorization.Prepare(hessian, k, weights, n);
        if (u is null) return null;

        int blocks = (k + Block - 1) / Block;
        var values = new sbyte[weights.Length];
        var scales = new Half[blocks * n];
        var error = new double[n];
        for (int row = 0; row < k; row++)
        {
            if (row % Block == 0)
            {
                int b = row / Block, end = Math.Min(k, row + Block);
                for (int j = 0; j < n; j++)
                {
                    double max = 0;
                    for (int r = row; r < end; r++)
                        if (!pinned[r * n + j]) max = Math.Max(max, Math.Abs(weights[r * n + j]));
                    scales[b * n + j] = Scale(max);
                }
            }

            double pivot = u[row * k + row];
            for (int j = 0; j < n; j++)
            {
                Half s = scales[row / Block * n + j];
                double current = weights[row * n + j];
                sbyte q = pinned[row * n + j] ? (sbyte)0 : Round(current, s);
                values[row * n + j] = q;
                error[j] = (current - q * (double)(float)s) / pivot;
            }
            // Spread this row's error over the rows still to come.
            ObsFactorization.Spread(u, k, weights, n, row, error);
        }
        return (values, scales);
    }
}
