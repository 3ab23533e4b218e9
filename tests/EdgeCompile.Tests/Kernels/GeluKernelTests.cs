using System;
using EdgeCompile.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.RuntimeKernels;

/// <summary>
/// The exact (erf) GELU of the dense epilogues (<see cref="GeluOperator"/>) against a double-precision reference
/// written here from erfc (series and continued fraction), on a dense sweep of [−10, 10] and on special values.
/// The previous formulation (<see cref="GeluErfOperator"/>, 0.5x(1 + erf(x/√2))) is measured on the same sweep and
/// printed next to it, so the two can be compared; the asserts are fixed bounds against the reference.
/// </summary>
public class GeluKernelTests(ITestOutputHelper output)
{
    /// <summary>erfc(z), z ≥ 0, in double: 1 − the Maclaurin series of erf below 3 (at most ~5 of 16 digits lost
    /// to the subtraction there), the Laplace continued fraction from 3 on (backward evaluation, 200 terms).</summary>
    private static double Erfc(double z)
    {
        if (z < 3)
        {
            // erf(z) = 2/√π · Σ (−1)^n z^(2n+1) / (n!(2n+1))
            double term = z, sum = z, z2 = z * z;
            for (int n = 1; n < 200; n++)
            {
                term *= -z2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-18 * Math.Abs(sum)) break;
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + (2/2)/(z + (3/2)/(z + ...))))
        double k = z;
        for (int i = 200; i >= 1; i--) k = z + i / 2.0 / k;
        return Math.Exp(-z * z) / (Math.Sqrt(Math.PI) * k);
    }

    /// <summary>x·Φ(x), Φ(−t) = erfc(t/√2)/2, with the small term subtracted for x ≥ 0 (no 1 + erf cancellation).</summary>
    private static double GeluReference(double x)
    {
        double tail = Erfc(Math.Abs(x) / Math.Sqrt(2)) / 2;
        return x >= 0 ? x - x * tail : x * tail;
    }

    private static double Ulp(double reference)
    {
        float f = MathF.Abs((float)reference);
        return MathF.BitIncrement(f) - f;
    }

    [Fact]
    public void ReferenceMatchesHighPrecisionValues()
    {
        // x·erfc(−x/√2)/2 from an arbitrary-precision library (30 digits), rounded to 17.
        (double X, double Gelu)[] known =
        {
            (-9, -1.0157295653584566e-18), (-6, -5.9195258702261888e-9), (-3, -0.0040496940948902836),
            (-1.5, -0.1002108019032871), (-0.5, -0.15426876936299345), (1e-3, 0.00050039894221391106),
            (0.7, 0.53062544344384889), (2, 1.9544997361036416), (4.5, 4.4999847104709387), (8, 7.999999999999995),
        };
        foreach (var (x, gelu) in known)
            Assert.True(Math.Abs(GeluReference(x) - gelu) <= 1e-13 * Math.Abs(gelu), $"reference at {x}: {GeluReference(x):R} vs {gelu:R}");
    }

    /// <summary>Lower ends of the ranges [from, 10] the ulp error is reported on: relative accuracy for x &lt; 0 fades
    /// with |gelu(x)| (an absolute error of ~1e-8 in Φ is many ulp of a result near 1e-6).</summary>
    private static readonly double[] UlpFrom = { -1, -2, -3, -4, -5, -10 };

    private sealed record Errors(double MaxAbs, float AbsAt, double[] MaxUlp, float[] UlpAt)
    {
        public override string ToString()
        {
            var ulps = new System.Text.StringBuilder();
            for (int r = 0; r < UlpFrom.Length; r++) ulps.Append($"; [{UlpFrom[r]}, 10]: {MaxUlp[r]:G4} ulp at {UlpAt[r]:R}");
            return $"max abs {MaxAbs:E3} at {AbsAt:R}{ulps}";
        }
    }

    private static Errors Measure(float[] x, double[] reference, float[] y)
    {
        double maxAbs = 0;
        float absAt = 0;
        var maxUlp = new double[UlpFrom.Length];
        var ulpAt = new float[UlpFrom.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double err = Math.Abs(y[i] - reference[i]);
            if (err > maxAbs) { maxAbs = err; absAt = x[i]; }
            if (reference[i] == 0) continue;
            double ulps = err / Ulp(reference[i]);
            for (int r = 0; r < UlpFrom.Length; r++)
                if (x[i] >= UlpFrom[r] && ulps > maxUlp[r]) { maxUlp[r] = ulps; ulpAt[r] = x[i]; }
        }
        return new Errors(maxAbs, absAt, maxUlp, ulpAt);
    }

    private static float[] Sweep()
    {
        // 4M evenly spaced points over [−10, 10] plus ±2^−k for the region near 0 where the spacing is too coarse.
        const int n = 4_000_001;
        var x = new float[n + 2 * 140];
        for (int i = 0; i < n; i++) x[i] = (float)(-10.0 + 20.0 * i / (n - 1));
        for (int k = 0; k < 140; k++) { x[n + 2 * k] = MathF.ScaleB(1f, -k); x[n + 2 * k + 1] = -MathF.ScaleB(1f, -k); }
        return x;
    }

    [Fact]
    public void GeluIsAccurateOverMinusTenToTen()
    {
        float[] x = Sweep();
        var y = new float[x.Length];
        var yOld = new float[x.Length];
        Kernels.Gelu(x, y);
        Loops.Unary(x, yOld, new GeluErfOperator());
        var reference = new double[x.Length];
        for (int i = 0; i < x.Length; i++) reference[i] = GeluReference(x[i]);
        Errors now = Measure(x, reference, y), before = Measure(x, reference, yOld);
        output.WriteLine("vector path: " + (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "512-bit"
            : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "256-bit" : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? "128-bit" : "scalar")
            + (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported ? ", fused multiply-add" : ", no FMA"));
        output.WriteLine($"GeluOperator:    {now}");
        output.WriteLine($"GeluErfOperator: {before}");

        Assert.True(now.MaxAbs <= 5e-7, $"max abs error {now.MaxAbs:E3} at x = {now.AbsAt:R}");
        Assert.True(now.MaxUlp[0] <= 3, $"max error {now.MaxUlp[0]:F2} ulp on [-1, 10] at x = {now.UlpAt[0]:R}");

        // The scalar form (vector tails, hardware without vectors) gives the same bits where the hardware fuses.
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
        {
            var op = new GeluOperator();
            for (int i = 0; i < x.Length; i += 997)
                Assert.Equal(BitConverter.SingleToInt32Bits(y[i]), BitConverter.SingleToInt32Bits(op.Invoke(x[i])));
        }
    }

    [Fact]
    public void GeluSpecialValues()
    {
        float[] x =
        {
            0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-30f, -1e-30f, float.Epsilon, -float.Epsilon,
            1e30f, -1e30f, float.MaxValue, float.MinValue, 6.5f, -6.5f, 6.5000005f, -6.5000005f, 100f, -100f,
        };
        // Every value once in the vector body (the first 16) and once through the scalar form.
        var y = new float[x.Length];
        Kernels.Gelu(x, y);
        var op = new GeluOperator();
        for (int i = 0; i < x.Length; i++)
        {
            float vector = y[i], scalar = op.Invoke(x[i]);
            foreach (float v in new[] { vector, scalar })
            {
                if (float.IsNaN(x[i])) { Assert.True(float.IsNaN(v)); continue; }
                if (float.IsPositiveInfinity(x[i])) { Assert.Equal(float.PositiveInfinity, v); continue; }
                if (float.IsNegativeInfinity(x[i])) { Assert.Equal(0f, v); continue; }   // the limit, not ORT's −∞·0 = NaN
                double reference = GeluReference(x[i]);
                Assert.True(Math.Abs(v - reference) <= Math.Max(3e-10, 2 * Ulp(reference)), $"gelu({x[i]:R}) = {v:R}, reference {reference:R}");
            }
        }
        Assert.Equal(float.MaxValue, y[11]);
        Assert.Equal(0f, y[18]);
    }
}
