using System;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// The weight layout of the runtime's <c>Kernels.DenseInt8&lt;TShape&gt;</c> (docs/quantization.md): an already
/// quantized <c>[K,N]</c> matrix <c>q</c> (values in −127..127) cut into panels of <c>P</c> columns like
/// <see cref="PanelPacking"/>, and inside a panel into groups of four consecutive k ("quads"):
/// <c>Kq = ⌈K/4⌉·4</c>, byte <c>p·Kq·P + g·4P + 4j + t</c> holds <c>q[4g+t, p·P+j]</c>, zero past K or N. Every
/// integer dot-product instruction the kernels use (vpdpbusd, sdot, vpmaddwd after sign extension) multiplies four
/// consecutive bytes of one column by four activations, so a single load of a group serves several columns with no shuffles.
/// </summary>
public static class Int8Packing
{
    /// <summary>K rounded up to whole quads.</summary>
    public static int PaddedK(int k) => (k + 3) / 4 * 4;

    /// <summary>Length of the packed array: <c>⌈N/P⌉·Kq·P</c>.</summary>
    public static long PackedLength(int k, int n, int panel) => (long)((n + panel - 1) / panel) * PaddedK(k) * panel;

    /// <summary>Packs row-major <c>q[K,N]</c> into quad panels of <paramref name="panel"/> columns.</summary>
    /// <exception cref="ArgumentException">The length is not K·N, or a value is −128 (outside the symmetric range).</exception>
    public static sbyte[] Pack(ReadOnlySpan<sbyte> q, int k, int n, int panel)
    {
        Validate(q, k, n, panel);
        int kq = PaddedK(k);
        var packed = new sbyte[PackedLength(k, n, panel)];
        for (int i = 0; i < k; i++)
        {
            int g = i / 4, t = i % 4;
            for (int j = 0; j < n; j++)
            {
                int p = j / panel, c = j % panel;
                packed[(long)p * kq * panel + (long)g * 4 * panel + 4 * c + t] = q[i * n + j];
            }
        }
        return packed;
    }

    /// <summary>
    /// <c>Σ_k q[k,j]</c> per column (length N): the kernel's unsigned-offset VNNI path computes Σ (q_x+128)·q_w and
    /// subtracts 128 times this.
    /// </summary>
    public static int[] ColumnSums(ReadOnlySpan<sbyte> q, int k, int n)
    {
        if (k < 0 || n < 0 || q.Length != (long)k * n) throw new ArgumentException($"q has {q.Length} values, expected {k}·{n}", nameof(q));
        var sums = new int[n];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                sums[j] += q[i * n + j];
        return sums;
    }

    /// <summary>The packed weights as a one-dimensional INT8 constant, for the weights blob.</summary>
    public static ConstTensor PackTensor(ReadOnlySpan<sbyte> q, int k, int n, int panel)
    {
        sbyte[] packed = Pack(q, k, n, panel);
        var values = new long[packed.Length];
        for (int i = 0; i < packed.Length; i++) values[i] = packed[i];
        return ConstTensor.Ints(ElementType.Int8, new[] { (long)values.Length }, values);
    }

    /// <summary>The column sums as a one-dimensional INT32 constant, for the weights blob.</summary>
    public static ConstTensor ColumnSumTensor(ReadOnlySpan<sbyte> q, int k, int n)
    {
        int[] sums = ColumnSums(q, k, n);
        var values = new long[sums.Length];
        for (int i = 0; i < sums.Length; i++) values[i] = sums[i];
        return ConstTensor.Ints(ElementType.Int32, new[] { (long)values.Length }, values);
    }

    private static void Validate(ReadOnlySpan<sbyte> q, int k, int n, int panel)
    {
        if (panel != 16 && panel != 32) throw new ArgumentException($"panel width {panel}: 16 or 32 expected", nameof(panel));
        if (k < 0 || n < 0 || q.Length != (long)k * n) throw new ArgumentException($"q has {q.Length} values, expected {k}·{n}", nameof(q));
        // −128 has no positive counterpart: the symmetric quantization never produces it, so it means a caller bug.
        if (q.IndexOf(sbyte.MinValue) >= 0) throw new ArgumentException("q contains −128; symmetric INT8 weights lie in −127..127", nameof(q));
    }
}
