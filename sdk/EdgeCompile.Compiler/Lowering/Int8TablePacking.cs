using System;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// The INT8 embedding table layout (docs/quantization.md; runtime <c>Kernels.GatherInt8Rows</c>): the integers
/// row-major <c>[V,D]</c> as they are, one float scale per row.
/// </summary>
public static class Int8TablePacking
{
    /// <summary>
    /// <paramref name="q"/> (row-major <c>[rows, inner]</c>, each in [-127,127]) as a one-dimensional Int8 tensor and
    /// <paramref name="rowScale"/> (length rows) as a one-dimensional Float32 tensor.
    /// </summary>
    public static (ConstTensor Data, ConstTensor RowScale) PackTable(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> rowScale, int rows, int inner)
    {
        if (rows < 0 || inner < 0) throw new ArgumentOutOfRangeException(nameof(rows), "rows and inner must be non-negative");
        if (q.Length != (long)rows * inner) throw new ArgumentException($"{q.Length} values, expected {(long)rows * inner}", nameof(q));
        if (rowScale.Length != rows) throw new ArgumentException($"{rowScale.Length} scales, expected {rows}", nameof(rowScale));
        var data = new long[q.Length];
        for (int e = 0; e < q.Length; e++)
        {
            if (q[e] == sbyte.MinValue) throw new ArgumentOutOfRangeException(nameof(q), q[e], "symmetric INT8 values lie in [-127, 127]");
            data[e] = q[e];
        }
        var scales = new double[rows];
        for (int v = 0; v < rows; v++) scales[v] = rowScale[v];
        return (new ConstTensor(ElementType.Int8, new[] { data.LongLength }, null, data),
                new ConstTensor(ElementType.Float32, new[] { scales.LongLength }, scales, null));
    }
}
