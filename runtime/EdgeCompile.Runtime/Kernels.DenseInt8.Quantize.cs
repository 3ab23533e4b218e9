using System;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

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
    /// <c>q = clamp(round_half_even(x·inv), −127, 127)</c>.
    /// Runs on the calling thread, once per call before the product (not per row block or per thread): it is
    /// rows·K elements against the product's rows·K·N multiply-adds, about 1/N of the work (well under 1 % of a
    /// 768-wide layer), so splitting it across the pool would not pay for the extra hand-off.
    /// </summary>
    private static void QuantizeActivations(float* x, int rows, int k, int kq, float inputScale, Int8ActivationFormat format,
        byte* xq, float* rowScale)
    {
        nint lda = (nint)kq * DenseInt8ElementBytes(format);
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (nint)r * k;
            float inv, scale;
            if (inputScale > 0f)
            {
                inv = 1f / inputScale;
                scale = inputScale;
            }
            else
            {
                // The floor 1e-30 keeps inv = 127/m finite (a zero row quantizes to zeros, not NaN).
                float m = k == 0 ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(xr, k)));
                m = MathF.Max(m, 1e-30f);
                inv = 127f / m;
                scale = m / 127f;
            }
            rowScale[r] = scale;
            QuantizeRow(xr, k, kq, inv, format, xq + r * lda);
        }
    }

    /// <summary>One row: 16 activations per step with Vector128 (any SIMD), the tail and the zero padding up to kq scalar.</summary>
    private static void QuantizeRow(float* x, int k, int kq, float inv, Int8ActivationFormat format, byte* dst)
    {
        int i = 0;
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
