using System;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <see cref="Kernels.DenseInt8{TShape}"/> at the shapes of <see cref="Gemm"/>'s FP32 <c>DenseP16_*</c> /
/// <c>DenseP32_*</c> cases (BERT-base / DistilBERT 768×768, 768×3072, 3072×768, TinyBERT-4 312×1200; 128 and 16 rows;
/// 1 thread or a 2-thread <see cref="WorkerPool"/>), so the two can be read side by side: same x, weights of the same
/// shape quantized to −127..127 in quad panels of 16 (profile <c>x64-avx2</c>) or 32 (<c>x64-avx512</c>) columns,
/// dynamic activation quantization (included in the time), no bias, no activation. The kernel picks the best path the
/// CPU has (AVX-VNNI where present). GFLOP/s counts 2·rows·K·N integer operations; "% of own peak" is left empty
/// (there is no integer peak loop).
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

    [Benchmark, DenseShape(768, 768, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_768x768(int rows, int threads) => Run<P32_768x768>(p32_768x768, rows, threads);

    [Benchmark, DenseShape(768, 3072, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_768x3072(int rows, int threads) => Run<P32_768x3072>(p32_768x3072, rows, threads);

    [Benchmark, DenseShape(3072, 768, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_3072x768(int rows, int threads) => Run<P32_3072x768>(p32_3072x768, rows, threads);

    [Benchmark, DenseShape(312, 1200, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P32_312x1200(int rows, int threads) => Run<P32_312x1200>(p32_312x1200, rows, threads);

    [Benchmark, DenseShape(768, 768, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_768x768(int rows, int threads) => Run<P16_768x768>(p16_768x768, rows, threads);

    [Benchmark, DenseShape(768, 3072, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_768x3072(int rows, int threads) => Run<P16_768x3072>(p16_768x3072, rows, threads);

    [Benchmark, DenseShape(3072, 768, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_3072x768(int rows, int threads) => Run<P16_3072x768>(p16_3072x768, rows, threads);

    [Benchmark, DenseShape(312, 1200, 0), Arguments(128, 1), Arguments(128, 2), Arguments(16, 1), Arguments(16, 2)]
    public void DenseInt8P16_312x1200(int rows, int threads) => Run<P16_312x1200>(p16_312x1200, rows, threads);
}
