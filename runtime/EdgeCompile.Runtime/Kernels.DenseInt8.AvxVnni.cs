using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// AVX-VNNI micro-kernel (x64 from Alder Lake / Sapphire Rapids / Zen 4 on; both panel widths): 6 rows × 16 columns
/// in 12 ymm accumulators. vpdpbusd multiplies unsigned by signed bytes and adds each group of four products to an
/// int32 lane, which is exactly one quad of the weight layout: one 32-byte load is 8 columns × 4 k, one 4-byte
/// broadcast is the matching 4 activations of a row. The activations are stored as q_x + 128 (unsigned, 1..255) and
/// the epilogue subtracts 128·Σ_k q_w[k,j]; vpdpbusd (not the saturating vpdpbusds) adds into the int32 lane without
/// intermediate saturation, and |Σ| ≤ 65536·255·127 &lt; 2³¹, so the result is exact. This was chosen over vpdpwssd
/// on int16: twice the multiply-adds per instruction and the weights used as stored, without sign extension.
/// Per group of 4 k: 2 weight loads and 6 broadcasts for 12 vpdpbusd (384 multiply-adds); 12 independent
/// accumulators cover the 5-cycle latency at two per cycle; with the 2 weight vectors and one broadcast 15 of the
/// 16 ymm registers are live.
/// </summary>
internal readonly unsafe struct DenseInt8AvxVnni<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 6;
    public static int Columns => 16;
    public static Int8ActivationFormat Format => Int8ActivationFormat.OffsetByte;

    public static void Tile(int rows, byte* a, sbyte* b, int* acc)
    {
        switch (rows)
        {
            case 1: TileOneRow(a, b, acc); break;
            case 2: Tile<Rows2>(a, b, acc); break;
            case 3: Tile<Rows3>(a, b, acc); break;
            case 4: Tile<Rows4>(a, b, acc); break;
            case 5: Tile<Rows5>(a, b, acc); break;
            case 6: Tile<Rows6>(a, b, acc); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<int> c, Vector256<byte> a, Vector256<sbyte> b) => AvxVnni.MultiplyWideningAndAdd(c, a, b);

    /// <summary>The 4 activations of group <c>g</c> of a row, broadcast to every int32 lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Quad(byte* a) => Vector256.Create(Unsafe.ReadUnaligned<int>(a)).AsByte();

    /// <summary>
    /// One row (the driver's row of ones for a strip's column sums, and one-row inputs): with only 2 accumulators the
    /// 6×16 loop waits on vpdpbusd's latency every group, so this splits K four ways (8 accumulators, summed at the
    /// end; integer addition, so the same exact result).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileOneRow(byte* a, sbyte* b, int* acc)
    {
        int groups = (TShape.K + 3) / 4, g = 0;
        nint ldb = 4 * TShape.Panel;
        Vector256<int> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        for (; g <= groups - 4; g += 4)
        {
            Vector256<byte> av = Quad(a);
            c0a = Dot(c0a, av, Vector256.Load(b)); c0b = Dot(c0b, av, Vector256.Load(b + 32));
            av = Quad(a + 4);
            c1a = Dot(c1a, av, Vector256.Load(b + ldb)); c1b = Dot(c1b, av, Vector256.Load(b + ldb + 32));
            av = Quad(a + 8);
            c2a = Dot(c2a, av, Vector256.Load(b + 2 * ldb)); c2b = Dot(c2b, av, Vector256.Load(b + 2 * ldb + 32));
            av = Quad(a + 12);
            c3a = Dot(c3a, av, Vector256.Load(b + 3 * ldb)); c3b = Dot(c3b, av, Vector256.Load(b + 3 * ldb + 32));
            a += 16;
            b += 4 * ldb;
        }
        for (; g < groups; g++)
        {
            Vector256<byte> av = Quad(a);
            c0a = Dot(c0a, av, Vector256.Load(b)); c0b = Dot(c0b, av, Vector256.Load(b + 32));
            a += 4;
            b += ldb;
        }
        ((c0a + c1a) + (c2a + c3a)).Store(acc);
        ((c0b + c1b) + (c2b + c3b)).Store(acc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(byte* a, sbyte* b, int* acc) where TRows : struct, IRowCount
    {
        // m, the row stride (Kq bytes) and the group stride (4·Panel bytes) are constants per instantiation.
        int m = TRows.Value, groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        Vector256<int> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
        Vector256<int> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        for (int g = 0; g < groups; g++)
        {
            Vector256<sbyte> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 32);
            Vector256<byte> av;
            { av = Quad(a); c0a = Dot(c0a, av, b0); c0b = Dot(c0b, av, b1); }
            if (m > 1) { av = Quad(a + lda); c1a = Dot(c1a, av, b0); c1b = Dot(c1b, av, b1); }
            if (m > 2) { av = Quad(a + 2 * lda); c2a = Dot(c2a, av, b0); c2b = Dot(c2b, av, b1); }
            if (m > 3) { av = Quad(a + 3 * lda); c3a = Dot(c3a, av, b0); c3b = Dot(c3b, av, b1); }
            if (m > 4) { av = Quad(a + 4 * lda); c4a = Dot(c4a, av, b0); c4b = Dot(c4b, av, b1); }
            if (m > 5) { av = Quad(a + 5 * lda); c5a = Dot(c5a, av, b0); c5b = Dot(c5b, av, b1); }
            a += 4;
            b += ldb;
        }
        { c0a.Store(acc); c0b.Store(acc + 8); }
        if (m > 1) { c1a.Store(acc + 16); c1b.Store(acc + 24); }
        if (m > 2) { c2a.Store(acc + 32); c2b.Store(acc + 40); }
        if (m > 3) { c3a.Store(acc + 48); c3b.Store(acc + 56); }
        if (m > 4) { c4a.Store(acc + 64); c4b.Store(acc + 72); }
        if (m > 5) { c5a.Store(acc + 80); c5b.Store(acc + 88); }
    }
}
