using System;
using System.Collections.Generic;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// Turns a Dense layer's quantized weight, in the kernel's <c>[K,N]</c> frame, into the replacements of the ONNX
/// initializers it came from (<see cref="WeightOrigins.ForLayer"/>): one per slice of columns, transposed back for a
/// Gemm with transB=1 or a patch Conv filter. Per-column INT8 scales and per-(block, column) INT4 scales follow their
/// columns; INT4 blocks run along K, which is axis 0 of an as-is initializer and axis 1 of a transposed one.
/// </summary>
public static class DenseWeightReplacements
{
    /// <param name="q">[K,N] row-major.</param>
    /// <param name="scales">[N], one per column.</param>
    public static List<WeightReplacement> Int8(IReadOnlyList<WeightSlice> origin, int k, int n, sbyte[] q, float[] scales, ActivationQuantization activation)
    {
        Check(q.Length, k * n, "INT8 values");
        Check(scales.Length, n, "INT8 scales");
        var result = new List<WeightReplacement>();
        foreach (var s in Slices(origin, n))
        {
            bool asIs = s.Frame == WeightFrame.AsIs;
            result.Add(new Int8WeightReplacement(s.Initializer, Columns(q, k, n, s), scales.AsSpan((int)s.Offset, (int)s.Count).ToArray(), asIs ? 1 : 0, activation));
        }
        return result;
    }

    /// <param name="q">[K,N] row-major, each in [-8,7].</param>
    /// <param name="scales">[⌈K/block⌉, N] row-major (docs/quantization.md's <c>s[b,j]</c>).</param>
    public static List<WeightReplacement> Int4(IReadOnlyList<WeightSlice> origin, int k, int n, sbyte[] q, Half[] scales, int block)
    {
        int blocks = (k + block - 1) / block;
        Check(q.Length, k * n, "INT4 values");
        Check(scales.Length, blocks * n, "INT4 scales");
        var result = new List<WeightReplacement>();
        foreach (var s in Slices(origin, n))
        {
            var widened = new float[blocks * s.Count];
            bool asIs = s.Frame == WeightFrame.AsIs;
            for (int b = 0; b < blocks; b++)
                for (int j = 0; j < s.Count; j++)
                    widened[asIs ? b * s.Count + j : j * blocks + b] = (float)scales[b * n + s.Offset + j];
            // A Conv filter [N,C,kh,kw] is blocked along C·kh·kw: written as its [N, C·kh·kw] view.
            long[]? view = s.Frame == WeightFrame.ConvFilter ? new[] { s.Count, (long)k } : null;
            result.Add(new Int4WeightReplacement(s.Initializer, Columns(q, k, n, s), widened, asIs ? 0 : 1, block, view));
        }
        return result;
    }

    /// <param name="w">[K,N] row-major.</param>
    public static List<WeightReplacement> Half(IReadOnlyList<WeightSlice> origin, int k, int n, System.Half[] w)
    {
        Check(w.Length, k * n, "FP16 values");
        var result = new List<WeightReplacement>();
        foreach (var s in Slices(origin, n)) result.Add(new HalfWeightReplacement(s.Initializer, Columns(w, k, n, s)));
        return result;
    }

    /// <summary>Columns [Offset, Offset+Count) of a [K,N] matrix in the initializer's layout: [K,Count], or [Count,K] transposed.</summary>
    private static T[] Columns<T>(T[] m, int k, int n, (string Initializer, int Offset, int Count, WeightFrame Frame) s)
    {
        var result = new T[k * s.Count];
        bool asIs = s.Frame == WeightFrame.AsIs;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < s.Count; j++)
                result[asIs ? i * s.Count + j : j * k + i] = m[i * n + s.Offset + j];
        return result;
    }

    private static IEnumerable<(string Initializer, int Offset, int Count, WeightFrame Frame)> Slices(IReadOnlyList<WeightSlice> origin, int n)
    {
        long covered = 0;
        foreach (var s in origin)
        {
            if (s.Offset != covered || s.Count <= 0) throw new ArgumentException($"the weight origin's slices must cover the {n} columns in order; '{s.Initializer}' starts at {s.Offset}, expected {covered}");
            covered += s.Count;
            yield return (s.Initializer, (int)s.Offset, (int)s.Count, s.Frame);
        }
        if (covered != n) throw new ArgumentException($"the weight origin covers {covered} of the {n} columns");
    }

    private static void Check(int found, int expected, string what)
    {
        if (found != expected) throw new ArgumentException($"{found} {what}, expected {expected}");
    }
}
