using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

// The portable micro-kernels: Vector128 (any 128-bit SIMD) and plain scalar code beneath it.

/// <summary>
/// Portable Vector128 micro-kernel (x64 without AVX2+FMA, other 128-bit SIMD targets): 4 rows × 8 columns in 8
/// accumulators, which with the two panel-row vectors and one broadcast fits the 16 xmm registers of SSE.
/// MultiplyAddEstimate is a fused multiply-add where the hardware has one and a multiply then an add elsewhere.
/// </summary>
internal readonly unsafe struct DenseVector128<TShape> : IDenseMicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 4;
    public static int Columns => 8;
    // 512 k × 8 columns × 4 bytes = 16 KB of W: half of a 32 KB L1.
    public static int KBlock => 512;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    public static void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 2: Tile<Rows2>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 3: Tile<Rows3>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 4: Tile<Rows4>(a, b, c, ldc, kc, bias, accumulate, relu); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu)
        where TRows : struct, IRowCount
    {
        // m, lda and ldb are constants in each instantiation: the "if (m > r)" tests vanish, and the x rows are
        // addressed as one pointer plus a constant displacement. The accumulators are separate locals (the JIT
        // keeps locals in registers, not array elements).
        int m = TRows.Value;
        nint lda = TShape.K, ldb = TShape.Panel;
        Vector128<float> c0a = default, c0b = default;
        Vector128<float> c1a = default, c1b = default;
        Vector128<float> c2a = default, c2b = default;
        Vector128<float> c3a = default, c3b = default;
        if (accumulate)
        {
            { c0a = Vector128.Load(c); c0b = Vector128.Load(c + 4); }
            if (m > 1) { c1a = Vector128.Load(c + ldc); c1b = Vector128.Load(c + ldc + 4); }
            if (m > 2) { c2a = Vector128.Load(c + 2 * ldc); c2b = Vector128.Load(c + 2 * ldc + 4); }
            if (m > 3) { c3a = Vector128.Load(c + 3 * ldc); c3b = Vector128.Load(c + 3 * ldc + 4); }
        }
        else if (bias != null)
        {
            Vector128<float> ba = Vector128.Load(bias), bb = Vector128.Load(bias + 4);
            c0a = ba; c0b = bb;
            c1a = ba; c1b = bb;
            c2a = ba; c2b = bb;
            c3a = ba; c3b = bb;
        }

        for (int k = 0; k < kc; k++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4), av;
            { av = Vector128.Create(a[0]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
            if (m > 1) { av = Vector128.Create(a[lda]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
            if (m > 2) { av = Vector128.Create(a[2 * lda]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
            if (m > 3) { av = Vector128.Create(a[3 * lda]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
            a++;
            b += ldb;
        }

        if (relu)
        {
            // Vector128.Max propagates NaN like MathF.Max, so this matches ApplyActivation's ReLU.
            Vector128<float> z = Vector128<float>.Zero;
            c0a = Vector128.Max(c0a, z); c0b = Vector128.Max(c0b, z);
            c1a = Vector128.Max(c1a, z); c1b = Vector128.Max(c1b, z);
            c2a = Vector128.Max(c2a, z); c2b = Vector128.Max(c2b, z);
            c3a = Vector128.Max(c3a, z); c3b = Vector128.Max(c3b, z);
        }
        { c0a.Store(c); c0b.Store(c + 4); }
        if (m > 1) { c1a.Store(c + ldc); c1b.Store(c + ldc + 4); }
        if (m > 2) { c2a.Store(c + 2 * ldc); c2b.Store(c + 2 * ldc + 4); }
        if (m > 3) { c3a.Store(c + 3 * ldc); c3b.Store(c + 3 * ldc + 4); }
    }
}

/// <summary>
/// Scalar micro-kernel (no SIMD at all, e.g. DOTNET_EnableHWIntrinsic=0): one row at a time × 4 columns, four
/// independent accumulators so the adds do not wait on each other.
/// </summary>
internal readonly unsafe struct DenseScalar<TShape> : IDenseMicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 4;
    public static int Columns => 4;
    // 1024 k × 4 columns × 4 bytes = 16 KB of W.
    public static int KBlock => 1024;

    public static void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu)
    {
        nint lda = TShape.K, ldb = TShape.Panel;
        for (int r = 0; r < rows; r++)
        {
            float* ar = a + r * lda, cr = c + r * ldc, bk = b;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            if (accumulate) { s0 = cr[0]; s1 = cr[1]; s2 = cr[2]; s3 = cr[3]; }
            else if (bias != null) { s0 = bias[0]; s1 = bias[1]; s2 = bias[2]; s3 = bias[3]; }
            for (int k = 0; k < kc; k++, bk += ldb)
            {
                float av = ar[k];
                s0 += av * bk[0]; s1 += av * bk[1]; s2 += av * bk[2]; s3 += av * bk[3];
            }
            if (relu) { s0 = MathF.Max(s0, 0f); s1 = MathF.Max(s1, 0f); s2 = MathF.Max(s2, 0f); s3 = MathF.Max(s3, 0f); }
            cr[0] = s0; cr[1] = s1; cr[2] = s2; cr[3] = s3;
        }
    }
}
