using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// The runtime's dense kernel (<see cref="Kernels.Dense"/>, no bias, no activation: a pure GEMM) at the FFN shapes of
/// TinyBERT-4 and DistilBERT for 128 tokens, and FMA-bound loops that measure this machine's FP32 FMA peak in the same
/// run. The GFLOP/s column is <c>[Flops]</c> / median time; the "% of peak" columns divide it by the FMA loops' GFLOP/s.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class Gemm
{
    private float[] x1 = null!, w1 = null!, y1 = null!;
    private float[] x2 = null!, w2 = null!, y2 = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        (x1, w1, y1) = (Fill(rng, 128 * 312), Fill(rng, 312 * 1200), new float[128 * 1200]);
        (x2, w2, y2) = (Fill(rng, 128 * 768), Fill(rng, 768 * 3072), new float[128 * 3072]);
    }

    private static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>TinyBERT-4 FFN up-projection, 128 tokens: [128,312]·[312,1200].</summary>
    [Benchmark, Flops(2.0 * 128 * 312 * 1200)]
    public void Dense_128x312x1200() => Kernels.Dense(x1, w1, default, y1, 128, 312, 1200, Activation.None);

    /// <summary>DistilBERT FFN up-projection, 128 tokens: [128,768]·[768,3072].</summary>
    [Benchmark, Flops(2.0 * 128 * 768 * 3072)]
    public void Dense_128x768x3072() => Kernels.Dense(x2, w2, default, y2, 128, 768, 3072, Activation.None);

    private const int Chains = 12;
    private const int Iterations = 1 << 20;

    /// <summary>
    /// 12 independent chains of 256-bit FMAs (latency 4 × 2 ports needs ≥ 8 in flight); the GEMM kernel uses
    /// 256-bit vectors, so this is the peak it can reach. FLOPs = 2 · 8 lanes · 12 chains · iterations.
    /// </summary>
    [Benchmark, Flops(2.0 * 8 * Chains * Iterations), FmaPeak(256)]
    public float FmaPeak_V256() => Fma256(Iterations);

    /// <summary>The same with 512-bit FMAs (AVX-512F): the machine's FP32 peak when the CPU has AVX-512.</summary>
    [Benchmark, Flops(2.0 * 16 * Chains * Iterations), FmaPeak(512)]
    public float FmaPeak_V512() => Fma512(Iterations);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma256(int iterations)
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
    private static float Fma512(int iterations)
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
