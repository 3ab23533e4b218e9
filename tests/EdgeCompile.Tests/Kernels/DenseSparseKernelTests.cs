using EdgeCompile.Tests.Shared;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Runtime;
using EdgeCompile.Tests.Calibration;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

/// <summary>
/// <see cref="Kernels.DenseSparse"/> against a double-precision product of the dense matrix, on every CPU path this
/// machine can run (each forced in turn through the internal <see cref="SparsePath"/> overload: on x64 Avx2, Vector128
/// and Scalar; on arm64 AdvSimd, Vector128 and Scalar), with ragged row tails (rows not a multiple of the 8/16/32-row
/// blocks), empty columns, all-zero rows of W, every activation, with and without bias, and threads; seeded random
/// problems, the fixtures' real weights magnitude-pruned (Unstructured and 2:4), row indices up to 65535, NaN inputs and
/// zero allocation, each on every forced path.
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

    /// <summary>The forced paths this CPU can run: on x64 Avx2 (if present), Vector128 and Scalar; on arm64 AdvSimd,
    /// Vector128 and Scalar. A path the CPU lacks is not listed (rather than passing without running).</summary>
    public static IEnumerable<string> RunnablePaths()
    {
        foreach (var path in new[] { SparsePath.Avx2, SparsePath.AdvSimd, SparsePath.Vector128, SparsePath.Scalar })
            if (Runs(path)) yield return path.ToString();
    }

    private static void Check(SparsePath path, int rows, int k, int n, double density, Activation activation, bool withBias, int threads)
    {
        float[] x = Random(rows * k, rows * 31 + k, -1, 1);
        float[] w = SparseWeights(k, n, density, k * 17 + n);
        float[] bias = withBias ? Random(n, n + 5, -1, 1) : Array.Empty<float>();
        Check(path, x, w, bias, rows, k, n, activation, threads, $"{rows}×{k}×{n} density {density}");
    }

    /// <summary>
    /// Compresses <paramref name="w"/> ([k,n], the test's own <see cref="Compress"/>), runs the kernel on the path and compares
    /// every output with the double-precision dense product <c>act(x·W + bias)</c> (NaN where it is NaN).
    /// </summary>
    private static void Check(SparsePath path, float[] x, float[] w, float[] bias, int rows, int k, int n, Activation activation, int threads, string what)
    {
        Assert.True(path == SparsePath.Auto || Runs(path), $"{path} is not this CPU's instruction set");
        bool withBias = bias.Length > 0;
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
                    // A zero of W is not stored: it contributes nothing, even against a NaN or infinite x (a dense product would give NaN).
                    if (w[i * n + j] == 0) continue;
                    double p = (double)x[r * k + i] * w[i * n + j];
                    sum += p;
                    magnitude += Math.Abs(p);
                }
                double expected = Act(sum, activation), actual = y[r * n + j];
                double allowed = 1e-5 * (1 + magnitude) + 1e-6 * Math.Abs(expected);
                bool ok = double.IsNaN(expected) ? double.IsNaN(actual) : Math.Abs(actual - expected) <= allowed;
                if (!ok)
                    Assert.Fail($"{path} {what} {activation} bias {withBias} threads {threads}: y[{r},{j}] = {actual:R}, expected {expected:R} (allowed {allowed:E2})");
            }
    }

    public static IEnumerable<object[]> PathsAndShapes()
    {
        foreach (string path in RunnablePaths())
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
        foreach (string path in RunnablePaths())
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

    /// <summary>
    /// Each forced path on seeded random problems: rows 1–90 (every 32/16/8/4-row block and tail), K and N mostly not
    /// multiples of 8 or 16, densities from none to all, a share of empty columns and columns of a single nonzero (the
    /// odd-nonzero tail of the two-accumulator loop), any activation, bias or none, and the worker pool or not.
    /// </summary>
    [Theory]
    [MemberData(nameof(RandomCasesOnEveryPath))]
    public void RandomProblemsMatchReference(string path, int seed)
    {
        var rng = new Random(seed);
        int rows = rng.Next(1, 91), k = rng.Next(1, 700), n = rng.Next(1, 160);
        if (rng.Next(4) == 0) k = 16 * rng.Next(1, 20) + rng.Next(1, 16);   // just past a multiple of 16
        double density = new[] { 0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 1.0 }[rng.Next(7)];
        double emptyColumns = rng.Next(3) == 0 ? 0 : rng.NextDouble() * 0.4, singleColumns = rng.NextDouble() * 0.2;
        var activation = (Activation)rng.Next((int)Activation.Silu + 1);
        bool withBias = rng.Next(2) == 0;
        int threads = new[] { 0, 0, 2, 3 }[rng.Next(4)];

        var w = new float[k * n];
        for (int j = 0; j < n; j++)
        {
            double kind = rng.NextDouble();
            if (kind < emptyColumns) continue;
            if (kind < emptyColumns + singleColumns)
            {
                w[rng.Next(k) * n + j] = (float)(rng.NextDouble() * 2 - 1);
                continue;
            }
            for (int i = 0; i < k; i++)
                if (rng.NextDouble() < density) w[i * n + j] = (float)(rng.NextDouble() * 2 - 1);
        }
        float[] x = Random(rows * k, seed + 1, -1, 1);
        float[] bias = withBias ? Random(n, seed + 2, -1, 1) : Array.Empty<float>();
        Check(Enum.Parse<SparsePath>(path), x, w, bias, rows, k, n, activation, threads,
            $"seed {seed}: {rows}×{k}×{n} density {density}, empty columns {emptyColumns:P0}, single-nonzero columns {singleColumns:P0}");
    }

    public static IEnumerable<object[]> RandomCasesOnEveryPath()
    {
        foreach (string path in RunnablePaths())
            for (int seed = 1; seed <= 40; seed++)
                yield return new object[] { path, seed };
    }

    /// <summary>
    /// What pruning gives the kernel, on real weights: every 2-D MatMul/Gemm weight of the distilbert and vit fixtures (K and N
    /// 32, 37, 64, ...), magnitude-pruned by this test (Unstructured 50 % and 80 % by |w| per matrix; 2:4 along K per
    /// column), on each forced path and on the worker pool.
    /// </summary>
    [Theory]
    [MemberData(nameof(PathsAndFixtures))]
    public void MagnitudePrunedFixtureWeightsMatchReference(string path, string family)
    {
        var graph = OnnxModelFile.Load(FixturePlan.ModelPath(family)).Graph;
        var matMulWeights = graph.Node.Where(node => node.OpType is "MatMul" or "Gemm").Select(node => node.Input[1]).ToHashSet();
        var weights = graph.Initializer
            .Where(t => matMulWeights.Contains(t.Name) && t.DataType == OnnxDataType.Float && t.Dims.Count == 2 && t.Dims[0] > 1 && t.Dims[1] > 1)
            .Select(t => (t.Name, K: (int)t.Dims[0], N: (int)t.Dims[1], W: OnnxProtos.ReadFloats(t))).ToList();
        Assert.True(weights.Count >= 4, $"{family}: only {weights.Count} 2-D weights");
        int index = 0;
        foreach (var (name, k, n, w) in weights)
        {
            index++;
            foreach (var (pattern, pruned) in new[] { ("unstructured 50%", Unstructured(w, 0.5)), ("unstructured 80%", Unstructured(w, 0.8)), ("2:4", TwoOfFour(w, k, n)) })
            {
                const int Rows = 37;   // a 32-row block and a ragged tail on every path
                float[] x = Random(Rows * k, index * 13 + k, -2, 2);
                float[] bias = index % 2 == 0 ? Random(n, index, -0.5f, 0.5f) : Array.Empty<float>();
                Check(Enum.Parse<SparsePath>(path), x, pruned, bias, Rows, k, n, Activation.Gelu, threads: index % 3, $"{family} {name} [{k}×{n}] {pattern}");
            }
        }
    }

    public static IEnumerable<object[]> PathsAndFixtures()
    {
        foreach (string path in RunnablePaths())
            foreach (string family in new[] { "distilbert", "vit" })
                yield return new object[] { path, family };
    }

    /// <summary>The matrix with its <paramref name="fraction"/> smallest |w| zeroed (ties broken by position).</summary>
    private static float[] Unstructured(float[] w, double fraction)
    {
        int drop = (int)Math.Round(fraction * w.Length);
        var order = Enumerable.Range(0, w.Length).OrderBy(i => Math.Abs(w[i])).ThenBy(i => i).Take(drop);
        var pruned = (float[])w.Clone();
        foreach (int i in order) pruned[i] = 0;
        return pruned;
    }

    /// <summary>In each column, of every 4 consecutive rows (K; the last group may be shorter) the 2 largest |w| kept.</summary>
    private static float[] TwoOfFour(float[] w, int k, int n)
    {
        var pruned = new float[w.Length];
        for (int j = 0; j < n; j++)
            for (int i0 = 0; i0 < k; i0 += 4)
                foreach (int i in Enumerable.Range(i0, Math.Min(4, k - i0)).OrderByDescending(i => Math.Abs(w[i * n + j])).Take(2))
                    pruned[i * n + j] = w[i * n + j];
        return pruned;
    }

    /// <summary>
    /// Row indices at the edges of their 16-bit encoding (0, 255, 256 and 65535: the high byte, the largest K): K = 65536
    /// on each path, a few rows; and K = 65537 refused.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void RowIndicesUpTo65535(string path)
    {
        const int K = 65536, N = 5, Rows = 3;
        var w = new float[K * N];
        var rng = new Random(7);
        for (int j = 0; j < N; j++)
        {
            foreach (int i in new[] { 0, 255, 256, 4097, K - 2, K - 1 }) w[i * N + j] = (float)(rng.NextDouble() * 2 - 1);
            for (int t = 0; t < 40; t++) w[rng.Next(K) * N + j] = (float)(rng.NextDouble() * 2 - 1);
        }
        w[(K - 1) * N + 3] = 0;   // column 3 without the last row
        float[] x = Random(Rows * K, 8, -1, 1);
        Check(Enum.Parse<SparsePath>(path), x, w, Random(N, 9), Rows, K, N, Activation.None, threads: 0, "K = 65536");

        var (values, indices, starts) = Compress(new float[2], 2, 1);
        var tooLong = Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.DenseSparse(new float[K + 1], values, indices, starts, default,
            new float[1], new float[Kernels.DenseSparseScratchLength(1, K + 1)], 1, K + 1, 1, Activation.None, null, Enum.Parse<SparsePath>(path)));
        Assert.Equal("k", tooLong.ParamName);
    }

    public static IEnumerable<object[]> Paths() => RunnablePaths().Select(p => new object[] { p });

    /// <summary>Each forced path on 1–3 worker threads (the columns split between work items), not only the CPU's own path.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void ForcedPathsOnWorkerThreadsMatchReference(string path)
    {
        var forced = Enum.Parse<SparsePath>(path);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            Check(forced, 128, 312, 200, 0.3, Activation.Gelu, withBias: true, threads);
            Check(forced, 197, 256, 41, 0.2, Activation.Relu, withBias: false, threads);
            Check(forced, 70, 77, 3, 0.5, Activation.Silu, withBias: true, threads);   // fewer columns than work items
        }
    }

    /// <summary>
    /// A NaN in x reaches every output whose column has a nonzero in its row, through ReLU too (MathF.Max and the vector
    /// Max propagate NaN, as ONNX Runtime's Relu does); outputs whose columns have a zero there stay finite (a zero is not stored).
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void NaNInputPropagatesOnEveryPath(string path)
    {
        const int Rows = 37, K = 29, N = 23;
        float[] w = SparseWeights(K, N, 0.4, 3);
        float[] x = Random(Rows * K, 4, -1, 1);
        foreach (int r in new[] { 0, 5, 31, 32, 36 }) x[r * K + 11] = float.NaN;
        foreach (var activation in new[] { Activation.None, Activation.Relu, Activation.Gelu })
            Check(Enum.Parse<SparsePath>(path), x, w, Random(N, 5), Rows, K, N, activation, threads: 0, "NaN at column 11 of rows 0, 5, 31, 32, 36");
        int poisoned = Enumerable.Range(0, N).Count(j => w[11 * N + j] != 0);
        Assert.InRange(poisoned, 1, N - 1);   // both kinds of column are there
    }

    /// <summary>Every forced path, not only the CPU's own, allocates nothing per call (with and without the worker pool).</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void ForcedPathsAllocateNothing(string path)
    {
        const int Rows = 45, K = 130, N = 300;
        var forced = Enum.Parse<SparsePath>(path);
        float[] x = Random(Rows * K, 1), bias = Random(N, 3);
        var (values, indices, starts) = Compress(SparseWeights(K, N, 0.3, 2), K, N);
        var y = new float[Rows * N];
        var scratch = new float[Kernels.DenseSparseScratchLength(Rows, K)];
        using var pool = new WorkerPool(2);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.DenseSparse(x, values, indices, starts, bias, y, scratch, Rows, K, N, Activation.Relu, null, forced);
            Kernels.DenseSparse(x, values, indices, starts, default, y, scratch, Rows, K, N, Activation.GeluTanh, pool, forced);
        }, calls: 5));
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
