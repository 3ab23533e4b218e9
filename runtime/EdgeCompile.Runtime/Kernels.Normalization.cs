using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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

    /// <summary>Softmax of one contiguous row; <c>y</c> may be <c>x</c> (lengths checked by the caller).</summary>
    internal static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && n >= 2 * Vector512<float>.Count) SoftmaxRow<FloatVector512>(ref xr, ref yr, n);
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<float>.Count) SoftmaxRow<FloatVector256>(ref xr, ref yr, n);
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<float>.Count) SoftmaxRow<FloatVector128>(ref xr, ref yr, n);
        else SoftmaxRow<FloatVector1>(ref xr, ref yr, n);
    }

    private static void SoftmaxRow<TV>(ref float x, ref float y, int n) where TV : struct, IFloatVector<TV>
    {
        float inv = SoftmaxNumerator<TV>(ref x, ref x, hasMask: false, ref y, n);
        int w = TV.Count, j = 0;
        TV vi = TV.Create(inv);
        for (; j + w <= n; j += w) TV.Store(TV.Multiply(TV.Load(ref Unsafe.Add(ref y, j)), vi), ref Unsafe.Add(ref y, j));
        for (; j < n; j++) Unsafe.Add(ref y, j) *= inv;
    }

    /// <summary>
    /// Layer normalisation of each row of <c>[rows,length]</c> with the biased variance, then <c>·scale + bias</c>
    /// (<c>bias</c> may be empty). Two passes in float with 4 independent vector accumulators: the mean of the row
    /// shifted by its first element (no cancellation when the mean is large), then Σ(x − mean)² (never negative).
    /// <c>y</c> may be exactly <c>x</c>.
    /// </summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y,
        int rows, int length, float epsilon)
    {
        Guard.NonNegative(rows, nameof(rows)); Guard.Positive(length, nameof(length));
        Guard.Length(x.Length, (long)rows * length, nameof(x));
        Guard.Length(y.Length, (long)rows * length, nameof(y));
        Guard.Length(scale.Length, length, nameof(scale));
        if (!bias.IsEmpty) Guard.Length(bias.Length, length, nameof(bias));
        if (rows == 0) return;

        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float g = ref MemoryMarshal.GetReference(scale);
        ref float b = ref MemoryMarshal.GetReference(bias);
        bool hasBias = !bias.IsEmpty;
        for (int r = 0; r < rows; r++)
        {
            ref float xi = ref Unsafe.Add(ref xr, (nint)r * length);
            ref float yi = ref Unsafe.Add(ref yr, (nint)r * length);
            if (Vector512.IsHardwareAccelerated && length >= 4 * Vector512<float>.Count) LayerNormRow<FloatVector512>(ref xi, ref g, ref b, hasBias, ref yi, length, epsilon);
            else if (Vector256.IsHardwareAccelerated && length >= Vector256<float>.Count) LayerNormRow<FloatVector256>(ref xi, ref g, ref b, hasBias, ref yi, length, epsilon);
            else if (Vector128.IsHardwareAccelerated && length >= Vector128<float>.Count) LayerNormRow<FloatVector128>(ref xi, ref g, ref b, hasBias, ref yi, length, epsilon);
            else LayerNormRow<FloatVector1>(ref xi, ref g, ref b, hasBias, ref yi, length, epsilon);
        }
    }

    private static void LayerNormRow<TV>(ref float x, ref float scale, ref float bias, bool hasBias, ref float y, int n, float epsilon)
        where TV : struct, IFloatVector<TV>
    {
        int w = TV.Count;
        float shift = x;
        TV vs = TV.Create(shift);
        TV a0 = TV.Zero, a1 = TV.Zero, a2 = TV.Zero, a3 = TV.Zero;
        int i = 0;
        for (; i + 4 * w <= n; i += 4 * w)
        {
            a0 = TV.Add(a0, TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i)), vs));
            a1 = TV.Add(a1, TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i + w)), vs));
            a2 = TV.Add(a2, TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i + 2 * w)), vs));
            a3 = TV.Add(a3, TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i + 3 * w)), vs));
        }
        for (; i + w <= n; i += w) a0 = TV.Add(a0, TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i)), vs));
        float sum = 0;
        for (; i < n; i++) sum += Unsafe.Add(ref x, i) - shift;
        sum += TV.Sum(TV.Add(TV.Add(a0, a1), TV.Add(a2, a3)));
        float mean = shift + sum / n;

        TV vm = TV.Create(mean);
        a0 = a1 = a2 = a3 = TV.Zero;
        for (i = 0; i + 4 * w <= n; i += 4 * w)
        {
            TV d0 = TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i)), vm); a0 = TV.MultiplyAdd(d0, d0, a0);
            TV d1 = TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i + w)), vm); a1 = TV.MultiplyAdd(d1, d1, a1);
            TV d2 = TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i + 2 * w)), vm); a2 = TV.MultiplyAdd(d2, d2, a2);
            TV d3 = TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i + 3 * w)), vm); a3 = TV.MultiplyAdd(d3, d3, a3);
        }
        for (; i + w <= n; i += w) { TV d = TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i)), vm); a0 = TV.MultiplyAdd(d, d, a0); }
        float squares = 0;
        for (; i < n; i++) { float d = Unsafe.Add(ref x, i) - mean; squares += d * d; }
        squares += TV.Sum(TV.Add(TV.Add(a0, a1), TV.Add(a2, a3)));
        float invStd = (float)(1.0 / Math.Sqrt((double)squares / n + epsilon));

        TV vi = TV.Create(invStd);
        for (i = 0; i + w <= n; i += w)
        {
            TV v = TV.Multiply(TV.Multiply(TV.Subtract(TV.Load(ref Unsafe.Add(ref x, i)), vm), vi), TV.Load(ref Unsafe.Add(ref scale, i)));
            if (hasBias) v = TV.Add(v, TV.Load(ref Unsafe.Add(ref bias, i)));
            TV.Store(v, ref Unsafe.Add(ref y, i));
        }
        for (; i < n; i++)
        {
            float v = (Unsafe.Add(ref x, i) - mean) * invStd * Unsafe.Add(ref scale, i);
            Unsafe.Add(ref y, i) = hasBias ? v + Unsafe.Add(ref bias, i) : v;
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
