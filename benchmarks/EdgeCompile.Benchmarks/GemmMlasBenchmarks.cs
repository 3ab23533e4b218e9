using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// Our dense GEMM against ONNX Runtime's (MLAS), side by side in one run, with this machine's FP32 FMA peak.
/// <list type="bullet">
/// <item><c>Ours_*</c>: <see cref="Kernels.Dense{TShape}"/> on 32-column panels (the <c>x64-avx512</c> profile: the
/// AVX-512F micro-kernel), no bias, no activation, on the calling thread (<c>threads</c> = 1) or a 2-thread
/// <see cref="WorkerPool"/>.</item>
/// <item><c>Mlas_*</c>: the same product in ONNX Runtime (<see cref="OrtGemm"/>: one MatMul node, W a constant
/// initializer that it prepacks; one MlasGemm per run), with <c>threads</c> intra-op threads.</item>
/// <item><c>FmaPeak_V512</c>: the 512-bit FMA peak loop of <see cref="Gemm"/>.</item>
/// </list>
/// Shapes: the BERT-base / DistilBERT projections (768×768, 768×3072, 3072×768), the TinyBERT-4 FFN (312×1200) and the
/// DeiT-Small FFN (384×1536, 1536×384), at 16 and 128 tokens and 197 (DeiT-Small's patches + class token).
/// "% of own peak" = GFLOP/s / (512-bit peak × threads) for both sides. Setup checks that both give the same y.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class GemmMlas
{
    public const int MaxRows = 197;
    public static readonly int[] RowCounts = { 16, 128, 197 };
    public static readonly (int K, int N)[] Shapes = { (768, 768), (768, 3072), (3072, 768), (312, 1200), (384, 1536), (1536, 384) };

    private float[] x = null!, yOurs = null!, yMlas = null!;
    private readonly Dictionary<(int K, int N), float[]> packed = new();
    private readonly Dictionary<(int K, int N, int Threads), OrtGemm> mlas = new();
    private WorkerPool pool = null!;

    public static IEnumerable<object[]> Cases()
    {
        foreach (int rows in RowCounts)
            foreach (int threads in new[] { 1, 2 })
                yield return new object[] { rows, threads };
    }

    [GlobalSetup]
    public void Setup() => Setup(new[] { 1, 2 });

    /// <summary>Builds every shape's packed weights and ONNX Runtime sessions for <paramref name="threadCounts"/>,
    /// then checks each pair of results (1 thread) agree.</summary>
    public void Setup(int[] threadCounts) => Setup(threadCounts, RowCounts);

    /// <summary>The same for other row counts (at most <see cref="MaxRows"/>; <c>--gemm-cpu</c> takes them from its command line).</summary>
    public void Setup(int[] threadCounts, int[] rowCounts)
    {
        var rng = new Random(42);
        x = Fill(rng, MaxRows * 3072);
        yOurs = new float[MaxRows * 3072];
        yMlas = new float[MaxRows * 3072];
        pool = new WorkerPool(2);
        foreach (var (k, n) in Shapes)
        {
            float[] w = Fill(rng, k * n);
            packed[(k, n)] = Pack(w, k, n, 32);
            foreach (int threads in threadCounts)
            {
                var session = new OrtGemm(k, n, w, threads);
                foreach (int rows in rowCounts) session.Bind(rows, x, yMlas);
                mlas[(k, n, threads)] = session;
            }
            foreach (int rows in rowCounts) Check(k, n, rows, threadCounts[0]);
        }
    }

    /// <summary>Ours and ONNX Runtime on the same x and W must agree (FP32 sums in different orders: relative 1e-4).</summary>
    private void Check(int k, int n, int rows, int threads)
    {
        Array.Clear(yOurs); Array.Clear(yMlas);
        RunOurs(k, n, rows, threads);
        RunMlas(k, n, rows, threads);
        for (int i = 0; i < rows * n; i++)
        {
            float diff = Math.Abs(yOurs[i] - yMlas[i]);
            if (!(diff <= 1e-4f * (1 + Math.Abs(yMlas[i])) * MathF.Sqrt(k)))
                throw new InvalidOperationException($"GemmMlas {k}×{n}, {rows} rows: Dense and ONNX Runtime disagree at y[{i}]: {yOurs[i]} vs {yMlas[i]}. Not benchmarking a wrong result.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var session in mlas.Values) session.Dispose();
        mlas.Clear();
        pool.Dispose();
    }

    internal static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>W [k,n] row-major → panels of <paramref name="panel"/> columns, as the compiler packs it.</summary>
    internal static float[] Pack(float[] w, int k, int n, int panel)
    {
        var result = new float[Kernels.PackedDenseLength(k, n, panel)];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                result[j / panel * k * panel + i * panel + j % panel] = w[i * n + j];
        return result;
    }

    private WorkerPool? Pool(int threads) => threads == 1 ? null : threads == pool.Threads ? pool : throw new ArgumentOutOfRangeException(nameof(threads));

    private void Ours<TShape>(int rows, int threads, Activation activation = Activation.None, bool xInPlace = false) where TShape : struct, IDenseShape
    {
        if (xInPlace) Kernels.DenseXInPlace<TShape>(x.AsSpan(0, rows * TShape.K), packed[(TShape.K, TShape.N)], default, yOurs.AsSpan(0, rows * TShape.N), rows, activation, Pool(threads));
        else Kernels.Dense<TShape>(x.AsSpan(0, rows * TShape.K), packed[(TShape.K, TShape.N)], default, yOurs.AsSpan(0, rows * TShape.N), rows, activation, Pool(threads));
    }

    /// <summary>Our Dense on shape K×N (one of <see cref="Shapes"/>), no bias; <paramref name="xInPlace"/>: <see cref="Kernels.DenseXInPlace{TShape}"/>.</summary>
    public void RunOurs(int k, int n, int rows, int threads, Activation activation = Activation.None, bool xInPlace = false)
    {
        switch ((k, n))
        {
            case (768, 768): Ours<S768x768>(rows, threads, activation, xInPlace); break;
            case (768, 3072): Ours<S768x3072>(rows, threads, activation, xInPlace); break;
            case (3072, 768): Ours<S3072x768>(rows, threads, activation, xInPlace); break;
            case (312, 1200): Ours<S312x1200>(rows, threads, activation, xInPlace); break;
            case (384, 1536): Ours<S384x1536>(rows, threads, activation, xInPlace); break;
            case (1536, 384): Ours<S1536x384>(rows, threads, activation, xInPlace); break;
            default: throw new ArgumentOutOfRangeException(nameof(k), $"{k}×{n} is not one of the GemmMlas shapes");
        }
    }

    /// <summary>The y that <see cref="RunOurs"/> wrote for <paramref name="rows"/> rows of <paramref name="n"/> columns.</summary>
    public Span<float> OursOutput(int rows, int n) => yOurs.AsSpan(0, rows * n);

    /// <summary>ONNX Runtime's MatMul on shape K×N.</summary>
    public void RunMlas(int k, int n, int rows, int threads) => mlas[(k, n, threads)].Run(rows);

    private readonly struct S768x768 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 32; }
    private readonly struct S768x3072 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 32; }
    private readonly struct S3072x768 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 32; }
    private readonly struct S312x1200 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 32; }
    private readonly struct S384x1536 : IDenseShape { public static int K => 384; public static int N => 1536; public static int Panel => 32; }
    private readonly struct S1536x384 : IDenseShape { public static int K => 1536; public static int N => 384; public static int Panel => 32; }

    [Benchmark, DenseShape(768, 768, 512), ArgumentsSource(nameof(Cases))]
    public void Ours_768x768(int rows, int threads) => Ours<S768x768>(rows, threads);
    [Benchmark, DenseShape(768, 768, 512), ArgumentsSource(nameof(Cases))]
    public void Mlas_768x768(int rows, int threads) => RunMlas(768, 768, rows, threads);

    [Benchmark, DenseShape(768, 3072, 512), ArgumentsSource(nameof(Cases))]
    public void Ours_768x3072(int rows, int threads) => Ours<S768x3072>(rows, threads);
    [Benchmark, DenseShape(768, 3072, 512), ArgumentsSource(nameof(Cases))]
    public void Mlas_768x3072(int rows, int threads) => RunMlas(768, 3072, rows, threads);

    [Benchmark, DenseShape(3072, 768, 512), ArgumentsSource(nameof(Cases))]
    public void Ours_3072x768(int rows, int threads) => Ours<S3072x768>(rows, threads);
    [Benchmark, DenseShape(3072, 768, 512), ArgumentsSource(nameof(Cases))]
    public void Mlas_3072x768(int rows, int threads) => RunMlas(3072, 768, rows, threads);

    [Benchmark, DenseShape(312, 1200, 512), ArgumentsSource(nameof(Cases))]
    public void Ours_312x1200(int rows, int threads) => Ours<S312x1200>(rows, threads);
    [Benchmark, DenseShape(312, 1200, 512), ArgumentsSource(nameof(Cases))]
    public void Mlas_312x1200(int rows, int threads) => RunMlas(312, 1200, rows, threads);

    [Benchmark, DenseShape(384, 1536, 512), ArgumentsSource(nameof(Cases))]
    public void Ours_384x1536(int rows, int threads) => Ours<S384x1536>(rows, threads);
    [Benchmark, DenseShape(384, 1536, 512), ArgumentsSource(nameof(Cases))]
    public void Mlas_384x1536(int rows, int threads) => RunMlas(384, 1536, rows, threads);

    [Benchmark, DenseShape(1536, 384, 512), ArgumentsSource(nameof(Cases))]
    public void Ours_1536x384(int rows, int threads) => Ours<S1536x384>(rows, threads);
    [Benchmark, DenseShape(1536, 384, 512), ArgumentsSource(nameof(Cases))]
    public void Mlas_1536x384(int rows, int threads) => RunMlas(1536, 384, rows, threads);

    private const int PeakIterations = 1 << 20;

    /// <summary>The 512-bit FMA peak loop (<see cref="Gemm.FmaPeak_V512"/>), in this run.</summary>
    [Benchmark, Flops(2.0 * 16 * 12 * PeakIterations), FmaPeak(512), OwnPeak(512)]
    public float FmaPeak_V512() => Gemm.Fma512(PeakIterations);
}
