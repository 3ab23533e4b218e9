using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// AVX-512F micro-kernel for 32-column panels (profile <c>x64-avx512</c>): 12 rows × 32 columns in 24 zmm
/// accumulators, the shape MLAS uses. Each k step loads one panel row (two zmm), broadcasts one x value per row and
/// issues 24 FMAs: 14 loads per 24 FMAs (12 cycles on two FMA ports) leaves the load ports half idle, and 24
/// independent accumulators cover the FMA latency (4 cycles × 2 ports = 8 in flight) three times over; with the
/// two panel-row registers and the broadcast, 27 of the 32 zmm registers. The k loop is unrolled by 4.
/// Measured on Sapphire Rapids, L1-resident: 12 rows and the unrolling each gain ≈ 5-10 % over 8 rows, not unrolled.
/// <typeparamref name="TX"/> = <see cref="XPacked"/> (what the driver runs): x comes packed, the tile's values for one
/// k step side by side, and each k step also prefetches up to 128 bytes of the next W slice into L2, so W streams in
/// at the rate it is used instead of in a burst before each tile (the 16-row, bandwidth-bound case gained most).
/// </summary>
internal readonly unsafe struct DenseAvx512<TShape, TX> : IDenseMicroKernel where TShape : struct, IDenseShape where TX : struct, IXLayout
{
    public static bool PacksX => TX.Packed;
    public static int Rows => 12;
    public static int Columns => 32;
    // 192 k × 32 columns × 4 bytes = 24 KB of W: half of a 48 KB L1, the x lines and the C tile use the rest.
    public static int KBlock => 192;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);

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
            case 7: Tile<Rows7>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 8: Tile<Rows8>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 9: Tile<Rows9>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 10: Tile<Rows10>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 11: Tile<Rows11>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
            case 12: Tile<Rows12>(a, b, c, ldc, kc, bias, accumulate, relu, prefetch, prefetchStep); break;
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
        Vector512<float> c0a = default, c0b = default;
        Vector512<float> c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default;
        Vector512<float> c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default;
        Vector512<float> c5a = default, c5b = default;
        Vector512<float> c6a = default, c6b = default;
        Vector512<float> c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default;
        Vector512<float> c9a = default, c9b = default;
        Vector512<float> c10a = default, c10b = default;
        Vector512<float> c11a = default, c11b = default;
        if (accumulate)
        {
            { c0a = Vector512.Load(c); c0b = Vector512.Load(c + 16); }
            if (m > 1) { c1a = Vector512.Load(c + ldc); c1b = Vector512.Load(c + ldc + 16); }
            if (m > 2) { c2a = Vector512.Load(c + 2 * ldc); c2b = Vector512.Load(c + 2 * ldc + 16); }
            if (m > 3) { c3a = Vector512.Load(c + 3 * ldc); c3b = Vector512.Load(c + 3 * ldc + 16); }
            if (m > 4) { c4a = Vector512.Load(c + 4 * ldc); c4b = Vector512.Load(c + 4 * ldc + 16); }
            if (m > 5) { c5a = Vector512.Load(c + 5 * ldc); c5b = Vector512.Load(c + 5 * ldc + 16); }
            if (m > 6) { c6a = Vector512.Load(c + 6 * ldc); c6b = Vector512.Load(c + 6 * ldc + 16); }
            if (m > 7) { c7a = Vector512.Load(c + 7 * ldc); c7b = Vector512.Load(c + 7 * ldc + 16); }
            if (m > 8) { c8a = Vector512.Load(c + 8 * ldc); c8b = Vector512.Load(c + 8 * ldc + 16); }
            if (m > 9) { c9a = Vector512.Load(c + 9 * ldc); c9b = Vector512.Load(c + 9 * ldc + 16); }
            if (m > 10) { c10a = Vector512.Load(c + 10 * ldc); c10b = Vector512.Load(c + 10 * ldc + 16); }
            if (m > 11) { c11a = Vector512.Load(c + 11 * ldc); c11b = Vector512.Load(c + 11 * ldc + 16); }
        }
        else if (bias != null)
        {
            Vector512<float> ba = Vector512.Load(bias), bb = Vector512.Load(bias + 16);
            c0a = ba; c0b = bb;
            c1a = ba; c1b = bb;
            c2a = ba; c2b = bb;
            c3a = ba; c3b = bb;
            c4a = ba; c4b = bb;
            c5a = ba; c5b = bb;
            c6a = ba; c6b = bb;
            c7a = ba; c7b = bb;
            c8a = ba; c8b = bb;
            c9a = ba; c9b = bb;
            c10a = ba; c10b = bb;
            c11a = ba; c11b = bb;
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
                Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), av;
                { av = Vector512.Create(a[0]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector512.Create(a[lda]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector512.Create(a[2 * lda]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector512.Create(a[3 * lda]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector512.Create(a[4 * lda]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector512.Create(a[5 * lda]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
                if (m > 6) { av = Vector512.Create(a[6 * lda]); c6a = MulAdd(av, b0, c6a); c6b = MulAdd(av, b1, c6b); }
                if (m > 7) { av = Vector512.Create(a[7 * lda]); c7a = MulAdd(av, b0, c7a); c7b = MulAdd(av, b1, c7b); }
                if (m > 8) { av = Vector512.Create(a[8 * lda]); c8a = MulAdd(av, b0, c8a); c8b = MulAdd(av, b1, c8b); }
                if (m > 9) { av = Vector512.Create(a[9 * lda]); c9a = MulAdd(av, b0, c9a); c9b = MulAdd(av, b1, c9b); }
                if (m > 10) { av = Vector512.Create(a[10 * lda]); c10a = MulAdd(av, b0, c10a); c10b = MulAdd(av, b1, c10b); }
                if (m > 11) { av = Vector512.Create(a[11 * lda]); c11a = MulAdd(av, b0, c11a); c11b = MulAdd(av, b1, c11b); }
            }
            {
                Vector512<float> b0 = Vector512.Load(b + 1 * ldb), b1 = Vector512.Load(b + 1 * ldb + 16), av;
                { av = Vector512.Create(a[step]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector512.Create(a[lda + step]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector512.Create(a[2 * lda + step]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector512.Create(a[3 * lda + step]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector512.Create(a[4 * lda + step]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector512.Create(a[5 * lda + step]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
                if (m > 6) { av = Vector512.Create(a[6 * lda + step]); c6a = MulAdd(av, b0, c6a); c6b = MulAdd(av, b1, c6b); }
                if (m > 7) { av = Vector512.Create(a[7 * lda + step]); c7a = MulAdd(av, b0, c7a); c7b = MulAdd(av, b1, c7b); }
                if (m > 8) { av = Vector512.Create(a[8 * lda + step]); c8a = MulAdd(av, b0, c8a); c8b = MulAdd(av, b1, c8b); }
                if (m > 9) { av = Vector512.Create(a[9 * lda + step]); c9a = MulAdd(av, b0, c9a); c9b = MulAdd(av, b1, c9b); }
                if (m > 10) { av = Vector512.Create(a[10 * lda + step]); c10a = MulAdd(av, b0, c10a); c10b = MulAdd(av, b1, c10b); }
                if (m > 11) { av = Vector512.Create(a[11 * lda + step]); c11a = MulAdd(av, b0, c11a); c11b = MulAdd(av, b1, c11b); }
            }
            {
                Vector512<float> b0 = Vector512.Load(b + 2 * ldb), b1 = Vector512.Load(b + 2 * ldb + 16), av;
                { av = Vector512.Create(a[2 * step]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector512.Create(a[lda + 2 * step]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector512.Create(a[2 * lda + 2 * step]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector512.Create(a[3 * lda + 2 * step]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector512.Create(a[4 * lda + 2 * step]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector512.Create(a[5 * lda + 2 * step]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
                if (m > 6) { av = Vector512.Create(a[6 * lda + 2 * step]); c6a = MulAdd(av, b0, c6a); c6b = MulAdd(av, b1, c6b); }
                if (m > 7) { av = Vector512.Create(a[7 * lda + 2 * step]); c7a = MulAdd(av, b0, c7a); c7b = MulAdd(av, b1, c7b); }
                if (m > 8) { av = Vector512.Create(a[8 * lda + 2 * step]); c8a = MulAdd(av, b0, c8a); c8b = MulAdd(av, b1, c8b); }
                if (m > 9) { av = Vector512.Create(a[9 * lda + 2 * step]); c9a = MulAdd(av, b0, c9a); c9b = MulAdd(av, b1, c9b); }
                if (m > 10) { av = Vector512.Create(a[10 * lda + 2 * step]); c10a = MulAdd(av, b0, c10a); c10b = MulAdd(av, b1, c10b); }
                if (m > 11) { av = Vector512.Create(a[11 * lda + 2 * step]); c11a = MulAdd(av, b0, c11a); c11b = MulAdd(av, b1, c11b); }
            }
            {
                Vector512<float> b0 = Vector512.Load(b + 3 * ldb), b1 = Vector512.Load(b + 3 * ldb + 16), av;
                { av = Vector512.Create(a[3 * step]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
                if (m > 1) { av = Vector512.Create(a[lda + 3 * step]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
                if (m > 2) { av = Vector512.Create(a[2 * lda + 3 * step]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
                if (m > 3) { av = Vector512.Create(a[3 * lda + 3 * step]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
                if (m > 4) { av = Vector512.Create(a[4 * lda + 3 * step]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
                if (m > 5) { av = Vector512.Create(a[5 * lda + 3 * step]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
                if (m > 6) { av = Vector512.Create(a[6 * lda + 3 * step]); c6a = MulAdd(av, b0, c6a); c6b = MulAdd(av, b1, c6b); }
                if (m > 7) { av = Vector512.Create(a[7 * lda + 3 * step]); c7a = MulAdd(av, b0, c7a); c7b = MulAdd(av, b1, c7b); }
                if (m > 8) { av = Vector512.Create(a[8 * lda + 3 * step]); c8a = MulAdd(av, b0, c8a); c8b = MulAdd(av, b1, c8b); }
                if (m > 9) { av = Vector512.Create(a[9 * lda + 3 * step]); c9a = MulAdd(av, b0, c9a); c9b = MulAdd(av, b1, c9b); }
                if (m > 10) { av = Vector512.Create(a[10 * lda + 3 * step]); c10a = MulAdd(av, b0, c10a); c10b = MulAdd(av, b1, c10b); }
                if (m > 11) { av = Vector512.Create(a[11 * lda + 3 * step]); c11a = MulAdd(av, b0, c11a); c11b = MulAdd(av, b1, c11b); }
            }
            a += 4 * step;
            b += 4 * ldb;
        }
        for (; k < kc; k++)
        {
            Sse.Prefetch1(prefetch); Sse.Prefetch1(prefetch + halfStep);
            prefetch += prefetchStep;
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), av;
            { av = Vector512.Create(a[0]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); }
            if (m > 1) { av = Vector512.Create(a[lda]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); }
            if (m > 2) { av = Vector512.Create(a[2 * lda]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); }
            if (m > 3) { av = Vector512.Create(a[3 * lda]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); }
            if (m > 4) { av = Vector512.Create(a[4 * lda]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); }
            if (m > 5) { av = Vector512.Create(a[5 * lda]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); }
            if (m > 6) { av = Vector512.Create(a[6 * lda]); c6a = MulAdd(av, b0, c6a); c6b = MulAdd(av, b1, c6b); }
            if (m > 7) { av = Vector512.Create(a[7 * lda]); c7a = MulAdd(av, b0, c7a); c7b = MulAdd(av, b1, c7b); }
            if (m > 8) { av = Vector512.Create(a[8 * lda]); c8a = MulAdd(av, b0, c8a); c8b = MulAdd(av, b1, c8b); }
            if (m > 9) { av = Vector512.Create(a[9 * lda]); c9a = MulAdd(av, b0, c9a); c9b = MulAdd(av, b1, c9b); }
            if (m > 10) { av = Vector512.Create(a[10 * lda]); c10a = MulAdd(av, b0, c10a); c10b = MulAdd(av, b1, c10b); }
            if (m > 11) { av = Vector512.Create(a[11 * lda]); c11a = MulAdd(av, b0, c11a); c11b = MulAdd(av, b1, c11b); }
            a += step;
            b += ldb;
        }

        if (relu)
        {
            // Vector512.Max propagates NaN like MathF.Max, so this matches ApplyActivation's ReLU.
            Vector512<float> z = Vector512<float>.Zero;
            c0a = Vector512.Max(c0a, z); c0b = Vector512.Max(c0b, z);
            c1a = Vector512.Max(c1a, z); c1b = Vector512.Max(c1b, z);
            c2a = Vector512.Max(c2a, z); c2b = Vector512.Max(c2b, z);
            c3a = Vector512.Max(c3a, z); c3b = Vector512.Max(c3b, z);
            c4a = Vector512.Max(c4a, z); c4b = Vector512.Max(c4b, z);
            c5a = Vector512.Max(c5a, z); c5b = Vector512.Max(c5b, z);
            c6a = Vector512.Max(c6a, z); c6b = Vector512.Max(c6b, z);
            c7a = Vector512.Max(c7a, z); c7b = Vector512.Max(c7b, z);
            c8a = Vector512.Max(c8a, z); c8b = Vector512.Max(c8b, z);
            c9a = Vector512.Max(c9a, z); c9b = Vector512.Max(c9b, z);
            c10a = Vector512.Max(c10a, z); c10b = Vector512.Max(c10b, z);
            c11a = Vector512.Max(c11a, z); c11b = Vector512.Max(c11b, z);
        }
        { c0a.Store(c); c0b.Store(c + 16); }
        if (m > 1) { c1a.Store(c + ldc); c1b.Store(c + ldc + 16); }
        if (m > 2) { c2a.Store(c + 2 * ldc); c2b.Store(c + 2 * ldc + 16); }
        if (m > 3) { c3a.Store(c + 3 * ldc); c3b.Store(c + 3 * ldc + 16); }
        if (m > 4) { c4a.Store(c + 4 * ldc); c4b.Store(c + 4 * ldc + 16); }
        if (m > 5) { c5a.Store(c + 5 * ldc); c5b.Store(c + 5 * ldc + 16); }
        if (m > 6) { c6a.Store(c + 6 * ldc); c6b.Store(c + 6 * ldc + 16); }
        if (m > 7) { c7a.Store(c + 7 * ldc); c7b.Store(c + 7 * ldc + 16); }
        if (m > 8) { c8a.Store(c + 8 * ldc); c8b.Store(c + 8 * ldc + 16); }
        if (m > 9) { c9a.Store(c + 9 * ldc); c9b.Store(c + 9 * ldc + 16); }
        if (m > 10) { c10a.Store(c + 10 * ldc); c10b.Store(c + 10 * ldc + 16); }
        if (m > 11) { c11a.Store(c + 11 * ldc); c11b.Store(c + 11 * ldc + 16); }
    }
}
