using EdgeCompile.Tests.Shared;
using System;
using System.Collections.Generic;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

// Shapes of the weight-only kernels (Block 32): every K of 1, 5, 31, 32, 33, 64, 100, 312, 768 (one block, a block
// and a bit, several k blocks of the micro-kernels: 768 > 384 and 192) and every N of 1, 7, 16, 17, 33, 100 (edge
// columns only, a whole slice, a slice and an edge, several panels), each with both panel widths.
internal readonly struct WqK1N1P16 : IDenseBlockShape { public static int K => 1; public static int N => 1; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK1N1P32 : IDenseBlockShape { public static int K => 1; public static int N => 1; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK5N7P16 : IDenseBlockShape { public static int K => 5; public static int N => 7; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK5N7P32 : IDenseBlockShape { public static int K => 5; public static int N => 7; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK31N16P16 : IDenseBlockShape { public static int K => 31; public static int N => 16; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK31N16P32 : IDenseBlockShape { public static int K => 31; public static int N => 16; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK32N17P16 : IDenseBlockShape { public static int K => 32; public static int N => 17; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK32N17P32 : IDenseBlockShape { public static int K => 32; public static int N => 17; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK33N33P16 : IDenseBlockShape { public static int K => 33; public static int N => 33; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK33N33P32 : IDenseBlockShape { public static int K => 33; public static int N => 33; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK64N100P16 : IDenseBlockShape { public static int K => 64; public static int N => 100; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK64N100P32 : IDenseBlockShape { public static int K => 64; public static int N => 100; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK100N7P16 : IDenseBlockShape { public static int K => 100; public static int N => 7; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK100N7P32 : IDenseBlockShape { public static int K => 100; public static int N => 7; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK312N33P16 : IDenseBlockShape { public static int K => 312; public static int N => 33; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK312N33P32 : IDenseBlockShape { public static int K => 312; public static int N => 33; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK768N100P16 : IDenseBlockShape { public static int K => 768; public static int N => 100; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK768N100P32 : IDenseBlockShape { public static int K => 768; public static int N => 100; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK768N1P16 : IDenseBlockShape { public static int K => 768; public static int N => 1; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK768N17P32 : IDenseBlockShape { public static int K => 768; public static int N => 17; public static int Panel => 32; public static int Block => 32; }
internal readonly struct WqK33N17P16 : IDenseBlockShape { public static int K => 33; public static int N => 17; public static int Panel => 16; public static int Block => 32; }
// Blocks that are not 32 (the layout allows any): 8, and 20 (not a divisor of the micro-kernels' k blocks).
internal readonly struct WqK100N33P16B8 : IDenseBlockShape { public static int K => 100; public static int N => 33; public static int Panel => 16; public static int Block => 8; }
internal readonly struct WqK400N17P32B20 : IDenseBlockShape { public static int K => 400; public static int N => 17; public static int Panel => 32; public static int Block => 20; }
// N ≥ Kernels.DensePackXMinColumns: the x86 kernels read x packed (edge columns: 520 = 16·32 + 8).
internal readonly struct WqK400N520P16 : IDenseBlockShape { public static int K => 400; public static int N => 520; public static int Panel => 16; public static int Block => 32; }
internal readonly struct WqK400N520P32B20 : IDenseBlockShape { public static int K => 400; public static int N => 520; public static int Panel => 32; public static int Block => 20; }
internal readonly struct WqK3N4P8 : IDenseBlockShape { public static int K => 3; public static int N => 4; public static int Panel => 8; public static int Block => 32; }
internal readonly struct WqK3N4P16B0 : IDenseBlockShape { public static int K => 3; public static int N => 4; public static int Panel => 16; public static int Block => 0; }

/// <summary>
/// <see cref="Kernels.DenseHalf{TShape}"/>, <see cref="Kernels.DenseInt4{TShape}"/>, the quantized embedding gathers and
/// the build-time packing of their layouts. The kernels are checked against a double-precision reference on the
/// dequantized weights and, bit for bit, against <see cref="Kernels.Dense{TShape}"/> on the same weights as float
/// panels (the same micro-kernel runs the same sums). Every packing the tests feed the kernels is the tests' own loop
/// over the index formulas of docs/quantization.md.
/// </summary>
public class QuantizedWeightKernelTests
{
    private enum Format { Half, Int4 }

    private delegate void Checker(Format format, int rows, Activation activation, bool withBias, int threads);

    private static readonly Dictionary<string, Checker> s_shapes = new()
    {
        [nameof(WqK1N1P16)] = Check<WqK1N1P16>, [nameof(WqK1N1P32)] = Check<WqK1N1P32>,
        [nameof(WqK5N7P16)] = Check<WqK5N7P16>, [nameof(WqK5N7P32)] = Check<WqK5N7P32>,
        [nameof(WqK31N16P16)] = Check<WqK31N16P16>, [nameof(WqK31N16P32)] = Check<WqK31N16P32>,
        [nameof(WqK32N17P16)] = Check<WqK32N17P16>, [nameof(WqK32N17P32)] = Check<WqK32N17P32>,
        [nameof(WqK33N33P16)] = Check<WqK33N33P16>, [nameof(WqK33N33P32)] = Check<WqK33N33P32>,
        [nameof(WqK64N100P16)] = Check<WqK64N100P16>, [nameof(WqK64N100P32)] = Check<WqK64N100P32>,
        [nameof(WqK100N7P16)] = Check<WqK100N7P16>, [nameof(WqK100N7P32)] = Check<WqK100N7P32>,
        [nameof(WqK312N33P16)] = Check<WqK312N33P16>, [nameof(WqK312N33P32)] = Check<WqK312N33P32>,
        [nameof(WqK768N100P16)] = Check<WqK768N100P16>, [nameof(WqK768N100P32)] = Check<WqK768N100P32>,
        [nameof(WqK768N1P16)] = Check<WqK768N1P16>, [nameof(WqK768N17P32)] = Check<WqK768N17P32>,
        [nameof(WqK100N33P16B8)] = Check<WqK100N33P16B8>, [nameof(WqK400N17P32B20)] = Check<WqK400N17P32B20>,
        [nameof(WqK400N520P16)] = Check<WqK400N520P16>, [nameof(WqK400N520P32B20)] = Check<WqK400N520P32B20>,
    };

    // ---- the tests' own layouts (docs/quantization.md) ----

    /// <summary>Float panel element of W[i,j]: panel p = j/P, row i at p·K·P + i·P, column j%P.</summary>
    private static long PanelIndex(int i, int j, int k, int panel) => ((long)(j / panel) * k + i) * panel + j % panel;

    private static float[] PackFloat(float[] w, int k, int n, int panel)
    {
        var packed = new float[Kernels.PackedDenseLength(k, n, panel)];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) packed[PanelIndex(i, j, k, panel)] = w[i * n + j];
        return packed;
    }

    private static Half[] PackHalf(Half[] w, int k, int n, int panel)
    {
        var packed = new Half[Kernels.PackedDenseLength(k, n, panel)];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) packed[PanelIndex(i, j, k, panel)] = w[i * n + j];
        return packed;
    }

    /// <summary>Nibble e of the float panel layout in byte e/2, the low one for even e.</summary>
    private static byte[] PackInt4(sbyte[] q, int k, int n, int panel)
    {
        var packed = new byte[Kernels.PackedDenseLength(k, n, panel) / 2];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
            {
                long e = PanelIndex(i, j, k, panel);
                packed[e / 2] |= (byte)((q[i * n + j] & 0xF) << (e % 2 == 0 ? 0 : 4));
            }
        return packed;
    }

    /// <summary>Scale of block b of column j at p·nb·P + b·P + j%P.</summary>
    private static Half[] PackScales(Half[] s, int blocks, int n, int panel)
    {
        int panels = (n + panel - 1) / panel;
        var packed = new Half[panels * blocks * panel];
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < n; j++) packed[(j / panel * blocks + b) * panel + j % panel] = s[b * n + j];
        return packed;
    }

    /// <summary>Half weights in [-1,1], with zeros and subnormals (down to the smallest) mixed in.</summary>
    private static Half[] RandomHalves(int length, int seed)
    {
        var rng = new Random(seed);
        var h = new Half[length];
        for (int i = 0; i < length; i++)
        {
            int kind = rng.Next(16);
            h[i] = kind == 0 ? (Half)0f
                : kind == 1 ? BitConverter.UInt16BitsToHalf((ushort)(rng.Next(1, 0x400) | (rng.Next(2) << 15)))  // subnormal
                : (Half)(float)(rng.NextDouble() * 2 - 1);
        }
        return h;
    }

    private static sbyte[] RandomInt4(int length, int seed)
    {
        var rng = new Random(seed);
        var q = new sbyte[length];
        for (int i = 0; i < length; i++) q[i] = (sbyte)rng.Next(-8, 8);
        return q;
    }

    /// <summary>Positive Half scales of the size plain rounding gives to weights of magnitude ≤ 1 (≈ 1/7).</summary>
    private static Half[] RandomScales(int length, int seed)
    {
        var rng = new Random(seed);
        var s = new Half[length];
        for (int i = 0; i < length; i++) s[i] = (Half)(float)(0.01 + 0.2 * rng.NextDouble());
        return s;
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

    private static void Check<TShape>(Format format, int rows, Activation activation, bool withBias, int threads) where TShape : struct, IDenseBlockShape
    {
        int k = TShape.K, n = TShape.N, panel = TShape.Panel, block = TShape.Block, blocks = (k + block - 1) / block;
        float[] x = Random(rows * k, rows * 31 + k, -1, 1);
        float[] bias = withBias ? Random(n, n + 5, -1, 1) : Array.Empty<float>();

        // The effective float weights, by the formulas of docs/quantization.md, and the kernel's own input.
        var w = new float[k * n];
        Half[] halves = Array.Empty<Half>(), scales = Array.Empty<Half>();
        sbyte[] q = Array.Empty<sbyte>();
        if (format == Format.Half)
        {
            halves = RandomHalves(k * n, k * 17 + n);
            for (int e = 0; e < w.Length; e++) w[e] = (float)halves[e];
        }
        else
        {
            q = RandomInt4(k * n, k * 17 + n);
            scales = RandomScales(blocks * n, k + 3 * n);
            for (int i = 0; i < k; i++)
                for (int j = 0; j < n; j++) w[i * n + j] = q[i * n + j] * (float)scales[i / block * n + j];
        }

        // y sits inside a larger buffer of sentinels: nothing before or after it may be written.
        const int Guard = 40;
        var buffer = new float[Guard + rows * n + Guard];
        Array.Fill(buffer, 12345f);
        Span<float> y = buffer.AsSpan(Guard, rows * n);
        y.Fill(float.NaN);

        using WorkerPool? pool = threads == 0 ? null : new WorkerPool(threads);
        if (format == Format.Half)
            Kernels.DenseHalf<TShape>(x, PackHalf(halves, k, n, panel), bias, y, rows, activation, pool);
        else
            Kernels.DenseInt4<TShape>(x, PackInt4(q, k, n, panel), PackScales(scales, blocks, n, panel), bias, y, rows, activation, pool);
        string what = $"{format} {typeof(TShape).Name} rows {rows} {activation} bias {withBias} threads {threads}";

        for (int i = 0; i < Guard; i++)
        {
            Assert.Equal(12345f, buffer[i]);
            Assert.Equal(12345f, buffer[Guard + rows * n + i]);
        }

        // (a) double-precision reference on the dequantized weights.
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
                double allowed = 1e-5 * (1 + magnitude) + 1e-6 * Math.Abs(expected);
                if (!(Math.Abs(actual - expected) <= allowed))
                    Assert.Fail($"{what}: y[{r},{j}] = {actual:R}, expected {expected:R} (allowed error {allowed:E2})");
            }

        // (b) the FP32 kernel on the same weights as float panels: the same micro-kernel, the same sums, bit for bit.
        var yDense = new float[rows * n];
        Kernels.Dense<TShape>(x, PackFloat(w, k, n, panel), bias, yDense, rows, activation, pool);
        for (int e = 0; e < yDense.Length; e++)
            if (BitConverter.SingleToInt32Bits(yDense[e]) != BitConverter.SingleToInt32Bits(y[e]))
                Assert.Fail($"{what}: y[{e / n},{e % n}] = {y[e]:R}, Dense on the dequantized weights gives {yDense[e]:R}");
    }

    public static IEnumerable<object[]> ShapesAndRows()
    {
        foreach (Format format in new[] { Format.Half, Format.Int4 })
            foreach (string shape in s_shapes.Keys)
            {
                foreach (int rows in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 64, 130 })
                    yield return new object[] { format.ToString(), shape, rows };
            }
    }

    [Theory]
    [MemberData(nameof(ShapesAndRows))]
    public void WeightOnlyDenseMatchesReferenceAndDense(string format, string shape, int rows)
        => s_shapes[shape](Enum.Parse<Format>(format), rows, Activation.None, withBias: true, threads: 0);

    public static IEnumerable<object[]> WithoutBias()
    {
        foreach (Format format in new[] { Format.Half, Format.Int4 })
            foreach (string shape in s_shapes.Keys)
                foreach (int rows in new[] { 1, 7, 130 })
                    yield return new object[] { format.ToString(), shape, rows };
    }

    [Theory]
    [MemberData(nameof(WithoutBias))]
    public void WeightOnlyDenseWithoutBiasMatchesReferenceAndDense(string format, string shape, int rows)
        => s_shapes[shape](Enum.Parse<Format>(format), rows, Activation.None, withBias: false, threads: 0);

    public static IEnumerable<object[]> Activations()
    {
        foreach (Format format in new[] { Format.Half, Format.Int4 })
            foreach (Activation act in Enum.GetValues<Activation>())
                foreach (string shape in new[] { nameof(WqK33N33P16), nameof(WqK33N33P32), nameof(WqK5N7P32), nameof(WqK400N17P32B20) })
                    foreach (int rows in new[] { 1, 13 })
                        foreach (bool bias in new[] { true, false })
                            yield return new object[] { format.ToString(), shape, rows, act, bias };
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void WeightOnlyDenseAppliesEveryActivation(string format, string shape, int rows, Activation activation, bool withBias)
        => s_shapes[shape](Enum.Parse<Format>(format), rows, activation, withBias, threads: 0);

    public static IEnumerable<object[]> Threading()
    {
        foreach (Format format in new[] { Format.Half, Format.Int4 })
            foreach (int threads in new[] { 1, 2, 3 })
                foreach (string shape in new[] { nameof(WqK768N100P16), nameof(WqK768N100P32), nameof(WqK312N33P32), nameof(WqK768N17P32), nameof(WqK400N520P32B20) })
                    foreach (int rows in new[] { 1, 13, 130 })
                        yield return new object[] { format.ToString(), shape, rows, threads };
    }

    [Theory]
    [MemberData(nameof(Threading))]
    public void WeightOnlyDenseOnWorkerThreadsMatchesReferenceAndDense(string format, string shape, int rows, int threads)
        => s_shapes[shape](Enum.Parse<Format>(format), rows, Activation.Gelu, withBias: true, threads);

    [Fact]
    public void DenseHalfValidatesSpanLengths()
    {
        // K = 5, N = 7, Panel 16: x [2,5], w ⌈7/16⌉·5·16 = 80, bias 7, y [2,7].
        float[] x = new float[10], bias = new float[7], y = new float[14];
        Half[] w = new Half[80];
        void Call(float[] x, Half[] w, float[]? bias, float[] y) => Kernels.DenseHalf<WqK5N7P16>(x, w, bias, y, 2, Activation.None, null);

        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Call(new float[11], w, bias, y)).ParamName);
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new Half[35], bias, y)).ParamName);  // unpacked length
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new Half[81], bias, y)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Call(x, w, new float[6], y)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Call(x, w, bias, new float[13])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseHalf<WqK5N7P16>(x, w, bias, y, -1, Activation.None, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseHalf<WqK5N7P16>(x, w, bias, y, 2, (Activation)99, null));
        Assert.Throws<NotSupportedException>(() => Kernels.DenseHalf<WqK3N4P8>(new float[3], new Half[24], default, new float[4], 1, Activation.None, null));
        Call(x, w, null, y);  // an empty bias is fine
    }

    [Fact]
    public void DenseInt4ValidatesSpanLengths()
    {
        // K = 33, N = 17, Panel 16, Block 32: x [2,33], w 2·33·16/2 = 528 bytes, scales 2·2·16 = 64, bias 17, y [2,17].
        float[] x = new float[66], bias = new float[17], y = new float[34];
        byte[] w = new byte[528];
        Half[] s = new Half[64];
        void Call(float[] x, byte[] w, Half[] s, float[]? bias, float[] y) => Kernels.DenseInt4<WqK33N17P16>(x, w, s, bias, y, 2, Activation.None, null);

        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Call(new float[65], w, s, bias, y)).ParamName);
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new byte[1056], s, bias, y)).ParamName);  // one byte per value
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new byte[527], s, bias, y)).ParamName);
        Assert.Equal("scales", Assert.Throws<ArgumentException>(() => Call(x, w, new Half[2 * 17], bias, y)).ParamName);  // unpacked
        Assert.Equal("scales", Assert.Throws<ArgumentException>(() => Call(x, w, new Half[65], bias, y)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Call(x, w, s, new float[16], y)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Call(x, w, s, bias, new float[35])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseInt4<WqK33N17P16>(x, w, s, bias, y, -1, Activation.None, null));
        Assert.Throws<NotSupportedException>(() => Kernels.DenseInt4<WqK3N4P16B0>(new float[3], new byte[24], default, default, new float[4], 1, Activation.None, null));
        Assert.Throws<NotSupportedException>(() => Kernels.DenseInt4<WqK3N4P8>(new float[3], new byte[12], new Half[8], default, new float[4], 1, Activation.None, null));
        Call(x, w, s, null, y);  // an empty bias is fine
        Assert.Equal(64, Kernels.Int4ScaleLength(33, 17, 16, 32));
        Assert.Equal(4L * 24 * 32, Kernels.Int4ScaleLength(768, 100, 32, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Int4ScaleLength(768, 100, 32, 0));
    }

    [Fact]
    public void WeightOnlyDenseAllocatesNothing()
    {
        const int K = 768, N = 100;
        float[] x = Random(64 * K, 1), bias = Random(N, 2), y = new float[64 * N];
        Half[] halves = PackHalf(RandomHalves(K * N, 3), K, N, 32);
        byte[] nibbles = PackInt4(RandomInt4(K * N, 4), K, N, 32);
        Half[] scales = PackScales(RandomScales(24 * N, 5), 24, N, 32);
        using var pool = new WorkerPool(2);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.DenseHalf<WqK768N100P32>(x, halves, bias, y, 64, Activation.Gelu, null);
            Kernels.DenseHalf<WqK768N100P32>(x, halves, bias, y, 64, Activation.Relu, pool);
            Kernels.DenseInt4<WqK768N100P32>(x, nibbles, scales, bias, y, 64, Activation.None, pool);
            Kernels.DenseInt4<WqK768N100P32>(x.AsSpan(0, K), nibbles, scales, default, y.AsSpan(0, N), 1, Activation.None, null);
        }, calls: 5));
    }

    // ---- embedding gathers ----

    public static IEnumerable<object[]> GatherSizes()
    {
        // inner: empty, below one vector, odd (odd nibble offsets), a block and a bit, not a multiple of the block.
        foreach (int inner in new[] { 0, 1, 3, 8, 31, 32, 45, 64, 100 })
            foreach (int block in new[] { 32, 8, 5 })
                yield return new object[] { inner, block };
    }

    private static readonly long[] s_indices = { 0, 6, -1, 3, -7, 6, 2 };  // axisLength 7: both ends, repeats, negatives

    private static int Wrap(long index, int axisLength) => (int)(index < 0 ? index + axisLength : index);

    [Theory]
    [MemberData(nameof(GatherSizes))]
    public void GatherInt4RowsMatchesReference(int inner, int block)
    {
        const int V = 7;
        int blocksPerRow = (inner + block - 1) / block;
        sbyte[] q = RandomInt4(V * inner, inner + block);
        Half[] scales = RandomScales(V * blocksPerRow, inner * 3 + block);
        var data = new byte[(V * inner + 1) / 2];
        for (int e = 0; e < q.Length; e++) data[e / 2] |= (byte)((q[e] & 0xF) << (e % 2 == 0 ? 0 : 4));

        var expected = new float[s_indices.Length * inner];
        for (int t = 0; t < s_indices.Length; t++)
        {
            int v = Wrap(s_indices[t], V);
            for (int d = 0; d < inner; d++) expected[t * inner + d] = q[v * inner + d] * (float)scales[v * blocksPerRow + d / block];
        }

        var y = new float[expected.Length];
        Kernels.GatherInt4Rows(data, scales, s_indices, y, V, inner, block);
        Assert.Equal(expected, y);
        var y32 = new float[expected.Length];
        Kernels.GatherInt4Rows(data, scales, Array.ConvertAll(s_indices, i => (int)i), y32, V, inner, block);
        Assert.Equal(expected, y32);
    }

    [Theory]
    [MemberData(nameof(GatherSizes))]
    public void GatherInt8RowsMatchesReference(int inner, int block)
    {
        if (block != 32) return;  // no blocks in INT8 tables
        const int V = 7;
        var rng = new Random(inner);
        var data = new sbyte[V * inner];
        for (int e = 0; e < data.Length; e++) data[e] = (sbyte)rng.Next(-127, 128);
        float[] rowScale = Random(V, inner + 1, 0.001f, 0.05f);

        var expected = new float[s_indices.Length * inner];
        for (int t = 0; t < s_indices.Length; t++)
        {
            int v = Wrap(s_indices[t], V);
            for (int d = 0; d < inner; d++) expected[t * inner + d] = data[v * inner + d] * rowScale[v];
        }

        var y = new float[expected.Length];
        Kernels.GatherInt8Rows(data, rowScale, s_indices, y, V, inner);
        Assert.Equal(expected, y);
        var y32 = new float[expected.Length];
        Kernels.GatherInt8Rows(data, rowScale, Array.ConvertAll(s_indices, i => (int)i), y32, V, inner);
        Assert.Equal(expected, y32);

        // Half row scales: the same rule on (float)(Half)scale.
        var halfScale = Array.ConvertAll(rowScale, s => (Half)s);
        for (int t = 0; t < s_indices.Length; t++)
        {
            int v = Wrap(s_indices[t], V);
            for (int d = 0; d < inner; d++) expected[t * inner + d] = data[v * inner + d] * (float)halfScale[v];
        }
        Kernels.GatherInt8Rows(data, halfScale, s_indices, y, V, inner);
        Assert.Equal(expected, y);
        Kernels.GatherInt8Rows(data, halfScale, Array.ConvertAll(s_indices, i => (int)i), y32, V, inner);
        Assert.Equal(expected, y32);
        Assert.Equal("rowScale", Assert.Throws<ArgumentException>(() => Kernels.GatherInt8Rows(data, new Half[V - 1], s_indices, y, V, inner)).ParamName);
    }

    [Theory]
    [MemberData(nameof(GatherSizes))]
    public void GatherHalfRowsMatchesReference(int inner, int block)
    {
        if (block != 32) return;  // no blocks in Half tables
        const int V = 7;
        Half[] data = RandomHalves(V * inner, inner);
        var expected = new float[s_indices.Length * inner];
        for (int t = 0; t < s_indices.Length; t++)
        {
            int v = Wrap(s_indices[t], V);
            for (int d = 0; d < inner; d++) expected[t * inner + d] = (float)data[v * inner + d];
        }

        var y = new float[expected.Length];
        Kernels.GatherHalfRows(data, s_indices, y, V, inner);
        Assert.Equal(expected, y);
        var y32 = new float[expected.Length];
        Kernels.GatherHalfRows(data, Array.ConvertAll(s_indices, i => (int)i), y32, V, inner);
        Assert.Equal(expected, y32);
    }

    [Fact]
    public void GatherHalfRowsWidensEveryHalfExactly()
    {
        // The vector paths widen Half with integer operations: every one of the 65536 bit patterns (normals,
        // subnormals, zeros, infinities, NaNs) must give (float)h. 512 rows of 128, each gathered once.
        var table = new Half[65536];
        for (int b = 0; b < table.Length; b++) table[b] = BitConverter.UInt16BitsToHalf((ushort)b);
        var indices = new int[512];
        for (int t = 0; t < indices.Length; t++) indices[t] = t;
        var y = new float[65536];
        Kernels.GatherHalfRows(table, indices, y, 512, 128);
        for (int b = 0; b < table.Length; b++)
        {
            float expected = (float)table[b];
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(y[b]), $"Half 0x{b:X4}: expected NaN, got {y[b]:R}");
            else if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(y[b]))
                Assert.Fail($"Half 0x{b:X4}: expected {expected:R}, got {y[b]:R}");
        }
    }

    [Fact]
    public void QuantizedGathersRejectIndicesOutsideTheTable()
    {
        var y = new float[4];
        var i8 = new sbyte[12];
        var i4 = new byte[6];
        var halves = new Half[12];
        float[] rowScale = new float[3];
        Half[] scales = new Half[3];
        foreach (long bad in new long[] { 3, -4, long.MaxValue, long.MinValue })
        {
            long[] indices = { 0, bad };
            Assert.Equal("indices", Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherInt8Rows(i8, rowScale, indices, new float[8], 3, 4)).ParamName);
            Assert.Equal("indices", Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherInt4Rows(i4, scales, indices, new float[8], 3, 4, 32)).ParamName);
            Assert.Equal("indices", Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherHalfRows(halves, indices, new float[8], 3, 4)).ParamName);
        }
        int[] badInt = { 2, -4 };
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherInt8Rows(i8, rowScale, badInt, new float[8], 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherInt4Rows(i4, scales, badInt, new float[8], 3, 4, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherHalfRows(halves, badInt, new float[8], 3, 4));
        // Within range: -3 is row 0.
        Kernels.GatherHalfRows(halves, new long[] { -3 }, y, 3, 4);
    }

    [Fact]
    public void QuantizedGathersValidateSpanLengths()
    {
        long[] indices = { 1, 2 };
        // [3,5] tables, y [2,5]; INT4: ⌈15/2⌉ = 8 bytes, block 4 → 2 scales per row.
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => Kernels.GatherInt8Rows(new sbyte[14], new float[3], indices, new float[10], 3, 5)).ParamName);
        Assert.Equal("rowScale", Assert.Throws<ArgumentException>(() => Kernels.GatherInt8Rows(new sbyte[15], new float[2], indices, new float[10], 3, 5)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Kernels.GatherInt8Rows(new sbyte[15], new float[3], indices, new float[11], 3, 5)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => Kernels.GatherInt4Rows(new byte[7], new Half[6], indices, new float[10], 3, 5, 4)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => Kernels.GatherInt4Rows(new byte[15], new Half[6], indices, new float[10], 3, 5, 4)).ParamName);
        Assert.Equal("scales", Assert.Throws<ArgumentException>(() => Kernels.GatherInt4Rows(new byte[8], new Half[3], indices, new float[10], 3, 5, 4)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Kernels.GatherInt4Rows(new byte[8], new Half[6], indices, new float[9], 3, 5, 4)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.GatherInt4Rows(new byte[8], new Half[6], indices, new float[10], 3, 5, 0));
        Assert.Equal("data", Assert.Throws<ArgumentException>(() => Kernels.GatherHalfRows(new Half[16], indices, new float[10], 3, 5)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Kernels.GatherHalfRows(new Half[15], indices, new float[0], 3, 5)).ParamName);
        Kernels.GatherInt4Rows(new byte[8], new Half[6], indices, new float[10], 3, 5, 4);
    }

    [Fact]
    public void QuantizedGathersAllocateNothing()
    {
        var i8 = new sbyte[1000 * 64];
        var i4 = new byte[1000 * 32];
        var halves = new Half[1000 * 64];
        float[] rowScale = new float[1000];
        Half[] scales = new Half[2000];
        long[] indices = RandomLong(128, 1, 0, 1000);
        var y = new float[128 * 64];
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.GatherInt8Rows(i8, rowScale, indices, y, 1000, 64);
            Kernels.GatherInt4Rows(i4, scales, indices, y, 1000, 64, 32);
            Kernels.GatherHalfRows(halves, indices, y, 1000, 64);
        }, calls: 5));
    }

    // ---- build-time packing (sdk/EdgeCompile.Compiler/Lowering) ----

    [Theory]
    [InlineData(33, 17, 16)]
    [InlineData(5, 40, 32)]
    [InlineData(1, 1, 16)]
    public void HalfPackingRoundsAndPlacesEveryWeight(int k, int n, int panel)
    {
        float[] w = Random(k * n, k + n, -70000f, 70000f);
        for (int e = 0; e < w.Length; e++) w[e] = Math.Clamp(w[e], -65504f, 65504f) / (e % 3 == 0 ? 1e4f : 1f);
        w[0] = 65504f;  // the largest Half is accepted
        var tensor = ConstTensor.Floats(ElementType.Float32, new long[] { k, n }, Array.ConvertAll(w, v => (double)v));

        ConstTensor packed = HalfPacking.PackPanels(tensor, panel);
        Assert.Equal(ElementType.Float16, packed.Type);
        Assert.Equal(new[] { Kernels.PackedDenseLength(k, n, panel) }, packed.Shape);
        var expected = new double[packed.Count];  // zero past N
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) expected[(j / panel * k + i) * panel + j % panel] = (double)(Half)w[i * n + j];
        Assert.Equal(expected, packed.Real);

        ConstTensor table = HalfPacking.PackTable(tensor);
        Assert.Equal(new long[] { k * n }, table.Shape);
        for (int e = 0; e < w.Length; e++) Assert.Equal((double)(Half)w[e], table.Real![e]);
    }

    [Theory]
    [InlineData(65505.0)]
    [InlineData(-70000.0)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    public void HalfPackingRefusesValuesOutsideTheHalfRange(double bad)
    {
        var values = new double[] { 1, 2, 3, bad, 5, 6 };
        var tensor = new ConstTensor(ElementType.Float32, new long[] { 2, 3 }, values, null);
        var e = Assert.Throws<CompilerException>(() => HalfPacking.PackPanels(tensor, 16, "/layer/MatMul"));
        Assert.Equal("/layer/MatMul", e.Node);
        Assert.Contains("[1,0]", e.Message);
        Assert.Throws<CompilerException>(() => HalfPacking.PackTable(tensor, "/emb/Gather"));
    }

    [Theory]
    [InlineData(33, 17, 16, 32)]
    [InlineData(100, 40, 32, 32)]
    [InlineData(7, 3, 16, 32)]
    [InlineData(50, 9, 32, 8)]
    public void Int4PackingPlacesEveryNibbleAndScale(int k, int n, int panel, int block)
    {
        int blocks = (k + block - 1) / block, panels = (n + panel - 1) / panel;
        sbyte[] q = RandomInt4(k * n, k * n);
        Half[] scales = RandomScales(blocks * n, k + n);
        (ConstTensor packedW, ConstTensor packedS) = Int4Packing.PackPanels(q, scales, k, n, panel, block);

        Assert.Equal(ElementType.UInt8, packedW.Type);
        Assert.Equal(ElementType.Float16, packedS.Type);
        Assert.Equal(Kernels.PackedDenseLength(k, n, panel) / 2, packedW.Count);
        Assert.Equal(Kernels.Int4ScaleLength(k, n, panel, block), packedS.Count);
        // Decode every element e = p·K·P + i·P + c back from its nibble; padding columns must decode to 0 and scale 0.
        for (int p = 0; p < panels; p++)
            for (int i = 0; i < k; i++)
                for (int c = 0; c < panel; c++)
                {
                    long e = ((long)p * k + i) * panel + c;
                    int nibble = (int)(packedW.Integer![e / 2] >> (int)(4 * (e % 2))) & 0xF;
                    int value = nibble >= 8 ? nibble - 16 : nibble;
                    int j = p * panel + c;
                    Assert.Equal(j < n ? q[i * n + j] : 0, value);
                }
        for (int p = 0; p < panels; p++)
            for (int b = 0; b < blocks; b++)
                for (int c = 0; c < panel; c++)
                {
                    int j = p * panel + c;
                    Assert.Equal(j < n ? (double)scales[b * n + j] : 0.0, packedS.Real![(p * blocks + b) * panel + c]);
                }
    }

    [Fact]
    public void Int4PackingRefusesValuesOutsideInt4()
    {
        var q = new sbyte[] { 0, 8 };
        Assert.Throws<ArgumentOutOfRangeException>(() => Int4Packing.PackPanels(q, new Half[2], 1, 2, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => Int4Packing.PackTable(new sbyte[] { -9 }, new Half[1], 1, 1));
        Assert.Throws<ArgumentException>(() => Int4Packing.PackPanels(new sbyte[3], new Half[2], 1, 2, 16));
        Assert.Throws<ArgumentException>(() => Int4Packing.PackPanels(new sbyte[2], new Half[1], 1, 2, 16));
    }

    [Fact]
    public void TablePackingsPlaceEveryValue()
    {
        const int V = 5, D = 13, Block = 4;
        sbyte[] q4 = RandomInt4(V * D, 9);
        Half[] s4 = RandomScales(V * 4, 10);
        (ConstTensor data, ConstTensor scales) = Int4Packing.PackTable(q4, s4, V, D, Block);
        Assert.Equal((V * D + 1) / 2, data.Count);
        for (int e = 0; e < V * D; e++)
        {
            int nibble = (int)(data.Integer![e / 2] >> (4 * (e % 2))) & 0xF;
            Assert.Equal(q4[e], nibble >= 8 ? nibble - 16 : nibble);
        }
        Assert.Equal(0, data.Integer![^1] >> 4);  // the odd element count leaves the last high nibble empty
        Assert.Equal(Array.ConvertAll(s4, s => (double)s), scales.Real);

        var q8 = new sbyte[V * D];
        for (int e = 0; e < q8.Length; e++) q8[e] = (sbyte)(e * 37 % 255 - 127);
        float[] rowScale = Random(V, 11, 0.01f, 0.1f);
        (ConstTensor data8, ConstTensor scale8) = Int8TablePacking.PackTable(q8, rowScale, V, D);
        Assert.Equal(ElementType.Int8, data8.Type);
        Assert.Equal(Array.ConvertAll(q8, v => (long)v), data8.Integer);
        Assert.Equal(Array.ConvertAll(rowScale, v => (double)v), scale8.Real);
        Assert.Throws<ArgumentOutOfRangeException>(() => Int8TablePacking.PackTable(new sbyte[] { -128 }, new float[1], 1, 1));
    }

    [Fact]
    public void PackedLayoutsRunThroughTheKernels()
    {
        // The compiler's packing feeds the runtime kernels: K 100, N 33, panel 16, INT4 block 8.
        const int K = 100, N = 33, Rows = 3;
        float[] x = Random(Rows * K, 1, -1, 1);
        sbyte[] q = RandomInt4(K * N, 2);
        Half[] s = RandomScales(13 * N, 3);
        (ConstTensor w4, ConstTensor s4) = Int4Packing.PackPanels(q, s, K, N, 16, 8);
        var y4 = new float[Rows * N];
        Kernels.DenseInt4<WqK100N33P16B8>(x, Array.ConvertAll(w4.Integer!, b => (byte)b), Array.ConvertAll(s4.Real!, v => (Half)v),
            default, y4, Rows, Activation.None, null);

        float[] w = Random(K * N, 4, -1, 1);
        ConstTensor wh = HalfPacking.PackPanels(ConstTensor.Floats(ElementType.Float32, new long[] { K, N }, Array.ConvertAll(w, v => (double)v)), 16);
        var yh = new float[Rows * N];
        Kernels.DenseHalf<WqK100N33P16B8>(x, Array.ConvertAll(wh.Real!, v => (Half)v), default, yh, Rows, Activation.None, null);

        for (int r = 0; r < Rows; r++)
            for (int j = 0; j < N; j++)
            {
                double e4 = 0, eh = 0, m4 = 0, mh = 0;
                for (int i = 0; i < K; i++)
                {
                    double p4 = (double)x[r * K + i] * (q[i * N + j] * (float)s[i / 8 * N + j]);
                    double ph = (double)x[r * K + i] * (float)(Half)w[i * N + j];
                    e4 += p4; m4 += Math.Abs(p4);
                    eh += ph; mh += Math.Abs(ph);
                }
                Assert.True(Math.Abs(y4[r * N + j] - e4) <= 1e-5 * (1 + m4), $"INT4 y[{r},{j}] = {y4[r * N + j]}, expected {e4}");
                Assert.True(Math.Abs(yh[r * N + j] - eh) <= 1e-5 * (1 + mh), $"Half y[{r},{j}] = {yh[r * N + j]}, expected {eh}");
            }
    }
}
