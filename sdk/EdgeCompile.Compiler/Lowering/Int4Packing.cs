using System;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// INT4 weight layouts (docs/quantization.md), from already-chosen integers in [-8,7] and their Half block scales.
/// Two values share a byte, the lower-numbered one in the low nibble, two's complement.
/// <list type="bullet">
/// <item>Dense (runtime <c>Kernels.DenseInt4&lt;TShape&gt;</c>): element <c>e = p·K·P + i·P + c</c> of the float panel
/// layout (<see cref="PanelPacking"/>) is nibble <c>e</c>; the scale of block b of panel column c is at
/// <c>p·nb·P + b·P + c</c>, <c>nb = ⌈K/Block⌉</c>. Columns past N hold 0 and scale 0.</item>
/// <item>Embedding table (<c>Kernels.GatherInt4Rows</c>): element <c>(v,d)</c> is nibble <c>v·D + d</c>; the scales
/// stay row-major <c>[V, ⌈D/Block⌉]</c>.</item>
/// </list>
/// </summary>
public static class Int4Packing
{
    /// <summary>Consecutive values per scale (along K for a Dense weight, along D for a table).</summary>
    public const int Block = 32;

    /// <summary>
    /// Packs <paramref name="q"/> (row-major <c>[K,N]</c>, each in [-8,7]) and <paramref name="scales"/> (row-major
    /// <c>[⌈K/block⌉,N]</c>) in panels of <paramref name="panel"/> (an even number of) columns. Results are
    /// one-dimensional: UInt8 weights of <c>⌈N/P⌉·K·P/2</c> bytes and Float16 scales of <c>⌈N/P⌉·⌈K/block⌉·P</c>.
    /// </summary>
    public static (ConstTensor Weights, ConstTensor Scales) PackPanels(ReadOnlySpan<sbyte> q, ReadOnlySpan<Half> scales,
        int k, int n, int panel, int block = Block)
    {
        if (k < 0 || n < 0) throw new ArgumentOutOfRangeException(nameof(k), "K and N must be non-negative");
        if (panel <= 0 || panel % 2 != 0) throw new ArgumentOutOfRangeException(nameof(panel), panel, "an even panel width is needed");
        if (block <= 0) throw new ArgumentOutOfRangeException(nameof(block));
        int blocks = (k + block - 1) / block, panels = (n + panel - 1) / panel;
        CheckLengths(q.Length, (long)k * n, scales.Length, (long)blocks * n);

        var bytes = new long[checked((long)panels * k * panel / 2)];
        var packedScales = new double[checked((long)panels * blocks * panel)];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                SetNibble(bytes, ((long)(j / panel) * k + i) * panel + j % panel, q[i * n + j]);
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < n; j++)
                packedScales[((long)(j / panel) * blocks + b) * panel + j % panel] = (double)scales[b * n + j];
        return (new ConstTensor(ElementType.UInt8, new[] { bytes.LongLength }, null, bytes),
                new ConstTensor(ElementType.Float16, new[] { packedScales.LongLength }, packedScales, null));
    }

    /// <summary>
    /// Packs an embedding table: <paramref name="q"/> row-major <c>[rows, inner]</c> (each in [-8,7]) into
    /// <c>⌈rows·inner/2⌉</c> bytes (UInt8, one-dimensional); <paramref name="scales"/> (row-major
    /// <c>[rows, ⌈inner/block⌉]</c>) as a one-dimensional Float16 tensor in the same order.
    /// </summary>
    public static (ConstTensor Data, ConstTensor Scales) PackTable(ReadOnlySpan<sbyte> q, ReadOnlySpan<Half> scales,
        int rows, int inner, int block = Block)
    {
        if (rows < 0 || inner < 0) throw new ArgumentOutOfRangeException(nameof(rows), "rows and inner must be non-negative");
        if (block <= 0) throw new ArgumentOutOfRangeException(nameof(block));
        long elements = (long)rows * inner, scaleCount = (long)rows * ((inner + block - 1) / block);
        CheckLengths(q.Length, elements, scales.Length, scaleCount);

        var bytes = new long[checked((elements + 1) / 2)];
        for (int e = 0; e < q.Length; e++) SetNibble(bytes, e, q[e]);
        var tableScales = new double[scales.Length];
        for (int s = 0; s < scales.Length; s++) tableScales[s] = (double)scales[s];
        return (new ConstTensor(ElementType.UInt8, new[] { bytes.LongLength }, null, bytes),
                new ConstTensor(ElementType.Float16, new[] { tableScales.LongLength }, tableScales, null));
    }

    private static void CheckLengths(int qLength, long qExpected, int scaleLength, long scaleExpected)
    {
        if (qLength != qExpected) throw new ArgumentException($"{qLength} values, expected {qExpected}", "q");
        if (scaleLength != scaleExpected) throw new ArgumentException($"{scaleLength} scales, expected {scaleExpected}", "scales");
    }

    /// <summary>Stores <paramref name="value"/> (in [-8,7]) as nibble <paramref name="index"/> of <paramref name="bytes"/>.</summary>
    private static void SetNibble(long[] bytes, long index, sbyte value)
    {
        if (value < -8 || value > 7) throw new ArgumentOutOfRangeException(nameof(value), value, "an INT4 value must lie in [-8, 7]");
        bytes[index / 2] |= (long)(value & 0xF) << (int)(4 * (index % 2));
    }
}
