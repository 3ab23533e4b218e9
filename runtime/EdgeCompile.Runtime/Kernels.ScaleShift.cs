using System;
using System.Numerics.Tensors;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// Per-channel affine after an optional residual sum: <c>y[r,j] = (x[r,j] + residual[r,j])·scale[j] + shift[j]</c>
    /// for <c>rows</c> rows of <c>n</c> channels; an empty <paramref name="residual"/> adds nothing. One pass over
    /// memory where the unfused graph makes two or three (MobileBERT's NoNorm). <c>y</c> may alias <c>x</c>.
    /// </summary>
    public static void ScaleShift(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift,
        Span<float> y, int rows, int n)
    {
        Guard.NonNegative(rows, nameof(rows)); Guard.NonNegative(n, nameof(n));
        Guard.Length(x.Length, (long)rows * n, nameof(x));
        if (!residual.IsEmpty) Guard.Length(residual.Length, (long)rows * n, nameof(residual));
        Guard.Length(scale.Length, n, nameof(scale));
        Guard.Length(shift.Length, n, nameof(shift));
        Guard.Length(y.Length, (long)rows * n, nameof(y));

        for (int r = 0; r < rows; r++)
        {
            Span<float> yRow = y.Slice(r * n, n);
            ReadOnlySpan<float> xRow = x.Slice(r * n, n);
            if (!residual.IsEmpty)
            {
                // The row is in L1 after the sum, so the second pass costs little.
                TensorPrimitives.Add(xRow, residual.Slice(r * n, n), yRow);
                xRow = yRow;
            }
            TensorPrimitives.FusedMultiplyAdd(xRow, scale, shift, yRow);
        }
    }
}
