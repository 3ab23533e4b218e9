using System;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// Weight-only quantized fully connected layers against FP32 at the BERT-base / DistilBERT FFN up-projection
/// (K 768, N 3072, 9 MB of FP32 weights): <see cref="Kernels.Dense{TShape}"/>, <see cref="Kernels.DenseHalf{TShape}"/>
/// (4.5 MB) and <see cref="Kernels.DenseInt4{TShape}"/> (1.2 MB + 0.15 MB of scales), for 1 row (decoding a token:
/// bound by reading the weights) and 128 rows (bound by the FMAs: the widening is amortised over the rows), in both
/// panel widths (32: profile x64-avx512, 16: x64-avx2), on the calling thread. The weights are random; the time does
/// not depend on their values.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class GemmWeightOnly
{
    private const int K = 768, N = 3072, Block = 32;
    private float[] x = null!, y = null!;
    private float[] f32P16 = null!, f32P32 = null!;
    private Half[] halfP16 = null!, halfP32 = null!;
    private byte[] int4P16 = null!, int4P32 = null!;
    private Half[] scalesP16 = null!, scalesP32 = null!;

    private readonly struct P16 : IDenseBlockShape { public static int K => 768; public static int N => 3072; public static int Panel => 16; public static int Block => 32; }
    private readonly struct P32 : IDenseBlockShape { public static int K => 768; public static int N => 3072; public static int Panel => 32; public static int Block => 32; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        x = new float[128 * K];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        y = new float[128 * N];
        // The layouts need no particular values: fill them directly at their packed lengths.
        f32P16 = Floats(rng, Kernels.PackedDenseLength(K, N, 16));
        f32P32 = Floats(rng, Kernels.PackedDenseLength(K, N, 32));
        halfP16 = Array.ConvertAll(f32P16, v => (Half)v);
        halfP32 = Array.ConvertAll(f32P32, v => (Half)v);
        int4P16 = Bytes(rng, Kernels.PackedDenseLength(K, N, 16) / 2);
        int4P32 = Bytes(rng, Kernels.PackedDenseLength(K, N, 32) / 2);
        scalesP16 = Array.ConvertAll(Floats(rng, Kernels.Int4ScaleLength(K, N, 16, Block)), v => (Half)(0.1f + Math.Abs(v)));
        scalesP32 = Array.ConvertAll(Floats(rng, Kernels.Int4ScaleLength(K, N, 32, Block)), v => (Half)(0.1f + Math.Abs(v)));
    }

    private static float[] Floats(Random rng, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static byte[] Bytes(Random rng, long n)
    {
        var a = new byte[n];
        rng.NextBytes(a);
        return a;
    }

    private Span<float> Y(int rows) => y.AsSpan(0, rows * N);
    private ReadOnlySpan<float> X(int rows) => x.AsSpan(0, rows * K);

    [Benchmark, DenseShape(K, N, 512), Arguments(1), Arguments(128)]
    public void DenseP32(int rows) => Kernels.Dense<P32>(X(rows), f32P32, default, Y(rows), rows, Activation.None, null);

    [Benchmark, DenseShape(K, N, 512), Arguments(1), Arguments(128)]
    public void DenseHalfP32(int rows) => Kernels.DenseHalf<P32>(X(rows), halfP32, default, Y(rows), rows, Activation.None, null);

    [Benchmark, DenseShape(K, N, 512), Arguments(1), Arguments(128)]
    public void DenseInt4P32(int rows) => Kernels.DenseInt4<P32>(X(rows), int4P32, scalesP32, default, Y(rows), rows, Activation.None, null);

    [Benchmark, DenseShape(K, N, 256), Arguments(1), Arguments(128)]
    public void DenseP16(int rows) => Kernels.Dense<P16>(X(rows), f32P16, default, Y(rows), rows, Activation.None, null);

    [Benchmark, DenseShape(K, N, 256), Arguments(1), Arguments(128)]
    public void DenseHalfP16(int rows) => Kernels.DenseHalf<P16>(X(rows), halfP16, default, Y(rows), rows, Activation.None, null);

    [Benchmark, DenseShape(K, N, 256), Arguments(1), Arguments(128)]
    public void DenseInt4P16(int rows) => Kernels.DenseInt4<P16>(X(rows), int4P16, scalesP16, default, Y(rows), rows, Activation.None, null);
}
