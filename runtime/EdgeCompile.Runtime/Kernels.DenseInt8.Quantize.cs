using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

// The activation side of DenseInt8: x quantized into scratch (docs/quantization.md, "Activations"), and the epilogue
// that turns the int32 accumulators into y.
public static unsafe partial class Kernels
{
    /// <summary>Bytes per quantized activation in scratch.</summary>
    private static int DenseInt8ElementBytes(Int8ActivationFormat format) => format == Int8ActivationFormat.Int16 ? 2 : 1;

    /// <summary>
    /// Quantizes every row of <paramref name="x"/> (<c>[rows,k]</c>) into <paramref name="xq"/> (rows of
    /// <paramref name="kq"/> elements of <paramref name="format"/>, zero past k) and writes each row's scale s_x.
    /// Dynamic (<paramref name="inputScale"/> = 0): <c>m = max(max|x_r|, 1e-30)</c>, <c>inv = 127/m</c>,
    /// <c>s_x = m/127</c>; static: <c>inv = 1/inputScale</c>, <c>s_x = inputScale</c>. Then
    /// <c>q = clamp(round_half_even(x·inv), −127, 127)</c>. A row with a NaN or an infinity gets s_x = NaN, so all of
    /// its outputs are NaN in either mode (its q values are then meaningless, and are whatever the path computes).
    /// Runs on the calling thread, once per call before the product (not per row block or per thread). It is rows·K
    /// elements against the product's rows·K·N multiply-adds, but an element costs more than a multiply-add (vpdpbusd
    /// does 32 of those per instruction), so at MobileBERT's narrow layers (N = 96..512) the quantization took a
    /// quarter of the INT8 time before it got the x86 paths below.
    /// </summary>
    private static void QuantizeActivations(float* x, int rows, int k, int kq, float inputScale, Int8ActivationFormat format,
        byte* xq, float* rowScale)
    {
        nint lda = (nint)kq * DenseInt8ElementBytes(format);
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (nint)r * k;
            // The largest magnitude, also for a static scale: it is how a NaN or an infinity in the row is found.
            float m = MaxMagnitudeOrNaN(xr, k);
            float inv, scale;
            if (!float.IsFinite(m))
            {
                inv = 0f;
                scale = float.NaN;
            }
            else if (inputScale > 0f)
            {
                inv = 1f / inputScale;
                scale = inputScale;
            }
            else
            {
                // The floor 1e-30 keeps inv = 127/m finite (a zero row quantizes to zeros, not NaN).
                m = MathF.Max(m, 1e-30f);
                inv = 127f / m;
                scale = m / 127f;
            }
            rowScale[r] = scale;
            byte* dst = xq + r * lda;
            int done = Avx512BW.IsSupported && Vector512.IsHardwareAccelerated ? QuantizeRowAvx512(xr, k, inv, format, dst)
                : Avx2.IsSupported ? QuantizeRowAvx2(xr, k, inv, format, dst)
                : 0;
            QuantizeRowTail(xr, done, k, kq, inv, format, dst);
        }
    }

    /// <summary>
    /// <c>max_i |x[i]|</c>, or NaN when some x[i] is NaN. For a non-negative float the IEEE bit pattern, read as an
    /// int32, orders as the value does, and every NaN's pattern (with the sign cleared) lies above +∞'s: so an integer
    /// max of the magnitudes' bits is both the largest magnitude and the NaN check, one vpmaxsd per vector. The last
    /// vector may overlap the one before it (a max does not mind seeing an element twice), so there is no scalar tail
    /// unless the row is shorter than a vector.
    /// </summary>
    internal static float MaxMagnitudeOrNaN(float* x, int k)
    {
        int i = 0, best = 0;
        if (Vector512.IsHardwareAccelerated && k >= Vector512<int>.Count)
        {
            var mask = Vector512.Create(int.MaxValue);
            Vector512<int> acc = Vector512<int>.Zero;
            for (; i < k; i += Vector512<int>.Count) acc = Vector512.Max(acc, Vector512.Load((int*)x + Math.Min(i, k - Vector512<int>.Count)) & mask);
            Vector256<int> half = Vector256.Max(acc.GetLower(), acc.GetUpper());
            best = HorizontalMax(Vector128.Max(half.GetLower(), half.GetUpper()));
        }
        else if (Vector256.IsHardwareAccelerated && k >= Vector256<int>.Count)
        {
            var mask = Vector256.Create(int.MaxValue);
            Vector256<int> acc = Vector256<int>.Zero;
            for (; i < k; i += Vector256<int>.Count) acc = Vector256.Max(acc, Vector256.Load((int*)x + Math.Min(i, k - Vector256<int>.Count)) & mask);
            best = HorizontalMax(Vector128.Max(acc.GetLower(), acc.GetUpper()));
        }
        else if (Vector128.IsHardwareAccelerated && k >= Vector128<int>.Count)
        {
            var mask = Vector128.Create(int.MaxValue);
            Vector128<int> acc = Vector128<int>.Zero;
            for (; i < k; i += Vector128<int>.Count) acc = Vector128.Max(acc, Vector128.Load((int*)x + Math.Min(i, k - Vector128<int>.Count)) & mask);
            best = HorizontalMax(acc);
        }
        for (; i < k; i++) best = Math.Max(best, ((int*)x)[i] & int.MaxValue);
        return BitConverter.Int32BitsToSingle(best);

        static int HorizontalMax(Vector128<int> v) => Math.Max(Math.Max(v.GetElement(0), v.GetElement(1)), Math.Max(v.GetElement(2), v.GetElement(3)));
    }

    /// <summary>
    /// AVX-512: 16 activations per step. vcvtps2dq rounds with the default rounding mode, round half to even, so it is
    /// the contract's rounding with the conversion in one instruction; the clamp to ±127 comes first, in float, so
    /// nothing can overflow the conversion; vpmovdb / vpmovdw narrow the (in-range) int32s. The last step overlaps the
    /// one before it and writes the same values again. Returns how many elements it did (0 or k).
    /// </summary>
    internal static int QuantizeRowAvx512(float* x, int k, float inv, Int8ActivationFormat format, byte* dst)
    {
        if (k < Vector512<float>.Count) return 0;
        var vinv = Vector512.Create(inv);
        for (int step = 0; step < k; step += Vector512<float>.Count)
        {
            int i = Math.Min(step, k - Vector512<float>.Count);
            Vector512<float> v = Vector512.ClampNative(Vector512.Load(x + i) * vinv, Vector512.Create(-127f), Vector512.Create(127f));
            Vector512<int> q = Avx512F.ConvertToVector512Int32(v);
            switch (format)
            {
                case Int8ActivationFormat.Int16: Avx512F.ConvertToVector256Int16(q).Store((short*)dst + i); break;
                case Int8ActivationFormat.SByte: Avx512F.ConvertToVector128SByte(q).Store((sbyte*)dst + i); break;
                // q + 128 in [1, 255], narrowed by truncation.
                default: Avx512F.ConvertToVector128Byte(q + Vector512.Create(128)).Store(dst + i); break;
            }
        }
        return k;
    }

    /// <summary>
    /// AVX2: 32 activations per step, as the AVX-512 path (clamp in float, vcvtps2dq), narrowed with the saturating packs
    /// (which work within 128-bit lanes, so a permute puts the elements back in order). Returns how many it did.
    /// </summary>
    internal static int QuantizeRowAvx2(float* x, int k, float inv, Int8ActivationFormat format, byte* dst)
    {
        if (k < 32) return 0;
        var vinv = Vector256.Create(inv);
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        for (int step = 0; step < k; step += 32)
        {
            int i = Math.Min(step, k - 32);
            Vector256<short> q01 = Avx2.PackSignedSaturate(Convert(x + i, vinv), Convert(x + i + 8, vinv));
            Vector256<short> q23 = Avx2.PackSignedSaturate(Convert(x + i + 16, vinv), Convert(x + i + 24, vinv));
            if (format == Int8ActivationFormat.Int16)
            {
                // Lanes hold [0-3 8-11 | 4-7 12-15]: swapping the middle quarters restores the order.
                Avx2.Permute4x64(q01.AsInt64(), 0b11_01_10_00).AsInt16().Store((short*)dst + i);
                Avx2.Permute4x64(q23.AsInt64(), 0b11_01_10_00).AsInt16().Store((short*)dst + i + 16);
            }
            else
            {
                // Bytes hold groups of four in the order 0 2 4 6 1 3 5 7 (×4 elements): one dword permute undoes it.
                Vector256<sbyte> q = Avx2.PermuteVar8x32(Avx2.PackSignedSaturate(q01, q23).AsInt32(), order).AsSByte();
                if (format == Int8ActivationFormat.SByte) q.Store((sbyte*)dst + i);
                else (q.AsByte() + Vector256.Create((byte)128)).Store(dst + i);
            }
        }
        return k;

        static Vector256<int> Convert(float* x, Vector256<float> inv) =>
            Avx.ConvertToVector256Int32(Vector256.ClampNative(Vector256.Load(x) * inv, Vector256.Create(-127f), Vector256.Create(127f)));
    }

    /// <summary>
    /// Elements <paramref name="from"/>..k: 16 per step with Vector128 (any SIMD: ARM, and x64 rows shorter than a
    /// vector), the rest scalar; then the zero padding up to kq.
    /// </summary>
    internal static void QuantizeRowTail(float* x, int from, int k, int kq, float inv, Int8ActivationFormat format, byte* dst)
    {
        int i = from;
        if (Vector128.IsHardwareAccelerated)
        {
            var vinv = Vector128.Create(inv);
            for (; i <= k - 16; i += 16)
            {
                Vector128<short> q01 = Vector128.Narrow(Quantize(Vector128.Load(x + i), vinv), Quantize(Vector128.Load(x + i + 4), vinv));
                Vector128<short> q23 = Vector128.Narrow(Quantize(Vector128.Load(x + i + 8), vinv), Quantize(Vector128.Load(x + i + 12), vinv));
                switch (format)
                {
                    case Int8ActivationFormat.Int16:
                        q01.Store((short*)dst + i);
                        q23.Store((short*)dst + i + 8);
                        break;
                    case Int8ActivationFormat.SByte:
                        Vector128.Narrow(q01, q23).Store((sbyte*)dst + i);
                        break;
                    default:
                        // q + 128 in [1, 255]: adding 128 to the two's complement byte modulo 256.
                        (Vector128.Narrow(q01, q23).AsByte() + Vector128.Create((byte)128)).Store(dst + i);
                        break;
                }
            }
        }
        for (; i < k; i++) Store(format, dst, i, (int)Math.Clamp(MathF.Round(x[i] * inv), -127f, 127f));
        for (; i < kq; i++) Store(format, dst, i, 0);

        static void Store(Int8ActivationFormat format, byte* dst, int i, int q)
        {
            switch (format)
            {
                case Int8ActivationFormat.Int16: ((short*)dst)[i] = (short)q; break;
                case Int8ActivationFormat.SByte: ((sbyte*)dst)[i] = (sbyte)q; break;
                default: dst[i] = (byte)(q + 128); break;
            }
        }
    }

    /// <summary>
    /// <c>clamp(round_half_even(x·inv), −127, 127)</c> as int32; the clamp is done in float, before the conversion, so
    /// that huge values cannot overflow it. (MathF.Round and Vector128.Round both round half to even.)
    /// </summary>
    private static Vector128<int> Quantize(Vector128<float> x, Vector128<float> inv)
    {
        Vector128<float> v = Vector128.Round(x * inv);
        v = Vector128.Min(Vector128.Max(v, Vector128.Create(-127f)), Vector128.Create(127f));
        return Vector128.ConvertToInt32(v);
    }

    /// <summary>
    /// <c>y[i, j] = act((float)acc[i, j]·(rowScale[i]·wScale[j]) + bias[j])</c> for i &lt; rows, j &lt; width (only the
    /// columns below N are written). With <paramref name="offset"/> the accumulators were computed on q_x + 128 and
    /// 128·wColumnSum[j] is taken off first, exactly, in int32. ReLU (<paramref name="relu"/>) is applied in the
    /// loop; the caller applies any other activation to whole row segments once a row block is done.
    /// </summary>
    private static void DenseInt8Epilogue(int* acc, int ldacc, int rows, int width, bool offset, float* rowScale,
        float* wScale, int* columnSum, float* bias, float* y, nint ldy, bool relu)
    {
        if (Vector256.IsHardwareAccelerated && width == 16)
        {
            // The common full 16-column strip: everything per column (scales, 128·Σq_w, bias) is loaded once per
            // tile instead of once per row (the profile of the x64 kernel put ≈ 10 % of its time here). Same
            // operations in the same order as the general loop below, so the same results.
            Vector256<float> w0 = Vector256.Load(wScale), w1 = Vector256.Load(wScale + 8);
            Vector256<int> z0 = offset ? Vector256.Load(columnSum) << 7 : default, z1 = offset ? Vector256.Load(columnSum + 8) << 7 : default;
            Vector256<float> b0 = bias != null ? Vector256.Load(bias) : default, b1 = bias != null ? Vector256.Load(bias + 8) : default;
            for (int i = 0; i < rows; i++)
            {
                int* a = acc + i * ldacc;
                float* yi = y + i * ldy;
                Vector256<float> sx = Vector256.Create(rowScale[i]);
                Vector256<float> v0 = Vector256.ConvertToSingle(Vector256.Load(a) - z0), v1 = Vector256.ConvertToSingle(Vector256.Load(a + 8) - z1);
                Vector256<float> s0 = sx * w0, s1 = sx * w1;
                if (bias != null)
                {
                    v0 = Vector256.MultiplyAddEstimate(v0, s0, b0);
                    v1 = Vector256.MultiplyAddEstimate(v1, s1, b1);
                }
                else
                {
                    v0 *= s0;
                    v1 *= s1;
                }
                if (relu)
                {
                    v0 = Vector256.Max(v0, Vector256<float>.Zero);
                    v1 = Vector256.Max(v1, Vector256<float>.Zero);
                }
                v0.Store(yi);
                v1.Store(yi + 8);
            }
            return;
        }
        for (int i = 0; i < rows; i++)
        {
            int* a = acc + i * ldacc;
            float* yi = y + i * ldy;
            float sx = rowScale[i];
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j <= width - 8; j += 8)
                {
                    Vector256<int> q = Vector256.Load(a + j);
                    if (offset) q -= Vector256.Load(columnSum + j) << 7;
                    Vector256<float> scale = Vector256.Create(sx) * Vector256.Load(wScale + j), v = Vector256.ConvertToSingle(q);
                    v = bias != null ? Vector256.MultiplyAddEstimate(v, scale, Vector256.Load(bias + j)) : v * scale;
                    if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                    v.Store(yi + j);
                }
            }
            if (Vector128.IsHardwareAccelerated)
            {
                for (; j <= width - 4; j += 4)
                {
                    Vector128<int> q = Vector128.Load(a + j);
                    if (offset) q -= Vector128.Load(columnSum + j) << 7;
                    Vector128<float> scale = Vector128.Create(sx) * Vector128.Load(wScale + j), v = Vector128.ConvertToSingle(q);
                    v = bias != null ? Vector128.MultiplyAddEstimate(v, scale, Vector128.Load(bias + j)) : v * scale;
                    if (relu) v = Vector128.Max(v, Vector128<float>.Zero);
                    v.Store(yi + j);
                }
            }
            for (; j < width; j++)
            {
                int q = offset ? a[j] - (columnSum[j] << 7) : a[j];
                float scale = sx * wScale[j];
                float v = bias != null ? float.MultiplyAddEstimate(q, scale, bias[j]) : q * scale;
                yi[j] = relu ? MathF.Max(v, 0f) : v;
            }
        }
    }
}
