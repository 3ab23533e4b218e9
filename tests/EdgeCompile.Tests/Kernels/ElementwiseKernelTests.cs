using System;
using System.Collections.Generic;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

public class ElementwiseKernelTests
{
    private delegate void UnaryKernel(ReadOnlySpan<float> x, Span<float> y);

    private static readonly Dictionary<string, (UnaryKernel Kernel, Func<double, double> Reference, float Min, float Max)> Unary = new()
    {
        ["Relu"] = (Kernels.Relu, x => Math.Max(0, x), -3, 3),
        ["Sigmoid"] = (Kernels.Sigmoid, x => 1 / (1 + Math.Exp(-x)), -20, 20),
        ["Tanh"] = (Kernels.Tanh, Math.Tanh, -10, 10),
        ["Erf"] = (Kernels.Erf, KernelAssert.Erf, -5, 5),
        ["Gelu"] = (Kernels.Gelu, x => 0.5 * x * (1 + KernelAssert.Erf(x / Math.Sqrt(2))), -8, 8),
        ["GeluTanh"] = (Kernels.GeluTanh, x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))), -8, 8),
        ["Silu"] = (Kernels.Silu, x => x / (1 + Math.Exp(-x)), -20, 20),
        ["Sqrt"] = (Kernels.Sqrt, Math.Sqrt, 0, 100),
        ["Exp"] = (Kernels.Exp, Math.Exp, -20, 20),
        ["Log"] = (Kernels.Log, Math.Log, 0.001f, 100),
        ["Neg"] = (Kernels.Neg, x => -x, -3, 3),
        ["Abs"] = (Kernels.Abs, Math.Abs, -3, 3),
        ["Reciprocal"] = (Kernels.Reciprocal, x => 1 / x, 0.1f, 10),
        ["Floor"] = (Kernels.Floor, Math.Floor, -5, 5),
        ["Ceil"] = (Kernels.Ceil, Math.Ceiling, -5, 5),
        ["Sin"] = (Kernels.Sin, Math.Sin, -10, 10),
        ["Cos"] = (Kernels.Cos, Math.Cos, -10, 10),
        ["Softplus"] = (Kernels.Softplus, x => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x)), -30, 30),
        ["Sign"] = (Kernels.Sign, x => Math.Sign(x), -3, 3),
        ["HardSwish"] = (Kernels.HardSwish, x => x * Math.Max(0, Math.Min(1, x / 6 + 0.5)), -5, 5),
        ["LeakyRelu"] = ((x, y) => Kernels.LeakyRelu(x, y, alpha: 0.1f), x => x >= 0 ? x : 0.1 * x, -3, 3),
        ["Elu"] = ((x, y) => Kernels.Elu(x, y, alpha: 1.5f), x => x >= 0 ? x : 1.5 * (Math.Exp(x) - 1), -5, 5),
        ["HardSigmoid"] = ((x, y) => Kernels.HardSigmoid(x, y, alpha: 0.2f, beta: 0.5f), x => Math.Max(0, Math.Min(1, 0.2 * x + 0.5)), -5, 5),
        ["Clip"] = ((x, y) => Kernels.Clip(x, y, min: -1f, max: 0.5f), x => Math.Min(Math.Max(x, -1), 0.5), -3, 3),
    };

    public static IEnumerable<object[]> UnaryCases()
    {
        foreach (string name in Unary.Keys)
            foreach (int n in OddLengths) yield return new object[] { name, n };
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryMatchesDoubleReference(string name, int length)
    {
        var (kernel, reference, min, max) = Unary[name];
        float[] x = Random(length, length * 31 + name.Length, min, max);
        var y = new float[length];
        kernel(x, y);
        var expected = new double[length];
        for (int i = 0; i < length; i++) expected[i] = reference(x[i]);
        Close(expected, y, atol: 3e-7, rtol: 4e-7 * 4, what: name);

        // In place: y is the same memory as x.
        kernel(x, x);
        Close(expected, x, atol: 3e-7, rtol: 4e-7 * 4, what: name + " in place");
    }

    [Fact]
    public void UnaryRejectsLengthMismatch()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Relu(new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => Kernels.Exp(new float[3], new float[2]));
        Assert.Throws<ArgumentException>(() => Kernels.Gelu(new float[9], new float[8]));
    }

    [Fact]
    public void ErfIsAccurateOverMinusSixToSix()
    {
        const int n = 240_001;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -6f + 12f * i / (n - 1);
        var y = new float[n];
        Kernels.Erf(x, y);
        double maxErr = 0;
        float worst = 0;
        for (int i = 0; i < n; i++)
        {
            double err = Math.Abs(y[i] - KernelAssert.Erf(x[i]));
            if (err > maxErr) { maxErr = err; worst = x[i]; }
        }
        Assert.True(maxErr < 3e-7, $"max abs error {maxErr:E3} at x = {worst:R}");

        // Scalar tail path agrees with the vector path, and special values behave.
        var special = new float[] { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-30f, -1e-30f, 0.927734375f, 0.92773443f, 100f, -100f };
        var ys = new float[special.Length];
        Kernels.Erf(special, ys);
        Assert.Equal(0f, ys[0]);
        Assert.Equal(1f, ys[2]);
        Assert.Equal(-1f, ys[3]);
        Assert.True(float.IsNaN(ys[4]));
        Assert.Equal(1e-30f * 1.1283791670955126, ys[5], 1e-36);
        Assert.Equal(1f, ys[9]);
        Assert.Equal(-1f, ys[10]);
        for (int i = 0; i < special.Length; i++)
        {
            var one = new float[1];
            Kernels.Erf(new[] { special[i] }, one);
            Assert.Equal(BitConverter.SingleToInt32Bits(ys[i]), BitConverter.SingleToInt32Bits(one[0]));
        }
    }

    [Fact]
    public void ExpIsAccurateOverTheNormalRange()
    {
        // The fast exp behind Exp, softmax, attention, GELU, SiLU: relative error within 2 ulp on [−87.33, 88.37],
        // 0 below, +∞ above, NaN stays NaN; the scalar tail gives the same bits as the vector body.
        const int n = 400_003;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87.33f + (88.36f + 87.33f) * i / (n - 1);
        var y = new float[n];
        Kernels.Exp(x, y);
        double worst = 0;
        for (int i = 0; i < n; i++)
        {
            double e = Math.Exp(x[i]);
            double ulp = Math.BitIncrement((float)e) - (float)e;
            if (ulp == 0 || double.IsInfinity(ulp)) ulp = double.Epsilon;
            worst = Math.Max(worst, Math.Abs(y[i] - e) / Math.Max(ulp, e * 1.1920928955078125e-7 / 2));
        }
        Assert.True(worst <= 2.5, $"max error {worst:F2} ulp");

        float[] special = { 0f, -0f, 1f, -1f, -87.4f, -100f, float.NegativeInfinity, 88.5f, 100f, float.PositiveInfinity, float.NaN, 88.37f, -87.33f };
        var ys = new float[special.Length];
        Kernels.Exp(special, ys);
        Assert.Equal(1f, ys[0]); Assert.Equal(1f, ys[1]);
        Assert.Equal(MathF.E, ys[2], 1e-6f);
        Assert.Equal(0f, ys[4]); Assert.Equal(0f, ys[5]); Assert.Equal(0f, ys[6]);
        Assert.True(float.IsPositiveInfinity(ys[7]) && float.IsPositiveInfinity(ys[8]) && float.IsPositiveInfinity(ys[9]));
        Assert.True(float.IsNaN(ys[10]));
        Assert.True(float.IsFinite(ys[11]) && ys[11] > 2e38f);
        for (int i = 0; i < special.Length; i++)
        {
            var one = new float[1];
            Kernels.Exp(new[] { special[i] }, one);
            Assert.Equal(BitConverter.SingleToInt32Bits(ys[i]), BitConverter.SingleToInt32Bits(one[0]));
        }
    }

    [Fact]
    public void GeluEdgesAndLargeMagnitudes()
    {
        float[] x = { -100f, -10f, -5f, 0f, 5f, 10f, 100f, float.NaN };
        var y = new float[x.Length];
        Kernels.Gelu(x, y);
        Assert.Equal(0f, y[0], 1e-30f);
        Assert.Equal(0f, y[3]);
        Assert.Equal(100f, y[6]);
        Assert.True(float.IsNaN(y[7]));
        Kernels.GeluTanh(x, y);
        Assert.Equal(0f, y[0], 1e-30f);
        Assert.Equal(100f, y[6]);
    }

    // ------------------------------------------------------------------ binary

    private delegate void BinaryF(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y);
    private delegate void BinaryL(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y);
    private delegate void BinaryI(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y);
    private delegate void BroadcastF(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3);

    private static readonly Dictionary<string, (BinaryF Kernel, BroadcastF Broadcast, Func<double, double, double> Reference)> BinaryFloat = new()
    {
        ["Add"] = (Kernels.Add, Kernels.AddBroadcast, (a, b) => a + b),
        ["Sub"] = (Kernels.Sub, Kernels.SubBroadcast, (a, b) => a - b),
        ["Mul"] = (Kernels.Mul, Kernels.MulBroadcast, (a, b) => a * b),
        ["Div"] = (Kernels.Div, Kernels.DivBroadcast, (a, b) => a / b),
        ["Pow"] = (Kernels.Pow, Kernels.PowBroadcast, Math.Pow),
        ["Max"] = (Kernels.Max, Kernels.MaxBroadcast, Math.Max),
        ["Min"] = (Kernels.Min, Kernels.MinBroadcast, Math.Min),
    };

    public static IEnumerable<object[]> BinaryCases()
    {
        foreach (string name in BinaryFloat.Keys)
            foreach (int n in OddLengths) yield return new object[] { name, n };
    }

    private static (float[] A, float[] B) BinaryInputs(string name, int length, int seed)
    {
        float[] a = Random(length, seed, name == "Pow" ? 0.1f : -3f, 3f);
        float[] b = Random(length, seed + 1, name == "Pow" ? -2f : 0.5f, 3f);
        if (name == "Pow" && length > 3) b[1] = 2f;   // the squaring fast path
        return (a, b);
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryFloatMatchesReference(string name, int length)
    {
        var (kernel, _, reference) = BinaryFloat[name];
        var (a, b) = BinaryInputs(name, length, length);
        var y = new float[length];
        kernel(a, b, y);
        var expected = new double[length];
        for (int i = 0; i < length; i++) expected[i] = (float)reference(a[i], b[i]);
        Close(expected, y, atol: 1e-7, rtol: 2e-7, what: name);
    }

    [Fact]
    public void BinaryIntegerOverloads()
    {
        foreach (int n in OddLengths)
        {
            long[] al = RandomLong(n, n), bl = RandomLong(n, n + 7, 1, 40);
            int[] ai = RandomInt(n, n + 3), bi = RandomInt(n, n + 9, -40, -1);
            var yl = new long[n];
            var yi = new int[n];
            void CheckL(BinaryL k, Func<long, long, long> r) { k(al, bl, yl); for (int i = 0; i < n; i++) Assert.Equal(r(al[i], bl[i]), yl[i]); }
            void CheckI(BinaryI k, Func<int, int, int> r) { k(ai, bi, yi); for (int i = 0; i < n; i++) Assert.Equal(r(ai[i], bi[i]), yi[i]); }
            CheckL(Kernels.Add, (x, y) => x + y); CheckL(Kernels.Sub, (x, y) => x - y); CheckL(Kernels.Mul, (x, y) => x * y);
            CheckL(Kernels.Div, (x, y) => x / y); CheckL(Kernels.Max, Math.Max); CheckL(Kernels.Min, Math.Min);
            CheckI(Kernels.Add, (x, y) => x + y); CheckI(Kernels.Sub, (x, y) => x - y); CheckI(Kernels.Mul, (x, y) => x * y);
            CheckI(Kernels.Div, (x, y) => x / y); CheckI(Kernels.Max, Math.Max); CheckI(Kernels.Min, Math.Min);
        }
    }

    [Fact]
    public void IntegerDivisionTruncatesAndNeverCrashes()
    {
        var y = new long[3];
        Kernels.Div(new long[] { 7, -7, long.MinValue }, new long[] { 2, 2, -1 }, y);
        Assert.Equal(new long[] { 3, -3, long.MinValue }, y);
        var yi = new int[2];
        Kernels.Div(new int[] { -9, int.MinValue }, new int[] { 4, -1 }, yi);
        Assert.Equal(new[] { -2, int.MinValue }, yi);
        Assert.Throws<DivideByZeroException>(() => Kernels.Div(new long[] { 1 }, new long[] { 0 }, new long[1]));
        Assert.Throws<DivideByZeroException>(() => Kernels.DivBroadcast(new int[] { 1, 2 }, new int[] { 0 }, new int[2], 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0));
    }

    [Fact]
    public void BinaryRejectsLengthMismatch()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Add(new float[3], new float[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Kernels.Mul(new long[3], new long[3], new long[2]));
    }

    /// <summary>Broadcast patterns: shapes of a and b (rank 4, 1 = broadcast) against y [n0..n3].</summary>
    public static IEnumerable<object[]> BroadcastCases()
    {
        int[][][] patterns =
        {
            new[] { new[] { 2, 3, 5, 33 }, new[] { 2, 3, 5, 33 }, new[] { 1, 1, 1, 33 } },   // bias add: row × row
            new[] { new[] { 1, 1, 9, 31 }, new[] { 1, 1, 9, 31 }, new[] { 1, 1, 9, 1 } },    // x − mean: scalar b per row
            new[] { new[] { 1, 1, 9, 31 }, new[] { 1, 1, 9, 1 }, new[] { 1, 1, 9, 31 } },    // scalar a per row
            new[] { new[] { 2, 4, 7, 7 }, new[] { 2, 4, 7, 7 }, new[] { 2, 1, 1, 7 } },      // attention mask
            new[] { new[] { 3, 1, 8, 1 }, new[] { 3, 1, 8, 1 }, new[] { 1, 1, 1, 1 } },      // scalar b
            new[] { new[] { 2, 3, 4, 5 }, new[] { 2, 1, 4, 1 }, new[] { 1, 3, 1, 5 } },      // outer product-ish, strided tail
            new[] { new[] { 1, 5, 1, 100 }, new[] { 1, 5, 1, 1 }, new[] { 1, 1, 1, 100 } },
            new[] { new[] { 1, 1, 1, 1 }, new[] { 1, 1, 1, 1 }, new[] { 1, 1, 1, 1 } },
            new[] { new[] { 2, 0, 3, 4 }, new[] { 2, 0, 3, 4 }, new[] { 1, 1, 1, 4 } },      // empty
        };
        foreach (int[][] p in patterns)
            foreach (string name in new[] { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min" })
                yield return new object[] { name, p[0], p[1], p[2] };
    }

    private static int[] Strides(int[] shape)
    {
        var s = new int[4];
        int stride = 1;
        for (int k = 3; k >= 0; k--) { s[k] = shape[k] == 1 ? 0 : stride; stride *= shape[k]; }
        return s;
    }

    private static int Count(int[] shape) => shape[0] * shape[1] * shape[2] * shape[3];

    [Theory]
    [MemberData(nameof(BroadcastCases))]
    public void BroadcastFloatMatchesReference(string name, int[] n, int[] aShape, int[] bShape)
    {
        var (_, kernel, reference) = BinaryFloat[name];
        var (a, _) = BinaryInputs(name, Count(aShape), 11);
        var (_, b) = BinaryInputs(name, Count(bShape), 12);
        int[] sa = Strides(aShape), sb = Strides(bShape);
        var y = new float[Count(n)];
        kernel(a, b, y, n[0], n[1], n[2], n[3], sa[0], sa[1], sa[2], sa[3], sb[0], sb[1], sb[2], sb[3]);
        var expected = new double[y.Length];
        int t = 0;
        for (int i0 = 0; i0 < n[0]; i0++) for (int i1 = 0; i1 < n[1]; i1++) for (int i2 = 0; i2 < n[2]; i2++) for (int i3 = 0; i3 < n[3]; i3++)
            expected[t++] = (float)reference(a[i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3]], b[i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3]]);
        Close(expected, y, atol: 1e-7, rtol: 2e-7, what: name);
    }

    [Fact]
    public void BroadcastIntegerAndStridesNotCoalescable()
    {
        // a is a transposed view: [3,4] read with strides (1,3); b broadcast along rows.
        long[] a = RandomLong(12, 1);
        long[] b = RandomLong(3, 2);
        var y = new long[12];
        Kernels.AddBroadcast(a, b, y, 1, 1, 3, 4, 0, 0, 1, 3, 0, 0, 1, 0);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) Assert.Equal(a[i + 3 * j] + b[i], y[i * 4 + j]);

        int[] ai = RandomInt(8, 3);
        var yi = new int[8];
        Kernels.MulBroadcast(ai, new[] { 3 }, yi, 1, 1, 1, 8, 0, 0, 0, 1, 0, 0, 0, 0);
        for (int i = 0; i < 8; i++) Assert.Equal(ai[i] * 3, yi[i]);
    }

    [Fact]
    public void BroadcastValidatesExtents()
    {
        Assert.Throws<ArgumentException>(() => Kernels.AddBroadcast(new float[4], new float[4], new float[5], 1, 1, 1, 5, 0, 0, 0, 1, 0, 0, 0, 1));
        Assert.Throws<ArgumentException>(() => Kernels.AddBroadcast(new float[4], new float[5], new float[5], 1, 1, 1, 5, 0, 0, 0, 1, 0, 0, 0, 1));
        Assert.Throws<ArgumentException>(() => Kernels.AddBroadcast(new float[5], new float[5], new float[5], 1, 1, 1, 5, 0, 0, 0, -1, 0, 0, 0, 1));
    }

    // ------------------------------------------------------------------ compare, logic, where

    [Fact]
    public void CompareAndLogic()
    {
        foreach (int n in OddLengths)
        {
            float[] af = Random(n, n), bf = Random(n, n + 1);
            if (n > 2) bf[2] = af[2];
            long[] al = RandomLong(n, n, -3, 3), bl = RandomLong(n, n + 1, -3, 3);
            int[] ai = RandomInt(n, n, -3, 3), bi = RandomInt(n, n + 1, -3, 3);
            var y = new bool[n];
            Kernels.Equal(af, bf, y); for (int i = 0; i < n; i++) Assert.Equal(af[i] == bf[i], y[i]);
            Kernels.Greater(af, bf, y); for (int i = 0; i < n; i++) Assert.Equal(af[i] > bf[i], y[i]);
            Kernels.Less(af, bf, y); for (int i = 0; i < n; i++) Assert.Equal(af[i] < bf[i], y[i]);
            Kernels.Equal(al, bl, y); for (int i = 0; i < n; i++) Assert.Equal(al[i] == bl[i], y[i]);
            Kernels.Greater(al, bl, y); for (int i = 0; i < n; i++) Assert.Equal(al[i] > bl[i], y[i]);
            Kernels.Less(ai, bi, y); for (int i = 0; i < n; i++) Assert.Equal(ai[i] < bi[i], y[i]);
            Kernels.Equal(ai, bi, y); for (int i = 0; i < n; i++) Assert.Equal(ai[i] == bi[i], y[i]);
            Kernels.Greater(ai, bi, y); for (int i = 0; i < n; i++) Assert.Equal(ai[i] > bi[i], y[i]);
            Kernels.Less(al, bl, y); for (int i = 0; i < n; i++) Assert.Equal(al[i] < bl[i], y[i]);

            bool[] p = new bool[n], q = new bool[n];
            for (int i = 0; i < n; i++) { p[i] = al[i] > 0; q[i] = ai[i] > 0; }
            Kernels.And(p, q, y); for (int i = 0; i < n; i++) Assert.Equal(p[i] && q[i], y[i]);
            Kernels.Or(p, q, y); for (int i = 0; i < n; i++) Assert.Equal(p[i] || q[i], y[i]);
            Kernels.Not(p, y); for (int i = 0; i < n; i++) Assert.Equal(!p[i], y[i]);
        }
        var nan = new bool[1];
        Kernels.Equal(new[] { float.NaN }, new[] { float.NaN }, nan);
        Assert.False(nan[0]);
    }

    [Fact]
    public void CompareAndLogicBroadcast()
    {
        // [3,1] vs [1,4] → [3,4]
        long[] a = { 1, 2, 3 };
        long[] b = { 0, 1, 2, 3 };
        var y = new bool[12];
        Kernels.GreaterBroadcast(a, b, y, 1, 1, 3, 4, 0, 0, 1, 0, 0, 0, 0, 1);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) Assert.Equal(a[i] > b[j], y[i * 4 + j]);
        Kernels.EqualBroadcast(a, b, y, 1, 1, 3, 4, 0, 0, 1, 0, 0, 0, 0, 1);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) Assert.Equal(a[i] == b[j], y[i * 4 + j]);
        float[] af = { 0.5f, 1.5f }; float[] bf = { 1f };
        var y2 = new bool[2];
        Kernels.LessBroadcast(af, bf, y2, 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0);
        Assert.Equal(new[] { true, false }, y2);
        Kernels.EqualBroadcast(new[] { 1, 2 }, new[] { 2 }, y2, 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0);
        Assert.Equal(new[] { false, true }, y2);
        Kernels.GreaterBroadcast(new[] { 1f, 2f }, new[] { 1f }, y2, 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0);
        Assert.Equal(new[] { false, true }, y2);
        Kernels.LessBroadcast(new[] { 1L, 2L }, new[] { 2L }, y2, 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0);
        Assert.Equal(new[] { true, false }, y2);

        bool[] p = { true, false, true };
        bool[] q = { true, false };
        var z = new bool[6];
        Kernels.AndBroadcast(p, q, z, 1, 1, 3, 2, 0, 0, 1, 0, 0, 0, 0, 1);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) Assert.Equal(p[i] && q[j], z[i * 2 + j]);
        Kernels.OrBroadcast(p, q, z, 1, 1, 3, 2, 0, 0, 1, 0, 0, 0, 0, 1);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) Assert.Equal(p[i] || q[j], z[i * 2 + j]);
    }

    [Fact]
    public void WhereBroadcasts()
    {
        // c [2,1,5] (mask per batch and key), x scalar, y [2,3,5] → z [2,3,5]
        var rng = new Random(5);
        var c = new bool[10];
        for (int i = 0; i < 10; i++) c[i] = rng.Next(2) == 0;
        float[] x = { -1e9f };
        float[] y = Random(30, 6);
        var z = new float[30];
        Kernels.Where(c, x, y, z, 1, 2, 3, 5, 0, 5, 0, 1, 0, 0, 0, 0, 0, 15, 5, 1);
        for (int b = 0; b < 2; b++) for (int i = 0; i < 3; i++) for (int j = 0; j < 5; j++)
            Assert.Equal(c[b * 5 + j] ? x[0] : y[b * 15 + i * 5 + j], z[b * 15 + i * 5 + j]);

        // All contiguous (fast path), long.
        foreach (int n in OddLengths)
        {
            var cc = new bool[n];
            for (int i = 0; i < n; i++) cc[i] = rng.Next(2) == 0;
            long[] xl = RandomLong(n, 1), yl = RandomLong(n, 2);
            var zl = new long[n];
            Kernels.Where(cc, xl, yl, zl, 1, 1, 1, n, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1);
            for (int i = 0; i < n; i++) Assert.Equal(cc[i] ? xl[i] : yl[i], zl[i]);
        }
        Assert.Throws<ArgumentException>(() => Kernels.Where(new bool[2], new float[3], new float[3], new float[3], 1, 1, 1, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1));
    }

    // ------------------------------------------------------------------ cast, copy, fill, range

    [Fact]
    public void CastFollowsOnnxSemantics()
    {
        float[] f = { 1.9f, -1.9f, 0f, -0f, 2.5f, 100.7f, -100.7f, 3.1415927f, 65504f, 1e-8f };
        var l = new long[f.Length]; Kernels.Cast(f, l);
        var i32 = new int[f.Length]; Kernels.Cast(f, i32);
        for (int k = 0; k < f.Length; k++) { Assert.Equal((long)Math.Truncate(f[k]), l[k]); Assert.Equal((int)Math.Truncate(f[k]), i32[k]); }
        var s8 = new sbyte[f.Length]; Kernels.Cast(f, s8); Assert.Equal(100, s8[5]); Assert.Equal(-100, s8[6]); Assert.Equal(-1, s8[1]);
        var h = new Half[f.Length]; Kernels.Cast(f, h);
        for (int k = 0; k < f.Length; k++) Assert.Equal((Half)f[k], h[k]);
        var d = new double[f.Length]; Kernels.Cast(f, d);
        for (int k = 0; k < f.Length; k++) Assert.Equal((double)f[k], d[k]);
        var b = new bool[f.Length]; Kernels.Cast(f, b);
        for (int k = 0; k < f.Length; k++) Assert.Equal(f[k] != 0, b[k]);
        var nanBool = new bool[1]; Kernels.Cast(new[] { float.NaN }, nanBool); Assert.True(nanBool[0]);

        // NaN / out of range: undefined in ONNX, must not throw.
        Kernels.Cast(new[] { float.NaN, float.PositiveInfinity, -1e30f }, new int[3]);
        Kernels.Cast(new[] { float.NaN, 1e30f }, new byte[2]);

        long[] big = { long.MaxValue, -3, 300, 1L << 40 };
        var bi = new int[4]; Kernels.Cast(big, bi);
        for (int k = 0; k < 4; k++) Assert.Equal(unchecked((int)big[k]), bi[k]);
        var bf = new float[4]; Kernels.Cast(big, bf);
        for (int k = 0; k < 4; k++) Assert.Equal((float)big[k], bf[k]);
        var bb = new byte[4]; Kernels.Cast(big, bb);
        for (int k = 0; k < 4; k++) Assert.Equal(unchecked((byte)big[k]), bb[k]);

        bool[] flags = { true, false, true };
        var fl = new float[3]; Kernels.Cast(flags, fl); Assert.Equal(new[] { 1f, 0f, 1f }, fl);
        var ll = new long[3]; Kernels.Cast(flags, ll); Assert.Equal(new[] { 1L, 0L, 1L }, ll);
        var hh = new Half[3]; Kernels.Cast(flags, hh); Assert.Equal(Half.One, hh[0]);
        var bo = new bool[3]; Kernels.Cast(flags, bo); Assert.Equal(flags, bo);
        var ib = new bool[3]; Kernels.Cast(new long[] { 0, -5, 1 }, ib); Assert.Equal(new[] { false, true, true }, ib);

        Half[] hs = { (Half)1.5f, (Half)(-2.25f), Half.MaxValue };
        var hf = new float[3]; Kernels.Cast(hs, hf);
        for (int k = 0; k < 3; k++) Assert.Equal((float)hs[k], hf[k]);
        var hl = new long[3]; Kernels.Cast(hs, hl); Assert.Equal(new long[] { 1, -2, 65504 }, hl);
        double[] ds = { 0.1, 1e300, -7.9 };
        var df = new float[3]; Kernels.Cast(ds, df);
        for (int k = 0; k < 3; k++) Assert.Equal((float)ds[k], df[k]);
        var same = new float[3]; Kernels.Cast(df, same); Assert.Equal(df, same);
        var u8 = new byte[] { 0, 200, 255 };
        var u8f = new float[3]; Kernels.Cast(u8, u8f); Assert.Equal(new[] { 0f, 200f, 255f }, u8f);
        var u8s = new sbyte[3]; Kernels.Cast(u8, u8s); Assert.Equal(new sbyte[] { 0, -56, -1 }, u8s);

        // Vector path: long lengths.
        foreach (int n in OddLengths)
        {
            float[] x = Random(n, n, -1000, 1000);
            var xi = new int[n]; Kernels.Cast(x, xi);
            var xh = new Half[n]; Kernels.Cast(x, xh);
            for (int k = 0; k < n; k++) { Assert.Equal((int)x[k], xi[k]); Assert.Equal((Half)x[k], xh[k]); }
            var back = new float[n]; Kernels.Cast(xh, back);
            for (int k = 0; k < n; k++) Assert.Equal((float)xh[k], back[k]);
        }
        Assert.Throws<ArgumentException>(() => Kernels.Cast(new float[2], new long[3]));
    }

    [Fact]
    public void CopyFillRange()
    {
        long[] src = RandomLong(33, 1);
        var dst = new long[33];
        Kernels.Copy<long>(src, dst);
        Assert.Equal(src, dst);
        Assert.Throws<ArgumentException>(() => Kernels.Copy<long>(src, new long[32]));

        var f = new float[9];
        Kernels.Fill(f.AsSpan(), 2.5f);
        Assert.All(f, v => Assert.Equal(2.5f, v));
        var bo = new bool[3];
        Kernels.Fill(bo.AsSpan(), true);
        Assert.All(bo, Assert.True);

        var r = new float[7];
        Kernels.Range(r, 1.5f, -0.25f);
        for (int i = 0; i < 7; i++) Assert.Equal(1.5f + i * -0.25f, r[i]);
        var rl = new long[5];
        Kernels.Range(rl, 10L, 3L);
        Assert.Equal(new long[] { 10, 13, 16, 19, 22 }, rl);
        var ri = new int[4];
        Kernels.Range(ri, -2, 2);
        Assert.Equal(new[] { -2, 0, 2, 4 }, ri);
    }
}
