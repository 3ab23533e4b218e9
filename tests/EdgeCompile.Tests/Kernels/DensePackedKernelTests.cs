using EdgeCompile.Tests.Shared;
using System;
using System.Collections.Generic;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

// Shapes of Dense<TShape>: K and N that are multiples of nothing, the edge cases 0 and 1, both panel widths, and
// sizes that need several k blocks (K = 800 > 384) and several row blocks (rows > 128).
internal readonly struct K1N1P16 : IDenseShape { public static int K => 1; public static int N => 1; public static int Panel => 16; }
internal readonly struct K1N1P32 : IDenseShape { public static int K => 1; public static int N => 1; public static int Panel => 32; }
internal readonly struct K7N5P16 : IDenseShape { public static int K => 7; public static int N => 5; public static int Panel => 16; }
internal readonly struct K7N5P32 : IDenseShape { public static int K => 7; public static int N => 5; public static int Panel => 32; }
internal readonly struct K7N16P16 : IDenseShape { public static int K => 7; public static int N => 16; public static int Panel => 16; }
internal readonly struct K7N16P32 : IDenseShape { public static int K => 7; public static int N => 16; public static int Panel => 32; }
internal readonly struct K26N17P16 : IDenseShape { public static int K => 26; public static int N => 17; public static int Panel => 16; }
internal readonly struct K26N17P32 : IDenseShape { public static int K => 26; public static int N => 17; public static int Panel => 32; }
internal readonly struct K26N33P16 : IDenseShape { public static int K => 26; public static int N => 33; public static int Panel => 16; }
internal readonly struct K26N33P32 : IDenseShape { public static int K => 26; public static int N => 33; public static int Panel => 32; }
internal readonly struct K312N1200P16 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 16; }
internal readonly struct K312N1200P32 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 32; }
internal readonly struct K800N40P16 : IDenseShape { public static int K => 800; public static int N => 40; public static int Panel => 16; }
internal readonly struct K800N40P32 : IDenseShape { public static int K => 800; public static int N => 40; public static int Panel => 32; }
// N ≥ Kernels.DensePackXMinColumns: the x86 kernels read x packed (edge columns: 520 = 16·32 + 8).
internal readonly struct K800N520P16 : IDenseShape { public static int K => 800; public static int N => 520; public static int Panel => 16; }
internal readonly struct K800N520P32 : IDenseShape { public static int K => 800; public static int N => 520; public static int Panel => 32; }
// Narrow but deep: x packed although N < 512 (K ≥ DensePackXMinDepth), edge columns, several k and outer k blocks.
internal readonly struct K1100N40P16 : IDenseShape { public static int K => 1100; public static int N => 40; public static int Panel => 16; }
internal readonly struct K1100N40P32 : IDenseShape { public static int K => 1100; public static int N => 40; public static int Panel => 32; }
internal readonly struct K0N5P16 : IDenseShape { public static int K => 0; public static int N => 5; public static int Panel => 16; }
internal readonly struct K0N5P32 : IDenseShape { public static int K => 0; public static int N => 5; public static int Panel => 32; }
internal readonly struct K5N0P16 : IDenseShape { public static int K => 5; public static int N => 0; public static int Panel => 16; }
internal readonly struct K3N4P8 : IDenseShape { public static int K => 3; public static int N => 4; public static int Panel => 8; }

public class DensePackedKernelTests
{
    private delegate void Checker(int rows, Activation activation, bool withBias, int threads, bool xInPlace = false);

    private static readonly Dictionary<string, Checker> s_shapes = new()
    {
        [nameof(K1N1P16)] = Check<K1N1P16>, [nameof(K1N1P32)] = Check<K1N1P32>,
        [nameof(K7N5P16)] = Check<K7N5P16>, [nameof(K7N5P32)] = Check<K7N5P32>,
        [nameof(K7N16P16)] = Check<K7N16P16>, [nameof(K7N16P32)] = Check<K7N16P32>,
        [nameof(K26N17P16)] = Check<K26N17P16>, [nameof(K26N17P32)] = Check<K26N17P32>,
        [nameof(K26N33P16)] = Check<K26N33P16>, [nameof(K26N33P32)] = Check<K26N33P32>,
        [nameof(K312N1200P16)] = Check<K312N1200P16>, [nameof(K312N1200P32)] = Check<K312N1200P32>,
        [nameof(K800N40P16)] = Check<K800N40P16>, [nameof(K800N40P32)] = Check<K800N40P32>,
        [nameof(K800N520P16)] = Check<K800N520P16>, [nameof(K800N520P32)] = Check<K800N520P32>,
        [nameof(K1100N40P16)] = Check<K1100N40P16>, [nameof(K1100N40P32)] = Check<K1100N40P32>,
        [nameof(K0N5P16)] = Check<K0N5P16>, [nameof(K0N5P32)] = Check<K0N5P32>,
        [nameof(K5N0P16)] = Check<K5N0P16>,
    };

    /// <summary>The test's own packing loop (independent of the code under test): panel p, row i at p·K·P + i·P.</summary>
    private static float[] Pack(float[] w, int k, int n, int panel)
    {
        int panels = (n + panel - 1) / panel;
        var packed = new float[panels * k * panel];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                packed[j / panel * k * panel + i * panel + j % panel] = w[i * n + j];
        return packed;
    }

    private static double Act(double x, Activation act) => act switch
    {
        Activation.None => x,
        Activation.Relu => Math.Max(0, x),
        Activation.Gelu => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        Activation.Tanh => Math.Tanh(x),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        Activation.Silu => x / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    private static void Check<TShape>(int rows, Activation activation, bool withBias, int threads, bool xInPlace = false) where TShape : struct, IDenseShape
    {
        int k = TShape.K, n = TShape.N;
        float[] x = Random(rows * k, rows * 31 + k, -1, 1);
        float[] w = Random(k * n, k * 17 + n, -1, 1);
        float[] bias = withBias ? Random(n, n + 5, -1, 1) : Array.Empty<float>();
        float[] packed = Pack(w, k, n, TShape.Panel);

        // y sits inside a larger buffer of sentinels: nothing before or after it may be written.
        const int Guard = 40;
        var buffer = new float[Guard + rows * n + Guard];
        Array.Fill(buffer, 12345f);
        Span<float> y = buffer.AsSpan(Guard, rows * n);
        y.Fill(float.NaN);

        using WorkerPool? pool = threads == 0 ? null : new WorkerPool(threads);
        if (xInPlace) Kernels.DenseXInPlace<TShape>(x, packed, bias, y, rows, activation, pool);
        else Kernels.Dense<TShape>(x, packed, bias, y, rows, activation, pool);

        for (int i = 0; i < Guard; i++)
        {
            Assert.Equal(12345f, buffer[i]);
            Assert.Equal(12345f, buffer[Guard + rows * n + i]);
        }
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double sum = withBias ? bias[j] : 0, magnitude = Math.Abs(sum);
                for (int i = 0; i < k; i++)
                {
                    double p = (double)x[r * k + i] * w[i * n + j];
                    sum += p;
                    magnitude += Math.Abs(p);
                }
                double expected = Act(sum, activation), actual = y[r * n + j];
                // FP32 FMA chains in any order: the error is bounded by a few ulps of Σ|x·w| per term.
                double allowed = 1e-5 * (1 + magnitude) + 1e-6 * Math.Abs(expected);
                if (!(Math.Abs(actual - expected) <= allowed))
                    Assert.Fail($"{typeof(TShape).Name} rows {rows} {activation} bias {withBias} threads {threads}: y[{r},{j}] = {actual:R}, expected {expected:R} (allowed error {allowed:E2})");
            }
    }

    public static IEnumerable<object[]> ShapesAndRows()
    {
        foreach (string shape in s_shapes.Keys)
        {
            for (int rows = 0; rows <= 13; rows++) yield return new object[] { shape, rows };
            yield return new object[] { shape, 128 };
            if (shape.StartsWith("K26", StringComparison.Ordinal) || shape.StartsWith("K800", StringComparison.Ordinal) || shape.StartsWith("K1100", StringComparison.Ordinal))
                yield return new object[] { shape, 197 };  // two row blocks
        }
    }

    [Theory]
    [MemberData(nameof(ShapesAndRows))]
    public void DenseMatchesReference(string shape, int rows) => s_shapes[shape](rows, Activation.None, withBias: true, threads: 0);

    [Theory]
    [MemberData(nameof(ShapesAndRows))]
    public void DenseWithoutBiasMatchesReference(string shape, int rows)
    {
        if (rows % 4 != 1 && rows < 100) return;  // a sample of the row counts is enough here
        s_shapes[shape](rows, Activation.None, withBias: false, threads: 0);
    }

    public static IEnumerable<object[]> Activations()
    {
        foreach (Activation act in Enum.GetValues<Activation>())
            foreach (string shape in new[] { nameof(K26N33P16), nameof(K26N33P32), nameof(K7N5P32), nameof(K800N40P32), nameof(K800N520P32), nameof(K1100N40P32), nameof(K0N5P16) })
                foreach (int rows in new[] { 1, 5, 13 })
                    foreach (bool bias in new[] { true, false })
                        yield return new object[] { shape, rows, act, bias };
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void DenseAppliesEveryActivation(string shape, int rows, Activation activation, bool withBias)
        => s_shapes[shape](rows, activation, withBias, threads: 0);

    public static IEnumerable<object[]> Threading()
    {
        foreach (int threads in new[] { 1, 2, 3 })
            foreach (string shape in new[] { nameof(K312N1200P16), nameof(K312N1200P32), nameof(K800N40P16), nameof(K800N40P32), nameof(K800N520P32), nameof(K1100N40P32), nameof(K26N17P32) })
                foreach (int rows in new[] { 1, 13, 128, 197 })
                    yield return new object[] { shape, rows, threads };
    }

    [Theory]
    [MemberData(nameof(Threading))]
    public void DenseOnWorkerThreadsMatchesReference(string shape, int rows, int threads)
        => s_shapes[shape](rows, Activation.Gelu, withBias: true, threads);

    /// <summary>
    /// Splitting across threads changes which thread computes which panels and rows, never the order of any sum:
    /// the output is bit for bit the one-thread output (checked against the reference by the tests above), whatever
    /// the split (whole panels per item; rows too when there are fewer panels than threads: K800N40 with 3 threads).
    /// </summary>
    [Theory]
    [InlineData(nameof(K312N1200P32), 128, 2), InlineData(nameof(K312N1200P16), 197, 3), InlineData(nameof(K800N40P16), 128, 2)]
    [InlineData(nameof(K800N40P32), 197, 3), InlineData(nameof(K800N520P32), 128, 2), InlineData(nameof(K800N520P16), 13, 3)]
    public void DenseOnWorkerThreadsIsBitIdenticalToOneThread(string shape, int rows, int threads)
        => s_bitIdentical[shape](rows, threads);

    private static readonly Dictionary<string, Action<int, int>> s_bitIdentical = new()
    {
        [nameof(K312N1200P16)] = CheckBitIdentical<K312N1200P16>, [nameof(K312N1200P32)] = CheckBitIdentical<K312N1200P32>,
        [nameof(K800N40P16)] = CheckBitIdentical<K800N40P16>, [nameof(K800N40P32)] = CheckBitIdentical<K800N40P32>,
        [nameof(K800N520P16)] = CheckBitIdentical<K800N520P16>, [nameof(K800N520P32)] = CheckBitIdentical<K800N520P32>,
    };

    private static void CheckBitIdentical<TShape>(int rows, int threads) where TShape : struct, IDenseShape
    {
        int k = TShape.K, n = TShape.N;
        float[] x = Random(rows * k, rows * 7 + k, -1, 1);
        float[] packed = Pack(Random(k * n, k * 3 + n, -1, 1), k, n, TShape.Panel);
        float[] bias = Random(n, n + 1, -1, 1);
        float[] alone = new float[rows * n], split = new float[rows * n];
        Kernels.Dense<TShape>(x, packed, bias, alone, rows, Activation.Gelu, null);
        using var pool = new WorkerPool(threads);
        for (int round = 0; round < 3; round++)  // the worker may take a different item each time
        {
            Array.Fill(split, float.NaN);
            Kernels.Dense<TShape>(x, packed, bias, split, rows, Activation.Gelu, pool);
            for (int i = 0; i < alone.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(alone[i]) != BitConverter.SingleToInt32Bits(split[i]))
                    Assert.Fail($"{typeof(TShape).Name} rows {rows} threads {threads} round {round}: y[{i / n},{i % n}] = {split[i]:R} on {threads} threads, {alone[i]:R} on one");
            }
        }
    }

    /// <summary>The x86 micro-kernels reading x in place (the Gemm benchmark's A/B reference) give the same sums: edge
    /// columns, several k blocks and outer k blocks (K = 800), two row blocks (197 rows), on one and two threads.</summary>
    [Theory]
    [InlineData(nameof(K26N33P16), 5, 0), InlineData(nameof(K26N33P32), 13, 0), InlineData(nameof(K312N1200P32), 128, 2)]
    [InlineData(nameof(K800N520P16), 197, 0), InlineData(nameof(K800N520P32), 197, 0), InlineData(nameof(K800N520P32), 11, 2)]
    public void DenseXInPlaceMatchesReference(string shape, int rows, int threads)
        => s_shapes[shape](rows, Activation.Relu, withBias: true, threads, xInPlace: true);

    [Fact]
    public void DenseValidatesSpanLengths()
    {
        // K = 7, N = 5, Panel 16: x [2,7], w ⌈5/16⌉·7·16 = 112, bias 5, y [2,5].
        float[] x = new float[14], w = new float[112], bias = new float[5], y = new float[10];
        void Call(float[] x, float[] w, float[]? bias, float[] y) => Kernels.Dense<K7N5P16>(x, w, bias, y, 2, Activation.None, null);

        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Call(new float[13], w, bias, y)).ParamName);
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new float[35], bias, y)).ParamName);  // unpacked length
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new float[113], bias, y)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Call(x, w, new float[4], y)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Call(x, w, bias, new float[11])).ParamName);
        ArgumentException e = Assert.Throws<ArgumentException>(() => Call(x, w, bias, new float[9]));
        Assert.Contains("expected 10", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Dense<K7N5P16>(x, w, bias, y, -1, Activation.None, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Dense<K7N5P16>(x, w, bias, y, 2, (Activation)99, null));
        Assert.Throws<NotSupportedException>(() => Kernels.Dense<K3N4P8>(new float[3], new float[24], default, new float[4], 1, Activation.None, null));
        Call(x, w, null, y);  // an empty bias is fine
    }

    [Fact]
    public void PackedDenseLengthRoundsUpToWholePanels()
    {
        Assert.Equal(112, Kernels.PackedDenseLength(7, 5, 16));
        Assert.Equal(7 * 32, Kernels.PackedDenseLength(7, 17, 16));
        Assert.Equal(0, Kernels.PackedDenseLength(7, 0, 32));
        Assert.Equal(38L * 3072 * 32, Kernels.PackedDenseLength(3072, 1200, 32));
    }

    [Fact]
    public void DenseAllocatesNothing()
    {
        float[] x = Random(128 * 312, 1), w = Pack(Random(312 * 1200, 2), 312, 1200, 32), bias = Random(1200, 3);
        float[] w16 = Pack(Random(312 * 1200, 2), 312, 1200, 16);
        var y = new float[128 * 1200];
        using var pool = new WorkerPool(2);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.Dense<K312N1200P32>(x, w, bias, y, 128, Activation.Gelu, null);
            Kernels.Dense<K312N1200P32>(x, w, bias, y, 128, Activation.Relu, pool);
            Kernels.Dense<K312N1200P16>(x.AsSpan(0, 13 * 312), w16, default, y.AsSpan(0, 13 * 1200), 13, Activation.None, pool);
        }, calls: 5));
    }
}
