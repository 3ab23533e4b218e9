using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

// The portable integer micro-kernels: Vector128 (any 128-bit SIMD) and plain scalar code beneath it.

/// <summary>
/// Portable Vector128 micro-kernel (x64 without AVX2, other 128-bit SIMD targets): 2 rows × 4 columns on int16.
/// The 16 weight bytes of a group (4 columns × 4 k) are sign-extended to two int16 vectors, multiplied by the row's
/// 4 int16 activations (repeated twice) with an int16 multiply, which is exact (|·| ≤ 127²), and the products are
/// widened to int32 and added per column: one accumulator of 4 partial sums per column, summed at the end.
/// 8 accumulators + 2 weight vectors + 1 broadcast + products fit the 16 xmm registers of SSE.
/// </summary>
internal readonly unsafe struct DenseInt8Vector128<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 2;
    public static int Columns => 4;
    public static Int8ActivationFormat Format => Int8ActivationFormat.Int16;

    public static void Tile(int rows, byte* a, sbyte* b, int* acc)
    {
        if (rows == 1) Tile<Rows1>((short*)a, b, acc);
        else Tile<Rows2>((short*)a, b, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Quad(short* a) => Vector128.Create(Unsafe.ReadUnaligned<long>(a)).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows>(short* a, sbyte* b, int* acc) where TRows : struct, IRowCount
    {
        int m = TRows.Value, groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        Vector128<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector128<int> c10 = default, c11 = default, c12 = default, c13 = default;
        for (int g = 0; g < groups; g++)
        {
            Vector128<sbyte> w = Vector128.Load(b);
            Vector128<short> w01 = Vector128.WidenLower(w), w23 = Vector128.WidenUpper(w);
            {
                Vector128<short> av = Quad(a);
                (Vector128<int> p0, Vector128<int> p1) = Vector128.Widen(w01 * av);
                (Vector128<int> p2, Vector128<int> p3) = Vector128.Widen(w23 * av);
                c00 += p0; c01 += p1; c02 += p2; c03 += p3;
            }
            if (m > 1)
            {
                Vector128<short> av = Quad(a + lda);
                (Vector128<int> p0, Vector128<int> p1) = Vector128.Widen(w01 * av);
                (Vector128<int> p2, Vector128<int> p3) = Vector128.Widen(w23 * av);
                c10 += p0; c11 += p1; c12 += p2; c13 += p3;
            }
            a += 4;
            b += ldb;
        }
        acc[0] = Vector128.Sum(c00); acc[1] = Vector128.Sum(c01); acc[2] = Vector128.Sum(c02); acc[3] = Vector128.Sum(c03);
        if (m > 1) { acc[4] = Vector128.Sum(c10); acc[5] = Vector128.Sum(c11); acc[6] = Vector128.Sum(c12); acc[7] = Vector128.Sum(c13); }
    }
}

/// <summary>
/// Scalar micro-kernel (no SIMD at all, e.g. DOTNET_EnableHWIntrinsic=0): one row at a time × 4 columns, four
/// independent int32 accumulators.
/// </summary>
internal readonly unsafe struct DenseInt8Scalar<TShape> : IDenseInt8MicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 4;
    public static int Columns => 4;
    public static Int8ActivationFormat Format => Int8ActivationFormat.Int16;

    public static void Tile(int rows, byte* a, sbyte* b, int* acc)
    {
        int groups = (TShape.K + 3) / 4;
        nint lda = groups * 4, ldb = 4 * TShape.Panel;
        for (int r = 0; r < rows; r++)
        {
            short* ar = (short*)a + r * lda;
            sbyte* bg = b;
            int s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int g = 0; g < groups; g++, ar += 4, bg += ldb)
            {
                int a0 = ar[0], a1 = ar[1], a2 = ar[2], a3 = ar[3];
                s0 += a0 * bg[0] + a1 * bg[1] + a2 * bg[2] + a3 * bg[3];
                s1 += a0 * bg[4] + a1 * bg[5] + a2 * bg[6] + a3 * bg[7];
                s2 += a0 * bg[8] + a1 * bg[9] + a2 * bg[10] + a3 * bg[11];
                s3 += a0 * bg[12] + a1 * bg[13] + a2 * bg[14] + a3 * bg[15];
            }
            acc[r * 4] = s0; acc[r * 4 + 1] = s1; acc[r * 4 + 2] = s2; acc[r * 4 + 3] = s3;
        }
    }
}
