using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// AVX2+FMA micro-kernel for 16-column slices (profile <c>x64-avx2</c>, and both halves of a 32-column panel on a
/// CPU without AVX-512): 6 rows × 16 columns in 12 ymm accumulators, the classic Haswell-to-Zen shape. With the two
/// panel-row vectors and one broadcast that is 15 of the 16 ymm registers; each k step is 8 loads for 12 FMAs, and
/// 12 independent accumulators cover the FMA latency (4-5 cycles × 2 ports). The k loop is unrolled by 4
/// (measured: 81 → 91 % of the 256-bit FMA peak with the tile in L1).
/// <typeparamref name="TX"/> = <see cref="XPacked"/> (what the driver runs): x comes packed, the tile's values for one
/// k step side by side, and each k step also prefetches up to 128 bytes of the next W slice into L2, so W streams in
/// at the rate it is used instead of in a burst before each tile (the 16-row, bandwidth-bound case gained most).
/// </summary>
internal readonly unsafe struct DenseAvx2<TShape, TX> : IDenseMicroKernel where TShape : struct, IDenseShape where TX : struct, IXLayout
{
    public static bool PacksX => TX.Packed;
    public static int Rows => 6;
    public static int Columns => 16;
    // 384 k × 16 columns × 4 bytes = 24 KB of W: half of a 48 KB L1 (3/4 of a 32 KB one).
    public static int KBlock => 384;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.MultiplyAdd(a, b, c);

    // The in-place variant is the kernel as it was before x was packed (the A side of the Gemm benchmark): it left
    // the prefetching to the driver.
    public static bool PrefetchesInLoop => TX.Packed;

    // Prefetching the tile's own first W line instead: an L1 hit, no effect.
    public static void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu)
        => Tile(rows, a, b, c, ldc, kc, bias, accumulate, relu, (byte*)b, 0);

    public static void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu, byte* prefetch, nint prefetchStep)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 2: Tile<Rows2>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 3: Tile<Rows3>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 4: Tile<Rows4>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 5: Tile<Rows5>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 6: Tile<Rows6>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu, byte* prefetch, nint prefetchStep)
        where TRows : struct, IRowCount
    {
        // m, lda, step and ldb are constants in each instantiation: the "if (m > r)" tests vanish, and the x values
        // are addressed as one pointer plus a constant displacement. The accumulators are separate locals (the JIT
        // keeps locals in registers, not array elements).
        int m = TRows.Value;
        // x row r, step i of the k block is a[r·lda + i·step]: in place (lda = K, step = 1) or packed by the driver
        // (lda = 1, step = Rows), both constants, so every broadcast is a constant displacement off one pointer.
        nint lda = TX.Packed ? 1 : TShape.K, step = TX.Packed ? Rows : 1, ldb = TShape.Panel;
        Vector256<float> c0a = default, c0b = default;
        Vector256<float> c1a = default, c1b = default;
        Vector256<float> c2a = default, c2b = default;
        Vector256<float> c3a = default, c3b = default;
        Vector256<float> c4a = default, c4b = default;
        Vector256<float> c5a = default, c5b = default;
        if (accumulate)
        {
            { c0a = Vector256.Load(c); c0b = Vector256.Load(c + 8); }
            if (m > 1) { c1a = Vector256.Load(c + ldc); c1b = Vector256.Load(c + ldc + 8); }
            if (m > 2) { c2a = Vector256.Load(c + 2 * ldc); c2b = Vector256.Load(c + 2 * ldc + 8); }
            if (m > 3) { c3a = Vector256.Load(c + 3 * ldc); c3b = Vector256.Load(c + 3 * ldc + 8); }
            if (m > 4) { c4a = Vector256.Load(c + 4 * ldc); c4b = Vector256.Load(c + 4 * ldc + 8); }
            if (m > 5) { c5a = Vector256.Load(c + 5 * ldc); c5b = Vector256.Load(c + 5 * ldc + 8); }
        }
        else if (bias != null)
        {
            Vector256<float> ba = Vector256.Load(bias), bb = Vector256.Load(bias + 8);
            c0a = ba; c0b = bb;
            c1a = ba; c1b = bb;
            c2a = ba; c2b = bb;
            c3a = ba; c3b = bb;
            c4a = ba; c4b = bb;
            c5a = ba; c5b = bb;
        }

        int k = 0;
        // Per k step, up to 128 bytes of the next W slice into L2 (prefetchStep ≤ 128: two lines at most).
        nint halfStep = prefetchStep >> 1;
        for (; k <= kc - 4; k += 4)
        {
            Sse.Prefetch1(prefetch); Sse.Prefetch1(prefetch + halfStep);
            Sse.Prefetch1(prefetch + prefetchStep); Sse.Prefetch1(prefetch + prefetchStep + halfStep);
            Sse.Prefetch1(prefetch + 2 * prefetchStep); Sse.Prefetch1(prefetch + 2 * prefetchStep + halfStep);
            Sse.Prefetch1(prefetch + 3 * prefetchStep); Sse.Prefetch1(prefetch + 3 * prefetchStep + halfStep);
            prefetch += 4 * prefetchStep;
            {
                Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
                { av = Vector256.Create(a[0]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector256.Create(a[lda]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector256.Create(a[2 * lda]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector256.Create(a[3 * lda]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector256.Create(a[4 * lda]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector256.Create(a[5 * lda]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
            }
            {
                Vector256<float> b0 = Vector256.Load(b + 1 * ldb), b1 = Vector256.Load(b + 1 * ldb + 8), av;
                { av = Vector256.Create(a[step]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector256.Create(a[lda + step]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector256.Create(a[2 * lda + step]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector256.Create(a[3 * lda + step]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector256.Create(a[4 * lda + step]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector256.Create(a[5 * lda + step]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
            }
            {
                Vector256<float> b0 = Vector256.Load(b + 2 * ldb), b1 = Vector256.Load(b + 2 * ldb + 8), av;
                { av = Vector256.Create(a[2 * step]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector256.Create(a[lda + 2 * step]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector256.Create(a[2 * lda + 2 * step]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector256.Create(a[3 * lda + 2 * step]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector256.Create(a[4 * lda + 2 * step]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector256.Create(a[5 * lda + 2 * step]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
            }
            {
                Vector256<float> b0 = Vector256.Load(b + 3 * ldb), b1 = Vector256.Load(b + 3 * ldb + 8), av;
                { av = Vector256.Create(a[3 * step]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector256.Create(a[lda + 3 * step]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector256.Create(a[2 * lda + 3 * step]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector256.Create(a[3 * lda + 3 * step]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector256.Create(a[4 * lda + 3 * step]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector256.Create(a[5 * lda + 3 * step]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
            }
            a += 4 * step;
            b += 4 * ldb;
        }
        for (; k < kc; k++)
        {
            Sse.Prefetch1(prefetch); Sse.Prefetch1(prefetch + halfStep);
            prefetch += prefetchStep;
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            { av = Vector256.Create(a[0]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
            if (m > 1) { av = Vector256.Create(a[lda]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
            if (m > 2) { av = Vector256.Create(a[2 * lda]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
            if (m > 3) { av = Vector256.Create(a[3 * lda]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
            if (m > 4) { av = Vector256.Create(a[4 * lda]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
            if (m > 5) { av = Vector256.Create(a[5 * lda]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
            a += step;
            b += ldb;
        }

        if (relu)
        {
            // Vector256.Max propagates NaN like MathF.Max, so this matches ApplyActivation's ReLU.
            Vector256<float> z = Vector256<float>.Zero;
            c0a = Vector256.Max(c0a, z); c0b = Vector256.Max(c0b, z);
            c1a = Vector256.Max(c1a, z); c1b = Vector256.Max(c1b, z);
            c2a = Vector256.Max(c2a, z); c2b = Vector256.Max(c2b, z);
            c3a = Vector256.Max(c3a, z); c3b = Vector256.Max(c3b, z);
            c4a = Vector256.Max(c4a, z); c4b = Vector256.Max(c4b, z);
            c5a = Vector256.Max(c5a, z); c5b = Vector256.Max(c5b, z);
        }
        { c0a.Store(c); c0b.Store(c + 8); }
        if (m > 1) { c1a.Store(c + ldc); c1b.Store(c + ldc + 8); }
        if (m > 2) { c2a.Store(c + 2 * ldc); c2b.Store(c + 2 * ldc + 8); }
        if (m > 3) { c3a.Store(c + 3 * ldc); c3b.Store(c + 3 * ldc + 8); }
        if (m > 4) { c4a.Store(c + 4 * ldc); c4b.Store(c + 4 * ldc + 8); }
        if (m > 5) { c5a.Store(c + 5 * ldc); c5b.Store(c + 5 * ldc + 8); }
    }
}
