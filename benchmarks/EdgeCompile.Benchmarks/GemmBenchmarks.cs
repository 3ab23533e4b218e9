using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// The runtime's dense kernels against this machine's FP32 FMA peak, measured in the same run.
/// <list type="bullet">
/// <item><c>DenseP32_*</c> / <c>DenseP16_*</c>: <see cref="Kernels.Dense{TShape}"/> on weights packed in 32-column panels
/// (profile <c>x64-avx512</c>: the AVX-512F micro-kernel) and 16-column panels (profile <c>x64-avx2</c>: the AVX2+FMA
/// micro-kernel), no bias, no activation (a pure GEMM), at the BERT-base / DistilBERT projections (768×768,
/// 768×3072, 3072×768) and the TinyBERT-4 FFN (312×1200), for 128 and 16 tokens (<c>rows</c>), on the calling
/// thread alone (<c>threads</c> = 1) or with a 2-thread <see cref="WorkerPool"/>; <c>packedX</c> = false runs the
/// previous x layout (<see cref="Kernels.DenseXInPlace{TShape}"/>) beside the current one.</item>
/// <item><c>Dense_*</c>: the older <see cref="Kernels.Dense(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, Activation)"/>
/// on unpacked weights, the starting point.</item>
/// <item><c>FmaPeak_*</c>: FMA-bound loops giving the peak per vector width.</item>
/// </list>
/// Columns: GFLOP/s = 2·rows·K·N / median time; "% of own peak" divides it by the FMA peak of the kernel's own vector
/// width (512-bit for P32, 256-bit for P16 and the old kernel) times the thread count, so 100 % is every thread
/// issuing two FMAs per cycle (the 2-thread figure assumes a second idle core).
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class Gemm
{
    private float[] x1 = null!, w1 = null!, y1 = null!;
    private float[] x2 = null!, w2 = null!, y2 = null!;

    private float[] x = null!, y = null!;
    private float[] p16_768x768 = null!, p16_768x3072 = null!, p16_3072x768 = null!, p16_312x1200 = null!;
    private float[] p32_768x768 = null!, p32_768x3072 = null!, p32_3072x768 = null!, p32_312x1200 = null!;
    private WorkerPool pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        (x1, w1, y1) = (Fill(rng, 128 * 312), Fill(rng, 312 * 1200), new float[128 * 1200]);
        (x2, w2, y2) = (Fill(rng, 128 * 768), Fill(rng, 768 * 3072), new float[128 * 3072]);

        x = Fill(rng, 128 * 3072);
        y = new float[128 * 3072];
        p16_768x768 = Pack(Fill(rng, 768 * 768), 768, 768, 16);
        p16_768x3072 = Pack(Fill(rng, 768 * 3072), 768, 3072, 16);
        p16_3072x768 = Pack(Fill(rng, 3072 * 768), 3072, 768, 16);
        p16_312x1200 = Pack(Fill(rng, 312 * 1200), 312, 1200, 16);
        p32_768x768 = Pack(Fill(rng, 768 * 768), 768, 768, 32);
        p32_768x3072 = Pack(Fill(rng, 768 * 3072), 768, 3072, 32);
        p32_3072x768 = Pack(Fill(rng, 3072 * 768), 3072, 768, 32);
        p32_312x1200 = Pack(Fill(rng, 312 * 1200), 312, 1200, 32);
        pool = new WorkerPool(2);
    }

    [GlobalCleanup]
    public void Cleanup() => pool.Dispose();

    private static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>W [k,n] row-major → panels of <paramref name="panel"/> columns, as the compiler packs it.</summary>
    private static float[] Pack(float[] w, int k, int n, int panel)
    {
        var packed = new float[Kernels.PackedDenseLength(k, n, panel)];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++)
                packed[j / panel * k * panel + i * panel + j % panel] = w[i * n + j];
        return packed;
    }

    private WorkerPool? Pool(int threads) => threads == 1 ? null : threads == pool.Threads ? pool : throw new ArgumentOutOfRangeException(nameof(threads));

    /// <summary><paramref name="packedX"/>: the kernel as shipped (x packed per row block, W prefetched inside the
    /// micro-kernel's k loop); false: <see cref="Kernels.DenseXInPlace{TShape}"/>, the same micro-kernels reading x in
    /// place with the driver prefetching W before each tile, as before (the same-run A/B of that change).</summary>
    private void Run<TShape>(float[] w, int rows, int threads, bool packedX) where TShape : struct, IDenseShape
    {
        if (packedX) Kernels.Dense<TShape>(x.AsSpan(0, rows * TShape.K), w, default, y.AsSpan(0, rows * TShape.N), rows, Activation.None, Pool(threads));
        else Kernels.DenseXInPlace<TShape>(x.AsSpan(0, rows * TShape.K), w, default, y.AsSpan(0, rows * TShape.N), rows, Activation.None, Pool(threads));
    }

    private readonly struct P16_768x768 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 16; }
    private readonly struct P16_768x3072 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 16; }
    private readonly struct P16_3072x768 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 16; }
    private readonly struct P16_312x1200 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 16; }
    private readonly struct P32_768x768 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 32; }
    private readonly struct P32_768x3072 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 32; }
    private readonly struct P32_3072x768 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 32; }
    private readonly struct P32_312x1200 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 32; }

    [Benchmark, DenseShape(768, 768, 512), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP32_768x768(int rows, int threads, bool packedX) => Run<P32_768x768>(p32_768x768, rows, threads, packedX);

    [Benchmark, DenseShape(768, 3072, 512), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP32_768x3072(int rows, int threads, bool packedX) => Run<P32_768x3072>(p32_768x3072, rows, threads, packedX);

    [Benchmark, DenseShape(3072, 768, 512), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP32_3072x768(int rows, int threads, bool packedX) => Run<P32_3072x768>(p32_3072x768, rows, threads, packedX);

    [Benchmark, DenseShape(312, 1200, 512), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP32_312x1200(int rows, int threads, bool packedX) => Run<P32_312x1200>(p32_312x1200, rows, threads, packedX);

    [Benchmark, DenseShape(768, 768, 256), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP16_768x768(int rows, int threads, bool packedX) => Run<P16_768x768>(p16_768x768, rows, threads, packedX);

    [Benchmark, DenseShape(768, 3072, 256), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP16_768x3072(int rows, int threads, bool packedX) => Run<P16_768x3072>(p16_768x3072, rows, threads, packedX);

    [Benchmark, DenseShape(3072, 768, 256), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP16_3072x768(int rows, int threads, bool packedX) => Run<P16_3072x768>(p16_3072x768, rows, threads, packedX);

    [Benchmark, DenseShape(312, 1200, 256), Arguments(128, 1, true), Arguments(128, 1, false), Arguments(128, 2, true), Arguments(128, 2, false), Arguments(16, 1, true), Arguments(16, 1, false), Arguments(16, 2, true), Arguments(16, 2, false)]
    public void DenseP16_312x1200(int rows, int threads, bool packedX) => Run<P16_312x1200>(p16_312x1200, rows, threads, packedX);

    /// <summary>The older unpacked kernel, TinyBERT-4 FFN up-projection, 128 tokens: [128,312]·[312,1200].</summary>
    [Benchmark, Flops(2.0 * 128 * 312 * 1200), OwnPeak(256)]
    public void Dense_128x312x1200() => Kernels.Dense(x1, w1, default, y1, 128, 312, 1200, Activation.None);

    /// <summary>The older unpacked kernel, DistilBERT FFN up-projection, 128 tokens: [128,768]·[768,3072].</summary>
    [Benchmark, Flops(2.0 * 128 * 768 * 3072), OwnPeak(256)]
    public void Dense_128x768x3072() => Kernels.Dense(x2, w2, default, y2, 128, 768, 3072, Activation.None);

    private const int Chains = 12;
    private const int Iterations = 1 << 20;

    /// <summary>
    /// 12 independent chains of 256-bit FMAs (latency 4 × 2 ports needs ≥ 8 in flight): the peak of the AVX2
    /// kernels (P16 and the old unpacked one). FLOPs = 2 · 8 lanes · 12 chains · iterations.
    /// </summary>
    [Benchmark, Flops(2.0 * 8 * Chains * Iterations), FmaPeak(256), OwnPeak(256)]
    public float FmaPeak_V256() => Fma256(Iterations);

    /// <summary>The same with 512-bit FMAs (AVX-512F): the machine's FP32 peak when the CPU has AVX-512, and the peak of the P32 kernel.</summary>
    [Benchmark, Flops(2.0 * 16 * Chains * Iterations), FmaPeak(512), OwnPeak(512)]
    public float FmaPeak_V512() => Fma512(Iterations);

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static float Fma256(int iterations)
    {
        var m = Vector256.Create(0.99999f);
        var c = Vector256.Create(1e-5f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0 + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c;
        Vector256<float> a6 = a5 + c, a7 = a6 + c, a8 = a7 + c, a9 = a8 + c, a10 = a9 + c, a11 = a10 + c;
        if (!Fma.IsSupported) throw new PlatformNotSupportedException("FMA3 not supported");
        for (int i = 0; i < iterations; i++)
        {
            a0 = Fma.MultiplyAdd(a0, m, c); a1 = Fma.MultiplyAdd(a1, m, c); a2 = Fma.MultiplyAdd(a2, m, c);
            a3 = Fma.MultiplyAdd(a3, m, c); a4 = Fma.MultiplyAdd(a4, m, c); a5 = Fma.MultiplyAdd(a5, m, c);
            a6 = Fma.MultiplyAdd(a6, m, c); a7 = Fma.MultiplyAdd(a7, m, c); a8 = Fma.MultiplyAdd(a8, m, c);
            a9 = Fma.MultiplyAdd(a9, m, c); a10 = Fma.MultiplyAdd(a10, m, c); a11 = Fma.MultiplyAdd(a11, m, c);
        }
        return Vector256.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static float Fma512(int iterations)
    {
        var m = Vector512.Create(0.99999f);
        var c = Vector512.Create(1e-5f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0 + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c;
        Vector512<float> a6 = a5 + c, a7 = a6 + c, a8 = a7 + c, a9 = a8 + c, a10 = a9 + c, a11 = a10 + c;
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("AVX-512F not supported on this CPU");
        for (int i = 0; i < iterations; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, c); a1 = Avx512F.FusedMultiplyAdd(a1, m, c); a2 = Avx512F.FusedMultiplyAdd(a2, m, c);
            a3 = Avx512F.FusedMultiplyAdd(a3, m, c); a4 = Avx512F.FusedMultiplyAdd(a4, m, c); a5 = Avx512F.FusedMultiplyAdd(a5, m, c);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, c); a7 = Avx512F.FusedMultiplyAdd(a7, m, c); a8 = Avx512F.FusedMultiplyAdd(a8, m, c);
            a9 = Avx512F.FusedMultiplyAdd(a9, m, c); a10 = Avx512F.FusedMultiplyAdd(a10, m, c); a11 = Avx512F.FusedMultiplyAdd(a11, m, c);
        }
        return Vector512.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)));
    }
}
