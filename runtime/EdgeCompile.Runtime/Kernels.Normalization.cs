using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// Softmax along the middle axis of <c>[outer,length,inner]</c>: subtracts the maximum, exponentiates,
    /// divides by the sum. <c>y</c> may be exactly <c>x</c> (in place).
    /// </summary>
    public static void Softmax(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner)
    {
        CheckReduceShape(outer, length, inner);
        long count = (long)outer * length * inner;
        Guard.Length(x.Length, count, nameof(x));
        Guard.Length(y.Length, count, nameof(y));
        if (count == 0) return;

        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) SoftmaxRow(x.Slice(o * length, length), y.Slice(o * length, length));
            return;
        }
        int plane = length * inner;
        for (int o = 0; o < outer; o++)
        {
            ReadOnlySpan<float> xp = x.Slice(o * plane, plane);
            Span<float> yp = y.Slice(o * plane, plane);
            for (int i = 0; i < inner; i++)
            {
                float max = float.NegativeInfinity;
                for (int l = 0, idx = i; l < length; l++, idx += inner) max = MathF.Max(max, xp[idx]);
                double sum = 0;
                for (int l = 0, idx = i; l < length; l++, idx += inner)
                {
                    float e = MathF.Exp(xp[idx] - max);
                    yp[idx] = e;
                    sum += e;
                }
                float s = (float)sum;
                for (int l = 0, idx = i; l < length; l++, idx += inner) yp[idx] /= s;
            }
        }
    }

    /// <summary>Softmax of one contiguous row; <c>y</c> may be <c>x</c>.</summary>
    internal static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        float sum = TensorPrimitives.Sum(y);
        TensorPrimitives.Divide(y, sum, y);
    }

    /// <summary>
    /// Layer normalisation of each row of <c>[rows,length]</c> with the biased variance, then <c>·scale + bias</c>
    /// (<c>bias</c> may be empty). Mean and variance accumulate in double. <c>y</c> may be exactly <c>x</c>.
    /// </summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int length, float epsilon)
    {
        Guard.NonNegative(rows, nameof(rows)); Guard.Positive(length, nameof(length));
        Guard.Length(x.Length, (long)rows * length, nameof(x));
        Guard.Length(y.Length, (long)rows * length, nameof(y));
        Guard.Length(scale.Length, length, nameof(scale));
        if (!bias.IsEmpty) Guard.Length(bias.Length, length, nameof(bias));

        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * length, length);
            Span<float> yr = y.Slice(r * length, length);
            double mean = SumDouble(xr) / length;
            double variance = SumSquaredDeviation(xr, mean) / length;
            float invStd = (float)(1.0 / Math.Sqrt(variance + epsilon));
            NormalizeRow(xr, scale, bias, yr, (float)mean, invStd);
        }
    }

    private static void NormalizeRow(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y, float mean, float invStd)
    {
        int n = x.Length, i = 0;
        bool hasBias = !bias.IsEmpty;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vm = Vector256.Create(mean), vs = Vector256.Create(invStd);
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> v = (Loops.Load256(x, i) - vm) * vs * Loops.Load256(scale, i);
                if (hasBias) v += Loops.Load256(bias, i);
                v.CopyTo(y.Slice(i));
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> vm = Vector128.Create(mean), vs = Vector128.Create(invStd);
            for (; i <= n - 4; i += 4)
            {
                Vector128<float> v = (Loops.Load128(x, i) - vm) * vs * Loops.Load128(scale, i);
                if (hasBias) v += Loops.Load128(bias, i);
                v.CopyTo(y.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            float v = (x[i] - mean) * invStd * scale[i];
            y[i] = hasBias ? v + bias[i] : v;
        }
    }

    /// <summary>Σx in double (vectorised: float lanes widened to double).</summary>
    internal static double SumDouble(ReadOnlySpan<float> x)
    {
        int i = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            Vector256<double> acc0 = default, acc1 = default;
            for (; i <= x.Length - 8; i += 8)
            {
                (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Loops.Load256(x, i));
                acc0 += lo; acc1 += hi;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < x.Length; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ(x − mean)² in double; the deviation is taken in double from the exact mean.</summary>
    private static double SumSquaredDeviation(ReadOnlySpan<float> x, double mean)
    {
        int i = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            Vector256<double> vm = Vector256.Create(mean);
            Vector256<double> acc0 = default, acc1 = default;
            for (; i <= x.Length - 8; i += 8)
            {
                (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Loops.Load256(x, i));
                lo -= vm; hi -= vm;
                acc0 += lo * lo; acc1 += hi * hi;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < x.Length; i++) { double d = x[i] - mean; sum += d * d; }
        return sum;
    }

    /// <summary><c>y[o,c,i] = x[o,c,i]·scale[c] + shift[c]</c> (BatchNormalization with folded statistics). <c>y</c> may be <c>x</c>.</summary>
    public static void ChannelAffine(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Span<float> y,
        int outer, int channels, int inner)
    {
        CheckReduceShape(outer, channels, inner);
        long count = (long)outer * channels * inner;
        Guard.Length(x.Length, count, nameof(x));
        Guard.Length(y.Length, count, nameof(y));
        Guard.Length(scale.Length, channels, nameof(scale));
        Guard.Length(shift.Length, channels, nameof(shift));
        if (count == 0) return;

        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                Span<float> yr = y.Slice(o * channels, channels);
                TensorPrimitives.Multiply(x.Slice(o * channels, channels), scale, yr);
                TensorPrimitives.Add(yr, shift, yr);
            }
            return;
        }
        for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++)
        {
            int start = (o * channels + c) * inner;
            Loops.Unary(x.Slice(start, inner), y.Slice(start, inner), new AffineOperator(scale[c], shift[c]));
        }
    }

    /// <summary>Mean over the middle axis of <c>[outer,length,inner]</c> into <c>y[outer,inner]</c>.</summary>
    public static void ReduceMean(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner)
        => Reduce(x, y, outer, length, inner, ReduceKind.Mean);

    /// <summary>Sum over the middle axis of <c>[outer,length,inner]</c> into <c>y[outer,inner]</c>.</summary>
    public static void ReduceSum(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner)
        => Reduce(x, y, outer, length, inner, ReduceKind.Sum);

    /// <summary>Maximum over the middle axis of <c>[outer,length,inner]</c> into <c>y[outer,inner]</c> (NaN propagates).</summary>
    public static void ReduceMax(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner)
        => Reduce(x, y, outer, length, inner, ReduceKind.Max);

    private enum ReduceKind { Sum, Mean, Max }

    private static void Reduce(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner, ReduceKind kind)
    {
        CheckReduceShape(outer, length, inner);
        Guard.Length(x.Length, (long)outer * length * inner, nameof(x));
        Guard.Length(y.Length, (long)outer * inner, nameof(y));
        if (y.Length == 0) return;
        if (length == 0)
        {
            // ONNX: the sum of nothing is 0, the max of nothing is −∞ (mean would be NaN).
            y.Fill(kind == ReduceKind.Sum ? 0f : kind == ReduceKind.Max ? float.NegativeInfinity : float.NaN);
            return;
        }

        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                ReadOnlySpan<float> row = x.Slice(o * length, length);
                y[o] = kind switch
                {
                    ReduceKind.Max => TensorPrimitives.Max(row),
                    ReduceKind.Sum => (float)SumDouble(row),
                    _ => (float)(SumDouble(row) / length),
                };
            }
            return;
        }

        int plane = length * inner;
        for (int o = 0; o < outer; o++)
        {
            Span<float> yr = y.Slice(o * inner, inner);
            x.Slice(o * plane, inner).CopyTo(yr);
            for (int l = 1; l < length; l++)
            {
                ReadOnlySpan<float> xr = x.Slice(o * plane + l * inner, inner);
                if (kind == ReduceKind.Max) Loops.BinaryRow(yr, xr, yr, new MaxOperator<float>());
                else Loops.BinaryRow(yr, xr, yr, new AddOperator<float>());
            }
            if (kind == ReduceKind.Mean) TensorPrimitives.Divide(yr, (float)length, yr);
        }
    }

    private static void CheckReduceShape(int outer, int length, int inner)
    {
        Guard.NonNegative(outer, nameof(outer));
        Guard.NonNegative(length, nameof(length));
        Guard.NonNegative(inner, nameof(inner));
    }
}
