using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// Widening of stored weights to float: Half, INT4 nibbles times a Half scale, INT8 times a float scale. Used by the
/// weight-only Dense kernels (a kc × NR slice at a time, into L1) and by the quantized embedding gathers. Every path
/// gives exactly the float the reference computes: <c>(float)h</c>, <c>(float)q · (float)s</c> (exact: a 4-bit
/// integer times an 11-bit significand fits a float's 24 bits), <c>(float)q · s</c> (one rounding).
/// Paths side by side: AVX2 (256-bit), portable Vector128 (SSE, AdvSimd), scalar.
/// </summary>
/// <remarks>
/// .NET 10 exposes no Half vector conversion (no F16C <c>vcvtph2ps</c>, no AdvSimd <c>fcvtl</c> on Half), so Half
/// is widened with integer operations: for a finite Half <c>h</c> with exponent field e and mantissa m, the float with
/// bits <c>(h &amp; 0x7FFF) &lt;&lt; 13</c> has exponent field e and mantissa m·2^13, i.e. it is h·2^-112 whether h is
/// normal (2^(e−127) vs 2^(e−15)) or subnormal (float subnormal m·2^-136 vs m·2^-24); one multiply by 2^112 rescales it
/// exactly and the sign is OR-ed back. An all-ones Half exponent (∞, NaN) is mapped to an all-ones float exponent first.
/// </remarks>
internal static unsafe class WeightWidening
{
    /// <summary>2^112 as a float: the exponent-bias difference between float (127) and Half (15).</summary>
    private const float HalfBiasScale = (float)(1L << 56) * (1L << 56);

    /// <summary><c>dst[i] = (float)src[i]</c> for i &lt; <paramref name="count"/> (Half bits in <paramref name="src"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void HalfToSingle(ushort* src, float* dst, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            for (; i <= count - 8; i += 8) HalfBitsToSingle(Avx2.ConvertToVector256Int32(src + i).AsUInt32()).Store(dst + i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= count - 8; i += 8)
            {
                Vector128<ushort> h = Vector128.Load(src + i);
                HalfBitsToSingle(Vector128.WidenLower(h)).Store(dst + i);
                HalfBitsToSingle(Vector128.WidenUpper(h)).Store(dst + i + 4);
            }
        }
        for (; i < count; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(src[i]);
    }

    /// <summary>
    /// A column group of INT4 weights: for r &lt; <paramref name="rows"/> and c &lt; <paramref name="columns"/>,
    /// <c>dst[r·dstStride + c] = nibble(c) of src[r·srcStride ..] · scale[c]</c>, nibble c being the low (even c) or
    /// high half of byte c/2, two's complement. <paramref name="scale"/> holds Half bits (one per column, shared by
    /// the rows: one block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Int4RowsToSingle(byte* src, nint srcStride, ushort* scale, float* dst, nint dstStride, int rows, int columns)
    {
        int c = 0;
        if (Avx2.IsSupported)
        {
            for (; c <= columns - 8; c += 8)
            {
                Vector256<float> s = HalfBitsToSingle(Avx2.ConvertToVector256Int32(scale + c).AsUInt32());
                byte* from = src + c / 2;
                float* to = dst + c;
                for (int r = 0; r < rows; r++, from += srcStride, to += dstStride)
                    (Nibbles8(Unsafe.ReadUnaligned<uint>(from)) * s).Store(to);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; c <= columns - 8; c += 8)
            {
                Vector128<ushort> h = Vector128.Load(scale + c);
                Vector128<float> sLow = HalfBitsToSingle(Vector128.WidenLower(h)), sHigh = HalfBitsToSingle(Vector128.WidenUpper(h));
                byte* from = src + c / 2;
                float* to = dst + c;
                for (int r = 0; r < rows; r++, from += srcStride, to += dstStride)
                {
                    (Vector128<float> low, Vector128<float> high) = Nibbles8As128(Unsafe.ReadUnaligned<uint>(from));
                    (low * sLow).Store(to);
                    (high * sHigh).Store(to + 4);
                }
            }
        }
        for (; c < columns; c++)
        {
            float s = (float)BitConverter.UInt16BitsToHalf(scale[c]);
            for (int r = 0; r < rows; r++) dst[r * dstStride + c] = Nibble(src + r * srcStride, c) * s;
        }
    }

    /// <summary>
    /// <c>dst[i] = nibble(first + i) · scale</c> for i &lt; <paramref name="count"/>: a run of INT4 values that share
    /// one scale, starting at any nibble of <paramref name="data"/>. Reads only the bytes holding those nibbles.
    /// </summary>
    public static void Int4RunToSingle(byte* data, long first, int count, float scale, float* dst)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            Vector256<float> s = Vector256.Create(scale);
            for (; i <= count - 8; i += 8) (Nibbles8(ReadNibbles8(data, first + i)) * s).Store(dst + i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> s = Vector128.Create(scale);
            for (; i <= count - 8; i += 8)
            {
                (Vector128<float> low, Vector128<float> high) = Nibbles8As128(ReadNibbles8(data, first + i));
                (low * s).Store(dst + i);
                (high * s).Store(dst + i + 4);
            }
        }
        for (; i < count; i++)
        {
            long e = first + i;
            dst[i] = Nibble(data + (e >> 1), (int)(e & 1)) * scale;
        }
    }

    /// <summary><c>dst[i] = (float)src[i] · scale</c> for i &lt; <paramref name="count"/>.</summary>
    public static void Int8ToSingle(sbyte* src, float scale, float* dst, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            Vector256<float> s = Vector256.Create(scale);
            for (; i <= count - 8; i += 8) (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(src + i)) * s).Store(dst + i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> s = Vector128.Create(scale);
            for (; i <= count - 4; i += 4)
            {
                Vector128<sbyte> bytes = Vector128.CreateScalar(Unsafe.ReadUnaligned<int>(src + i)).AsSByte();
                Vector128<int> q = Vector128.WidenLower(Vector128.WidenLower(bytes));
                (Vector128.ConvertToSingle(q) * s).Store(dst + i);
            }
        }
        for (; i < count; i++) dst[i] = src[i] * scale;
    }

    /// <summary>The signed value of nibble <paramref name="index"/> (0: low half of byte 0, 1: its high half, ...).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Nibble(byte* bytes, int index)
    {
        int b = bytes[index >> 1];
        // Move the nibble to the top of an int, then shift it back arithmetically to sign-extend it.
        return (b << (28 - 4 * (index & 1))) >> 28;
    }

    /// <summary>Eight consecutive nibbles from nibble <paramref name="first"/> on, nibble j in bits 4j..4j+3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadNibbles8(byte* data, long first)
    {
        byte* p = data + (first >> 1);
        if ((first & 1) == 0) return Unsafe.ReadUnaligned<uint>(p);
        // An odd start spans five bytes: the high half of the first through the low half of the fifth.
        return (Unsafe.ReadUnaligned<uint>(p) >> 4) | ((uint)p[4] << 28);
    }

    /// <summary>Nibble j of <paramref name="word"/> (bits 4j..4j+3) as the float value of lane j, sign-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Nibbles8(uint word)
    {
        // Shift nibble j to the top of lane j (left by 28 − 4j), then arithmetically back down by 28.
        Vector256<uint> shifts = Vector256.Create(28u, 24, 20, 16, 12, 8, 4, 0);
        Vector256<int> top = Avx2.ShiftLeftLogicalVariable(Vector256.Create(word), shifts).AsInt32();
        return Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(top, 28));
    }

    /// <summary><see cref="Nibbles8"/> as two 128-bit halves (nibbles 0-3, 4-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Low, Vector128<float> High) Nibbles8As128(uint word)
    {
        // No portable per-lane shift: multiplying by 2^(28−4j) is the same left shift (the product wraps).
        Vector128<int> v = Vector128.Create((int)word);
        Vector128<int> low = Vector128.ShiftRightArithmetic(v * Vector128.Create(1 << 28, 1 << 24, 1 << 20, 1 << 16), 28);
        Vector128<int> high = Vector128.ShiftRightArithmetic(v * Vector128.Create(1 << 12, 1 << 8, 1 << 4, 1), 28);
        return (Vector128.ConvertToSingle(low), Vector128.ConvertToSingle(high));
    }

    /// <summary>Half bits (one per 32-bit lane, upper half zero) to the float of equal value (see the remarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfBitsToSingle(Vector256<uint> h)
    {
        Vector256<uint> magnitude = (h & Vector256.Create(0x7FFFu)) << 13;
        Vector256<uint> exponent = Vector256.Create(0x7C00u);
        Vector256<uint> special = Vector256.Equals(h & exponent, exponent) & Vector256.Create(0x7000_0000u);
        Vector256<float> value = (magnitude | special).AsSingle() * Vector256.Create(HalfBiasScale);
        return (value.AsUInt32() | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    /// <inheritdoc cref="HalfBitsToSingle(Vector256{uint})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> HalfBitsToSingle(Vector128<uint> h)
    {
        Vector128<uint> magnitude = (h & Vector128.Create(0x7FFFu)) << 13;
        Vector128<uint> exponent = Vector128.Create(0x7C00u);
        Vector128<uint> special = Vector128.Equals(h & exponent, exponent) & Vector128.Create(0x7000_0000u);
        Vector128<float> value = (magnitude | special).AsSingle() * Vector128.Create(HalfBiasScale);
        return (value.AsUInt32() | ((h & Vector128.Create(0x8000u)) << 16)).AsSingle();
    }
}
