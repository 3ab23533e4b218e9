using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <see cref="Kernels.DenseSparse"/> against the dense packed kernel on the same layer, one thread, no bias, no
/// activation: where the compiler's break-even densities (sdk/EdgeCompile.Compiler/Lowering/SparseRule.cs) come from.
/// <list type="bullet">
/// <item><c>Shape</c>: K×N of the layers of the fixtures (64×128) and of the benchmark models (TinyBERT-4 FFN 312×1200,
/// BERT-base / DistilBERT 768×768, 768×3072, 3072×768).</item>
/// <item><c>Rows</c>: 16 and 128 tokens.</item>
/// <item><c>Weights</c>: <c>dense16</c> / <c>dense32</c> = <see cref="Kernels.Dense{TShape}"/> on 16-column panels
/// (profile x64-avx2) / 32-column panels (x64-avx512, only meaningful on an AVX-512 CPU); <c>2:4</c> = DenseSparse with
/// 2 of every 4 consecutive weights along K kept (density 0.5, the NM pattern); <c>d0.5</c> … <c>d0.1</c> =
/// DenseSparse with that fraction of weights kept at random (the Unstructured pattern).</item>
/// </list>
/// The sparse time includes the per-call transpose of x into scratch: the compiled layer pays it too.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class GemmSparse
{
    public static IEnumerable<string> Shapes => new[] { "64x128", "312x1200", "768x768", "768x3072", "3072x768" };

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "768x768";

    [Params(16, 128)]
    public int Rows { get; set; }

    [Params("dense16", "dense32", "2:4", "d0.5", "d0.4", "d0.3", "d0.2", "d0.1")]
    public string Weights { get; set; } = "dense16";

    private int _k, _n;
    private float[] _x = null!, _y = null!, _packed = null!, _values = null!, _scratch = null!;
    private byte[] _indices = null!;
    private int[] _starts = null!;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split('x');
        (_k, _n) = (int.Parse(parts[0]), int.Parse(parts[1]));
        var rng = new Random(42);
        _x = new float[Rows * _k];
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
        _y = new float[Rows * _n];
        var w = new float[_k * _n];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);

        if (Weights.StartsWith("dense", StringComparison.Ordinal))
        {
            int panel = Weights == "dense32" ? 32 : 16;
            _packed = new float[Kernels.PackedDenseLength(_k, _n, panel)];
            for (int i = 0; i < _k; i++)
                for (int j = 0; j < _n; j++)
                    _packed[j / panel * _k * panel + i * panel + j % panel] = w[i * _n + j];
            return;
        }

        // Zero weights: 2:4 keeps the two largest of every 4 along K in each column; d<p> keeps a random fraction p.
        if (Weights == "2:4")
        {
            for (int j = 0; j < _n; j++)
                for (int i0 = 0; i0 + 4 <= _k; i0 += 4)
                {
                    // The two kept: two distinct positions of the group at random.
                    int a = i0 + rng.Next(4), b;
                    do b = i0 + rng.Next(4); while (b == a);
                    for (int i = i0; i < i0 + 4; i++)
                        if (i != a && i != b) w[i * _n + j] = 0;
                }
        }
        else
        {
            double density = double.Parse(Weights[1..], System.Globalization.CultureInfo.InvariantCulture);
            for (int i = 0; i < w.Length; i++)
                if (rng.NextDouble() >= density) w[i] = 0;
        }

        var values = new List<float>();
        var indices = new List<byte>();
        _starts = new int[_n + 1];
        for (int j = 0; j < _n; j++)
        {
            for (int i = 0; i < _k; i++)
                if (w[i * _n + j] != 0)
                {
                    values.Add(w[i * _n + j]);
                    indices.Add((byte)i);
                    indices.Add((byte)(i >> 8));
                }
            _starts[j + 1] = values.Count;
        }
        (_values, _indices) = (values.ToArray(), indices.ToArray());
        _scratch = new float[Kernels.DenseSparseScratchLength(Rows, _k)];
    }

    [Benchmark]
    public void Layer()
    {
        switch (Weights)
        {
            case "dense16": Dense16(); break;
            case "dense32": Dense32(); break;
            default:
                Kernels.DenseSparse(_x, _values, _indices, _starts, default, _y, _scratch, Rows, _k, _n, Activation.None, null);
                break;
        }
    }

    private void Dense16()
    {
        switch (Shape)
        {
            case "64x128": Run<S64x128P16>(); break;
            case "312x1200": Run<S312x1200P16>(); break;
            case "384x1536": Run<S384x1536P16>(); break;
            case "768x768": Run<S768x768P16>(); break;
            case "768x3072": Run<S768x3072P16>(); break;
            case "3072x768": Run<S3072x768P16>(); break;
        }
    }

    private void Dense32()
    {
        switch (Shape)
        {
            case "64x128": Run<S64x128P32>(); break;
            case "312x1200": Run<S312x1200P32>(); break;
            case "384x1536": Run<S384x1536P32>(); break;
            case "768x768": Run<S768x768P32>(); break;
            case "768x3072": Run<S768x3072P32>(); break;
            case "3072x768": Run<S3072x768P32>(); break;
        }
    }

    private void Run<TShape>() where TShape : struct, IDenseShape
        => Kernels.Dense<TShape>(_x, _packed, default, _y, Rows, Activation.None, null);

    private readonly struct S64x128P16 : IDenseShape { public static int K => 64; public static int N => 128; public static int Panel => 16; }
    private readonly struct S312x1200P16 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 16; }
    private readonly struct S384x1536P16 : IDenseShape { public static int K => 384; public static int N => 1536; public static int Panel => 16; }
    private readonly struct S768x768P16 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 16; }
    private readonly struct S768x3072P16 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 16; }
    private readonly struct S3072x768P16 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 16; }
    private readonly struct S64x128P32 : IDenseShape { public static int K => 64; public static int N => 128; public static int Panel => 32; }
    private readonly struct S312x1200P32 : IDenseShape { public static int K => 312; public static int N => 1200; public static int Panel => 32; }
    private readonly struct S384x1536P32 : IDenseShape { public static int K => 384; public static int N => 1536; public static int Panel => 32; }
    private readonly struct S768x768P32 : IDenseShape { public static int K => 768; public static int N => 768; public static int Panel => 32; }
    private readonly struct S768x3072P32 : IDenseShape { public static int K => 768; public static int N => 3072; public static int Panel => 32; }
    private readonly struct S3072x768P32 : IDenseShape { public static int K => 3072; public static int N => 768; public static int Panel => 32; }
}
