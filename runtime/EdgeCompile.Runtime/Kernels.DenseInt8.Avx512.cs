using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// AVX-512BW micro-kernel for 32-column panels (profile <c>x64-avx512</c>) on CPUs with AVX-512 but without AVX-VNNI:
/// Skylake-SP, Cascade Lake and Ice Lake servers. Those have AVX-512 VNNI from Cascade Lake on, but .NET 10 exposes
/// no 512-bit vpdpbusd, so this is the int16 method of <see cref="DenseInt8Avx2{TShape}"/> at twice the width:
/// vpmovsxbw sign-extends 32 weight bytes (8 columns × 4 k) to a zmm of int16, vpmaddwd against a 64-bit broadcast of
/// the row's 4 int16 activations gives two exact half sums per column, and the store adds each pair with two
/// two-source permutes (even lanes, odd lanes) and one add. 6 rows × 16 columns in 12 zmm accumulators.
/// </summary>
internal readonly unsafe struct DenseInt8Avx512<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 6;
    public static int Columns => 16;
    public static Int8ActivationFormat Format => Int8ActivationFormat.Int16;

    public static void Tile(int rows, byte* a, sbyte* b, int* acc)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>((short*)a, b, acc); break;
            case 2: Tile<Rows2>((short*)a, b, acc); break;
            case 3: Tile<Rows3>((short*)a, b, acc); break;
            case 4: Tile<Rows4>((short*)a, b, acc); break;
            case 5: Tile<Rows5>((short*)a, b, acc); break;
            case 6: Tile<Rows6>((short*)a, b, acc); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot(Vector512<int> c, Vector512<short> a, Vector512<short> b) => c + Avx512BW.MultiplyAddAdjacent(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Quad(short* a) => Vector512.Create(Unsafe.ReadUnaligned<long>(a)).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Widen(sbyte* b) => Avx512BW.ConvertToVector512Int16(Vector256.Load(b));

    /// <summary>Columns 0..15 in order from the half sums of columns 0..7 (<paramref name="lo"/>) and 8..15 (<paramref name="hi"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<int> lo, Vector512<int> hi, int* acc)
    {
        // Lane 2j and 2j+1 of lo|hi (indices 0..31 across the two sources) are the two half sums of column j.
        Vector512<int> even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        Vector512<int> sums = Avx512F.PermuteVar16x32x2(lo, even, hi) + Avx512F.PermuteVar16x32x2(lo, even + Vector512<int>.One, hi);
        sums.Store(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(short* a, sbyte* b, int* acc) where TRows : struct, IRowCount
    {
        // m, the row stride (Kq int16) and the group stride (4·Panel bytes) are constants per instantiation.
        int m = TRows.Value, groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        Vector512<int> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
        Vector512<int> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        for (int g = 0; g < groups; g++)
        {
            Vector512<short> b0 = Widen(b), b1 = Widen(b + 32);
            Vector512<short> av;
            { av = Quad(a); c0a = Dot(c0a, av, b0); c0b = Dot(c0b, av, b1); }
            if (m > 1) { av = Quad(a + lda); c1a = Dot(c1a, av, b0); c1b = Dot(c1b, av, b1); }
            if (m > 2) { av = Quad(a + 2 * lda); c2a = Dot(c2a, av, b0); c2b = Dot(c2b, av, b1); }
            if (m > 3) { av = Quad(a + 3 * lda); c3a = Dot(c3a, av, b0); c3b = Dot(c3b, av, b1); }
            if (m > 4) { av = Quad(a + 4 * lda); c4a = Dot(c4a, av, b0); c4b = Dot(c4b, av, b1); }
            if (m > 5) { av = Quad(a + 5 * lda); c5a = Dot(c5a, av, b0); c5b = Dot(c5b, av, b1); }
            a += 4;
            b += ldb;
        }
        Store(c0a, c0b, acc);
        if (m > 1) Store(c1a, c1b, acc + 16);
        if (m > 2) Store(c2a, c2b, acc + 32);
        if (m > 3) Store(c3a, c3b, acc + 48);
        if (m > 4) Store(c4a, c4b, acc + 64);
        if (m > 5) Store(c5a, c5b, acc + 80);
    }
}
