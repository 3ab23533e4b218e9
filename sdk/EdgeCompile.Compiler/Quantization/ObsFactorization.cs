using System;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// The machinery shared by the column-by-column OBS updates (GPTQ's rounding in <see cref="Int4Gptq"/>, SparseGPT's
/// masking in <see cref="Pruning.SparseGpt"/>): from a layer's input second moments <c>H = XᵀX</c> <c>[k,k]</c>, the
/// upper-triangular <c>U</c> with <c>H⁻¹ = UᵀU</c>. Walking the input features in order, the error of fixing feature
/// <c>r</c> (rounding it, or zeroing it) is <c>(w − ŵ)/U[r,r]</c>, and <c>U[r, later]</c> spreads it over the features not
/// yet fixed, so that correlated inputs absorb each other's error.
/// </summary>
public static class ObsFactorization
{
    /// <summary>Fraction of the mean diagonal of H added to the diagonal (GPTQ's "percdamp"), for a stable inverse.</summary>
    public const double Damping = 0.01;

    /// <summary>
    /// U for <paramref name="hessian"/> (<c>[k,k]</c> row-major, summed over the calibration rows), damped by
    /// <see cref="Damping"/> × the mean diagonal, more (×10 up to 1) if that is not enough to factorise; null when even
    /// that fails. An input that is zero on every calibration row carries no information: its row of
    /// <paramref name="weights"/> (<c>[k,n]</c> row-major) is set to zero and its diagonal to 1 (GPTQ's "dead" columns).
    /// </summary>
    public static double[]? Prepare(ReadOnlySpan<double> hessian, int k, double[] weights, int n)
    {
        var h = hessian.ToArray();
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
        return u;
    }

    /// <summary>Subtracts <c>U[row, later]·error</c> from every later row of <paramref name="weights"/> (<c>[k,n]</c>).</summary>
    public static void Spread(double[] u, int k, double[] weights, int n, int row, ReadOnlySpan<double> error)
    {
        for (int later = row + 1; later < k; later++)
        {
            double factor = u[row * k + later];
            if (factor == 0) continue;
            var target = weights.AsSpan(later * n, n);
            for (int j = 0; j < n; j++) target[j] -= factor * error[j];
        }
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
