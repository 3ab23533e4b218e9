using System;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>INT8 values with one float scale per group (a Dense column or an embedding row): value ≈ q · scale.</summary>
public sealed record Int8Groups(sbyte[] Values, float[] Scales);

/// <summary>INT4 values (each in [-8,7], one per sbyte) with one half scale per block of <see cref="Block"/> values.</summary>
public sealed record Int4Blocks(sbyte[] Values, Half[] Scales, int Block);

/// <summary>
/// The quantizer math of docs/quantization.md, on row-major matrices held as doubles (the compiler's constant
/// form; every value is a float). Scales and quotients are computed in float, as the kernels and the reference
/// ONNX file compute them, so that every path agrees on the integers. Rounding is to nearest, ties to even.
/// </summary>
public static class Quantizer
{
    /// <summary>Block length of INT4 weights and embedding rows.</summary>
    public const int Int4Block = 32;

    /// <summary>The largest finite IEEE half.</summary>
    public const double HalfMax = 65504;

    /// <summary>Dense weights <c>[K,N]</c>, symmetric per output column: <c>s[j] = max_k |W[k,j]| / 127</c> (1 for a zero column).</summary>
    public static Int8Groups Int8PerColumn(double[] w, int k, int n)
    {
        Check(w, k, n);
        var scales = new float[n];
        for (int j = 0; j < n; j++)
        {
            float max = 0;
            for (int i = 0; i < k; i++) max = MathF.Max(max, MathF.Abs((float)w[(long)i * n + j]));
            scales[j] = Int8Scale(max);
        }
        var q = new sbyte[w.Length];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                q[(long)i * n + j] = Int8Value((float)w[(long)i * n + j], scales[j]);
        return new Int8Groups(q, scales);
    }

    /// <summary>An embedding table <c>[V,D]</c>, symmetric per row: <c>s[v] = max_d |T[v,d]| / 127</c> (1 for a zero row).</summary>
    public static Int8Groups Int8PerRow(double[] t, int rows, int columns)
    {
        Check(t, rows, columns);
        var scales = new float[rows];
        var q = new sbyte[t.Length];
        for (int v = 0; v < rows; v++)
        {
            float max = 0;
            for (int d = 0; d < columns; d++) max = MathF.Max(max, MathF.Abs((float)t[(long)v * columns + d]));
            scales[v] = Int8Scale(max);
            for (int d = 0; d < columns; d++) q[(long)v * columns + d] = Int8Value((float)t[(long)v * columns + d], scales[v]);
        }
        return new Int8Groups(q, scales);
    }

    /// <summary>
    /// <see cref="Int8PerRow"/> with scales that are Half values: <c>s[v]</c> is the smallest Half ≥ max |T[v,·]| / 127
    /// (rounded up, so no value clamps), then <c>q = clamp(round_half_even(T / s), -127, 127)</c> as for float scales.
    /// Null when a row's scale is outside the normal Half range (a subnormal scale would lose precision): the caller
    /// keeps float scales.
    /// </summary>
    public static Int8Groups? Int8PerRowHalfScales(double[] t, int rows, int columns)
    {
        Check(t, rows, columns);
        var scales = new float[rows];
        var q = new sbyte[t.Length];
        for (int v = 0; v < rows; v++)
        {
            float max = 0;
            for (int d = 0; d < columns; d++) max = MathF.Max(max, MathF.Abs((float)t[(long)v * columns + d]));
            float exact = Int8Scale(max);
            var h = (Half)exact;
            if ((float)h < exact) h = Half.BitIncrement(h);
            if (!Half.IsNormal(h)) return null;
            scales[v] = (float)h;
            for (int d = 0; d < columns; d++) q[(long)v * columns + d] = Int8Value((float)t[(long)v * columns + d], scales[v]);
        }
        return new Int8Groups(q, scales);
    }

    /// <summary>
    /// Dense weights <c>[K,N]</c> by plain rounding in blocks of <paramref name="block"/> consecutive <c>k</c> within
    /// a column: <c>s[b,j] = (Half)(max |W| / 7)</c> (1 for a zero block), <c>q = clamp(round(W / (float)s), -8, 7)</c>.
    /// Scales come out <c>[⌈K/block⌉, N]</c> row-major, values <c>[K,N]</c> row-major.
    /// </summary>
    public static Int4Blocks Int4PerColumnBlocks(double[] w, int k, int n, int block = Int4Block)
    {
        Check(w, k, n);
        int blocks = (k + block - 1) / block;
        var scales = new Half[(long)blocks * n];
        var q = new sbyte[w.Length];
        for (int b = 0; b < blocks; b++)
        {
            int first = b * block, end = Math.Min(k, first + block);
            for (int j = 0; j < n; j++)
            {
                float max = 0;
                for (int i = first; i < end; i++) max = MathF.Max(max, MathF.Abs((float)w[(long)i * n + j]));
                var s = Int4Scale(max);
                scales[(long)b * n + j] = s;
                for (int i = first; i < end; i++) q[(long)i * n + j] = Int4Gptq.Round(w[(long)i * n + j], s);
            }
        }
        return new Int4Blocks(q, scales, block);
    }

    /// <summary>An embedding table <c>[V,D]</c> per row in blocks of <paramref name="block"/> along <c>D</c>; scales <c>[V, ⌈D/block⌉]</c>.</summary>
    public static Int4Blocks Int4PerRowBlocks(double[] t, int rows, int columns, int block = Int4Block)
    {
        Check(t, rows, columns);
        int blocks = (columns + block - 1) / block;
        var scales = new Half[(long)rows * blocks];
        var q = new sbyte[t.Length];
        for (int v = 0; v < rows; v++)
            for (int b = 0; b < blocks; b++)
            {
                long first = (long)v * columns + b * block, end = (long)v * columns + Math.Min(columns, (b + 1) * block);
                float max = 0;
                for (long e = first; e < end; e++) max = MathF.Max(max, MathF.Abs((float)t[e]));
                var s = Int4Scale(max);
                scales[(long)v * blocks + b] = s;
                for (long e = first; e < end; e++) q[e] = Int4Gptq.Round(t[e], s);
            }
        return new Int4Blocks(q, scales, block);
    }

    /// <summary>
    /// Every value rounded to half (to nearest, ties to even). A value beyond ±65504 has no half: that is a
    /// <see cref="Codes.HalfOutOfRange"/> error naming the layer, never a silent infinity.
    /// </summary>
    public static Half[] ToHalf(double[] values, string layer)
    {
        var result = new Half[values.Length];
        for (long i = 0; i < values.Length; i++)
        {
            if (Math.Abs(values[i]) > HalfMax)
                throw new CompilerException(Codes.HalfOutOfRange,
                    $"weight value {values[i].ToString("R", System.Globalization.CultureInfo.InvariantCulture)} (element {i}) is beyond the FP16 range ±65504, so this layer cannot be stored as FP16. Use Quantize=\"Int8\" or \"Mixed\" (which keeps such a layer in FP32), or rescale the model.",
                    layer);
            result[i] = (Half)(float)values[i];
        }
        return result;
    }

    /// <summary>True when every value has a finite half (what <see cref="ToHalf"/> accepts).</summary>
    public static bool FitsHalf(double[] values)
    {
        foreach (var v in values) if (Math.Abs(v) > HalfMax) return false;
        return true;
    }

    // ---- dequantization (the value each kernel effectively multiplies by) -----------------------

    public static double[] DequantizeInt8PerColumn(Int8Groups q, int k, int n)
    {
        var w = new double[q.Values.Length];
        for (long e = 0; e < w.Length; e++) w[e] = q.Values[e] * q.Scales[e % n];
        return w;
    }

    public static double[] DequantizeInt8PerRow(Int8Groups q, int rows, int columns)
    {
        var t = new double[q.Values.Length];
        for (long e = 0; e < t.Length; e++) t[e] = q.Values[e] * q.Scales[e / columns];
        return t;
    }

    public static double[] DequantizeInt4PerColumnBlocks(Int4Blocks q, int k, int n)
    {
        var w = new double[q.Values.Length];
        for (long e = 0; e < w.Length; e++)
        {
            long i = e / n, j = e % n;
            w[e] = (float)q.Values[e] * (float)q.Scales[i / q.Block * n + j];
        }
        return w;
    }

    public static double[] DequantizeInt4PerRowBlocks(Int4Blocks q, int rows, int columns)
    {
        int blocks = (columns + q.Block - 1) / q.Block;
        var t = new double[q.Values.Length];
        for (long e = 0; e < t.Length; e++)
        {
            long v = e / columns, d = e % columns;
            t[e] = (float)q.Values[e] * (float)q.Scales[v * blocks + d / q.Block];
        }
        return t;
    }

    public static double[] Widen(Half[] values)
    {
        var w = new double[values.Length];
        for (long e = 0; e < w.Length; e++) w[e] = (double)values[e];
        return w;
    }

    /// <summary>‖approx − exact‖₂ / ‖exact‖₂ (0 when both are zero): the weight error the build report shows.</summary>
    public static double RelativeRmsError(double[] exact, double[] approx)
    {
        if (exact.Length != approx.Length) throw new ArgumentException("lengths differ");
        double diff = 0, norm = 0;
        for (long e = 0; e < exact.Length; e++)
        {
            double d = approx[e] - exact[e];
            diff += d * d;
            norm += exact[e] * exact[e];
        }
        return norm == 0 ? (diff == 0 ? 0 : double.PositiveInfinity) : Math.Sqrt(diff / norm);
    }

    // ---- scalar rules ---------------------------------------------------------------------------

    private static float Int8Scale(float maxAbs) => maxAbs == 0 ? 1f : maxAbs / 127f;

    private static sbyte Int8Value(float w, float scale) => (sbyte)Math.Clamp(MathF.Round(w / scale, MidpointRounding.ToEven), -127f, 127f);

    // INT4 scale and rounding (Int4Gptq.Round) are Int4Gptq's, so plain rounding and the error-compensated choice agree to the bit.
    private static Half Int4Scale(float maxAbs)
    {
        var s = Int4Gptq.Scale(maxAbs);
        if (Half.IsInfinity(s))
            throw new CompilerException(Codes.HalfOutOfRange, $"a weight of magnitude {maxAbs} needs an INT4 block scale beyond the FP16 range ±65504. Use Quantize=\"Int8\" for this model.");
        return s;
    }

    private static void Check(double[] values, int rows, int columns)
    {
        if (rows <= 0 || columns <= 0 || (long)rows * columns != values.Length)
            throw new ArgumentException($"{values.Length} values for a [{rows},{columns}] matrix");
    }
}
