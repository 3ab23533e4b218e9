using System;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Lowering;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// Quantized values laid out as the runtime kernels read them (the weight-layout column of docs/quantization.md),
/// as the constant tensors the plan stores. The one place where quantization meets the packing functions
/// (<c>Lowering/Int8Packing.cs</c>, <c>Int4Packing.cs</c>, <c>Int8TablePacking.cs</c>, <c>PanelPacking.cs</c>).
/// </summary>
public static class KernelLayouts
{
    /// <summary><c>DenseInt8</c>'s quad panels: byte <c>(g, j, t)</c> of panel <c>p</c> at <c>p·Kq·P + g·4P + 4j + t</c> is <c>q[4g+t, p·P+j]</c>.</summary>
    public static ConstTensor Int8QuadPanels(sbyte[] q, int k, int n, int panel) => Int8Packing.PackTensor(q, k, n, panel);

    /// <summary><c>Σ_k q[k,j]</c> per column, the correction the unsigned-offset (VNNI) path subtracts.</summary>
    public static ConstTensor ColumnSums(sbyte[] q, int k, int n) => Int8Packing.ColumnSumTensor(q, k, n);

    /// <summary><c>DenseHalf</c>: <c>Dense</c>'s float panels, as half (the values are already rounded, so no range check is left).</summary>
    public static ConstTensor HalfPanels(Half[] w, int k, int n, int panel) =>
        PanelPacking.Pack(ConstTensor.Floats(ElementType.Float16, new[] { (long)k, n }, Quantizer.Widen(w)), panel);

    /// <summary>
    /// <c>DenseInt4</c>'s weights and scales: element <c>e = p·K·P + i·P + c</c> of the float panel layout is nibble
    /// <c>e/2</c> (low nibble for even <c>e</c>), two's complement, columns past N are 0; the scales (given
    /// <c>[nb, N]</c> row-major) at <c>p·nb·P + b·P + c</c>.
    /// </summary>
    public static (ConstTensor Weights, ConstTensor Scales) Int4Panels(sbyte[] q, Half[] scales, int k, int n, int panel, int block) =>
        Int4Packing.PackPanels(q, scales, k, n, panel, block);

    /// <summary><c>GatherInt8Rows</c>' table (<c>[V,D]</c> row-major int8) and its row scales.</summary>
    public static (ConstTensor Data, ConstTensor RowScale) Int8Rows(sbyte[] q, float[] rowScale, int rows, int columns) =>
        Int8TablePacking.PackTable(q, rowScale, rows, columns);

    /// <summary><c>GatherInt4Rows</c>' table (element <c>(v,d)</c> is nibble <c>v·D + d</c>) and its scales <c>[V, ⌈D/block⌉]</c>.</summary>
    public static (ConstTensor Data, ConstTensor Scales) Int4Rows(sbyte[] q, Half[] scales, int rows, int columns, int block) =>
        Int4Packing.PackTable(q, scales, rows, columns, block);

    /// <summary>Floats as a plain one-dimensional constant of <paramref name="type"/>.</summary>
    public static ConstTensor Vector(ElementType type, float[] values) =>
        ConstTensor.Floats(type, new[] { (long)values.Length }, Array.ConvertAll(values, v => (double)v));

    /// <summary>Halves as a plain one-dimensional Float16 constant.</summary>
    public static ConstTensor Vector(Half[] values) => ConstTensor.Floats(ElementType.Float16, new[] { (long)values.Length }, Quantizer.Widen(values));
}
