using System;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// The exact GELU alone over a 128-token FFN activation (128×1200: TinyBERT-4; 128×3072: BERT-base / DistilBERT),
/// out of place, the previous operator (<see cref="GeluErfOperator"/>: erf on two polynomial paths plus an exp,
/// blended) against the current one (<see cref="GeluOperator"/>: max(x, 0) − t·2^q(t), one path) in the same run.
/// Input: normal with σ = 2. Both costs are independent of the data except the old operator's skip of its exp when
/// all lanes of a vector are small (|x| ≤ 1.31), which such data almost never meets. The vector width is the
/// runtime's (512-bit where AVX-512 is accelerated; <c>DOTNET_PreferredVectorBitWidth=256</c> measures the AVX2 path).
/// </summary>
[Config(typeof(BenchConfig))]
public class GeluKernel
{
    [Params(1200, 3072)]
    public int Columns { get; set; }

    private const int Rows = 128;
    private float[] x = null!, y = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(11);
        x = new float[Rows * Columns];
        for (int i = 0; i < x.Length; i++)
        {
            // Box–Muller: one normal per pair of uniforms is enough here.
            double u = 1 - rng.NextDouble(), v = rng.NextDouble();
            x[i] = (float)(2 * Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v));
        }
        y = new float[x.Length];
    }

    [Benchmark(Baseline = true)]
    public void ErfGelu() => Loops.Unary(x, y, new GeluErfOperator());

    [Benchmark]
    public void OnePathGelu() => Loops.Unary(x, y, new GeluOperator());
}
