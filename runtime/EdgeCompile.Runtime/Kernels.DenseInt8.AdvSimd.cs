using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace EdgeCompile.Runtime;

/// <summary>
/// ARM64 dot-product micro-kernel (profile <c>arm64-neon</c> on ARMv8.2+ with the DotProd extension: Apple M1+,
/// Neoverse N1+, Cortex-A76+): 6 rows × 16 columns in 24 q-register accumulators. sdot adds each group of four
/// signed byte products into an int32 lane, one quad of the weight layout, so a 16-byte load is 4 columns × 4 k and a
/// 4-byte broadcast (ld1r) the matching activations of a row; signed × signed needs no offset, and the int32 sums are
/// exact. Per group: 4 weight loads and 6 broadcasts for 24 sdot; 24 + 4 + 1 of the 32 vector registers.
/// </summary>
internal readonly unsafe struct DenseInt8Dot<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 6;
    public static int Columns => 16;
    public static Int8ActivationFormat Format => Int8ActivationFormat.SByte;

    public static void Tile(int rows, byte* a, sbyte* b, int* acc)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>((sbyte*)a, b, acc); break;
            case 2: Tile<Rows2>((sbyte*)a, b, acc); break;
            case 3: Tile<Rows3>((sbyte*)a, b, acc); break;
            case 4: Tile<Rows4>((sbyte*)a, b, acc); break;
            case 5: Tile<Rows5>((sbyte*)a, b, acc); break;
            case 6: Tile<Rows6>((sbyte*)a, b, acc); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Dot(Vector128<int> c, Vector128<sbyte> a, Vector128<sbyte> b) => Dp.DotProduct(c, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Quad(sbyte* a) => Vector128.Create(Unsafe.ReadUnaligned<int>(a)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(sbyte* a, sbyte* b, int* acc) where TRows : struct, IRowCount
    {
        int m = TRows.Value, groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        Vector128<int> c0a = default, c0b = default, c0c = default, c0d = default;
        Vector128<int> c1a = default, c1b = default, c1c = default, c1d = default;
        Vector128<int> c2a = default, c2b = default, c2c = default, c2d = default;
        Vector128<int> c3a = default, c3b = default, c3c = default, c3d = default;
        Vector128<int> c4a = default, c4b = default, c4c = default, c4d = default;
        Vector128<int> c5a = default, c5b = default, c5c = default, c5d = default;
        for (int g = 0; g < groups; g++)
        {
            Vector128<sbyte> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 16), b2 = Vector128.Load(b + 32), b3 = Vector128.Load(b + 48);
            Vector128<sbyte> av;
            { av = Quad(a); c0a = Dot(c0a, av, b0); c0b = Dot(c0b, av, b1); c0c = Dot(c0c, av, b2); c0d = Dot(c0d, av, b3); }
            if (m > 1) { av = Quad(a + lda); c1a = Dot(c1a, av, b0); c1b = Dot(c1b, av, b1); c1c = Dot(c1c, av, b2); c1d = Dot(c1d, av, b3); }
            if (m > 2) { av = Quad(a + 2 * lda); c2a = Dot(c2a, av, b0); c2b = Dot(c2b, av, b1); c2c = Dot(c2c, av, b2); c2d = Dot(c2d, av, b3); }
            if (m > 3) { av = Quad(a + 3 * lda); c3a = Dot(c3a, av, b0); c3b = Dot(c3b, av, b1); c3c = Dot(c3c, av, b2); c3d = Dot(c3d, av, b3); }
            if (m > 4) { av = Quad(a + 4 * lda); c4a = Dot(c4a, av, b0); c4b = Dot(c4b, av, b1); c4c = Dot(c4c, av, b2); c4d = Dot(c4d, av, b3); }
            if (m > 5) { av = Quad(a + 5 * lda); c5a = Dot(c5a, av, b0); c5b = Dot(c5b, av, b1); c5c = Dot(c5c, av, b2); c5d = Dot(c5d, av, b3); }
            a += 4;
            b += ldb;
        }
        { c0a.Store(acc); c0b.Store(acc + 4); c0c.Store(acc + 8); c0d.Store(acc + 12); }
        if (m > 1) { c1a.Store(acc + 16); c1b.Store(acc + 20); c1c.Store(acc + 24); c1d.Store(acc + 28); }
        if (m > 2) { c2a.Store(acc + 32); c2b.Store(acc + 36); c2c.Store(acc + 40); c2d.Store(acc + 44); }
        if (m > 3) { c3a.Store(acc + 48); c3b.Store(acc + 52); c3c.Store(acc + 56); c3d.Store(acc + 60); }
        if (m > 4) { c4a.Store(acc + 64); c4b.Store(acc + 68); c4c.Store(acc + 72); c4d.Store(acc + 76); }
        if (m > 5) { c5a.Store(acc + 80); c5b.Store(acc + 84); c5c.Store(acc + 88); c5d.Store(acc + 92); }
    }
}

/// <summary>
/// ARM64 micro-kernel without DotProd (ARMv8.0: Cortex-A53/A72, Raspberry Pi 4): 4 rows × 8 columns. smull/smull2
/// multiply 8 weight bytes by the row's 4 activations (repeated twice) into 8 int16 products (|·| ≤ 127², exact),
/// and sadalp adds adjacent pairs of them into int32 lanes: two half sums per column, added at the end by addp.
/// 16 accumulators + 2 weight vectors + 1 broadcast + 2 products of the 32 vector registers.
/// </summary>
internal readonly unsafe struct DenseInt8AdvSimd<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 4;
    public static int Columns => 8;
    public static Int8ActivationFormat Format => Int8ActivationFormat.SByte;

    public static void Tile(int rows, byte* a, sbyte* b, int* acc)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>((sbyte*)a, b, acc); break;
            case 2: Tile<Rows2>((sbyte*)a, b, acc); break;
            case 3: Tile<Rows3>((sbyte*)a, b, acc); break;
            case 4: Tile<Rows4>((sbyte*)a, b, acc); break;
        }
    }

    /// <summary>Half sums of columns 0,1 of the 16 weight bytes <paramref name="b"/> (4 columns × 4 k) times the row's quad.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> DotLow(Vector128<int> c, Vector128<sbyte> a, Vector128<sbyte> b)
        => AdvSimd.AddPairwiseWideningAndAdd(c, AdvSimd.MultiplyWideningLower(b.GetLower(), a.GetLower()));

    /// <summary>Half sums of columns 2,3 of the 16 weight bytes <paramref name="b"/> times the row's quad.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> DotHigh(Vector128<int> c, Vector128<sbyte> a, Vector128<sbyte> b)
        => AdvSimd.AddPairwiseWideningAndAdd(c, AdvSimd.MultiplyWideningUpper(b, a));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Quad(sbyte* a) => Vector128.Create(Unsafe.ReadUnaligned<int>(a)).AsSByte();

    /// <summary>addp: [c0 c0' c1 c1'] + [c2 c2' c3 c3'] → [c0 c1 c2 c3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector128<int> c01, Vector128<int> c23, int* acc) => AdvSimd.Arm64.AddPairwise(c01, c23).Store(acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(sbyte* a, sbyte* b, int* acc) where TRows : struct, IRowCount
    {
        int m = TRows.Value, groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        Vector128<int> c0a = default, c0b = default, c0c = default, c0d = default;
        Vector128<int> c1a = default, c1b = default, c1c = default, c1d = default;
        Vector128<int> c2a = default, c2b = default, c2c = default, c2d = default;
        Vector128<int> c3a = default, c3b = default, c3c = default, c3d = default;
        for (int g = 0; g < groups; g++)
        {
            Vector128<sbyte> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 16);
            Vector128<sbyte> av;
            { av = Quad(a); c0a = DotLow(c0a, av, b0); c0b = DotHigh(c0b, av, b0); c0c = DotLow(c0c, av, b1); c0d = DotHigh(c0d, av, b1); }
            if (m > 1) { av = Quad(a + lda); c1a = DotLow(c1a, av, b0); c1b = DotHigh(c1b, av, b0); c1c = DotLow(c1c, av, b1); c1d = DotHigh(c1d, av, b1); }
            if (m > 2) { av = Quad(a + 2 * lda); c2a = DotLow(c2a, av, b0); c2b = DotHigh(c2b, av, b0); c2c = DotLow(c2c, av, b1); c2d = DotHigh(c2d, av, b1); }
            if (m > 3) { av = Quad(a + 3 * lda); c3a = DotLow(c3a, av, b0); c3b = DotHigh(c3b, av, b0); c3c = DotLow(c3c, av, b1); c3d = DotHigh(c3d, av, b1); }
            a += 4;
            b += ldb;
        }
        { Store(c0a, c0b, acc); Store(c0c, c0d, acc + 4); }
        if (m > 1) { Store(c1a, c1b, acc + 8); Store(c1c, c1d, acc + 12); }
        if (m > 2) { Store(c2a, c2b, acc + 16); Store(c2c, c2d, acc + 20); }
        if (m > 3) { Store(c3a, c3b, acc + 24); Store(c3c, c3d, acc + 28); }
    }
}
