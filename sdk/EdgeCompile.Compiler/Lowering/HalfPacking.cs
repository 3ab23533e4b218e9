using System;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// FP16 weight layouts (docs/quantization.md): a Dense weight as <see cref="PanelPacking"/>'s float panels stored as
/// Half (runtime <c>Kernels.DenseHalf&lt;TShape&gt;</c>), an embedding table as Half rows (<c>Kernels.GatherHalfRows</c>).
/// Values are rounded to the nearest Half (ties to even); a value beyond ±65504 (or not finite) is refused, since
/// it would become ±∞.
/// </summary>
public static class HalfPacking
{
    /// <summary>The largest finite Half.</summary>
    public const double MaxHalf = 65504;

    /// <summary>
    /// Rounds a row-major float <c>[K,N]</c> constant to Half and packs it in panels of <paramref name="panel"/>
    /// columns: element <c>(i,j)</c> at <c>(j/P)·K·P + i·P + j%P</c>, columns past N zero. One-dimensional Float16
    /// result of length <c>⌈N/P⌉·K·P</c>. <paramref name="node"/> names the layer in the error for an out-of-range value.
    /// </summary>
    public static ConstTensor PackPanels(ConstTensor w, int panel, string? node = null)
    {
        if (w.Shape.Length != 2 || w.Real is null) throw new ArgumentException("a two-dimensional float matrix is needed", nameof(w));
        if (panel <= 0) throw new ArgumentOutOfRangeException(nameof(panel));
        int k = checked((int)w.Shape[0]), n = checked((int)w.Shape[1]);
        int panels = (n + panel - 1) / panel;
        var packed = new double[checked((long)panels * k * panel)];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                packed[((long)(j / panel) * k + i) * panel + j % panel] = (double)ToHalf(w.Real[(long)i * n + j], node, i, j);
        return new ConstTensor(ElementType.Float16, new[] { packed.LongLength }, packed, null);
    }

    /// <summary>
    /// Rounds an embedding table (any float constant, row-major <c>[V,D]</c>) to Half, element by element in the same
    /// order. One-dimensional Float16 result of the same element count.
    /// </summary>
    public static ConstTensor PackTable(ConstTensor table, string? node = null)
    {
        if (table.Real is null) throw new ArgumentException("a float table is needed", nameof(table));
        long inner = table.Shape.Length == 0 ? 1 : table.Shape[^1];
        var values = new double[table.Real.Length];
        for (long e = 0; e < values.LongLength; e++)
            values[e] = (double)ToHalf(table.Real[e], node, inner == 0 ? 0 : e / inner, inner == 0 ? 0 : e % inner);
        return new ConstTensor(ElementType.Float16, new[] { values.LongLength }, values, null);
    }

    /// <summary>
    /// <paramref name="value"/> (a float held as a double) rounded to the nearest Half, ties to even; a compile
    /// error for a value beyond ±65504 or not finite. <paramref name="row"/> and <paramref name="column"/> locate it
    /// in the message.
    /// </summary>
    public static Half ToHalf(double value, string? node, long row, long column)
    {
        if (!(Math.Abs(value) <= MaxHalf))
            throw new CompilerException(Codes.UnsupportedOperatorForm,
                $"FP16 quantization: weight [{row},{column}] = {value:R} is outside the FP16 range ±{MaxHalf}; keep this layer in FP32 or INT8.",
                node);
        // The value is a float, so converting it as a float rounds once (float → Half is correctly rounded).
        return (Half)(float)value;
    }
}
