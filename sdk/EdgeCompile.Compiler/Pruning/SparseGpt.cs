using System;
using System.Linq;
using EdgeCompile.Compiler.Quantization;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Calibrated NM / unstructured pruning of one Dense weight <c>W</c> <c>[K,N]</c> (<c>y = x·W</c>), SparseGPT-style
/// (Frantar and Alistarh, 2023): the same walk as <see cref="Int4Gptq"/> over the input features k = 0..K-1 with the
/// factor U of <c>H⁻¹ = (XᵀX)⁻¹</c> (<see cref="ObsFactorization"/>), where "fixing" a row means zeroing its masked
/// weights instead of rounding it. The zeroed weights' error is spread over the rows not yet reached, so the weights
/// that stay absorb what the removed ones did on the calibration inputs.
/// </summary>
/// <remarks>
/// The mask is chosen as the walk reaches it, from the already-updated weights, by the OBS saliency
/// <c>w²/U[k,k]²</c> (the loss increase of removing w alone): NM at the start of each group of 4 rows; unstructured at
/// the start of each block of <see cref="MaskBlock"/> rows, over the whole block (all its columns at once, so the
/// fraction may vary between columns), with the counts of the blocks adding up to exactly <c>round(p·K·N)</c>.
/// Cost: O(K³) for the factorisation and O(K²·N) for the updates, in double precision.
/// </remarks>
public static class SparseGpt
{
    /// <summary>Rows per unstructured mask decision (SparseGPT's 128): small enough that the saliencies are taken from
    /// weights that have received the earlier blocks' updates, large enough to let the fraction vary between rows.</summary>
    public const int MaskBlock = 128;

    /// <summary>
    /// The pruned and compensated weights (<c>[k,n]</c> row-major, masked weights exactly 0), or null when H cannot be
    /// factorised even with extra damping (the caller then prunes by magnitude).
    /// </summary>
    public static double[]? Prune(ReadOnlySpan<double> w, int k, int n, ReadOnlySpan<double> hessian, SparsityPattern pattern)
    {
        if (w.Length != (long)k * n) throw new ArgumentException($"w has {w.Length} values, not {k}x{n}", nameof(w));
        if (hessian.Length != (long)k * k) throw new ArgumentException($"the hessian has {hessian.Length} values, not {k}x{k}", nameof(hessian));
        var weights = w.ToArray();
        var u = ObsFactorization.Prepare(hessian, k, weights, n);
        if (u is null) return null;

        var mask = new bool[weights.Length];
        var error = new double[n];
        long removed = 0;
        for (int row = 0; row < k; row++)
        {
            if (pattern.IsNM && row % pattern.GroupSize == 0)
                pattern.MarkGroups(Saliency(weights, u, k, n, row, Math.Min(k, row + pattern.GroupSize)), k, n, row, mask);
            else if (!pattern.IsNM && row % MaskBlock == 0)
            {
                int end = Math.Min(k, row + MaskBlock);
                long count = pattern.RemovedOf((long)end * n) - removed;
                SparsityPattern.MarkSmallest(Saliency(weights, u, k, n, row, end), Enumerable.Range(row * n, (end - row) * n), count, mask);
                removed += count;
            }

            double pivot = u[row * k + row];
            for (int j = 0; j < n; j++)
            {
                int i = row * n + j;
                error[j] = mask[i] ? weights[i] / pivot : 0;
                if (mask[i]) weights[i] = 0;
            }
            ObsFactorization.Spread(u, k, weights, n, row, error);
        }
        return weights;
    }

    /// <summary>w²/U[r,r]² for rows [<paramref name="from"/>, <paramref name="to"/>), in a <c>[k,n]</c> array (other rows 0).</summary>
    private static double[] Saliency(double[] weights, double[] u, int k, int n, int from, int to)
    {
        var score = new double[weights.Length];
        for (int r = from; r < to; r++)
        {
            double d = u[r * k + r];
            for (int j = 0; j < n; j++) score[r * n + j] = weights[r * n + j] * weights[r * n + j] / (d * d);
        }
        return score;
    }

    /// <summary>
    /// The layer's relative output error on the calibration rows, <c>‖X·(W − Ŵ)‖_F / ‖X·W‖_F</c>, from H = XᵀX:
    /// <c>sqrt(tr(DᵀHD) / tr(WᵀHW))</c> with <c>D = W − Ŵ</c>.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<double> hessian, ReadOnlySpan<double> w, ReadOnlySpan<double> pruned, int k, int n)
    {
        var d = new double[w.Length];
        for (int i = 0; i < d.Length; i++) d[i] = w[i] - pruned[i];
        double error = QuadraticTrace(hessian, d, k, n), norm = QuadraticTrace(hessian, w, k, n);
        return norm > 0 ? Math.Sqrt(Math.Max(error, 0) / norm) : Math.Sqrt(Math.Max(error, 0));
    }

    private static double QuadraticTrace(ReadOnlySpan<double> h, ReadOnlySpan<double> m, int k, int n)
    {
        double total = 0;
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
            {
                double hv = h[a * k + b];
                if (hv == 0) continue;
                var ra = m.Slice(a * n, n);
                var rb = m.Slice(b * n, n);
                double dot = 0;
                for (int j = 0; j < n; j++) dot += ra[j] * rb[j];
                total += hv * dot;
            }
        return total;
    }
}
