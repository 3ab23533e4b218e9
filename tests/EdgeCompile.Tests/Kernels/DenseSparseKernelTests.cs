using EdgeCompile.Tests.Shared;
using System;
using System.Collections.Generic;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

/// <summary>
/// <see cref="Kernels.DenseSparse"/> against a double-precision product of the dense matrix, on every CPU path this
/// machine can run (each forced in turn; AdvSimd only on arm64), with ragged row tails (rows not a multiple of the
/// 8/16/32-row blocks), empty columns, all-zero rows of W, every activation, with and without bias, and threads.
/// </summary>
public class DenseSparseKernelTests
{
    /// <summary>The test's own compression (independent of the compiler's): column by column, ascending row index.</summary>
    internal static (float[] Values, byte[] Indices, int[] Starts) Compress(float[] w, int k, int n)
    {
        var values = new List<float>();
        var indices = new List<byte>();
        var starts = new int[n + 1];
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < k; i++)
            {
                if (w[i * n + j] == 0) continue;
                values.Add(w[i * n + j]);
                indices.Add((byte)(i & 0xFF));
                indices.Add((byte)(i >> 8));
            }
            starts[j + 1] = values.Count;
        }
        return (values.ToArray(), indices.ToArray(), starts);
    }

    /// <summary>
    /// A [k,n] matrix with about <paramref name="density"/> nonzeros, plus structure the kernel must get right:
    /// column 1 (and every 7th) empty, row 2 of W all zero.
    /// </summary>
    internal static float[] SparseWeights(int k, int n, double density, int seed)
    {
        var rng = new Random(seed);
        var w = new float[k * n];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
            {
                bool zero = rng.NextDouble() >= density || j % 7 == 1 || i == 2;
                w[i * n + j] = zero ? 0f : (float)(rng.NextDouble() * 2 - 1);
            }
        return w;
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

    private static bool Runs(SparsePath path) => path switch
    {
        SparsePath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        SparsePath.AdvSimd => AdvSimd.Arm64.IsSupported,
        SparsePath.Vector128 => Vector128.IsHardwareAccelerated,
        _ => true,
    };

    private static void Check(SparsePath path, int rows, int k, int n, double density, Activation activation, bool withBias, int threads)
    {
        if (!Runs(path)) return;  // not this CPU's instruction set
        float[] x = Random(rows * k, rows * 31 + k, -1, 1);
        float[] w = SparseWeights(k, n, density, k * 17 + n);
        float[] bias = withBias ? Random(n, n + 5, -1, 1) : Array.Empty<float>();
        var (values, indices, starts) = Compress(w, k, n);
        // Scratch full of NaN: the kernel must write every float it reads of it.
        var scratch = new float[Kernels.DenseSparseScratchLength(rows, k)];
        Array.Fill(scratch, float.NaN);

        // y sits inside a larger buffer of sentinels: nothing before or after it may be written.
        const int Guard = 40;
        var buffer = new float[Guard + rows * n + Guard];
        Array.Fill(buffer, 12345f);
        Span<float> y = buffer.AsSpan(Guard, rows * n);
        y.Fill(float.NaN);

        using WorkerPool? pool = threads == 0 ? null : new WorkerPool(threads);
        Kernels.DenseSparse(x, values, indices, starts, bias, y, scratch, rows, k, n, activation, pool, path);

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
                double allowed = 1e-5 * (1 + magnitude) + 1e-6 * Math.Abs(expected);
                if (!(Math.Abs(actual - expected) <= allowed))
                    Assert.Fail($"{path} {rows}×{k}×{n} density {density} {activation} bias {withBias} threads {threads}: y[{r},{j}] = {actual:R}, expected {expected:R} (allowed {allowed:E2})");
            }
    }

    public static IEnumerable<object[]> PathsAndShapes()
    {
        foreach (string path in new[] { "Avx2", "AdvSimd", "Vector128", "Scalar" })
            foreach (var (k, n) in new[] { (1, 1), (7, 5), (26, 33), (128, 40), (300, 129) })
                foreach (int rows in new[] { 1, 3, 8, 13, 16, 17, 31, 32, 33, 47, 64, 70 })
                    yield return new object[] { path, rows, k, n };
    }

    [Theory]
    [MemberData(nameof(PathsAndShapes))]
    public void DenseSparseMatchesReference(string path, int rows, int k, int n)
    {
        Check(Enum.Parse<SparsePath>(path), rows, k, n, 0.3, Activation.None, withBias: true, threads: 0);
        Check(Enum.Parse<SparsePath>(path), rows, k, n, 0.1, Activation.None, withBias: false, threads: 0);
    }

    public static IEnumerable<object[]> Activations()
    {
        foreach (string path in new[] { "Avx2", "AdvSimd", "Vector128", "Scalar" })
            foreach (Activation act in Enum.GetValues<Activation>())
                yield return new object[] { path, act };
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void DenseSparseAppliesEveryActivation(string path, Activation activation)
    {
        Check(Enum.Parse<SparsePath>(path), 37, 64, 50, 0.4, activation, withBias: true, threads: 0);
        Check(Enum.Parse<SparsePath>(path), 5, 64, 50, 0.4, activation, withBias: false, threads: 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void DenseSparseOnWorkerThreadsMatchesReference(int threads)
    {
        Check(SparsePath.Auto, 128, 312, 200, 0.3, Activation.Gelu, withBias: true, threads);
        Check(SparsePath.Auto, 197, 256, 40, 0.2, Activation.Relu, withBias: true, threads);
    }

    [Fact]
    public void EdgeCasesMatchReference()
    {
        Check(SparsePath.Auto, 9, 20, 12, 0.0, Activation.Sigmoid, withBias: true, threads: 0);   // no nonzeros at all: act(bias)
        Check(SparsePath.Auto, 9, 20, 12, 1.0, Activation.None, withBias: true, threads: 0);     // dense stored sparse
        Check(SparsePath.Auto, 0, 20, 12, 0.5, Activation.None, withBias: true, threads: 0);     // no rows
        Check(SparsePath.Auto, 4, 0, 12, 0.5, Activation.Tanh, withBias: true, threads: 0);      // K = 0
    }

    [Fact]
    public void DenseSparseValidatesItsArguments()
    {
        float[] w = SparseWeights(7, 5, 0.5, 1);
        var (values, indices, starts) = Compress(w, 7, 5);
        float[] x = new float[14], bias = new float[5], y = new float[10], scratch = new float[Kernels.DenseSparseScratchLength(2, 7)];
        void Call(float[] x, float[] values, byte[] indices, int[] starts, float[] bias, float[] y, float[] scratch)
            => Kernels.DenseSparse(x, values, indices, starts, bias, y, scratch, 2, 7, 5, Activation.None, null);

        Assert.Equal(56, scratch.Length);  // 7 × (2 rows padded to 8)
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Call(new float[13], values, indices, starts, bias, y, scratch)).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => Call(x, values[1..], indices, starts, bias, y, scratch)).ParamName);
        Assert.Equal("indices", Assert.Throws<ArgumentException>(() => Call(x, values, indices[2..], starts, bias, y, scratch)).ParamName);
        Assert.Equal("columnStarts", Assert.Throws<ArgumentException>(() => Call(x, values, indices, starts[1..], bias, y, scratch)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Call(x, values, indices, starts, new float[4], y, scratch)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => Call(x, values, indices, starts, bias, new float[11], scratch)).ParamName);
        Assert.Equal("scratch", Assert.Throws<ArgumentException>(() => Call(x, values, indices, starts, bias, y, new float[55])).ParamName);
        // A row index past K, or column starts that go backwards, would read outside x: refused before any work.
        var badIndex = (byte[])indices.Clone();
        badIndex[0] = 7;
        Assert.Contains("row index 7", Assert.Throws<ArgumentException>(() => Call(x, values, badIndex, starts, bias, y, scratch)).Message);
        var badStarts = (int[])starts.Clone();
        (badStarts[1], badStarts[2]) = (badStarts[2] + 1, badStarts[1]);
        Assert.Throws<ArgumentException>(() => Call(x, values, indices, badStarts, bias, y, scratch));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseSparse(x, values, indices, starts, bias, y, scratch, 2, 7, 5, (Activation)99, null));
        Call(x, values, indices, starts, Array.Empty<float>(), y, scratch);  // an empty bias is fine
    }

    [Fact]
    public void DenseSparsePathNamesThisCpusPath()
    {
        string expected = Avx2.IsSupported && Fma.IsSupported ? "Avx2" : AdvSimd.Arm64.IsSupported ? "AdvSimd"
            : Vector128.IsHardwareAccelerated ? "Vector128" : "Scalar";
        Assert.Equal(expected, Kernels.DenseSparsePath);
    }

    [Fact]
    public void DenseSparseAllocatesNothing()
    {
        const int Rows = 128, K = 312, N = 1200;
        float[] x = Random(Rows * K, 1), bias = Random(N, 3);
        var (values, indices, starts) = Compress(SparseWeights(K, N, 0.2, 2), K, N);
        var y = new float[Rows * N];
        var scratch = new float[Kernels.DenseSparseScratchLength(Rows, K)];
        using var pool = new WorkerPool(2);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.DenseSparse(x, values, indices, starts, bias, y, scratch, Rows, K, N, Activation.Gelu, null);
            Kernels.DenseSparse(x, values, indices, starts, bias, y, scratch, Rows, K, N, Activation.Relu, pool);
            Kernels.DenseSparse(x.AsSpan(0, 13 * K), values, indices, starts, default, y.AsSpan(0, 13 * N), scratch, 13, K, N, Activation.None, pool);
        }, calls: 5));
    }
}
