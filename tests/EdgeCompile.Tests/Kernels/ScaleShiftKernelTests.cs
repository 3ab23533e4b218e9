using System;
using System.Linq;
using EdgeCompile.Runtime;

namespace EdgeCompile.Tests.RuntimeKernels;

public class ScaleShiftKernelTests
{
    [Theory]
    [InlineData(1, 1, true)]
    [InlineData(3, 7, true)]
    [InlineData(5, 128, false)]
    [InlineData(16, 513, true)]
    public void Matches_the_double_precision_formula(int rows, int n, bool withResidual)
    {
        var random = new Random(rows * 1000 + n);
        float[] Values(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        float[] x = Values(rows * n), residual = withResidual ? Values(rows * n) : Array.Empty<float>(), scale = Values(n), shift = Values(n);
        var y = new float[rows * n];
        Kernels.ScaleShift(x, residual, scale, shift, y, rows, n);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                int i = r * n + j;
                double expected = ((double)x[i] + (withResidual ? residual[i] : 0)) * scale[j] + shift[j];
                Assert.True(Math.Abs(y[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"y[{r},{j}] = {y[i]}, expected {expected}");
            }
    }

    [Fact]
    public void Works_in_place()
    {
        float[] x = { 1, 2, 3, 4 }, residual = { 1, 1, 1, 1 }, scale = { 2, 3 }, shift = { 0.5f, -1 };
        Kernels.ScaleShift(x, residual, scale, shift, x, rows: 2, n: 2);
        Assert.Equal(new[] { 4.5f, 8f, 8.5f, 14f }, x);
    }

    [Fact]
    public void Wrong_lengths_name_the_span()
    {
        var e = Assert.Throws<ArgumentException>(() => Kernels.ScaleShift(new float[6], default, new float[3], new float[2], new float[6], 2, 3));
        Assert.Equal("shift", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Kernels.ScaleShift(new float[6], new float[5], new float[3], new float[3], new float[6], 2, 3));
        Assert.Equal("residual", e.ParamName);
    }
}
