using System;

namespace EdgeCompile.Tests.RuntimeKernels;

/// <summary>Random inputs and tolerant comparisons for the kernel tests (double-precision references).</summary>
internal static class KernelAssert
{
    public static readonly int[] OddLengths = { 1, 7, 8, 9, 31, 33, 100 };

    public static float[] Random(int length, int seed, float min = -3f, float max = 3f)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < length; i++) a[i] = (float)(min + (max - min) * rng.NextDouble());
        return a;
    }

    public static long[] RandomLong(int length, int seed, long min = -50, long max = 50)
    {
        var rng = new Random(seed);
        var a = new long[length];
        for (int i = 0; i < length; i++) a[i] = rng.NextInt64(min, max);
        return a;
    }

    public static int[] RandomInt(int length, int seed, int min = -50, int max = 50)
    {
        var rng = new Random(seed);
        var a = new int[length];
        for (int i = 0; i < length; i++) a[i] = rng.Next(min, max);
        return a;
    }

    /// <summary>|actual − expected| ≤ atol + rtol·|expected| element by element (NaN matches NaN).</summary>
    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol = 1e-6, double rtol = 1e-5, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e)) { Assert.True(double.IsNaN(a), $"{what}[{i}]: expected NaN, got {a}"); continue; }
            if (double.IsInfinity(e)) { Assert.True(e == a, $"{what}[{i}]: expected {e}, got {a}"); continue; }
            double err = Math.Abs(a - e);
            if (err > atol + rtol * Math.Abs(e))
                Assert.Fail($"{what}[{i}]: expected {e:R}, got {a:R} (error {err:E3}, allowed {atol + rtol * Math.Abs(e):E3})");
        }
    }

    public static double[] ToDouble(ReadOnlySpan<float> x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = x[i];
        return d;
    }

    /// <summary>erf in double: e^(−x²)·2/√π·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)) (all terms positive, no cancellation).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return -Erf(-x);
        if (x > 6.5) return 1.0;
        double term = x, sum = x, x2 = x * x;
        for (int n = 1; n < 400; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
    }
}
