using System;
using System.Linq;

namespace EdgeCompile.Tests.Onnx;

/// <summary>
/// The quantization formulas of docs/quantization.md, written independently of the compiler for the tests: they make the
/// integers and scales handed to the writer, and the values the written file must reproduce.
/// </summary>
internal static class TestQuantizer
{
    /// <summary>Symmetric INT8 with one scale per index of <paramref name="axis"/>: s = max|w|/127 (1 for zeros), q = clamp(round_even(w/s), ±127).</summary>
    public static (sbyte[] Q, float[] Scales) Int8PerAxis(float[] w, long[] dims, int axis)
    {
        long stride = dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        int length = (int)dims[axis];
        int Index(long i) => (int)(i / stride % length);
        var max = new float[length];
        for (long i = 0; i < w.Length; i++) max[Index(i)] = MathF.Max(max[Index(i)], MathF.Abs(w[i]));
        var scales = max.Select(m => m == 0 ? 1f : m / 127f).ToArray();
        var q = new sbyte[w.Length];
        for (long i = 0; i < w.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(w[i] / scales[Index(i)], MidpointRounding.ToEven), -127, 127);
        return (q, scales);
    }

    /// <summary>
    /// INT4 in blocks of <paramref name="block"/> along <paramref name="axis"/>: s = (Half)(max|w|/7) per block (1 for zeros),
    /// q = clamp(round_even(w/(float)s), -8, 7). Scales are returned widened to float, in the blocked shape (axis cut to ⌈d/block⌉).
    /// </summary>
    public static (sbyte[] Q, float[] Scales) Int4Blocked(float[] w, long[] dims, int axis, int block)
    {
        long stride = dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        long length = dims[axis], blocks = (length + block - 1) / block;
        long ScaleIndex(long i)
        {
            long outer = i / (stride * length), coordinate = i / stride % length, inner = i % stride;
            return (outer * blocks + coordinate / block) * stride + inner;
        }
        var max = new float[w.Length / length * blocks];
        for (long i = 0; i < w.Length; i++) max[ScaleIndex(i)] = MathF.Max(max[ScaleIndex(i)], MathF.Abs(w[i]));
        var scales = max.Select(m => m == 0 ? 1f : (float)(Half)(m / 7f)).ToArray();
        var q = new sbyte[w.Length];
        for (long i = 0; i < w.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(w[i] / scales[ScaleIndex(i)], MidpointRounding.ToEven), -8, 7);
        return (q, scales);
    }

    /// <summary>q·s in float, one multiply per element: what DequantizeLinear must output exactly.</summary>
    public static float[] Dequantize(sbyte[] q, float[] scales, Func<long, long> scaleIndex) =>
        q.Select((v, i) => v * scales[scaleIndex(i)]).ToArray();

    /// <summary>The scale index of element i for per-axis quantization.</summary>
    public static Func<long, long> PerAxisIndex(long[] dims, int axis)
    {
        long stride = dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        return i => i / stride % dims[axis];
    }

    /// <summary>The scale index of element i for blocked quantization.</summary>
    public static Func<long, long> BlockedIndex(long[] dims, int axis, int block)
    {
        long stride = dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        long length = dims[axis], blocks = (length + block - 1) / block;
        return i => (i / (stride * length) * blocks + i / stride % length / block) * stride + i % stride;
    }
}
