using System;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Lowering;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// Quantized values laid out as the runtime kernels read them (the weight-layout column of docs/quantization.md),
/// as the constant tensors the plan stores. The one place where quantization meets the packing functions: every
/// layout the lowering emits comes from here.
/// </summary>
/// <remarks>
/// The packing functions of the kernel branches (<c>Lowering/Int8Packing.cs</c>, <c>HalfPacking.cs</c>,
/// <c>Int4Packing.cs</c>) had not landed when this was written; until they do, the layouts are written here to the
/// contract, and on merge each body becomes a call to its packing function.
/// </remarks>
public static class KernelLayouts
{
    /// <summary><c>DenseInt8</c>'s quad panels: byte <c>(g, j, t)</c> of panel <c>p</c> at <c>p·Kq·P + g·4P + 4j + t</c> is <c>q[4g+t, p·P+j]</c>.</summary>
    public static ConstTensor Int8QuadPanels(sbyte[] q, int k, int n, int panel)
    {
        int kq = (k + 3) / 4 * 4, panels = (n + panel - 1) / panel;
        var bytes = new long[(long)panels * kq * panel];
        for (int i = 0; i < k; i++)
            for (int c = 0; c < n; c++)
            {
                int p = c / panel, j = c % panel, g = i / 4, t = i % 4;
                bytes[(long)p * kq * panel + (long)g * 4 * panel + 4 * j + t] = q[(long)i * n + c];
            }
        return ConstTensor.Ints(ElementType.Int8, new[] { bytes.LongLength }, bytes);
    }

    /// <summary><c>Σ_k q[k,j]</c> per column, the correction the unsigned-offset (VNNI) path subtracts.</summary>
    public static ConstTensor ColumnSums(sbyte[] q, int k, int n)
    {
        var sums = new long[n];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) sums[j] += q[(long)i * n + j];
        return ConstTensor.Ints(ElementType.Int32, new[] { (long)n }, sums);
    }

    /// <summary><c>DenseHalf</c>: <c>Dense</c>'s float panels, as half.</summary>
    public static ConstTensor HalfPanels(Half[] w, int k, int n, int panel) =>
        PanelPacking.Pack(ConstTensor.Floats(ElementType.Float16, new[] { (long)k, n }, Quantizer.Widen(w)), panel);

    /// <summary>
    /// <c>DenseInt4</c>'s weights: element <c>e = p·K·P + i·P + c</c> of the float panel layout is nibble <c>e/2</c>
    /// (low nibble for even <c>e</c>), two's complement; columns past N are 0.
    /// </summary>
    public static ConstTensor Int4Panels(sbyte[] q, int k, int n, int panel)
    {
        int panels = (n + panel - 1) / panel;
        var nibbles = new sbyte[(long)panels * k * panel];
        for (int i = 0; i < k; i++)
            for (int c = 0; c < n; c++)
                nibbles[((long)(c / panel) * k + i) * panel + c % panel] = q[(long)i * n + c];
        return Nibbles(nibbles);
    }

    /// <summary><c>DenseInt4</c>'s scales (given <c>[nb, N]</c> row-major) at <c>p·nb·P + b·P + c</c>; columns past N get 0.</summary>
    public static ConstTensor Int4PanelScales(Half[] scales, int blocks, int n, int panel)
    {
        int panels = (n + panel - 1) / panel;
        var packed = new double[(long)panels * blocks * panel];
        for (int b = 0; b < blocks; b++)
            for (int c = 0; c < n; c++)
                packed[((long)(c / panel) * blocks + b) * panel + c % panel] = (double)scales[(long)b * n + c];
        return ConstTensor.Floats(ElementType.Float16, new[] { packed.LongLength }, packed);
    }

    /// <summary><c>GatherInt8Rows</c>' table: <c>[V,D]</c> row-major int8.</summary>
    public static ConstTensor Int8Rows(sbyte[] q, int rows, int columns) =>
        ConstTensor.Ints(ElementType.Int8, new[] { (long)rows, columns }, Array.ConvertAll(q, v => (long)v));

    /// <summary><c>GatherInt4Rows</c>' table: element <c>(v,d)</c> is nibble <c>v·D + d</c>.</summary>
    public static ConstTensor Int4Rows(sbyte[] q) => Nibbles(q);

    /// <summary>Floats (or halves) as a plain one-dimensional constant of <paramref name="type"/>.</summary>
    public static ConstTensor Vector(ElementType type, float[] values) =>
        ConstTensor.Floats(type, new[] { (long)values.Length }, Array.ConvertAll(values, v => (double)v));

    /// <inheritdoc cref="Vector(ElementType, float[])"/>
    public static ConstTensor Vector(Half[] values) => ConstTensor.Floats(ElementType.Float16, new[] { (long)values.Length }, Quantizer.Widen(values));

    /// <summary>Two INT4 values a byte, element <c>e</c> in the low nibble of byte <c>e/2</c> when <c>e</c> is even.</summary>
    private static ConstTensor Nibbles(sbyte[] values)
    {
        var bytes = new long[(values.LongLength + 1) / 2];
        for (long e = 0; e < values.LongLength; e++)
            bytes[e / 2] |= (long)(values[e] & 0xF) << (int)(4 * (e % 2));
        return ConstTensor.Ints(ElementType.UInt8, new[] { bytes.LongLength }, bytes);
    }
}
