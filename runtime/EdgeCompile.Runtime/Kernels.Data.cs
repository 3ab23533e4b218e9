using System;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// Gather along the middle axis: <c>data</c> is <c>[outer, axisLength, inner]</c>, <c>y</c> is
    /// <c>[outer, indices.Length, inner]</c>. Negative indices count from the end; an index outside
    /// <c>[-axisLength, axisLength)</c> throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public static void Gather<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> indices, Span<T> y, int outer, int axisLength, int inner)
        where T : unmanaged => Gather<T, long>(data, indices, y, outer, axisLength, inner);

    /// <inheritdoc cref="Gather{T}(ReadOnlySpan{T}, ReadOnlySpan{long}, Span{T}, int, int, int)"/>
    public static void Gather<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> indices, Span<T> y, int outer, int axisLength, int inner)
        where T : unmanaged => Gather<T, int>(data, indices, y, outer, axisLength, inner);

    private static void Gather<T, TIndex>(ReadOnlySpan<T> data, ReadOnlySpan<TIndex> indices, Span<T> y, int outer, int axisLength, int inner)
        where T : unmanaged where TIndex : unmanaged, System.Numerics.IBinaryInteger<TIndex>
    {
        CheckGather(data.Length, indices.Length, y.Length, outer, axisLength, inner);
        int count = indices.Length;
        for (int o = 0; o < outer; o++)
        {
            ReadOnlySpan<T> block = data.Slice(o * axisLength * inner, axisLength * inner);
            Span<T> yBlock = y.Slice(o * count * inner, count * inner);
            for (int t = 0; t < count; t++)
            {
                long index = long.CreateTruncating(indices[t]);
                if (index < 0) index += axisLength;
                if ((ulong)index >= (ulong)axisLength) ThrowGatherIndex(long.CreateTruncating(indices[t]), t, axisLength);
                block.Slice((int)index * inner, inner).CopyTo(yBlock.Slice(t * inner, inner));
            }
        }
    }

    private static void CheckGather(int dataLength, int indexCount, int yLength, int outer, int axisLength, int inner)
    {
        Guard.NonNegative(outer, nameof(outer)); Guard.NonNegative(axisLength, nameof(axisLength)); Guard.NonNegative(inner, nameof(inner));
        Guard.Length(dataLength, (long)outer * axisLength * inner, "data");
        Guard.Length(yLength, (long)outer * indexCount * inner, "y");
    }

    private static void ThrowGatherIndex(long value, int position, int axisLength)
        => throw new ArgumentOutOfRangeException("indices", value,
            $"Gather index {value} at position {position} is outside the valid range [{-axisLength}, {axisLength}).");

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/>(<paramref name="paramName"/>) naming the first value outside <c>[-limit, limit)</c> and its position.</summary>
    public static void CheckIndices(ReadOnlySpan<long> indices, int limit, string paramName)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            long value = indices[i];
            if (value < -limit || value >= limit) ThrowIndex(paramName, value, i, limit);
        }
    }

    /// <inheritdoc cref="CheckIndices(ReadOnlySpan{long}, int, string)"/>
    public static void CheckIndices(ReadOnlySpan<int> indices, int limit, string paramName)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            int value = indices[i];
            if (value < -(long)limit || value >= limit) ThrowIndex(paramName, value, i, limit);
        }
    }

    private static void ThrowIndex(string paramName, long value, int position, int limit)
        => throw new ArgumentOutOfRangeException(paramName, value,
            $"Value {value} at position {position} of '{paramName}' is outside the valid range [{-(long)limit}, {limit}).");

    /// <summary>
    /// 6-D strided copy: for every index i in <c>[n0..n5]</c>, <c>y[yOffset + Σ i_k·y_k] = x[xOffset + Σ i_k·x_k]</c>.
    /// Strides may be negative (reversed slices) or 0 (expand on x). Transpose, Slice, Expand, Concat, Split and
    /// Tile lower to it. Rows with unit innermost strides are copied with <see cref="Span{T}.CopyTo"/>.
    /// </summary>
    public static void StridedCopy<T>(ReadOnlySpan<T> x, Span<T> y,
        int n0, int n1, int n2, int n3, int n4, int n5,
        int x0, int x1, int x2, int x3, int x4, int x5, int xOffset,
        int y0, int y1, int y2, int y3, int y4, int y5, int yOffset)
        where T : unmanaged
    {
        if ((n0 | n1 | n2 | n3 | n4 | n5) < 0) throw new ArgumentException($"StridedCopy extents must be non-negative: [{n0},{n1},{n2},{n3},{n4},{n5}].");
        if ((long)n0 * n1 * n2 * n3 * n4 * n5 == 0) return;
        CheckStridedRange(x.Length, nameof(x), xOffset, n0, n1, n2, n3, n4, n5, x0, x1, x2, x3, x4, x5);
        CheckStridedRange(y.Length, nameof(y), yOffset, n0, n1, n2, n3, n4, n5, y0, y1, y2, y3, y4, y5);

        bool rows = x5 == 1 && y5 == 1;
        for (int i0 = 0; i0 < n0; i0++)
        for (int i1 = 0; i1 < n1; i1++)
        for (int i2 = 0; i2 < n2; i2++)
        for (int i3 = 0; i3 < n3; i3++)
        for (int i4 = 0; i4 < n4; i4++)
        {
            int xi = xOffset + i0 * x0 + i1 * x1 + i2 * x2 + i3 * x3 + i4 * x4;
            int yi = yOffset + i0 * y0 + i1 * y1 + i2 * y2 + i3 * y3 + i4 * y4;
            if (rows) x.Slice(xi, n5).CopyTo(y.Slice(yi, n5));
            else for (int i5 = 0; i5 < n5; i5++, xi += x5, yi += y5) y[yi] = x[xi];
        }
    }

    private static void CheckStridedRange(int length, string name, int offset,
        int n0, int n1, int n2, int n3, int n4, int n5, int s0, int s1, int s2, int s3, int s4, int s5)
    {
        long min = offset, max = offset;
        Accumulate(ref min, ref max, n0, s0); Accumulate(ref min, ref max, n1, s1); Accumulate(ref min, ref max, n2, s2);
        Accumulate(ref min, ref max, n3, s3); Accumulate(ref min, ref max, n4, s4); Accumulate(ref min, ref max, n5, s5);
        if (min < 0 || max >= length)
            throw new ArgumentException($"StridedCopy addresses {name}[{min}..{max}] but {name} has length {length}.", name);

        static void Accumulate(ref long min, ref long max, int n, int s)
        {
            long reach = (long)(n - 1) * s;
            if (reach < 0) min += reach; else max += reach;
        }
    }
}
