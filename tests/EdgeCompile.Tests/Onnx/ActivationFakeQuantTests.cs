using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Onnx;

/// <summary>
/// The INT8 layer of the reference file on tiny hand-built models, against a direct C# computation of the contract
/// (docs/quantization.md): the activation integers must be exactly the kernel's, and the output equal to
/// (Σ q_x·q_w)·(s_x·s_w) + bias up to float rounding.
/// </summary>
public sealed class ActivationFakeQuantTests(ITestOutputHelper output)
{
    private const int K = 40, N = 6;

    /// <summary>Opset 13 and 17 write ReduceMax's axes as an attribute, 18 and later as an input.</summary>
    [Theory]
    [InlineData(13, 0f)]
    [InlineData(17, 0f)]
    [InlineData(18, 0f)]
    [InlineData(17, 0.02f)]
    [InlineData(21, 0.02f)]
    public void Matmul_layer_matches_the_contract(int opset, float staticScale)
    {
        var rng = new Random(opset);
        var w = Values(rng, K * N, 0.3f);
        var bias = Values(rng, N, 0.1f);
        var x = Values(rng, 2 * 3 * K, 2f);
        for (int i = 0; i < K; i++) x[K + i] = 0; // an all-zero row: m falls back to 1e-30
        x[2 * K + 5] = 40f;                         // a row with an outlier, and values beyond a static range
        using var dir = new TempDir();
        new OnnxModelBuilder(opset)
            .Input("x", 2, 3, K).Output("y", 2, 3, N)
            .TypedInitializer("w", new long[] { K, N }, w).TypedInitializer("bias", new long[] { N }, bias)
            .Node("MatMul", "mm", new[] { "x", "w" }, new[] { "xw" }).Node("Add", "add", new[] { "xw", "bias" }, new[] { "y" })
            .Save(dir.File("tiny.onnx"));

        var (qw, sw) = TestQuantizer.Int8PerAxis(w, new long[] { K, N }, 1);
        var activation = staticScale > 0 ? ActivationQuantization.Static(staticScale) : ActivationQuantization.Dynamic;
        QuantizedOnnxWriter.Write(dir.File("tiny.onnx"), dir.File("quantized.onnx"), new[] { new Int8WeightReplacement("w", qw, sw, 1, activation) });

        var model = OnnxFiles.Load(dir.File("quantized.onnx"));
        var clip = model.Graph.Node.Single(n => n.OpType == "Clip");
        OnnxFiles.AddFloatOutput(model, clip.Output[0]);
        OnnxFiles.Save(model, dir.File("probe.onnx"));
        using var session = OnnxFiles.ReferenceSession(dir.File("probe.onnx"), o => o.OptimizedModelFilePath = dir.File("optimized.onnx"));
        output.WriteLine("ONNX Runtime runs: " + string.Join(" ", OnnxFiles.Load(dir.File("optimized.onnx")).Graph.Node.Select(n => n.OpType)));
        var results = OnnxFiles.Run(session, new[] { ("x", (Array)x, new[] { 2, 3, K }) }, "y", clip.Output[0]);

        var (qx, sx) = QuantizeRows(x, K, staticScale);
        Assert.Equal(qx.Select(v => (float)v), results[clip.Output[0]]);
        double worst = 0;
        for (int r = 0; r < 6; r++)
            for (int j = 0; j < N; j++)
            {
                int acc = 0, magnitude = 0;
                for (int k = 0; k < K; k++)
                {
                    acc += qx[r * K + k] * qw[k * N + j];
                    magnitude += Math.Abs(qx[r * K + k] * qw[k * N + j]);
                }
                float expected = acc * (sx[r] * sw[j]) + bias[j];
                double size = magnitude * (double)(sx[r] * sw[j]) + Math.Abs(bias[j]);
                double relative = Math.Abs(results["y"][r * N + j] - expected) / Math.Max(size, 1e-30);
                worst = Math.Max(worst, relative);
            }
        output.WriteLine($"opset {opset}, {(staticScale > 0 ? "static" : "dynamic")}: worst error relative to Σ|terms| {worst:E2}");
        Assert.True(worst <= 1e-6, $"relative error {worst:E3} > 1e-6");
    }

    [Fact]
    public void Gemm_with_transposed_weight_quantizes_per_output_row_of_b()
    {
        var rng = new Random(7);
        var b = Values(rng, N * K, 0.5f); // [N,K], transB=1
        var x = Values(rng, 3 * K, 1f);
        using var dir = new TempDir();
        var builder = new OnnxModelBuilder(14).Input("x", 3, K).Output("y", 3, N).TypedInitializer("b", new long[] { N, K }, b)
            .Node("Gemm", "gemm", new[] { "x", "b" }, new[] { "y" });
        builder.Graph.Node[0].Attribute.Add(OnnxProtos.Int("transB", 1));
        builder.Save(dir.File("gemm.onnx"));
        var (qb, sb) = TestQuantizer.Int8PerAxis(b, new long[] { N, K }, 0);
        QuantizedOnnxWriter.Write(dir.File("gemm.onnx"), dir.File("quantized.onnx"), new[] { new Int8WeightReplacement("b", qb, sb, 0, ActivationQuantization.Dynamic) });
        using var session = OnnxFiles.ReferenceSession(dir.File("quantized.onnx"));
        var y = OnnxFiles.Run(session, new[] { ("x", (Array)x, new[] { 3, K }) }, "y")["y"];
        var (qx, sx) = QuantizeRows(x, K, 0);
        for (int r = 0; r < 3; r++)
            for (int j = 0; j < N; j++)
            {
                int acc = 0;
                for (int k = 0; k < K; k++) acc += qx[r * K + k] * qb[j * K + k];
                float expected = acc * (sx[r] * sb[j]);
                Assert.True(Math.Abs(y[r * N + j] - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"y[{r},{j}] = {y[r * N + j]}, contract {expected}");
            }
    }

    /// <summary>
    /// One weight read by two MatMuls and by an elementwise op, and one activation read by two INT8 layers: every
    /// consumer sees the dequantized weight, and the shared activation is quantized once.
    /// </summary>
    [Fact]
    public void Shared_weights_and_shared_activations()
    {
        var rng = new Random(3);
        var w = Values(rng, K * N, 0.3f);
        var v = Values(rng, K * N, 0.3f);
        using var dir = new TempDir();
        new OnnxModelBuilder(17)
            .Input("x", 2, K).Input("z", 2, K).Output("y1", 2, N).Output("y2", 2, N).Output("y3", 2, N).Output("wr", K, N)
            .TypedInitializer("w", new long[] { K, N }, w).TypedInitializer("v", new long[] { K, N }, v)
            .Node("MatMul", "m1", new[] { "x", "w" }, new[] { "y1" })
            .Node("MatMul", "m2", new[] { "z", "w" }, new[] { "y2" })
            .Node("MatMul", "m3", new[] { "x", "v" }, new[] { "y3" })
            .Node("Relu", "relu", new[] { "w" }, new[] { "wr" })
            .Save(dir.File("shared.onnx"));
        var (qw, sw) = TestQuantizer.Int8PerAxis(w, new long[] { K, N }, 1);
        var (qv, sv) = TestQuantizer.Int8PerAxis(v, new long[] { K, N }, 1);
        QuantizedOnnxWriter.Write(dir.File("shared.onnx"), dir.File("quantized.onnx"), new[]
        {
            new Int8WeightReplacement("w", qw, sw, 1, ActivationQuantization.Dynamic),
            new Int8WeightReplacement("v", qv, sv, 1, ActivationQuantization.Dynamic),
        });
        var model = OnnxFiles.Load(dir.File("quantized.onnx"));
        Assert.Equal(2, model.Graph.Node.Count(n => n.OpType == "Round")); // x once (for w and v), z once
        Assert.Equal(new[] { "x", "z" }, model.Graph.Input.Select(i => i.Name));
        Assert.Equal(new[] { "y1", "y2", "y3", "wr" }, model.Graph.Output.Select(o => o.Name));

        var x = Values(rng, 2 * K, 1f);
        var z = Values(rng, 2 * K, 3f);
        using var session = OnnxFiles.ReferenceSession(dir.File("quantized.onnx"));
        var r = OnnxFiles.Run(session, new[] { ("x", (Array)x, new[] { 2, K }), ("z", z, new[] { 2, K }) }, "y1", "y2", "y3", "wr");
        var dequantized = TestQuantizer.Dequantize(qw, sw, TestQuantizer.PerAxisIndex(new long[] { K, N }, 1));
        Assert.Equal(dequantized.Select(d => Math.Max(d, 0f)), r["wr"]);
        AssertContract(x, qw, sw, r["y1"]);
        AssertContract(z, qw, sw, r["y2"]);
        AssertContract(x, qv, sv, r["y3"]);
    }

    /// <summary>A patch Conv (ViT's embedding) is a Dense over patches: its activation is quantized per patch.</summary>
    [Fact]
    public void Patch_conv_quantizes_each_patch_as_a_row()
    {
        const int C = 2, H = 8, P = 4, O = 3, F = C * P * P;
        var rng = new Random(11);
        var w = Values(rng, O * F, 0.4f);
        var x = Values(rng, C * H * H, 1f);
        x[0] = 9f; // one patch with a much larger range than the others
        using var dir = new TempDir();
        var builder = new OnnxModelBuilder(14).Input("x", 1, C, H, H).Output("y", 1, O, H / P, H / P)
            .TypedInitializer("w", new long[] { O, C, P, P }, w).Node("Conv", "conv", new[] { "x", "w" }, new[] { "y" });
        builder.Graph.Node[0].Attribute.Add(OnnxProtos.Ints("kernel_shape", P, P));
        builder.Graph.Node[0].Attribute.Add(OnnxProtos.Ints("strides", P, P));
        builder.Save(dir.File("conv.onnx"));
        var (qw, sw) = TestQuantizer.Int8PerAxis(w, new long[] { O, C, P, P }, 0);
        QuantizedOnnxWriter.Write(dir.File("conv.onnx"), dir.File("quantized.onnx"), new[] { new Int8WeightReplacement("w", qw, sw, 0, ActivationQuantization.Dynamic) });
        using var session = OnnxFiles.ReferenceSession(dir.File("quantized.onnx"));
        var y = OnnxFiles.Run(session, new[] { ("x", (Array)x, new[] { 1, C, H, H }) }, "y")["y"];

        // Patchify as the compiler's LowerPatchConv does: row (py,px), feature (c,i,j).
        int patches = (H / P) * (H / P);
        var rows = new float[patches * F];
        for (int py = 0; py < H / P; py++)
            for (int px = 0; px < H / P; px++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < P; i++)
                        for (int j = 0; j < P; j++)
                            rows[(py * (H / P) + px) * F + c * P * P + i * P + j] = x[c * H * H + (py * P + i) * H + px * P + j];
        var (qx, sx) = QuantizeRows(rows, F, 0);
        for (int r = 0; r < patches; r++)
            for (int o = 0; o < O; o++)
            {
                int acc = 0;
                for (int f = 0; f < F; f++) acc += qx[r * F + f] * qw[o * F + f];
                float expected = acc * (sx[r] * sw[o]);
                float actual = y[o * patches + r];
                Assert.True(Math.Abs(actual - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"patch {r}, channel {o}: {actual} vs contract {expected}");
            }
    }

    [Fact]
    public void Bad_replacements_are_refused_with_the_initializer_named()
    {
        using var dir = new TempDir();
        new OnnxModelBuilder(17).Input("x", 1, 2).Output("y", 1, 2).TypedInitializer("w", new long[] { 2, 2 }, new float[4])
            .Node("MatMul", "mm", new[] { "x", "w" }, new[] { "y" }).Save(dir.File("m.onnx"));
        var missing = Assert.Throws<CompilerException>(() => QuantizedOnnxWriter.Write(dir.File("m.onnx"), dir.File("q.onnx"),
            new[] { new HalfWeightReplacement("nope", new Half[4]) }));
        Assert.Contains("'nope'", missing.Message);
        var scales = Assert.Throws<CompilerException>(() => QuantizedOnnxWriter.Write(dir.File("m.onnx"), dir.File("q.onnx"),
            new[] { new Int8WeightReplacement("w", new sbyte[4], new float[3], 1, ActivationQuantization.Dynamic) }));
        Assert.Contains("'w'", scales.Message);
        Assert.False(File.Exists(dir.File("q.onnx")));
    }

    [Fact]
    public void External_data_models_are_refused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("w.bin"), new byte[16]);
        new OnnxModelBuilder(17).Input("x", 1, 2).Output("y", 1, 2).ExternalInitializer("w", new long[] { 2, 2 }, "w.bin", 0, 16)
            .Node("MatMul", "mm", new[] { "x", "w" }, new[] { "y" }).Save(dir.File("m.onnx"));
        var e = Assert.Throws<CompilerException>(() => QuantizedOnnxWriter.Write(dir.File("m.onnx"), dir.File("q.onnx"), new[] { new HalfWeightReplacement("w", new Half[4]) }));
        Assert.Equal(Codes.ExternalData, e.Code);
    }

    private static void AssertContract(float[] x, sbyte[] qw, float[] sw, float[] y)
    {
        var (qx, sx) = QuantizeRows(x, K, 0);
        for (int r = 0; r < x.Length / K; r++)
            for (int j = 0; j < N; j++)
            {
                int acc = 0;
                for (int k = 0; k < K; k++) acc += qx[r * K + k] * qw[k * N + j];
                float expected = acc * (sx[r] * sw[j]);
                Assert.True(Math.Abs(y[r * N + j] - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"y[{r},{j}] = {y[r * N + j]}, contract {expected}");
            }
    }

    /// <summary>The contract's activation quantization of a [rows,width] matrix: per-row dynamic, or one static scale.</summary>
    private static (int[] Q, float[] Scale) QuantizeRows(float[] x, int width, float staticScale)
    {
        int rows = x.Length / width;
        var q = new int[x.Length];
        var s = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float inv;
            if (staticScale > 0) (inv, s[r]) = (1f / staticScale, staticScale);
            else
            {
                float m = 0;
                for (int i = 0; i < width; i++) m = MathF.Max(m, MathF.Abs(x[r * width + i]));
                m = MathF.Max(m, 1e-30f);
                (inv, s[r]) = (127f / m, m / 127f);
            }
            for (int i = 0; i < width; i++) q[r * width + i] = (int)Math.Clamp(MathF.Round(x[r * width + i] * inv, MidpointRounding.ToEven), -127f, 127f);
        }
        return (q, s);
    }

    private static float[] Values(Random rng, int count, float range) =>
        Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1) * range).ToArray();
}
