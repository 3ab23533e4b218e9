using System;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

public class DataKernelTests
{
    [Fact]
    public void GatherRowsWithNegativeIndices()
    {
        // Embedding lookup: data [1, 10, 7], indices (long) with negatives.
        float[] data = Random(70, 1);
        long[] idx = { 0, 9, -1, -10, 3, 3 };
        var y = new float[idx.Length * 7];
        Kernels.Gather(data, idx, y, outer: 1, axisLength: 10, inner: 7);
        for (int t = 0; t < idx.Length; t++)
        {
            long r = idx[t] < 0 ? idx[t] + 10 : idx[t];
            Assert.Equal(data.AsSpan((int)r * 7, 7).ToArray(), y.AsSpan(t * 7, 7).ToArray());
        }

        // Middle axis with outer > 1, int indices, long data, inner 1.
        long[] d2 = RandomLong(3 * 5, 2);
        int[] i2 = { 4, -5, 2 };
        var y2 = new long[3 * 3];
        Kernels.Gather(d2, i2, y2, outer: 3, axisLength: 5, inner: 1);
        for (int o = 0; o < 3; o++) for (int t = 0; t < 3; t++)
            Assert.Equal(d2[o * 5 + (i2[t] < 0 ? i2[t] + 5 : i2[t])], y2[o * 3 + t]);
    }

    [Fact]
    public void GatherRejectsOutOfRangeNamingIndexAndRange()
    {
        float[] data = new float[10 * 4];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Gather(data, new long[] { 1, 10 }, new float[8], 1, 10, 4));
        Assert.Contains("10", ex.Message);
        Assert.Contains("[-10, 10)", ex.Message);
        Assert.Contains("position 1", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Gather(data, new int[] { -11 }, new float[4], 1, 10, 4));
        Assert.Contains("-11", ex.Message);
        Assert.Throws<ArgumentException>(() => Kernels.Gather(data, new long[] { 1 }, new float[5], 1, 10, 4));
        Assert.Throws<ArgumentException>(() => Kernels.Gather(new float[39], new long[] { 1 }, new float[4], 1, 10, 4));
    }

    [Fact]
    public void CheckIndicesNamesParameterPositionAndValue()
    {
        Kernels.CheckIndices(new long[] { 0, 2999, -3000 }, 3000, "inputIds");
        Kernels.CheckIndices(new int[] { 0, -1 }, 5, "ids");
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.CheckIndices(new long[] { 5, 3000, 4000 }, 3000, "inputIds"));
        Assert.Equal("inputIds", ex.ParamName);
        Assert.Contains("3000", ex.Message);
        Assert.Contains("position 1", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.CheckIndices(new int[] { 1, -6 }, 5, "ids"));
        Assert.Equal("ids", ex.ParamName);
        Assert.Contains("-6", ex.Message);
    }

    private static void Reference<T>(T[] x, T[] y, int[] n, int[] xs, int xOffset, int[] ys, int yOffset)
    {
        for (int a = 0; a < n[0]; a++) for (int b = 0; b < n[1]; b++) for (int c = 0; c < n[2]; c++)
        for (int d = 0; d < n[3]; d++) for (int e = 0; e < n[4]; e++) for (int f = 0; f < n[5]; f++)
            y[yOffset + a * ys[0] + b * ys[1] + c * ys[2] + d * ys[3] + e * ys[4] + f * ys[5]] =
                x[xOffset + a * xs[0] + b * xs[1] + c * xs[2] + d * xs[3] + e * xs[4] + f * xs[5]];
    }

    private static void Check<T>(T[] x, int yLength, int[] n, int[] xs, int xOffset, int[] ys, int yOffset) where T : unmanaged
    {
        var expected = new T[yLength];
        var y = new T[yLength];
        Reference(x, expected, n, xs, xOffset, ys, yOffset);
        Kernels.StridedCopy<T>(x, y, n[0], n[1], n[2], n[3], n[4], n[5], xs[0], xs[1], xs[2], xs[3], xs[4], xs[5], xOffset,
            ys[0], ys[1], ys[2], ys[3], ys[4], ys[5], yOffset);
        Assert.Equal(expected, y);
    }

    [Fact]
    public void StridedCopyTransposeSliceExpandConcat()
    {
        // Transpose [2,9,3,8] → [2,3,9,8] (rows of 8: fast path).
        float[] x = Random(2 * 9 * 3 * 8, 1);
        Check(x, x.Length, new[] { 1, 1, 2, 3, 9, 8 }, new[] { 0, 0, 9 * 3 * 8, 8, 3 * 8, 1 }, 0, new[] { 0, 0, 3 * 9 * 8, 9 * 8, 8, 1 }, 0);
        // Full transpose of the last two axes [7,33] → [33,7] (strided inner).
        float[] m = Random(7 * 33, 2);
        Check(m, m.Length, new[] { 1, 1, 1, 1, 33, 7 }, new[] { 0, 0, 0, 0, 1, 33 }, 0, new[] { 0, 0, 0, 0, 7, 1 }, 0);
        // Slice [10, 31][2:9:3, 1:31] with offset.
        Check(m.AsSpan(0, 7 * 31).ToArray(), 3 * 30, new[] { 1, 1, 1, 1, 3, 30 }, new[] { 0, 0, 0, 0, 3 * 31, 1 }, 1, new[] { 0, 0, 0, 0, 30, 1 }, 0);
        // Reverse (negative stride) along the inner axis.
        long[] l = RandomLong(9, 3);
        Check(l, 9, new[] { 1, 1, 1, 1, 1, 9 }, new[] { 0, 0, 0, 0, 0, -1 }, 8, new[] { 0, 0, 0, 0, 0, 1 }, 0);
        // Expand [1,5] → [4,5] (stride 0).
        Check(l.AsSpan(0, 5).ToArray(), 20, new[] { 1, 1, 1, 1, 4, 5 }, new[] { 0, 0, 0, 0, 0, 1 }, 0, new[] { 0, 0, 0, 0, 5, 1 }, 0);
        // Concat second half: write [3,4] into y [3,10] at column 6 (y offset), bool.
        var bx = new bool[12];
        for (int i = 0; i < 12; i++) bx[i] = i % 3 == 0;
        Check(bx, 30, new[] { 1, 1, 1, 1, 3, 4 }, new[] { 0, 0, 0, 0, 4, 1 }, 0, new[] { 0, 0, 0, 0, 10, 1 }, 6);
        // All six axes in use.
        int[] big = RandomInt(2 * 3 * 2 * 2 * 3 * 2, 4);
        Check(big, big.Length, new[] { 2, 3, 2, 2, 3, 2 }, new[] { 72, 24, 12, 6, 2, 1 }, 0, new[] { 1, 2, 6, 12, 24, 48 }, 0);
    }

    [Fact]
    public void StridedCopyValidatesRange()
    {
        Assert.Throws<ArgumentException>(() => Kernels.StridedCopy<float>(new float[10], new float[10], 1, 1, 1, 1, 1, 11, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0));
        Assert.Throws<ArgumentException>(() => Kernels.StridedCopy<float>(new float[10], new float[10], 1, 1, 1, 1, 1, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1));
        Assert.Throws<ArgumentException>(() => Kernels.StridedCopy<float>(new float[10], new float[10], 1, 1, 1, 1, 1, 10, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 1, 0));
        Kernels.StridedCopy<float>(new float[0], new float[0], 1, 1, 1, 1, 0, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0);
    }
}
