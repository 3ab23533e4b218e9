using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace EdgeCompile.Runtime;

/// <summary>
/// ARM64 AdvSimd micro-kernel for 16-column slices (profile <c>arm64-neon</c>): 6 rows × 16 columns in 24 q-register
/// accumulators. Each k step loads one panel row (four q registers) and, per row, one x value into lane 0 of a
/// register that the by-element FMA (fmla v.4s, v.4s, v.s[0]) reads directly, so no broadcast instruction is needed:
/// 10 loads per 24 FMAs; with the 4 + 1 operand registers 29 of the 32 vector registers; 24 independent
/// accumulators keep 4 FMA pipes of 4-cycle latency (Apple, Neoverse V) busy.
/// </summary>
internal readonly unsafe struct DenseAdvSimd<TShape> : IDenseMicroKernel where TShape : struct, IDenseShape
{
    public static int Rows => 6;
    public static int Columns => 16;
    // 384 k × 16 columns × 4 bytes = 24 KB of W: fits a 64 KB (Neoverse) or 128 KB (Apple) L1 with room for x and C.
    public static int KBlock => 384;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(c, b, a, 0);

    public static void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 2: Tile<Rows2>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 3: Tile<Rows3>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 4: Tile<Rows4>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 5: Tile<Rows5>(a, b, c, ldc, kc, bias, accumulate, relu); break;
            case 6: Tile<Rows6>(a, b, c, ldc, kc, bias, accumulate, relu); break;
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
        Vector128<float> c0a = default, c0b = default, c0c = default, c0d = default;
        Vector128<float> c1a = default, c1b = default, c1c = default, c1d = default;
        Vector128<float> c2a = default, c2b = default, c2c = default, c2d = default;
        Vector128<float> c3a = default, c3b = default, c3c = default, c3d = default;
        Vector128<float> c4a = default, c4b = default, c4c = default, c4d = default;
        Vector128<float> c5a = default, c5b = default, c5c = default, c5d = default;
        if (accumulate)
        {
            { c0a = Vector128.Load(c); c0b = Vector128.Load(c + 4); c0c = Vector128.Load(c + 8); c0d = Vector128.Load(c + 12); }
            if (m > 1) { c1a = Vector128.Load(c + ldc); c1b = Vector128.Load(c + ldc + 4); c1c = Vector128.Load(c + ldc + 8); c1d = Vector128.Load(c + ldc + 12); }
            if (m > 2) { c2a = Vector128.Load(c + 2 * ldc); c2b = Vector128.Load(c + 2 * ldc + 4); c2c = Vector128.Load(c + 2 * ldc + 8); c2d = Vector128.Load(c + 2 * ldc + 12); }
            if (m > 3) { c3a = Vector128.Load(c + 3 * ldc); c3b = Vector128.Load(c + 3 * ldc + 4); c3c = Vector128.Load(c + 3 * ldc + 8); c3d = Vector128.Load(c + 3 * ldc + 12); }
            if (m > 4) { c4a = Vector128.Load(c + 4 * ldc); c4b = Vector128.Load(c + 4 * ldc + 4); c4c = Vector128.Load(c + 4 * ldc + 8); c4d = Vector128.Load(c + 4 * ldc + 12); }
            if (m > 5) { c5a = Vector128.Load(c + 5 * ldc); c5b = Vector128.Load(c + 5 * ldc + 4); c5c = Vector128.Load(c + 5 * ldc + 8); c5d = Vector128.Load(c + 5 * ldc + 12); }
        }
        else if (bias != null)
        {
            Vector128<float> ba = Vector128.Load(bias), bb = Vector128.Load(bias + 4), bc = Vector128.Load(bias + 8), bd = Vector128.Load(bias + 12);
            c0a = ba; c0b = bb; c0c = bc; c0d = bd;
            c1a = ba; c1b = bb; c1c = bc; c1d = bd;
            c2a = ba; c2b = bb; c2c = bc; c2d = bd;
            c3a = ba; c3b = bb; c3c = bc; c3d = bd;
            c4a = ba; c4b = bb; c4c = bc; c4d = bd;
            c5a = ba; c5b = bb; c5c = bc; c5d = bd;
        }

        for (int k = 0; k < kc; k++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4), b2 = Vector128.Load(b + 8), b3 = Vector128.Load(b + 12), av;
            { av = Vector128.CreateScalarUnsafe(a[0]); c0a = MulAdd(av, b0, c0a); c0b = MulAdd(av, b1, c0b); c0c = MulAdd(av, b2, c0c); c0d = MulAdd(av, b3, c0d); }
            if (m > 1) { av = Vector128.CreateScalarUnsafe(a[lda]); c1a = MulAdd(av, b0, c1a); c1b = MulAdd(av, b1, c1b); c1c = MulAdd(av, b2, c1c); c1d = MulAdd(av, b3, c1d); }
            if (m > 2) { av = Vector128.CreateScalarUnsafe(a[2 * lda]); c2a = MulAdd(av, b0, c2a); c2b = MulAdd(av, b1, c2b); c2c = MulAdd(av, b2, c2c); c2d = MulAdd(av, b3, c2d); }
            if (m > 3) { av = Vector128.CreateScalarUnsafe(a[3 * lda]); c3a = MulAdd(av, b0, c3a); c3b = MulAdd(av, b1, c3b); c3c = MulAdd(av, b2, c3c); c3d = MulAdd(av, b3, c3d); }
            if (m > 4) { av = Vector128.CreateScalarUnsafe(a[4 * lda]); c4a = MulAdd(av, b0, c4a); c4b = MulAdd(av, b1, c4b); c4c = MulAdd(av, b2, c4c); c4d = MulAdd(av, b3, c4d); }
            if (m > 5) { av = Vector128.CreateScalarUnsafe(a[5 * lda]); c5a = MulAdd(av, b0, c5a); c5b = MulAdd(av, b1, c5b); c5c = MulAdd(av, b2, c5c); c5d = MulAdd(av, b3, c5d); }
            a++;
            b += ldb;
        }

        if (relu)
        {
            // Vector128.Max propagates NaN like MathF.Max, so this matches ApplyActivation's ReLU.
            Vector128<float> z = Vector128<float>.Zero;
            c0a = Vector128.Max(c0a, z); c0b = Vector128.Max(c0b, z); c0c = Vector128.Max(c0c, z); c0d = Vector128.Max(c0d, z);
            c1a = Vector128.Max(c1a, z); c1b = Vector128.Max(c1b, z); c1c = Vector128.Max(c1c, z); c1d = Vector128.Max(c1d, z);
            c2a = Vector128.Max(c2a, z); c2b = Vector128.Max(c2b, z); c2c = Vector128.Max(c2c, z); c2d = Vector128.Max(c2d, z);
            c3a = Vector128.Max(c3a, z); c3b = Vector128.Max(c3b, z); c3c = Vector128.Max(c3c, z); c3d = Vector128.Max(c3d, z);
            c4a = Vector128.Max(c4a, z); c4b = Vector128.Max(c4b, z); c4c = Vector128.Max(c4c, z); c4d = Vector128.Max(c4d, z);
            c5a = Vector128.Max(c5a, z); c5b = Vector128.Max(c5b, z); c5c = Vector128.Max(c5c, z); c5d = Vector128.Max(c5d, z);
        }
        { c0a.Store(c); c0b.Store(c + 4); c0c.Store(c + 8); c0d.Store(c + 12); }
        if (m > 1) { c1a.Store(c + ldc); c1b.Store(c + ldc + 4); c1c.Store(c + ldc + 8); c1d.Store(c + ldc + 12); }
        if (m > 2) { c2a.Store(c + 2 * ldc); c2b.Store(c + 2 * ldc + 4); c2c.Store(c + 2 * ldc + 8); c2d.Store(c + 2 * ldc + 12); }
        if (m > 3) { c3a.Store(c + 3 * ldc); c3b.Store(c + 3 * ldc + 4); c3c.Store(c + 3 * ldc + 8); c3d.Store(c + 3 * ldc + 12); }
        if (m > 4) { c4a.Store(c + 4 * ldc); c4b.Store(c + 4 * ldc + 4); c4c.Store(c + 4 * ldc + 8); c4d.Store(c + 4 * ldc + 12); }
        if (m > 5) { c5a.Store(c + 5 * ldc); c5b.Store(c + 5 * ldc + 4); c5c.Store(c + 5 * ldc + 8); c5d.Store(c + 5 * ldc + 12); }
    }
}
