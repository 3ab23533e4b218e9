using System;

namespace EdgeCompile.Runtime;

/// <summary>
/// The build-time shape of one fully connected layer. The generator emits one struct per distinct shape, so
/// <see cref="Kernels.Dense{TShape}"/> is compiled (by the JIT or NativeAOT) once per shape with
/// <see cref="K"/>, <see cref="N"/> and <see cref="Panel"/> as constants.
/// </summary>
public interface IDenseShape
{
    /// <summary>Input features (the reduction length).</summary>
    static abstract int K { get; }
    /// <summary>Output features.</summary>
    static abstract int N { get; }
    /// <summary>Columns per packed weight panel (16 or 32), chosen by the compiler for the target profile.</summary>
    static abstract int Panel { get; }
}

public static partial class Kernels
{
    /// <summary>
    /// Fully connected layer on panel-packed weights: <c>y[r,j] = act(Σ_i x[r,i]·W[i,j] + bias[j])</c>, <c>x</c> is
    /// <c>[rows,K]</c>, <c>y</c> is <c>[rows,N]</c>, <c>bias</c> has length N or is empty. <c>w</c> holds W
    /// packed in panels of <c>P = TShape.Panel</c> columns: panel <c>p</c> (columns <c>p·P .. p·P+P-1</c>) is
    /// <c>K·P</c> consecutive floats, row <c>i</c> of the panel at <c>p·K·P + i·P</c>; columns past N are zero.
    /// Length <c>⌈N/P⌉·K·P</c>. <paramref name="workers"/> (may be null) splits the columns across threads.
    /// </summary>
    public static void Dense<TShape>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int rows, Activation activation, WorkerPool? workers) where TShape : struct, IDenseShape
    {
        int k = TShape.K, n = TShape.N, panel = TShape.Panel;
        Guard.NonNegative(rows, nameof(rows));
        Guard.Length(x.Length, (long)rows * k, nameof(x));
        Guard.Length(w.Length, PackedDenseLength(k, n, panel), nameof(w));
        if (!bias.IsEmpty) Guard.Length(bias.Length, n, nameof(bias));
        Guard.Length(y.Length, (long)rows * n, nameof(y));
        if (rows == 0 || n == 0) return;

        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xRow = x.Slice(r * k, k);
            Span<float> yRow = y.Slice(r * n, n);
            for (int j = 0; j < n; j++)
            {
                ReadOnlySpan<float> column = w.Slice(j / panel * k * panel + j % panel);
                float sum = bias.IsEmpty ? 0f : bias[j];
                for (int i = 0; i < k; i++) sum = MathF.FusedMultiplyAdd(xRow[i], column[i * panel], sum);
                yRow[j] = sum;
            }
            ApplyActivation(yRow, activation);
        }
    }

    /// <summary>Length of a panel-packed <c>[k,n]</c> weight matrix with <paramref name="panel"/> columns per panel.</summary>
    public static long PackedDenseLength(int k, int n, int panel) => (long)((n + panel - 1) / panel) * k * panel;
}
