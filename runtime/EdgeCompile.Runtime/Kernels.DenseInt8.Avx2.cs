using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// AVX2 micro-kernel for x64 CPUs without VNNI (Haswell to Ice Lake client, Zen 1-3): 6 rows × 8 columns in 12 ymm
/// accumulators, on int16. vpmaddubsw is not used: it adds two u8·s8 products into a saturating int16, which is wrong
/// for 127·127 + 127·127. Instead the weights are sign-extended to int16 as they are loaded (vpmovsxbw: 16 bytes =
/// 4 columns × 4 k), the activations are stored as int16, and vpmaddwd adds pairs of int16 products into int32
/// lanes, which is exact (|pair| ≤ 2·127² &lt; 2³¹). A 64-bit broadcast of the row's 4 activations lines up with each
/// column's [k0 k1 k2 k3], so every column gets two half sums (k0+k1, k2+k3) in adjacent lanes, added at the end by
/// one vphaddd per pair of vectors.
/// Per group of 4 k: 2 sign-extending loads and 6 broadcasts for 12 vpmaddwd + 12 vpaddd (192 multiply-adds); with
/// the 2 weight vectors and one broadcast, 15 of the 16 ymm registers are live.
/// </summary>
internal readonly unsafe struct DenseInt8Avx2<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 6;
    public static int Columns => 8;
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
    private static Vector256<int> Dot(Vector256<int> c, Vector256<short> a, Vector256<short> b) => Avx2.Add(c, Avx2.MultiplyAddAdjacent(a, b));

    /// <summary>The 4 int16 activations of a group, broadcast to every 64-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Quad(short* a) => Vector256.Create(Unsafe.ReadUnaligned<long>(a)).AsInt16();

    /// <summary>Columns 0..7 in order from the half sums of columns 0..3 (<paramref name="lo"/>) and 4..7 (<paramref name="hi"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<int> lo, Vector256<int> hi, int* acc)
    {
        // vphaddd works within 128-bit halves: [c0 c1 c4 c5 | c2 c3 c6 c7]; the 64-bit permute puts them in order.
        Vector256<int> sums = Avx2.HorizontalAdd(lo, hi);
        Avx2.Permute4x64(sums.AsInt64(), 0b11_01_10_00).AsInt32().Store(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(short* a, sbyte* b, int* acc) where TRows : struct, IRowCount
    {
        // m, the row stride (Kq int16) and the group stride (4·Panel bytes) are constants per instantiation.
        int m = TRows.Value, groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        Vector256<int> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
        Vector256<int> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        for (int g = 0; g < groups; g++)
        {
            Vector256<short> b0 = Avx2.ConvertToVector256Int16(b), b1 = Avx2.ConvertToVector256Int16(b + 16);
            Vector256<short> av;
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
        if (m > 1) Store(c1a, c1b, acc + 8);
        if (m > 2) Store(c2a, c2b, acc + 16);
        if (m > 3) Store(c3a, c3b, acc + 24);
        if (m > 4) Store(c4a, c4b, acc + 32);
        if (m > 5) Store(c5a, c5b, acc + 40);
    }
}
