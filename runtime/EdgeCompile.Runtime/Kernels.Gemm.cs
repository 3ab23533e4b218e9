using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// Batched matrix product: <c>y[i]</c> (<c>[m,n]</c>) = <c>a[i]</c> (<c>[m,k]</c> at <c>i·aBatchStride</c>) ·
    /// <c>b[i]</c> (<c>[k,n]</c>, or <c>[n,k]</c> when <paramref name="transposeB"/>, at <c>i·bBatchStride</c>).
    /// A batch stride of 0 broadcasts. <c>y</c> must not overlap the inputs.
    /// </summary>
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y,
        int batch, int m, int k, int n, int aBatchStride, int bBatchStride, bool transposeB)
    {
        Guard.NonNegative(batch, nameof(batch)); Guard.NonNegative(m, nameof(m));
        Guard.NonNegative(k, nameof(k)); Guard.NonNegative(n, nameof(n));
        Guard.NonNegative(aBatchStride, nameof(aBatchStride)); Guard.NonNegative(bBatchStride, nameof(bBatchStride));
        Guard.Length(y.Length, (long)batch * m * n, nameof(y));
        if (batch == 0 || m == 0 || n == 0) return;
        Guard.AtLeast(a.Length, (long)(batch - 1) * aBatchStride + (long)m * k, nameof(a));
        Guard.AtLeast(b.Length, (long)(batch - 1) * bBatchStride + (long)k * n, nameof(b));

        for (int i = 0; i < batch; i++)
        {
            ReadOnlySpan<float> ai = a.Slice(i * aBatchStride, m * k);
            ReadOnlySpan<float> bi = b.Slice(i * bBatchStride, k * n);
            Span<float> yi = y.Slice(i * m * n, m * n);
            if (transposeB) Gemm.MultiplyTransposedB(ai, bi, yi, m, k, n);
            else Gemm.Multiply(ai, bi, yi, m, k, n);
        }
    }

    /// <summary>
    /// Fully connected layer: <c>y[r,j] = act(Σ_i x[r,i]·w[i,j] + bias[j])</c>; <c>x</c> is <c>[rows,k]</c>,
    /// <c>w</c> is <c>[k,n]</c>, <c>bias</c> has length <c>n</c> or is empty. <c>y</c> must not overlap the inputs.
    /// </summary>
    public static void Dense(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int k, int n, Activation activation)
    {
        Guard.NonNegative(rows, nameof(rows)); Guard.NonNegative(k, nameof(k)); Guard.NonNegative(n, nameof(n));
        Guard.Length(x.Length, (long)rows * k, nameof(x));
        Guard.Length(w.Length, (long)k * n, nameof(w));
        if (!bias.IsEmpty) Guard.Length(bias.Length, n, nameof(bias));
        Guard.Length(y.Length, (long)rows * n, nameof(y));
        if (rows == 0 || n == 0) return;

        Gemm.Multiply(x, w, y, rows, k, n);
        if (bias.IsEmpty && activation == Activation.None) return;
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = y.Slice(r * n, n);
            if (!bias.IsEmpty) TensorPrimitives.Add(row, bias, row);
            ApplyActivation(row, activation);
        }
    }
}

/// <summary>
/// Single-precision matrix multiply on row-major contiguous spans. A register-blocked micro-kernel
/// (4 rows × 16 columns, eight Vector256 accumulators, FMA where available) walks column panels of
/// <c>b</c> inside k-blocks so that the panel stays in L1/L2. All loads go through span bounds.
/// </summary>
internal static class Gemm
{
    private const int KBlock = 256;

    /// <summary><c>c[m,n] = a[m,k] · b[k,n]</c>; lengths already validated.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n)
    {
        if (k == 0) { c.Slice(0, m * n).Clear(); return; }
        for (int k0 = 0; k0 < k; k0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - k0);
            bool accumulate = k0 != 0;
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j <= n - 16; j += 16)
                {
                    int i = 0;
                    for (; i <= m - 4; i += 4) Kernel4x16(a, b.Slice(k0 * n + j), n, c, i, j, k0, kc, k, n, accumulate);
                    for (; i < m; i++) Kernel1x16(a, b, c, i, j, k0, kc, k, n, accumulate);
                }
                for (; j <= n - 8; j += 8)
                {
                    for (int i = 0; i < m; i++) Kernel1x8(a, b, c, i, j, k0, kc, k, n, accumulate);
                }
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                for (; j <= n - 8; j += 8)
                {
                    int i = 0;
                    for (; i <= m - 4; i += 4) Kernel4x8V128(a, b, c, i, j, k0, kc, k, n, accumulate);
                    for (; i < m; i++) Kernel1x8V128(a, b, c, i, j, k0, kc, k, n, accumulate);
                }
            }
            if (j < n)
            {
                for (int i = 0; i < m; i++) KernelScalar(a, b, c, i, j, n - j, k0, kc, k, n, accumulate);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    /// <summary>
    /// 4 rows × 16 columns: <paramref name="panel"/> holds the b rows of this k-block starting at column j,
    /// <paramref name="ldp"/> apart.
    /// </summary>
    private static void Kernel4x16(ReadOnlySpan<float> a, ReadOnlySpan<float> panel, int ldp, Span<float> c,
        int i, int j, int k0, int kc, int k, int n, bool accumulate)
    {
        ReadOnlySpan<float> a0 = a.Slice(i * k + k0, kc), a1 = a.Slice((i + 1) * k + k0, kc);
        ReadOnlySpan<float> a2 = a.Slice((i + 2) * k + k0, kc), a3 = a.Slice((i + 3) * k + k0, kc);
        panel = panel.Slice(0, (kc - 1) * ldp + 16);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < a0.Length && p < a1.Length && p < a2.Length && p < a3.Length; p++)
        {
            ReadOnlySpan<float> bRow = panel.Slice(p * ldp, 16);
            Vector256<float> b0 = Vector256.Create(bRow);
            Vector256<float> b1 = Vector256.Create(bRow.Slice(8));
            Vector256<float> v = Vector256.Create(a0[p]);
            c00 = Fma(v, b0, c00); c01 = Fma(v, b1, c01);
            v = Vector256.Create(a1[p]);
            c10 = Fma(v, b0, c10); c11 = Fma(v, b1, c11);
            v = Vector256.Create(a2[p]);
            c20 = Fma(v, b0, c20); c21 = Fma(v, b1, c21);
            v = Vector256.Create(a3[p]);
            c30 = Fma(v, b0, c30); c31 = Fma(v, b1, c31);
        }
        Store(c.Slice(i * n + j, 16), c00, c01, accumulate);
        Store(c.Slice((i + 1) * n + j, 16), c10, c11, accumulate);
        Store(c.Slice((i + 2) * n + j, 16), c20, c21, accumulate);
        Store(c.Slice((i + 3) * n + j, 16), c30, c31, accumulate);
    }

    private static void Kernel1x16(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int i, int j, int k0, int kc, int k, int n, bool accumulate)
    {
        ReadOnlySpan<float> a0 = a.Slice(i * k + k0, kc);
        Vector256<float> c00 = default, c01 = default;
        int bi = k0 * n + j;
        for (int p = 0; p < kc; p++, bi += n)
        {
            ReadOnlySpan<float> bRow = b.Slice(bi, 16);
            Vector256<float> v = Vector256.Create(a0[p]);
            c00 = Fma(v, Vector256.Create(bRow), c00);
            c01 = Fma(v, Vector256.Create(bRow.Slice(8)), c01);
        }
        Store(c.Slice(i * n + j, 16), c00, c01, accumulate);
    }

    private static void Kernel1x8(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int i, int j, int k0, int kc, int k, int n, bool accumulate)
    {
        ReadOnlySpan<float> a0 = a.Slice(i * k + k0, kc);
        Vector256<float> acc = default;
        int bi = k0 * n + j;
        for (int p = 0; p < kc; p++, bi += n)
            acc = Fma(Vector256.Create(a0[p]), Vector256.Create(b.Slice(bi, 8)), acc);
        Span<float> dst = c.Slice(i * n + j, 8);
        if (accumulate) acc += Vector256.Create((ReadOnlySpan<float>)dst);
        acc.CopyTo(dst);
    }

    private static void Kernel4x8V128(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int i, int j, int k0, int kc, int k, int n, bool accumulate)
    {
        ReadOnlySpan<float> a0 = a.Slice(i * k + k0, kc), a1 = a.Slice((i + 1) * k + k0, kc);
        ReadOnlySpan<float> a2 = a.Slice((i + 2) * k + k0, kc), a3 = a.Slice((i + 3) * k + k0, kc);
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector128<float> c20 = default, c21 = default, c30 = default, c31 = default;
        int bi = k0 * n + j;
        for (int p = 0; p < kc; p++, bi += n)
        {
            ReadOnlySpan<float> bRow = b.Slice(bi, 8);
            Vector128<float> b0 = Vector128.Create(bRow);
            Vector128<float> b1 = Vector128.Create(bRow.Slice(4));
            Vector128<float> v = Vector128.Create(a0[p]);
            c00 = Fma(v, b0, c00); c01 = Fma(v, b1, c01);
            v = Vector128.Create(a1[p]);
            c10 = Fma(v, b0, c10); c11 = Fma(v, b1, c11);
            v = Vector128.Create(a2[p]);
            c20 = Fma(v, b0, c20); c21 = Fma(v, b1, c21);
            v = Vector128.Create(a3[p]);
            c30 = Fma(v, b0, c30); c31 = Fma(v, b1, c31);
        }
        Store(c.Slice(i * n + j, 8), c00, c01, accumulate);
        Store(c.Slice((i + 1) * n + j, 8), c10, c11, accumulate);
        Store(c.Slice((i + 2) * n + j, 8), c20, c21, accumulate);
        Store(c.Slice((i + 3) * n + j, 8), c30, c31, accumulate);
    }

    private static void Kernel1x8V128(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int i, int j, int k0, int kc, int k, int n, bool accumulate)
    {
        ReadOnlySpan<float> a0 = a.Slice(i * k + k0, kc);
        Vector128<float> c00 = default, c01 = default;
        int bi = k0 * n + j;
        for (int p = 0; p < kc; p++, bi += n)
        {
            ReadOnlySpan<float> bRow = b.Slice(bi, 8);
            Vector128<float> v = Vector128.Create(a0[p]);
            c00 = Fma(v, Vector128.Create(bRow), c00);
            c01 = Fma(v, Vector128.Create(bRow.Slice(4)), c01);
        }
        Store(c.Slice(i * n + j, 8), c00, c01, accumulate);
    }

    private static void KernelScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int i, int j, int width, int k0, int kc, int k, int n, bool accumulate)
    {
        ReadOnlySpan<float> a0 = a.Slice(i * k + k0, kc);
        Span<float> dst = c.Slice(i * n + j, width);
        if (!accumulate) dst.Clear();
        int bi = k0 * n + j;
        for (int p = 0; p < kc; p++, bi += n)
        {
            float av = a0[p];
            ReadOnlySpan<float> bRow = b.Slice(bi, width);
            for (int q = 0; q < dst.Length; q++) dst[q] = MathF.FusedMultiplyAdd(av, bRow[q], dst[q]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Span<float> dst, Vector256<float> lo, Vector256<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Vector256.Create((ReadOnlySpan<float>)dst);
            hi += Vector256.Create((ReadOnlySpan<float>)dst.Slice(8));
        }
        lo.CopyTo(dst);
        hi.CopyTo(dst.Slice(8));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Span<float> dst, Vector128<float> lo, Vector128<float> hi, bool accumulate)
    {
        if (accumulate)
        {
            lo += Vector128.Create((ReadOnlySpan<float>)dst);
            hi += Vector128.Create((ReadOnlySpan<float>)dst.Slice(4));
        }
        lo.CopyTo(dst);
        hi.CopyTo(dst.Slice(4));
    }

    /// <summary><c>c[m,n] = a[m,k] · bᵀ</c> with <c>b</c> stored <c>[n,k]</c>: row-by-row dot products, four columns at a time.</summary>
    public static void MultiplyTransposedB(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n)
    {
        for (int i = 0; i < m; i++)
        {
            ReadOnlySpan<float> aRow = a.Slice(i * k, k);
            Span<float> cRow = c.Slice(i * n, n);
            int j = 0;
            if (Vector256.IsHardwareAccelerated && k >= 8)
            {
                for (; j <= n - 4; j += 4) Dot4(aRow, b, cRow, j, k);
            }
            for (; j < n; j++) cRow[j] = TensorPrimitives.Dot(aRow, b.Slice(j * k, k));
        }
    }

    private static void Dot4(ReadOnlySpan<float> aRow, ReadOnlySpan<float> b, Span<float> cRow, int j, int k)
    {
        ReadOnlySpan<float> b0 = b.Slice(j * k, k), b1 = b.Slice((j + 1) * k, k);
        ReadOnlySpan<float> b2 = b.Slice((j + 2) * k, k), b3 = b.Slice((j + 3) * k, k);
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p <= k - 8; p += 8)
        {
            Vector256<float> av = Vector256.Create(aRow.Slice(p));
            s0 = Fma(av, Vector256.Create(b0.Slice(p)), s0);
            s1 = Fma(av, Vector256.Create(b1.Slice(p)), s1);
            s2 = Fma(av, Vector256.Create(b2.Slice(p)), s2);
            s3 = Fma(av, Vector256.Create(b3.Slice(p)), s3);
        }
        float r0 = Vector256.Sum(s0), r1 = Vector256.Sum(s1), r2 = Vector256.Sum(s2), r3 = Vector256.Sum(s3);
        for (; p < k; p++)
        {
            float av = aRow[p];
            r0 += av * b0[p]; r1 += av * b1[p]; r2 += av * b2[p]; r3 += av * b3[p];
        }
        cRow[j] = r0; cRow[j + 1] = r1; cRow[j + 2] = r2; cRow[j + 3] = r3;
    }
}
