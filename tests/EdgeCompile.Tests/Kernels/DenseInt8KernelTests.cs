using EdgeCompile.Tests.Shared;
using System;
using System.Collections.Generic;
using System.Reflection;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

// Shapes of DenseInt8<TShape>: K that is and is not a multiple of the quad depth 4 (1, 3, 4, 5, 31, 64, 100, 312, 768),
// N below, at and past the micro-kernel widths (1, 7, 16, 17, 33, 100), each in both panel widths, and K = 0.
internal readonly struct Q8K1N1P16 : IDenseShape { public static int K => 1; public static int N => 1; public static int Panel => 16; }
internal readonly struct Q8K1N1P32 : IDenseShape { public static int K => 1; public static int N => 1; public static int Panel => 32; }
internal readonly struct Q8K1N100P16 : IDenseShape { public static int K => 1; public static int N => 100; public static int Panel => 16; }
internal readonly struct Q8K1N100P32 : IDenseShape { public static int K => 1; public static int N => 100; public static int Panel => 32; }
internal readonly struct Q8K3N7P16 : IDenseShape { public static int K => 3; public static int N => 7; public static int Panel => 16; }
internal readonly struct Q8K3N7P32 : IDenseShape { public static int K => 3; public static int N => 7; public static int Panel => 32; }
internal readonly struct Q8K4N1P16 : IDenseShape { public static int K => 4; public static int N => 1; public static int Panel => 16; }
internal readonly struct Q8K4N1P32 : IDenseShape { public static int K => 4; public static int N => 1; public static int Panel => 32; }
internal readonly struct Q8K4N16P16 : IDenseShape { public static int K => 4; public static int N => 16; public static int Panel => 16; }
internal readonly struct Q8K4N16P32 : IDenseShape { public static int K => 4; public static int N => 16; public static int Panel => 32; }
internal readonly struct Q8K5N17P16 : IDenseShape { public static int K => 5; public static int N => 17; public static int Panel => 16; }
internal readonly struct Q8K5N17P32 : IDenseShape { public static int K => 5; public static int N => 17; public static int Panel => 32; }
internal readonly struct Q8K31N33P16 : IDenseShape { public static int K => 31; public static int N => 33; public static int Panel => 16; }
internal readonly struct Q8K31N33P32 : IDenseShape { public static int K => 31; public static int N => 33; public static int Panel => 32; }
internal readonly struct Q8K64N100P16 : IDenseShape { public static int K => 64; public static int N => 100; public static int Panel => 16; }
internal readonly struct Q8K64N100P32 : IDenseShape { public static int K => 64; public static int N => 100; public static int Panel => 32; }
internal readonly struct Q8K100N7P16 : IDenseShape { public static int K => 100; public static int N => 7; public static int Panel => 16; }
internal readonly struct Q8K100N7P32 : IDenseShape { public static int K => 100; public static int N => 7; public static int Panel => 32; }
internal readonly struct Q8K100N16P16 : IDenseShape { public static int K => 100; public static int N => 16; public static int Panel => 16; }
internal readonly struct Q8K100N16P32 : IDenseShape { public static int K => 100; public static int N => 16; public static int Panel => 32; }
internal readonly struct Q8K312N33P16 : IDenseShape { public static int K => 312; public static int N => 33; public static int Panel => 16; }
internal readonly struct Q8K312N33P32 : IDenseShape { public static int K => 312; public static int N => 33; public static int Panel => 32; }
internal readonly struct Q8K768N17P16 : IDenseShape { public static int K => 768; public static int N => 17; public static int Panel => 16; }
internal readonly struct Q8K768N17P32 : IDenseShape { public static int K => 768; public static int N => 17; public static int Panel => 32; }
internal readonly struct Q8K768N100P16 : IDenseShape { public static int K => 768; public static int N => 100; public static int Panel => 16; }
internal readonly struct Q8K768N100P32 : IDenseShape { public static int K => 768; public static int N => 100; public static int Panel => 32; }
internal readonly struct Q8K0N5P16 : IDenseShape { public static int K => 0; public static int N => 5; public static int Panel => 16; }

/// <summary>What goes into x and the weights of one check.</summary>
public enum Int8Input
{
    /// <summary>x uniform in ±1 with a different magnitude per row, q_w uniform in −127..127.</summary>
    Random,
    /// <summary>As Random, with every third row of x all zeros.</summary>
    ZeroRows,
    /// <summary>x around 1e30.</summary>
    Huge,
    /// <summary>x around 1e-25.</summary>
    Tiny,
    /// <summary>Every q_x = 127 and every q_w = ±127 (a column's sign alternates with j): the largest sums, which a
    /// vpmaddubsw-based kernel would saturate.</summary>
    Saturating,
    /// <summary>x = ±0.5, ±1.5, … ±4.5 with the static scale 1: every x·inv is a tie, which must round to even.</summary>
    Ties,
}

public class DenseInt8KernelTests
{
    private delegate void DenseInt8Call(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScale,
        ReadOnlySpan<int> wColumnSum, ReadOnlySpan<float> bias, Span<float> y, Span<byte> scratch, int rows,
        float inputScale, Activation activation, WorkerPool? workers);

    private delegate void Checker(string path, int rows, Activation activation, bool withBias, bool staticScale, int threads, Int8Input input);

    private static readonly Dictionary<string, Checker> s_shapes = new()
    {
        [nameof(Q8K1N1P16)] = Check<Q8K1N1P16>, [nameof(Q8K1N1P32)] = Check<Q8K1N1P32>,
        [nameof(Q8K1N100P16)] = Check<Q8K1N100P16>, [nameof(Q8K1N100P32)] = Check<Q8K1N100P32>,
        [nameof(Q8K3N7P16)] = Check<Q8K3N7P16>, [nameof(Q8K3N7P32)] = Check<Q8K3N7P32>,
        [nameof(Q8K4N1P16)] = Check<Q8K4N1P16>, [nameof(Q8K4N1P32)] = Check<Q8K4N1P32>,
        [nameof(Q8K4N16P16)] = Check<Q8K4N16P16>, [nameof(Q8K4N16P32)] = Check<Q8K4N16P32>,
        [nameof(Q8K5N17P16)] = Check<Q8K5N17P16>, [nameof(Q8K5N17P32)] = Check<Q8K5N17P32>,
        [nameof(Q8K31N33P16)] = Check<Q8K31N33P16>, [nameof(Q8K31N33P32)] = Check<Q8K31N33P32>,
        [nameof(Q8K64N100P16)] = Check<Q8K64N100P16>, [nameof(Q8K64N100P32)] = Check<Q8K64N100P32>,
        [nameof(Q8K100N7P16)] = Check<Q8K100N7P16>, [nameof(Q8K100N7P32)] = Check<Q8K100N7P32>,
        [nameof(Q8K100N16P16)] = Check<Q8K100N16P16>, [nameof(Q8K100N16P32)] = Check<Q8K100N16P32>,
        [nameof(Q8K312N33P16)] = Check<Q8K312N33P16>, [nameof(Q8K312N33P32)] = Check<Q8K312N33P32>,
        [nameof(Q8K768N17P16)] = Check<Q8K768N17P16>, [nameof(Q8K768N17P32)] = Check<Q8K768N17P32>,
        [nameof(Q8K768N100P16)] = Check<Q8K768N100P16>, [nameof(Q8K768N100P32)] = Check<Q8K768N100P32>,
        [nameof(Q8K0N5P16)] = Check<Q8K0N5P16>,
    };

    /// <summary>
    /// The kernel paths that can run on this machine: "DenseInt8" is the public entry point (whatever it picks here),
    /// the others force one micro-kernel through the internal DenseInt8Using, so that the paths below the best one
    /// (AVX2 without VNNI, Vector128, scalar) are tested on this machine too. ARM64 paths run where the CPU has them.
    /// </summary>
    public static IEnumerable<string> Paths()
    {
        yield return "DenseInt8";
        if (AvxVnni.IsSupported) yield return "DenseInt8AvxVnni";
        if (Avx512BW.IsSupported) yield return "DenseInt8Avx512";
        if (Avx2.IsSupported) yield return "DenseInt8Avx2";
        if (AdvSimd.Arm64.IsSupported && Dp.IsSupported) yield return "DenseInt8Dot";
        if (AdvSimd.Arm64.IsSupported) yield return "DenseInt8AdvSimd";
        if (Vector128.IsHardwareAccelerated) yield return "DenseInt8Vector128";
        yield return "DenseInt8Scalar";
    }

    private static DenseInt8Call Path<TShape>(string path) where TShape : struct, IDenseShape
    {
        if (path == "DenseInt8") return Kernels.DenseInt8<TShape>;
        Type kernel = typeof(Kernels).Assembly.GetType("EdgeCompile.Runtime." + path + "`1", throwOnError: true)!.MakeGenericType(typeof(TShape));
        MethodInfo run = typeof(Kernels).GetMethod("DenseInt8Using", BindingFlags.NonPublic | BindingFlags.Static)!;
        return run.MakeGenericMethod(typeof(TShape), kernel).CreateDelegate<DenseInt8Call>();
    }

    /// <summary>The test's own quad-panel packing (independent of the code under test), straight from the contract.</summary>
    private static sbyte[] Pack(sbyte[] q, int k, int n, int panel)
    {
        int kq = (k + 3) / 4 * 4, panels = (n + panel - 1) / panel;
        var packed = new sbyte[panels * kq * panel];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                packed[j / panel * kq * panel + i / 4 * 4 * panel + j % panel * 4 + i % 4] = q[i * n + j];
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

    /// <summary>The contract's activation quantization, written out in float as docs/quantization.md states it.</summary>
    private static int[] QuantizeRow(ReadOnlySpan<float> x, float inputScale, out float rowScale)
    {
        float inv;
        if (inputScale > 0)
        {
            inv = 1f / inputScale;
            rowScale = inputScale;
        }
        else
        {
            float m = 0;
            foreach (float v in x) m = Math.Max(m, Math.Abs(v));
            m = Math.Max(m, 1e-30f);
            inv = 127f / m;
            rowScale = m / 127f;
        }
        var q = new int[x.Length];
        for (int i = 0; i < x.Length; i++)
            q[i] = (int)Math.Clamp(MathF.Round(x[i] * inv, MidpointRounding.ToEven), -127f, 127f);
        return q;
    }

    private static (float[] X, sbyte[] Q, float[] WScale) Inputs(int rows, int k, int n, Int8Input input)
    {
        var rng = new Random(rows * 7919 + k * 31 + n);
        var x = new float[rows * k];
        var q = new sbyte[k * n];
        var wScale = new float[n];
        for (int j = 0; j < n; j++) wScale[j] = (float)(1e-3 + 1e-2 * rng.NextDouble());
        for (int r = 0; r < rows; r++)
        {
            float magnitude = input switch { Int8Input.Huge => 1e30f, Int8Input.Tiny => 1e-25f, _ => 1f } * (1 + r % 5);
            bool zero = input == Int8Input.ZeroRows && r % 3 == 0;
            for (int i = 0; i < k; i++)
                x[r * k + i] = input switch
                {
                    Int8Input.Saturating => 2.5f,
                    Int8Input.Ties => (i + r) % 10 - 4.5f,
                    _ => zero ? 0f : magnitude * (float)(2 * rng.NextDouble() - 1),
                };
        }
        for (int i = 0; i < k * n; i++)
            q[i] = input == Int8Input.Saturating ? (sbyte)(i % n % 2 == 0 ? 127 : -127) : (sbyte)rng.Next(-127, 128);
        return (x, q, wScale);
    }

    private static int[] ColumnSums(sbyte[] q, int k, int n)
    {
        var sums = new int[n];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) sums[j] += q[i * n + j];
        return sums;
    }

    private static void Check<TShape>(string path, int rows, Activation activation, bool withBias, bool staticScale, int threads, Int8Input input)
        where TShape : struct, IDenseShape
    {
        int k = TShape.K, n = TShape.N;
        (float[] x, sbyte[] q, float[] wScale) = Inputs(rows, k, n, input);
        float[] bias = withBias ? Random(n, n + 5, -1, 1) : Array.Empty<float>();
        // A static scale that clamps the largest activations (the calibrated range is narrower than this x's).
        float inputScale = 0f;
        if (input == Int8Input.Ties) inputScale = 1f;
        else if (staticScale)
        {
            float m = 0;
            foreach (float v in x) m = Math.Max(m, Math.Abs(v));
            inputScale = m == 0 ? 0.01f : 0.7f * m / 127f;
        }

        // y sits inside a larger buffer of sentinels: nothing before or after it may be written.
        const int Guard = 40;
        var buffer = new float[Guard + rows * n + Guard];
        Array.Fill(buffer, 12345f);
        Span<float> y = buffer.AsSpan(Guard, rows * n);
        y.Fill(float.NaN);
        var scratch = new byte[Kernels.DenseInt8ScratchBytes(rows, k)];

        using WorkerPool? pool = threads == 0 ? null : new WorkerPool(threads);
        // Odd row counts pass the column sums, even ones leave them out (the kernel then computes them where it needs them).
        int[] sums = rows % 2 == 1 ? ColumnSums(q, k, n) : Array.Empty<int>();
        Path<TShape>(path)(x, Pack(q, k, n, TShape.Panel), wScale, sums, bias, y, scratch, rows, inputScale, activation, pool);

        for (int i = 0; i < Guard; i++)
        {
            Assert.Equal(12345f, buffer[i]);
            Assert.Equal(12345f, buffer[Guard + rows * n + i]);
        }
        for (int r = 0; r < rows; r++)
        {
            int[] qx = QuantizeRow(x.AsSpan(r * k, k), inputScale, out float sx);
            for (int j = 0; j < n; j++)
            {
                long acc = 0;
                for (int i = 0; i < k; i++) acc += (long)qx[i] * q[i * n + j];
                if (input == Int8Input.Saturating) Assert.Equal((j % 2 == 0 ? 1L : -1L) * k * 127 * 127, acc);
                double b = withBias ? bias[j] : 0, product = acc * (double)(sx * wScale[j]);
                double expected = Act(product + b, activation), actual = y[r * n + j];
                // (float)acc, the float scale product and the multiply-add each round once (a few ulps of |acc·s| + |b|);
                // the float activations add a few ulps of their own.
                double allowed = 1e-6 * (Math.Abs(product) + Math.Abs(b)) + 2e-6 * Math.Abs(expected)
                    + (activation is Activation.None or Activation.Relu ? 0 : 1e-6);
                if (!(Math.Abs(actual - expected) <= allowed))
                    Assert.Fail($"{path} {typeof(TShape).Name} rows {rows} {activation} bias {withBias} static {staticScale} threads {threads} {input}: " +
                        $"y[{r},{j}] = {actual:R}, expected {expected:R} (acc {acc}, allowed error {allowed:E2})");
            }
        }
    }

    public static IEnumerable<object[]> PathsShapesAndRows()
    {
        foreach (string path in Paths())
            foreach (string shape in s_shapes.Keys)
            {
                for (int rows = 1; rows <= 13; rows++) yield return new object[] { path, shape, rows };
                if (shape.StartsWith("Q8K31", StringComparison.Ordinal) || shape.StartsWith("Q8K312", StringComparison.Ordinal) || shape.StartsWith("Q8K768", StringComparison.Ordinal))
                {
                    yield return new object[] { path, shape, 64 };
                    yield return new object[] { path, shape, 130 };  // two row blocks
                }
            }
    }

    [Theory]
    [MemberData(nameof(PathsShapesAndRows))]
    public void DenseInt8MatchesReference(string path, string shape, int rows)
        => s_shapes[shape](path, rows, Activation.None, withBias: true, staticScale: false, threads: 0, Int8Input.Random);

    public static IEnumerable<object[]> Variants()
    {
        foreach (string path in Paths())
            foreach (string shape in new[] { nameof(Q8K5N17P16), nameof(Q8K5N17P32), nameof(Q8K100N7P32), nameof(Q8K312N33P16), nameof(Q8K0N5P16) })
                foreach (Activation act in Enum.GetValues<Activation>())
                    foreach (bool bias in new[] { true, false })
                        foreach (bool staticScale in new[] { false, true })
                            yield return new object[] { path, shape, act, bias, staticScale };
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void DenseInt8AppliesEveryActivationBiasAndScaleMode(string path, string shape, Activation activation, bool withBias, bool staticScale)
        => s_shapes[shape](path, 7, activation, withBias, staticScale, threads: 0, Int8Input.Random);

    public static IEnumerable<object[]> Threading()
    {
        foreach (string path in Paths())
            foreach (int threads in new[] { 1, 2, 3 })
                foreach (string shape in new[] { nameof(Q8K768N100P16), nameof(Q8K768N100P32), nameof(Q8K312N33P16), nameof(Q8K64N100P32) })
                    foreach (int rows in new[] { 1, 13, 64, 130 })
                        yield return new object[] { path, shape, rows, threads };
    }

    [Theory]
    [MemberData(nameof(Threading))]
    public void DenseInt8OnWorkerThreadsMatchesReference(string path, string shape, int rows, int threads)
        => s_shapes[shape](path, rows, Activation.Gelu, withBias: true, staticScale: rows % 2 == 0, threads, Int8Input.Random);

    public static IEnumerable<object[]> Extremes()
    {
        foreach (string path in Paths())
            foreach (Int8Input input in new[] { Int8Input.ZeroRows, Int8Input.Huge, Int8Input.Tiny, Int8Input.Saturating, Int8Input.Ties })
                foreach (string shape in new[] { nameof(Q8K768N17P16), nameof(Q8K768N100P32), nameof(Q8K31N33P32), nameof(Q8K3N7P16) })
                    foreach (bool staticScale in new[] { false, true })
                        if (staticScale || input != Int8Input.Ties)  // ties are made with the static scale 1
                            yield return new object[] { path, shape, input, staticScale };
    }

    [Theory]
    [MemberData(nameof(Extremes))]
    public void DenseInt8HandlesExtremeValues(string path, string shape, Int8Input input, bool staticScale)
    {
        // Huge and tiny outputs are compared without bias (a bias of 1 would swamp or be swamped), relative only.
        bool bias = input is Int8Input.ZeroRows or Int8Input.Saturating;
        s_shapes[shape](path, 9, input == Int8Input.ZeroRows ? Activation.Gelu : Activation.None, bias, staticScale, threads: 0, input);
    }

    [Theory]
    [InlineData(1, 1, 16)]
    [InlineData(3, 7, 16)]
    [InlineData(5, 17, 32)]
    [InlineData(31, 33, 16)]
    [InlineData(64, 100, 32)]
    [InlineData(0, 5, 16)]
    public void Int8PackingFollowsTheQuadPanelFormula(int k, int n, int panel)
    {
        var rng = new Random(k * 100 + n);
        var q = new sbyte[k * n];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
        sbyte[] packed = Int8Packing.Pack(q, k, n, panel);

        // Every byte of the packed array, from the index formula of docs/quantization.md: byte (p, g, j, t) at
        // p·Kq·P + g·4P + 4j + t holds q[4g+t, p·P+j], zero past K or N.
        int kq = (k + 3) / 4 * 4, panels = (n + panel - 1) / panel;
        Assert.Equal(panels * kq * panel, packed.Length);
        Assert.Equal(packed.Length, Int8Packing.PackedLength(k, n, panel));
        Assert.Equal(packed.Length, Kernels.PackedDenseInt8Length(k, n, panel));
        for (int p = 0; p < panels; p++)
            for (int g = 0; g < kq / 4; g++)
                for (int j = 0; j < panel; j++)
                    for (int t = 0; t < 4; t++)
                    {
                        int row = 4 * g + t, col = p * panel + j;
                        sbyte expected = row < k && col < n ? q[row * n + col] : (sbyte)0;
                        Assert.Equal(expected, packed[p * kq * panel + g * 4 * panel + 4 * j + t]);
                    }

        int[] sums = Int8Packing.ColumnSums(q, k, n);
        Assert.Equal(n, sums.Length);
        for (int j = 0; j < n; j++)
        {
            int s = 0;
            for (int i = 0; i < k; i++) s += q[i * n + j];
            Assert.Equal(s, sums[j]);
        }

        ConstTensor packedTensor = Int8Packing.PackTensor(q, k, n, panel), sumTensor = Int8Packing.ColumnSumTensor(q, k, n);
        Assert.Equal(ElementType.Int8, packedTensor.Type);
        Assert.Equal(ElementType.Int32, sumTensor.Type);
        for (int i = 0; i < packed.Length; i++) Assert.Equal(packed[i], packedTensor.IntAt(i));
        for (int j = 0; j < n; j++) Assert.Equal(sums[j], sumTensor.IntAt(j));
    }

    [Fact]
    public void Int8PackingRejectsBadInput()
    {
        Assert.Throws<ArgumentException>(() => Int8Packing.Pack(new sbyte[5], 2, 3, 16));
        Assert.Throws<ArgumentException>(() => Int8Packing.Pack(new sbyte[6], 2, 3, 8));
        Assert.Throws<ArgumentException>(() => Int8Packing.Pack(new sbyte[] { 1, -128, 3, 4, 5, 6 }, 2, 3, 16));
        Assert.Throws<ArgumentException>(() => Int8Packing.ColumnSums(new sbyte[7], 2, 3));
    }

    [Fact]
    public void DenseInt8ScratchBytesFollowsTheContract()
    {
        // rows·(2·Kq + 16) + 64, Kq = ⌈K/4⌉·4.
        Assert.Equal(64, Kernels.DenseInt8ScratchBytes(0, 768));
        Assert.Equal(1 * (2 * 4 + 16) + 64, Kernels.DenseInt8ScratchBytes(1, 1));
        Assert.Equal(7 * (2 * 316 + 16) + 64, Kernels.DenseInt8ScratchBytes(7, 313));
        Assert.Equal(128L * (2 * 768 + 16) + 64, Kernels.DenseInt8ScratchBytes(128, 768));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseInt8ScratchBytes(-1, 4));
    }

    [Fact]
    public void DenseInt8ValidatesSpanLengthsAndArguments()
    {
        // K = 5, N = 17, Panel 16: x [2,5], w ⌈17/16⌉·8·16 = 256, wScale/wColumnSum/bias 17, y [2,17], scratch 2·(16+16)+64.
        float[] x = new float[10], wScale = new float[17], bias = new float[17], y = new float[34];
        sbyte[] w = new sbyte[256];
        int[] sums = new int[17];
        byte[] scratch = new byte[128];
        void Call(float[] x, sbyte[] w, float[] wScale, int[] sums, float[]? bias, float[] y, byte[] scratch, float inputScale = 0f)
            => Kernels.DenseInt8<Q8K5N17P16>(x, w, wScale, sums, bias, y, scratch, 2, inputScale, Activation.None, null);

        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Call(new float[11], w, wScale, sums, bias, y, scratch)).ParamName);
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new sbyte[85], wScale, sums, bias, y, scratch)).ParamName);  // unpacked length
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => Call(x, new sbyte[257], wScale, sums, bias, y, scratch)).ParamName);
        Assert.Equal("wScale", Assert.Throws<ArgumentException>(() => Call(x, w, new float[16], sums, bias, y, scratch)).ParamName);
        Assert.Equal("wColumnSum", Assert.Throws<ArgumentException>(() => Call(x, w, wScale, new int[18], bias, y, scratch)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Call(x, w, wScale, sums, new float[16], y, scratch)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Call(x, w, wScale, sums, bias, new float[33], scratch)).ParamName);
        Assert.Equal("scratch", Assert.Throws<ArgumentException>(() => Call(x, w, wScale, sums, bias, y, new byte[127])).ParamName);
        Assert.Equal("inputScale", Assert.Throws<ArgumentOutOfRangeException>(() => Call(x, w, wScale, sums, bias, y, scratch, -1f)).ParamName);
        Assert.Equal("inputScale", Assert.Throws<ArgumentOutOfRangeException>(() => Call(x, w, wScale, sums, bias, y, scratch, float.NaN)).ParamName);
        Assert.Equal("inputScale", Assert.Throws<ArgumentOutOfRangeException>(() => Call(x, w, wScale, sums, bias, y, scratch, float.PositiveInfinity)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseInt8<Q8K5N17P16>(x, w, wScale, sums, bias, y, scratch, -1, 0f, Activation.None, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseInt8<Q8K5N17P16>(x, w, wScale, sums, bias, y, scratch, 2, 0f, (Activation)99, null));
        Assert.Throws<NotSupportedException>(() => Kernels.DenseInt8<K3N4P8>(new float[3], new sbyte[32], new float[4], new int[4], default, new float[4], new byte[200], 1, 0f, Activation.None, null));
        Call(x, w, wScale, sums, null, y, new byte[400]);  // an empty bias and a larger scratch are fine
    }

    public static IEnumerable<object[]> QuantizerCases()
    {
        var paths = new List<string> { "Vector128" };
        if (Avx2.IsSupported) paths.Add("Avx2");
        if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated) paths.Add("Avx512");
        foreach (string path in paths)
            foreach (int format in new[] { 0, 1, 2 })
                foreach (int k in new[] { 1, 3, 15, 16, 17, 31, 32, 33, 47, 64, 100, 312, 768 })
                    foreach (bool staticScale in new[] { false, true })
                        yield return new object[] { path, format, k, staticScale };
    }

    /// <summary>
    /// Each row quantizer (the x86 ones cover whole rows with an overlapping last vector, the Vector128/scalar one does
    /// the rest and the padding) against the contract written out in the test: every q, the zero padding up to Kq, and
    /// nothing written past it. A static scale that clamps part of the row, and exact ties (x·inv = n + 0.5).
    /// </summary>
    [Theory]
    [MemberData(nameof(QuantizerCases))]
    public unsafe void QuantizeRowPathsFollowTheContract(string path, int format, int k, bool staticScale)
    {
        var fmt = (Int8ActivationFormat)format;
        int bytes = fmt == Int8ActivationFormat.Int16 ? 2 : 1, kq = (k + 3) / 4 * 4;
        var rng = new Random(k * 131 + format * 7 + (staticScale ? 1 : 0));
        var x = new float[k];
        for (int i = 0; i < k; i++) x[i] = i % 5 == 0 ? (i % 20 - 9.5f) * 0.25f : (float)(6 * rng.NextDouble() - 3);
        float m = 0;
        foreach (float v in x) m = Math.Max(m, Math.Abs(v));
        // Static: inv 4 keeps most of x·inv within ±12, the ties (±0.125·(2n+1)·4) land on n + 0.5, every 7th element is
        // made 20× larger so that it clamps. Dynamic: the contract's 127/max|x|.
        if (staticScale) for (int i = 0; i < k; i += 7) x[i] *= 20f;
        float inv = staticScale ? 4f : 127f / m;
        var dst = new byte[kq * bytes + 64];
        Array.Fill(dst, (byte)0xCD);
        fixed (float* px = x)
        fixed (byte* pd = dst)
        {
            int done = path switch
            {
                "Avx512" => Kernels.QuantizeRowAvx512(px, k, inv, fmt, pd),
                "Avx2" => Kernels.QuantizeRowAvx2(px, k, inv, fmt, pd),
                _ => 0,
            };
            Assert.True(done == 0 || done == k, $"{path} did {done} of {k}");
            Kernels.QuantizeRowTail(px, done, k, kq, inv, fmt, pd);
        }
        for (int i = 0; i < kq; i++)
        {
            int expected = i < k ? (int)Math.Clamp(MathF.Round(x[i] * inv, MidpointRounding.ToEven), -127f, 127f) : 0;
            int actual = fmt switch
            {
                Int8ActivationFormat.Int16 => BitConverter.ToInt16(dst, 2 * i),
                Int8ActivationFormat.SByte => (sbyte)dst[i],
                _ => dst[i] - 128,
            };
            if (actual != expected) Assert.Fail($"{path} {fmt} k {k} static {staticScale}: q[{i}] = {actual}, expected {expected} (x·inv = {x[i] * inv:R})");
        }
        for (int i = kq * bytes; i < dst.Length; i++) Assert.Equal(0xCD, dst[i]);
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(7)] [InlineData(15)] [InlineData(16)] [InlineData(17)] [InlineData(33)] [InlineData(100)]
    public unsafe void MaxMagnitudeFindsTheLargestMagnitudeOrNaN(int k)
    {
        var rng = new Random(k);
        var x = new float[k];
        for (int i = 0; i < k; i++) x[i] = (float)(2 * rng.NextDouble() - 1) * (i % 3 + 1);
        float expected = 0;
        foreach (float v in x) expected = Math.Max(expected, Math.Abs(v));
        fixed (float* px = x) Assert.Equal(expected, Kernels.MaxMagnitudeOrNaN(px, k));
        for (int at = 0; at < k; at++)
        {
            foreach (float special in new[] { float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, -1e30f })
            {
                var y = (float[])x.Clone();
                y[at] = special;
                float m;
                fixed (float* py = y) m = Kernels.MaxMagnitudeOrNaN(py, k);
                if (float.IsNaN(special)) Assert.True(float.IsNaN(m), $"k {k}: NaN at {at} gave {m}");
                else Assert.Equal(Math.Abs(special), m);
            }
        }
    }

    public static IEnumerable<object[]> PathsAndScaleModes()
    {
        foreach (string path in Paths())
            foreach (bool staticScale in new[] { false, true })
                yield return new object[] { path, staticScale };
    }

    /// <summary>A row with a NaN or an infinity gives NaN outputs in that row only (docs/quantization.md), in both scale modes.</summary>
    [Theory]
    [MemberData(nameof(PathsAndScaleModes))]
    public void DenseInt8GivesNaNRowsForNonFiniteActivations(string path, bool staticScale)
    {
        const int rows = 7;
        int k = Q8K100N16P16.K, n = Q8K100N16P16.N;
        (float[] x, sbyte[] q, float[] wScale) = Inputs(rows, k, n, Int8Input.Random);
        x[1 * k + 3] = float.NaN;
        x[3 * k + 99] = float.PositiveInfinity;
        x[5 * k + 50] = float.NegativeInfinity;
        float inputScale = staticScale ? 0.02f : 0f;
        var y = new float[rows * n];
        Path<Q8K100N16P16>(path)(x, Pack(q, k, n, Q8K100N16P16.Panel), wScale, Array.Empty<int>(), Array.Empty<float>(), y,
            new byte[Kernels.DenseInt8ScratchBytes(rows, k)], rows, inputScale, Activation.None, null);
        for (int r = 0; r < rows; r++)
        {
            if (r is 1 or 3 or 5)
            {
                for (int j = 0; j < n; j++)
                    Assert.True(float.IsNaN(y[r * n + j]), $"{path} static {staticScale}: y[{r},{j}] = {y[r * n + j]} for a non-finite row");
                continue;
            }
            int[] qx = QuantizeRow(x.AsSpan(r * k, k), inputScale, out float sx);
            for (int j = 0; j < n; j++)
            {
                long acc = 0;
                for (int i = 0; i < k; i++) acc += (long)qx[i] * q[i * n + j];
                double expected = acc * (double)(sx * wScale[j]), actual = y[r * n + j];
                Assert.True(Math.Abs(actual - expected) <= 1e-6 * Math.Abs(expected) + 1e-30, $"{path}: y[{r},{j}] = {actual:R}, expected {expected:R}");
            }
        }
    }

    [Fact]
    public void DenseInt8AllocatesNothing()
    {
        int rows = 64, k = 768, n = 100;
        (float[] x, sbyte[] q, float[] wScale) = Inputs(rows, k, n, Int8Input.Random);
        sbyte[] w16 = Pack(q, k, n, 16), w32 = Pack(q, k, n, 32);
        int[] sums = ColumnSums(q, k, n);
        float[] bias = Random(n, 3), y = new float[rows * n];
        var scratch = new byte[Kernels.DenseInt8ScratchBytes(rows, k)];
        using var pool = new WorkerPool(2);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.DenseInt8<Q8K768N100P32>(x, w32, wScale, sums, bias, y, scratch, rows, 0f, Activation.Gelu, null);
            Kernels.DenseInt8<Q8K768N100P32>(x, w32, wScale, sums, bias, y, scratch, rows, 0.01f, Activation.Relu, pool);
            Kernels.DenseInt8<Q8K768N100P16>(x.AsSpan(0, 13 * k), w16, wScale, sums, default, y.AsSpan(0, 13 * n), scratch, 13, 0f, Activation.None, pool);
        }, calls: 5));
    }
}
