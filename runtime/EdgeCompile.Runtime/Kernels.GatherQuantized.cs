using System;
using System.Numerics;

namespace EdgeCompile.Runtime;

// Embedding lookups on quantized tables (docs/quantization.md): Gather along axis 0 of a [axisLength, inner] table
// (outer = 1), each gathered row dequantized to float. Index rules are Gather's: negative indices count from the
// end; an index outside [-axisLength, axisLength) throws ArgumentOutOfRangeException("indices").
public static unsafe partial class Kernels
{
    /// <summary>
    /// <c>y[t,d] = (float)data[v,d] · rowScale[v]</c> with <c>v = indices[t]</c> (wrapped): <c>data</c> is an INT8
    /// table <c>[axisLength, inner]</c> quantized per row, <c>rowScale</c> has length axisLength, <c>y</c> is
    /// <c>[indices.Length, inner]</c>.
    /// </summary>
    public static void GatherInt8Rows(ReadOnlySpan<sbyte> data, ReadOnlySpan<float> rowScale, ReadOnlySpan<long> indices, Span<float> y,
        int axisLength, int inner) => GatherInt8Rows<long>(data, rowScale, indices, y, axisLength, inner);

    /// <inheritdoc cref="GatherInt8Rows(ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{long}, Span{float}, int, int)"/>
    public static void GatherInt8Rows(ReadOnlySpan<sbyte> data, ReadOnlySpan<float> rowScale, ReadOnlySpan<int> indices, Span<float> y,
        int axisLength, int inner) => GatherInt8Rows<int>(data, rowScale, indices, y, axisLength, inner);

    /// <summary>
    /// <see cref="GatherInt8Rows(ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{long}, Span{float}, int, int)"/>
    /// with Half row scales: <c>y[t,d] = (float)data[v,d] · (float)rowScale[v]</c> (narrow tables, where a float scale
    /// per row is a large share of the bytes).
    /// </summary>
    public static void GatherInt8Rows(ReadOnlySpan<sbyte> data, ReadOnlySpan<Half> rowScale, ReadOnlySpan<long> indices, Span<float> y,
        int axisLength, int inner) => GatherInt8HalfRows<long>(data, rowScale, indices, y, axisLength, inner);

    /// <inheritdoc cref="GatherInt8Rows(ReadOnlySpan{sbyte}, ReadOnlySpan{Half}, ReadOnlySpan{long}, Span{float}, int, int)"/>
    public static void GatherInt8Rows(ReadOnlySpan<sbyte> data, ReadOnlySpan<Half> rowScale, ReadOnlySpan<int> indices, Span<float> y,
        int axisLength, int inner) => GatherInt8HalfRows<int>(data, rowScale, indices, y, axisLength, inner);

    private static void GatherInt8HalfRows<TIndex>(ReadOnlySpan<sbyte> data, ReadOnlySpan<Half> rowScale, ReadOnlySpan<TIndex> indices, Span<float> y,
        int axisLength, int inner) where TIndex : unmanaged, IBinaryInteger<TIndex>
    {
        CheckGather(data.Length, indices.Length, y.Length, 1, axisLength, inner);
        Guard.Length(rowScale.Length, axisLength, nameof(rowScale));
        fixed (sbyte* pd = data)
        fixed (float* py = y)
        {
            for (int t = 0; t < indices.Length; t++)
            {
                int v = GatherRow(indices, t, axisLength);
                WeightWidening.Int8ToSingle(pd + (nint)v * inner, (float)rowScale[v], py + (nint)t * inner, inner);
            }
        }
    }

    /// <summary>
    /// <c>y[r,d] = (float)data[r,d] · rowScale[r]</c>: a whole INT8 table <c>[rows, inner]</c> quantized per row,
    /// dequantized into <c>y</c> (a constant table such as a position embedding that is added rather than gathered).
    /// </summary>
    public static void DequantizeInt8Rows(ReadOnlySpan<sbyte> data, ReadOnlySpan<float> rowScale, Span<float> y, int rows, int inner)
    {
        Guard.NonNegative(rows, nameof(rows)); Guard.NonNegative(inner, nameof(inner));
        Guard.Length(data.Length, (long)rows * inner, nameof(data));
        Guard.Length(rowScale.Length, rows, nameof(rowScale));
        Guard.Length(y.Length, (long)rows * inner, nameof(y));
        fixed (sbyte* pd = data)
        fixed (float* py = y)
            for (int r = 0; r < rows; r++)
                WeightWidening.Int8ToSingle(pd + (nint)r * inner, rowScale[r], py + (nint)r * inner, inner);
    }

    /// <summary>
    /// <c>y[t,d] = (float)q[v,d] · (float)scales[v·⌈inner/block⌉ + d/block]</c> with <c>v = indices[t]</c>
    /// (wrapped): the INT4 table <c>q</c> <c>[axisLength, inner]</c> is stored as nibbles, element (v,d) being nibble
    /// <c>v·inner + d</c> of <c>data</c> (low nibble first, two's complement; <c>⌈axisLength·inner/2⌉</c> bytes),
    /// each row quantized in blocks of <paramref name="block"/> along d (the last one may be shorter).
    /// </summary>
    public static void GatherInt4Rows(ReadOnlySpan<byte> data, ReadOnlySpan<Half> scales, ReadOnlySpan<long> indices, Span<float> y,
        int axisLength, int inner, int block) => GatherInt4Rows<long>(data, scales, indices, y, axisLength, inner, block);

    /// <inheritdoc cref="GatherInt4Rows(ReadOnlySpan{byte}, ReadOnlySpan{Half}, ReadOnlySpan{long}, Span{float}, int, int, int)"/>
    public static void GatherInt4Rows(ReadOnlySpan<byte> data, ReadOnlySpan<Half> scales, ReadOnlySpan<int> indices, Span<float> y,
        int axisLength, int inner, int block) => GatherInt4Rows<int>(data, scales, indices, y, axisLength, inner, block);

    /// <summary>
    /// <c>y[t,d] = (float)data[v,d]</c> with <c>v = indices[t]</c> (wrapped): a Half table <c>[axisLength, inner]</c>.
    /// </summary>
    public static void GatherHalfRows(ReadOnlySpan<Half> data, ReadOnlySpan<long> indices, Span<float> y, int axisLength, int inner)
        => GatherHalfRows<long>(data, indices, y, axisLength, inner);

    /// <inheritdoc cref="GatherHalfRows(ReadOnlySpan{Half}, ReadOnlySpan{long}, Span{float}, int, int)"/>
    public static void GatherHalfRows(ReadOnlySpan<Half> data, ReadOnlySpan<int> indices, Span<float> y, int axisLength, int inner)
        => GatherHalfRows<int>(data, indices, y, axisLength, inner);

    private static void GatherInt8Rows<TIndex>(ReadOnlySpan<sbyte> data, ReadOnlySpan<float> rowScale, ReadOnlySpan<TIndex> indices, Span<float> y,
        int axisLength, int inner) where TIndex : unmanaged, IBinaryInteger<TIndex>
    {
        CheckGather(data.Length, indices.Length, y.Length, 1, axisLength, inner);
        Guard.Length(rowScale.Length, axisLength, nameof(rowScale));
        fixed (sbyte* pd = data)
        fixed (float* py = y)
        {
            for (int t = 0; t < indices.Length; t++)
            {
                int v = GatherRow(indices, t, axisLength);
                WeightWidening.Int8ToSingle(pd + (nint)v * inner, rowScale[v], py + (nint)t * inner, inner);
            }
        }
    }

    private static void GatherInt4Rows<TIndex>(ReadOnlySpan<byte> data, ReadOnlySpan<Half> scales, ReadOnlySpan<TIndex> indices, Span<float> y,
        int axisLength, int inner, int block) where TIndex : unmanaged, IBinaryInteger<TIndex>
    {
        Guard.NonNegative(axisLength, nameof(axisLength)); Guard.NonNegative(inner, nameof(inner)); Guard.Positive(block, nameof(block));
        long elements = (long)axisLength * inner;
        int blocksPerRow = (int)(((long)inner + block - 1) / block);
        Guard.Length(data.Length, (elements + 1) / 2, nameof(data));
        Guard.Length(scales.Length, (long)axisLength * blocksPerRow, nameof(scales));
        Guard.Length(y.Length, (long)indices.Length * inner, nameof(y));
        fixed (byte* pd = data)
        fixed (float* py = y)
        {
            for (int t = 0; t < indices.Length; t++)
            {
                int v = GatherRow(indices, t, axisLength);
                float* row = py + (nint)t * inner;
                for (int b = 0; b < blocksPerRow; b++)
                {
                    int d0 = b * block, count = Math.Min(block, inner - d0);
                    float scale = (float)scales[v * blocksPerRow + b];
                    WeightWidening.Int4RunToSingle(pd, (long)v * inner + d0, count, scale, row + d0);
                }
            }
        }
    }

    private static void GatherHalfRows<TIndex>(ReadOnlySpan<Half> data, ReadOnlySpan<TIndex> indices, Span<float> y, int axisLength, int inner)
        where TIndex : unmanaged, IBinaryInteger<TIndex>
    {
        CheckGather(data.Length, indices.Length, y.Length, 1, axisLength, inner);
        fixed (Half* pd = data)
        fixed (float* py = y)
        {
            for (int t = 0; t < indices.Length; t++)
            {
                int v = GatherRow(indices, t, axisLength);
                WeightWidening.HalfToSingle((ushort*)pd + (nint)v * inner, py + (nint)t * inner, inner);
            }
        }
    }

    /// <summary>Index <paramref name="t"/> as a row of the table: negative counts from the end, outside throws.</summary>
    private static int GatherRow<TIndex>(ReadOnlySpan<TIndex> indices, int t, int axisLength) where TIndex : unmanaged, IBinaryInteger<TIndex>
    {
        long index = long.CreateTruncating(indices[t]);
        if (index < 0) index += axisLength;
        if ((ulong)index >= (ulong)axisLength) ThrowGatherIndex(long.CreateTruncating(indices[t]), t, axisLength);
        return (int)index;
    }
}
