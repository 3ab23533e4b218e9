using EdgeCompile.Tests.Shared;
using System;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

public class NormalizationKernelTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 1)]
    [InlineData(2, 8, 1)]
    [InlineData(4, 9, 1)]
    [InlineData(2, 33, 1)]
    [InlineData(1, 100, 1)]
    [InlineData(2, 5, 3)]
    [InlineData(3, 31, 9)]
    public void SoftmaxMatchesReference(int outer, int length, int inner)
    {
        float[] x = Random(outer * length * inner, length, -10, 10);
        if (x.Length > 2) { x[0] = 80f; x[1] = 85f; }   // would overflow exp without max subtraction
        var expected = new double[x.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int l = 0; l < length; l++) max = Math.Max(max, x[(o * length + l) * inner + i]);
                for (int l = 0; l < length; l++) sum += Math.Exp(x[(o * length + l) * inner + i] - max);
                for (int l = 0; l < length; l++) expected[(o * length + l) * inner + i] = Math.Exp(x[(o * length + l) * inner + i] - max) / sum;
            }
        var y = new float[x.Length];
        Kernels.Softmax(x, y, outer: outer, length: length, inner: inner);
        Close(expected, y, atol: 1e-7, rtol: 2e-6, what: "Softmax");
        Kernels.Softmax(x, x, outer, length, inner);   // in place
        Close(expected, x, atol: 1e-7, rtol: 2e-6, what: "Softmax in place");
        Assert.Throws<ArgumentException>(() => Kernels.Softmax(new float[5], new float[6], 1, 6, 1));
    }

    [Theory]
    [InlineData(1, 1, true)]
    [InlineData(3, 7, true)]
    [InlineData(2, 8, false)]
    [InlineData(5, 9, true)]
    [InlineData(2, 31, false)]
    [InlineData(4, 33, true)]
    [InlineData(3, 100, true)]
    [InlineData(2, 768, true)]
    public void LayerNormMatchesReference(int rows, int length, bool withBias)
    {
        float[] x = Random(rows * length, length, -4, 4);
        for (int i = 0; i < x.Length; i++) x[i] += 100f;   // large mean: catches E[x²]−E[x]² cancellation
        float[] scale = Random(length, 2, 0.5f, 1.5f);
        float[] bias = withBias ? Random(length, 3) : Array.Empty<float>();
        const float eps = 1e-5f;
        var expected = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < length; i++) mean += x[r * length + i];
            mean /= length;
            for (int i = 0; i < length; i++) { double d = x[r * length + i] - mean; variance += d * d; }
            variance /= length;
            for (int i = 0; i < length; i++)
                expected[r * length + i] = (x[r * length + i] - mean) / Math.Sqrt(variance + eps) * scale[i] + (withBias ? bias[i] : 0);
        }
        var y = new float[x.Length];
        Kernels.LayerNorm(x, scale, bias, y, rows: rows, length: length, epsilon: eps);
        Close(expected, y, atol: 2e-5, rtol: 1e-5, what: "LayerNorm");
        Kernels.LayerNorm(x, scale, bias, x, rows, length, eps);   // in place
        Close(expected, x, atol: 2e-5, rtol: 1e-5, what: "LayerNorm in place");
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(new float[8], new float[3], default, new float[8], 2, 4, eps));
        Assert.Throws<ArgumentException>(() => Kernels.LayerNorm(new float[8], new float[4], new float[3], new float[8], 2, 4, eps));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 1)]
    [InlineData(2, 33, 1)]
    [InlineData(2, 100, 1)]
    [InlineData(2, 5, 3)]
    [InlineData(3, 9, 31)]
    [InlineData(1, 4, 100)]
    public void ReductionsMatchReference(int outer, int length, int inner)
    {
        float[] x = Random(outer * length * inner, length * 7 + inner, -5, 5);
        var sum = new double[outer * inner];
        var max = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0, m = double.NegativeInfinity;
                for (int l = 0; l < length; l++) { float v = x[(o * length + l) * inner + i]; s += v; m = Math.Max(m, v); }
                sum[o * inner + i] = s;
                max[o * inner + i] = m;
            }
        var y = new float[outer * inner];
        Kernels.ReduceSum(x, y, outer: outer, length: length, inner: inner);
        Close(sum, y, atol: 1e-5, rtol: 1e-6, what: "ReduceSum");
        Kernels.ReduceMax(x, y, outer, length, inner);
        Close(max, y, atol: 0, rtol: 0, what: "ReduceMax");
        Kernels.ReduceMean(x, y, outer, length, inner);
        var mean = new double[sum.Length];
        for (int i = 0; i < mean.Length; i++) mean[i] = sum[i] / length;
        Close(mean, y, atol: 1e-6, rtol: 1e-6, what: "ReduceMean");
        Assert.Throws<ArgumentException>(() => Kernels.ReduceSum(x, new float[y.Length + 1], outer, length, inner));
    }

    [Theory]
    [InlineData(2, 3, 1)]
    [InlineData(2, 33, 1)]
    [InlineData(2, 3, 7)]
    [InlineData(1, 5, 33)]
    [InlineData(3, 4, 100)]
    public void ChannelAffineMatchesReference(int outer, int channels, int inner)
    {
        float[] x = Random(outer * channels * inner, channels + inner);
        float[] scale = Random(channels, 1), shift = Random(channels, 2);
        var expected = new double[x.Length];
        for (int o = 0; o < outer; o++) for (int c = 0; c < channels; c++) for (int i = 0; i < inner; i++)
        {
            int t = (o * channels + c) * inner + i;
            expected[t] = (double)x[t] * scale[c] + shift[c];
        }
        var y = new float[x.Length];
        Kernels.ChannelAffine(x, scale, shift, y, outer: outer, channels: channels, inner: inner);
        Close(expected, y, atol: 1e-6, rtol: 1e-6, what: "ChannelAffine");
        Assert.Throws<ArgumentException>(() => Kernels.ChannelAffine(x, scale, new float[channels + 1], y, outer, channels, inner));
    }

    [Fact]
    public void LayerNormAndSoftmaxAllocateNothing()
    {
        float[] x = Random(8 * 768, 1), scale = Random(768, 2), bias = Random(768, 3);
        var y = new float[x.Length];
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.LayerNorm(x, scale, bias, y, 8, 768, 1e-12f);
            Kernels.Softmax(x, y, 8, 768, 1);
            Kernels.Softmax(x, y, 8, 96, 8);
        }));
    }
}
