using System;
using System.Linq;
using EdgeCompile.Compiler.Quantization;
using Xunit;

namespace EdgeCompile.Tests.Quantization;

public class Int4GptqTests
{
    /// <summary>Calibration-like inputs: <paramref name="rows"/> samples of <paramref name="k"/> strongly correlated features.</summary>
    private static double[] CorrelatedInputs(int rows, int k, int seed)
    {
        var random = new Random(seed);
        int factors = Math.Max(2, k / 8);
        var mixing = Enumerable.Range(0, factors * k).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var x = new double[rows * k];
        for (int r = 0; r < rows; r++)
        {
            var z = Enumerable.Range(0, factors).Select(_ => Gaussian(random)).ToArray();
            for (int i = 0; i < k; i++)
            {
                double v = 0.05 * Gaussian(random);
                for (int f = 0; f < factors; f++) v += z[f] * mixing[f * k + i];
                x[r * k + i] = v;
            }
        }
        return x;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double[] Hessian(double[] x, int rows, int k)
    {
        var h = new double[k * k];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) h[i * k + j] += x[r * k + i] * x[r * k + j];
        return h;
    }

    /// <summary>Plain round-to-nearest with the same block scales rule, written independently of the code under test.</summary>
    private static double[] RoundToNearest(float[] w, int k, int n)
    {
        var result = new double[w.Length];
        for (int b = 0; b * 32 < k; b++)
            for (int j = 0; j < n; j++)
            {
                int end = Math.Min(k, b * 32 + 32);
                double max = 0;
                for (int r = b * 32; r < end; r++) max = Math.Max(max, Math.Abs(w[r * n + j]));
                float s = max > 0 ? (float)(Half)(max / 7) : 1f;
                for (int r = b * 32; r < end; r++)
                    result[r * n + j] = Math.Clamp(Math.Round(w[r * n + j] / s, MidpointRounding.ToEven), -8, 7) * (double)s;
            }
        return result;
    }

    private static double[] Dequantize((sbyte[] Values, Half[] Scales) q, int k, int n) =>
        Enumerable.Range(0, k * n).Select(e => q.Values[e] * (double)(float)q.Scales[e / n / 32 * n + e % n]).ToArray();

    /// <summary>‖X·(W − Ŵ)‖² over the calibration rows.</summary>
    private static double OutputError(double[] x, int rows, int k, int n, float[] w, double[] approx)
    {
        double sum = 0;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double d = 0;
                for (int i = 0; i < k; i++) d += x[r * k + i] * (w[i * n + j] - approx[i * n + j]);
                sum += d * d;
            }
        return sum;
    }

    [Theory]
    [InlineData(64, 12, 1)]
    [InlineData(96, 20, 2)]
    [InlineData(100, 7, 3)]   // a partial last block
    public void Compensation_beats_plain_rounding_on_correlated_inputs(int k, int n, int seed)
    {
        const int rows = 512;
        var random = new Random(seed + 100);
        var w = Enumerable.Range(0, k * n).Select(_ => (float)(Gaussian(random) * 0.1)).ToArray();
        var x = CorrelatedInputs(rows, k, seed);

        var gptq = Int4Gptq.Quantize(w, k, n, Hessian(x, rows, k));

        Assert.NotNull(gptq);
        Assert.All(gptq.Value.Values, v => Assert.InRange(v, (sbyte)-8, (sbyte)7));
        Assert.Equal((k + 31) / 32 * n, gptq.Value.Scales.Length);
        double compensated = OutputError(x, rows, k, n, w, Dequantize(gptq.Value, k, n));
        double plain = OutputError(x, rows, k, n, w, RoundToNearest(w, k, n));
        Assert.True(compensated < 0.8 * plain, $"output error with compensation {compensated:G4}, plain rounding {plain:G4}");
    }

    [Fact]
    public void With_uncorrelated_inputs_it_is_plain_rounding()
    {
        const int k = 70, n = 9;
        var random = new Random(5);
        var w = Enumerable.Range(0, k * n).Select(_ => (float)(Gaussian(random) * 0.3)).ToArray();
        var diagonal = new double[k * k];
        for (int i = 0; i < k; i++) diagonal[i * k + i] = 1 + i;

        var gptq = Int4Gptq.Quantize(w, k, n, diagonal)!.Value;

        Assert.Equal(RoundToNearest(w, k, n), Dequantize(gptq, k, n));
    }

    [Fact]
    public void Inputs_that_are_always_zero_get_zero_weights()
    {
        const int k = 40, n = 3, rows = 200;
        var random = new Random(9);
        var w = Enumerable.Range(0, k * n).Select(_ => (float)Gaussian(random)).ToArray();
        var x = CorrelatedInputs(rows, k, 9);
        for (int r = 0; r < rows; r++) x[r * k + 7] = 0;

        var gptq = Int4Gptq.Quantize(w, k, n, Hessian(x, rows, k))!.Value;

        Assert.Equal(new sbyte[n], gptq.Values.Skip(7 * n).Take(n).ToArray());
    }

    [Fact]
    public void Wrong_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Int4Gptq.Quantize(new float[5], 2, 3, new double[4]));
        Assert.Throws<ArgumentException>(() => Int4Gptq.Quantize(new float[6], 2, 3, new double[3]));
    }
}
