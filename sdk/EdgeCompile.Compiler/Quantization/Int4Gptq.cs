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
    public const double Damping = 0.01;

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
        var h = hessian.ToArray();

        // An input that is zero on every calibration row carries no information: its weights cannot change the
        // output, so they are set to zero and its diagonal to 1 (GPTQ's "dead" columns).
        double meanDiagonal = 0;
        for (int i = 0; i < k; i++)
        {
            if (h[i * k + i] == 0)
            {
                h[i * k + i] = 1;
                Array.Clear(weights, i * n, n);
            }
            meanDiagonal += h[i * k + i];
        }
        meanDiagonal /= Math.Max(k, 1);

        double[]? u = null;
        for (double damping = Damping; u is null && damping <= 1; damping *= 10)
        {
            var damped = (double[])h.Clone();
            for (int i = 0; i < k; i++) damped[i * k + i] += damping * meanDiagonal;
            u = UpperFactorOfInverse(damped, k);
        }
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
                    for (int r = row; r < end; r++) max = Math.Max(max, Math.Abs(weights[r * n + j]));
                    scales[b * n + j] = Scale(max);
                }
            }

            double pivot = u[row * k + row];
            for (int j = 0; j < n; j++)
            {
                Half s = scales[row / Block * n + j];
                double current = weights[row * n + j];
                sbyte q = Round(current, s);
                values[row * n + j] = q;
                error[j] = (current - q * (double)(float)s) / pivot;
            }
            // Spread this row's error over the rows still to come.
            for (int later = row + 1; later < k; later++)
            {
                double factor = u[row * k + later];
                if (factor == 0) continue;
                var target = weights.AsSpan(later * n, n);
                for (int j = 0; j < n; j++) target[j] -= factor * error[j];
            }
        }
        return (values, scales);
    }

    /// <summary>
    /// The upper-triangular U with <c>H⁻¹ = UᵀU</c> (row-major <c>[k,k]</c>), or null when H is not positive definite.
    /// </summary>
    private static double[]? UpperFactorOfInverse(double[] h, int k)
    {
        // H = L·Lᵀ (Cholesky), then H⁻¹ = L⁻ᵀ·L⁻¹, then H⁻¹ = M·Mᵀ (Cholesky again) and U = Mᵀ.
        var l = Cholesky(h, k);
        if (l is null) return null;
        var lInverse = InvertLower(l, k);
        var inverse = new double[k * k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = 0;
                for (int r = i; r < k; r++) sum += lInverse[r * k + i] * lInverse[r * k + j];
                inverse[i * k + j] = inverse[j * k + i] = sum;
            }
        var m = Cholesky(inverse, k);
        if (m is null) return null;
        var u = new double[k * k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++) u[j * k + i] = m[i * k + j];
        return u;
    }

    /// <summary>Lower-triangular L with A = L·Lᵀ, or null when A is not (numerically) positive definite.</summary>
    private static double[]? Cholesky(double[] a, int k)
    {
        var l = new double[k * k];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i * k + j];
                for (int r = 0; r < j; r++) sum -= l[i * k + r] * l[j * k + r];
                if (i == j)
                {
                    if (!(sum > 0)) return null;
                    l[i * k + i] = Math.Sqrt(sum);
                }
                else l[i * k + j] = sum / l[j * k + j];
            }
        }
        return l;
    }

    private static double[] InvertLower(double[] l, int k)
    {
        var inverse = new double[k * k];
        for (int j = 0; j < k; j++)
        {
            inverse[j * k + j] = 1 / l[j * k + j];
            for (int i = j + 1; i < k; i++)
            {
                double sum = 0;
                for (int r = j; r < i; r++) sum -= l[i * k + r] * inverse[r * k + j];
                inverse[i * k + j] = sum / l[i * k + i];
            }
        }
        return inverse;
    }
}
