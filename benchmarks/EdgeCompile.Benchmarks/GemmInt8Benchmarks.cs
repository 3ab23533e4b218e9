using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <see cref="Kernels.DenseInt8{TShape}"/> at the shapes of <see cref="Gemm"/>'s FP32 <c>DenseP16_*</c> /
/// <c>DenseP32_*</c> cases (BERT-base / DistilBERT 768×768, 768×3072, 3072×768, TinyBERT-4 312×1200; 128 and 16 rows;
/// 1 thread or a 2-thread <see cref="WorkerPool"/>), so the two can be read side by side: same x, weights of the same
/// shape quantized to −127..127 in quad panels of 16 (profile <c>x64-avx2</c>) or 32 (<c>x64-avx512</c>) columns,
/// dynamic activation quantization (included in the time), no bias, no activation; and at the MobileBERT (128×512,
/// 512×128) and DeiT-Small (384×1536, 1536×384) FFN shapes, 128 rows, 1 thread. The kernel picks the best path the
/// CPU has (AVX-VNNI where present). GFLOP/s counts 2·rows·K·N integer operations; "% of own peak" divides it by
/// <see cref="VnniPeak_V256"/> (256-bit vpdpbusd, the widest integer dot product .NET 10 exposes on x64) measured in the
/// same run.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class GemmInt8
{
    private float[] x = null!, y = null!, scale = null!;
    private int[] columnSum = null!;
    private byte[] scratch = null!;
    private sbyte[] p16_768x768 = null!, p16_768x3072 = null!, p16_3072x768 = null!, p16_312x1200 = null!;
    private sbyte[] p32_768x768 = null!, p32_768x3072 = null!, p32_3072x768 = null!, p32_312x1200 = null!;
    private sbyte[] p16_128x512 = null!, p16_512x128 = null!, p16_384x1536 = null!, p16_1536x384 = null!;
    private sbyte[] p32_128x512 = null!, p32_512x128 = null!, p32_384x1536 = null!, p32_1536x384 = null!;
    private WorkerPool pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        x = new float[128 * 3072];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        y = new float[128 * 3072];
        // Scales and column sums only enter the epilogue: one set of the largest length serves every shape.
        scale = new float[3072];
        Array.Fill(scale, 0.01f);
        columnSum = new int[3072];
        scratch = new byte[Kernels.DenseInt8ScratchBytes(128, 3072)];
        p16_768x768 = Packed(rng, 768, 768, 16);
        p16_768x3072 = Packed(rng, 768, 3072, 16);
        p16_3072x768 = Packed(rng, 3072, 768, 16);
        p16_312x1200 = Packed(rng, 312, 1200, 16);
        p32_768x768 = Packed(rng, 768, 768, 32);
        p32_768x3072 = Packed(rng, 768, 3072, 32);
        p32_3072x768 = Packed(rng, 3072, 768, 32);
        p32_312x1200 = Packed(rng, 312, 1200, 32);
        p16_128x512 = Packed(rng, 128, 512, 16);
        p16_512x128 = Packed(rng, 512, 128, 16);
        p16_384x1536 = Packed(rng, 384, 1536, 16);
        p16_1536x384 = Packed(rng, 1536, 384, 16);
        p32_128x512 = Packed(rng, 128, 512, 32);
        p32_512x128 = Packed(rng, 512, 128, 32);
        p32_384x1536 = Packed(rng, 384, 1536, 32);
        p32_1536x384 = Packed(rng, 1536, 384, 32);
        pool = new WorkerPool(2);
    }

    [GlobalCleanup]
    public void Cleanup() => pool.Dispose();

    /// <summary>Random q_w already in the packed order (the layout does not change the work, only where bytes are).</summary>
    private static sbyte[] Packed(Random rng, int k, int n, int panel)
    {
        var packed = new sbyte[Kernels.PackedDenseInt8Length(k, n, panel)];
        for (int i = 0; i < packed.Length; i++) packed[i] = (sbyte)rng.Next(-127, 128);
        return packed;
    }

    private WorkerPool? Pool(int threads) => threads == 1 ? null : threads == pool.Threads ? pool : throw new ArgumentOutOfRangeException(nameof(threads));

    private void Run<TShape>(sbyte[] w, int rows, int threads) where TShape : struct, IDenseShape
        => Kernels.DenseInt8<TShape>(x.AsSpan(0, rows * TShape.K), w, scale.AsSpan(0, TShape.N), columnSum.AsSpan(0, TShape.N), default,
            y.AsSpan(0, rows * TShape.N), scratch, rows, 0f, Activation.None, Pool(threads));

    private readonly struct P16_768x768 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 16; }
    private readonly struct P16_768x3072 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 16; }
    private readonly struct P16_3072x768 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 16; }
    private readonly struct P16_312x1200 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 16; }
    private readonly struct P32_768x768 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 32; }
    private readonly struct P32_768x3072 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 32; }
    private readonly struct P32_3072x768 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 32; }
    private readonly struct P32_312x1200 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 32; }
    private readonly struct P16_128x512 : IDenseShape { public static int K => 128; public static int N => 512; public static int Panel => 16; }
    private readonly struct P16_512x128 : IDenseShape { public static int K => 512; public static int N => 128; public static int Panel => 16; }
    private readonly struct P16_384x1536 : IDenseShape { public static int K => 384; public static int N => 1536; public static int Panel => 16; }
    private readonly struct P16_1536x384 : IDenseShape { public static int K => 1536; public static int N => 384; public static int Panel => 16; }
    private readonly struct P32_128x512 : IDenseShape { public static int K => 128; public static int N => 512; public static int Panel => 32; }
    private readonly struct P32_512x128 : IDenseShape { public static int K => 512; public static int N => 128; public static int Panel => 32; }
    private readonly struct P32_384x1536 : IDenseShape { public static int K => 384; public static int N => 1536; public static int Panel => 32; }
    private readonly struct P32_1536x384 : IDenseShape { public static int K => 1536; public static int N => 384; public static int Panel => 32; }

    [Benchmark, DenseShape(768, 768, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_768x768(int rows, int threads) => Run<P32_768x768>(p32_768x768, rows, threads);

    [Benchmark, DenseShape(768, 3072, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_768x3072(int rows, int threads) => Run<P32_768x3072>(p32_768x3072, rows, threads);

    [Benchmark, DenseShape(3072, 768, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_3072x768(int rows, int threads) => Run<P32_3072x768>(p32_3072x768, rows, threads);

    [Benchmark, DenseShape(312, 1200, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_312x1200(int rows, int threads) => Run<P32_312x1200>(p32_312x1200, rows, threads);

    [Benchmark, DenseShape(768, 768, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_768x768(int rows, int threads) => Run<P16_768x768>(p16_768x768, rows, threads);

    [Benchmark, DenseShape(768, 3072, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_768x3072(int rows, int threads) => Run<P16_768x3072>(p16_768x3072, rows, threads);

    [Benchmark, DenseShape(3072, 768, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_3072x768(int rows, int threads) => Run<P16_3072x768>(p16_3072x768, rows, threads);

    [Benchmark, DenseShape(312, 1200, 256, PeakKind.Int8Vnni), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_312x1200(int rows, int threads) => Run<P16_312x1200>(p16_312x1200, rows, threads);

    [Benchmark, DenseShape(128, 512, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P32_128x512(int rows, int threads) => Run<P32_128x512>(p32_128x512, rows, threads);

    [Benchmark, DenseShape(512, 128, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P32_512x128(int rows, int threads) => Run<P32_512x128>(p32_512x128, rows, threads);

    [Benchmark, DenseShape(384, 1536, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P32_384x1536(int rows, int threads) => Run<P32_384x1536>(p32_384x1536, rows, threads);

    [Benchmark, DenseShape(1536, 384, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P32_1536x384(int rows, int threads) => Run<P32_1536x384>(p32_1536x384, rows, threads);

    [Benchmark, DenseShape(128, 512, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P16_128x512(int rows, int threads) => Run<P16_128x512>(p16_128x512, rows, threads);

    [Benchmark, DenseShape(512, 128, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P16_512x128(int rows, int threads) => Run<P16_512x128>(p16_512x128, rows, threads);

    [Benchmark, DenseShape(384, 1536, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P16_384x1536(int rows, int threads) => Run<P16_384x1536>(p16_384x1536, rows, threads);

    [Benchmark, DenseShape(1536, 384, 256, PeakKind.Int8Vnni), Arguments(128, 1)]
    public void DenseInt8P16_1536x384(int rows, int threads) => Run<P16_1536x384>(p16_1536x384, rows, threads);

    private const int Chains = 12;
    private const int Iterations = 1 << 20;

    /// <summary>
    /// 12 independent chains of 256-bit vpdpbusd (AVX-VNNI; latency 5 × 2 per cycle needs ≥ 10 in flight): the peak
    /// of the DenseInt8 AVX-VNNI micro-kernel, which this CPU runs for both panel widths. Operations = 2 · 32
    /// multiply-adds · 12 chains · iterations, the way DenseInt8's GOP/s are counted.
    /// </summary>
    [Benchmark, Flops(2.0 * 32 * Chains * Iterations), FmaPeak(256, PeakKind.Int8Vnni), OwnPeak(256, PeakKind.Int8Vnni)]
    public int VnniPeak_V256() => Vnni256(Iterations);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Vnni256(int iterations)
    {
        if (!AvxVnni.IsSupported) throw new PlatformNotSupportedException("AVX-VNNI not supported on this CPU");
        // Small operands: the sums cannot overflow in 2^20 iterations (4·3·2·2^20 < 2^31), and the result is used.
        var u = Vector256.Create((byte)3);
        var s = Vector256.Create((sbyte)2);
        Vector256<int> a0 = Vector256<int>.Zero, a1 = a0 + Vector256<int>.One, a2 = a1 + Vector256<int>.One, a3 = a2 + Vector256<int>.One;
        Vector256<int> a4 = a3 + Vector256<int>.One, a5 = a4 + Vector256<int>.One, a6 = a5 + Vector256<int>.One, a7 = a6 + Vector256<int>.One;
        Vector256<int> a8 = a7 + Vector256<int>.One, a9 = a8 + Vector256<int>.One, a10 = a9 + Vector256<int>.One, a11 = a10 + Vector256<int>.One;
        for (int i = 0; i < iterations; i++)
        {
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, u, s); a1 = AvxVnni.MultiplyWideningAndAdd(a1, u, s);
            a2 = AvxVnni.MultiplyWideningAndAdd(a2, u, s); a3 = AvxVnni.MultiplyWideningAndAdd(a3, u, s);
            a4 = AvxVnni.MultiplyWideningAndAdd(a4, u, s); a5 = AvxVnni.MultiplyWideningAndAdd(a5, u, s);
            a6 = AvxVnni.MultiplyWideningAndAdd(a6, u, s); a7 = AvxVnni.MultiplyWideningAndAdd(a7, u, s);
            a8 = AvxVnni.MultiplyWideningAndAdd(a8, u, s); a9 = AvxVnni.MultiplyWideningAndAdd(a9, u, s);
            a10 = AvxVnni.MultiplyWideningAndAdd(a10, u, s); a11 = AvxVnni.MultiplyWideningAndAdd(a11, u, s);
        }
        return Vector256.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)));
    }
}
