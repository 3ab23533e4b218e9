using System;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Compensation after removing units, shared by FFN blocks, attention heads and conv channel groups: the consuming
/// layer, a Dense <c>[F, output]</c> over the units (the FFN down projection; an attention's output projection; a
/// group's 1×1 consumer conv, transposed, which is a Dense over the channels at every pixel), is called the down
/// projection here. Its kept rows are refitted by least squares so that the
/// block's output on the calibration activations matches the unpruned block's,
/// <c>W' = argmin ‖A_k·W' − A·W‖² + λ‖W'‖² = (A_kᵀA_k + λI)⁻¹ A_kᵀA·W</c>, with <c>A_kᵀA_k</c> and <c>A_kᵀA</c> read from
/// the Gram matrix <c>G = AᵀA</c>. The bias is unchanged. λ = <see cref="Damping"/> × the mean of diag(A_kᵀA_k): enough
/// to keep the solve well conditioned when neurons are nearly collinear or rarely active on a small calibration set,
/// small enough to leave the fit essentially exact (GPTQ uses the same 1 %).
/// </summary>
public static class DownProjectionRefit
{
    public const double Damping = 0.01;

    /// <summary>The refitted kept rows <c>[kept.Length, output]</c>, row-major, or null if the system is singular.</summary>
    public static double[]? Refit(NeuronStatistics stats, double[] down, int output, int[] kept)
    {
        int f = stats.Neurons, m = kept.Length;
        var g = stats.Gram;
        var a = new double[(long)m * m];
        double trace = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++) a[(long)i * m + j] = g[(long)kept[i] * f + kept[j]];
            trace += a[(long)i * m + i];
        }
        double lambda = Damping * (trace > 0 ? trace / m : 1);
        for (int i = 0; i < m; i++) a[(long)i * m + i] += lambda;

        // Right-hand side A_kᵀ(A·W) = G[kept,:]·W.
        var rhs = new double[(long)m * output];
        for (int i = 0; i < m; i++)
        {
            var target = rhs.AsSpan(i * output, output);
            for (int r = 0; r < f; r++)
            {
                double gv = g[(long)kept[i] * f + r];
                if (gv == 0) continue;
                for (int c = 0; c < output; c++) target[c] += gv * down[(long)r * output + c];
            }
        }
        return CholeskySolve(a, m, rhs, output);
    }

    /// <summary>
    /// The block's relative output error on the calibration set, <c>‖A·(W − W_pruned)‖_F / ‖A·W + 1·bᵀ‖_F</c>, where
    /// <paramref name="pruned"/> holds the rows of the kept neurons (the removed ones count as zero rows).
    /// </summary>
    public static double RelativeError(NeuronStatistics stats, double[] down, double[]? bias, int output, int[] kept, double[] pruned)
    {
        int f = stats.Neurons;
        var d = (double[])down.Clone();
        for (int i = 0; i < kept.Length; i++)
            for (int c = 0; c < output; c++) d[(long)kept[i] * output + c] -= pruned[(long)i * output + c];
        double error = QuadraticTrace(stats.Gram, d, f, output);
        // ‖A·W + 1·bᵀ‖² = tr(WᵀGW) + 2·bᵀWᵀ(Σ a) + rows·‖b‖².
        double norm = QuadraticTrace(stats.Gram, down, f, output);
        if (bias is not null)
            for (int c = 0; c < output; c++)
            {
                double column = 0;
                for (int r = 0; r < f; r++) column += down[(long)r * output + c] * stats.Sum[r];
                norm += 2 * bias[c] * column + stats.Rows * bias[c] * bias[c];
            }
        return norm > 0 ? Math.Sqrt(Math.Max(error, 0) / norm) : Math.Sqrt(Math.Max(error, 0));
    }

    /// <summary><c>tr(DᵀGD)</c> = Σ_rows ‖a·D‖², for <c>D</c> <c>[f, output]</c>.</summary>
    private static double QuadraticTrace(double[] g, double[] d, int f, int output)
    {
        double total = 0;
        var gd = new double[output];
        for (int i = 0; i < f; i++)
        {
            Array.Clear(gd);
            for (int r = 0; r < f; r++)
            {
                double gv = g[(long)i * f + r];
                if (gv == 0) continue;
                for (int c = 0; c < output; c++) gd[c] += gv * d[(long)r * output + c];
            }
            for (int c = 0; c < output; c++) total += d[(long)i * output + c] * gd[c];
        }
        return total;
    }

    /// <summary>Solves <c>A·X = B</c> for symmetric positive definite <c>A</c> <c>[m,m]</c>, <c>B</c> <c>[m,n]</c>; null if A is not.</summary>
    private static double[]? CholeskySolve(double[] a, int m, double[] b, int n)
    {
        var l = new double[(long)m * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[(long)i * m + j];
                for (int k = 0; k < j; k++) s -= l[(long)i * m + k] * l[(long)j * m + k];
                if (i == j)
                {
                    if (!(s > 0)) return null;
                    l[(long)i * m + i] = Math.Sqrt(s);
                }
                else l[(long)i * m + j] = s / l[(long)j * m + j];
            }
        var x = (double[])b.Clone();
        for (int c = 0; c < n; c++)
        {
            for (int i = 0; i < m; i++)
            {
                double s = x[(long)i * n + c];
                for (int k = 0; k < i; k++) s -= l[(long)i * m + k] * x[(long)k * n + c];
                x[(long)i * n + c] = s / l[(long)i * m + i];
            }
            for (int i = m - 1; i >= 0; i--)
            {
                double s = x[(long)i * n + c];
                for (int k = i + 1; k < m; k++) s -= l[(long)k * m + i] * x[(long)k * n + c];
                x[(long)i * n + c] = s / l[(long)i * m + i];
            }
        }
        return x;
    }
}
