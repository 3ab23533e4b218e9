using System;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Onnx;

/// <summary>The ONNX Runtime dynamic-quantization baseline: the file loads, ONNX Runtime runs its integer kernels, accuracy holds.</summary>
public sealed class OrtDynamicQuantizationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("bert", false)]
    [InlineData("bert", true)]
    [InlineData("vit", false)]
    [InlineData("vit", true)]
    public void Fixture_runs_on_onnx_runtime_integer_kernels_and_stays_accurate(string family, bool perChannel)
    {
        var path = Path.Combine(Repository.Fixture(family), "model.onnx");
        var set = FixtureTestSet.Load(family);
        using var dir = new TempDir();
        OrtDynamicQuantization.WriteOrtDynamicQuantized(path, dir.File("dynamic.onnx"), perChannel);

        var written = OnnxFiles.Load(dir.File("dynamic.onnx"));
        var original = OnnxFiles.Load(path);
        var weights = OnnxFiles.Weights(original, "MatMul").Select(w => w.Name).Where(n => OnnxFiles.Initializer(original, n).Dims.Count == 2).ToHashSet();
        int matmuls = original.Graph.Node.Count(n => n.OpType == "MatMul" && weights.Contains(n.Input[1]));
        Assert.True(matmuls > 0);
        Assert.Equal(matmuls, written.Graph.Node.Count(n => n.OpType == "MatMulInteger"));
        Assert.Empty(OnnxFiles.Weights(written, "MatMul"));

        // The graph ONNX Runtime actually runs, after its optimisations: the integer pattern fused into DynamicQuantizeMatMul,
        // or into MatMulIntegerToFloat where one DynamicQuantizeLinear feeds several MatMuls (BERT's q, k, v).
        using var quantized = OnnxFiles.Session(dir.File("dynamic.onnx"), o => o.OptimizedModelFilePath = dir.File("optimized.onnx"));
        var optimized = OnnxFiles.Load(dir.File("optimized.onnx")).Graph.Node;
        int fused = optimized.Count(n => n.OpType == "DynamicQuantizeMatMul"), toFloat = optimized.Count(n => n.OpType == "MatMulIntegerToFloat"),
            integer = optimized.Count(n => n.OpType == "MatMulInteger");
        Assert.True(fused + toFloat + integer == matmuls,
            $"ONNX Runtime runs {fused} DynamicQuantizeMatMul, {toFloat} MatMulIntegerToFloat and {integer} MatMulInteger for {matmuls} quantized MatMuls");

        using var fp32 = OnnxFiles.Session(path);
        var reference = OnnxFiles.Logits(fp32, set);
        var actual = OnnxFiles.Logits(quantized, set);
        double before = OnnxFiles.Accuracy(reference, set), after = OnnxFiles.Accuracy(actual, set), diff = OnnxFiles.MaxAbsDiff(reference, actual);
        output.WriteLine($"{family} ORT dynamic ({(perChannel ? "per channel" : "per tensor")}): {matmuls} MatMuls run as {fused} DynamicQuantizeMatMul + {toFloat} MatMulIntegerToFloat + {integer} MatMulInteger; max |logit diff| {diff:G3}; accuracy FP32 {before:P1} → {after:P1}");
        Assert.True(diff > 0, "the dynamically quantized model computes exactly the FP32 logits");
        Assert.True(after >= before - 0.03, $"accuracy fell from {before:P1} to {after:P1}");
    }

    /// <summary>
    /// quantize_dynamic's numerics on a tiny MatMul, computed directly: activations uint8 asymmetric per tensor
    /// (DynamicQuantizeLinear), weights int8 symmetric (scale absmax/127, zero point 0), y = Σ(qa - za)·qb · (sa·sb).
    /// </summary>
    [Fact]
    public void Tiny_matmul_computes_quantize_dynamic_numerics()
    {
        const int M = 3, K = 24, N = 5;
        var rng = new Random(5);
        var w = Enumerable.Range(0, K * N).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, M * K).Select(_ => (float)(rng.NextDouble() * 3 - 1)).ToArray();
        using var dir = new TempDir();
        new OnnxModelBuilder(14).Input("x", M, K).Output("y", M, N).TypedInitializer("w", new long[] { K, N }, w)
            .Node("MatMul", "mm", new[] { "x", "w" }, new[] { "y" }).Save(dir.File("tiny.onnx"));
        OrtDynamicQuantization.WriteOrtDynamicQuantized(dir.File("tiny.onnx"), dir.File("dynamic.onnx"));
        using var session = OnnxFiles.Session(dir.File("dynamic.onnx"));
        var y = OnnxFiles.Run(session, new[] { ("x", (Array)x, new[] { M, K }) }, "y")["y"];

        float wMax = w.Max(MathF.Abs), sb = 2 * wMax / 254f;
        var qb = w.Select(v => (int)Math.Clamp(MathF.Round(v / sb, MidpointRounding.ToEven), -127, 127)).ToArray();
        float lo = MathF.Min(0, x.Min()), hi = MathF.Max(0, x.Max()), sa = (hi - lo) / 255f;
        int za = (int)Math.Clamp(MathF.Round(-lo / sa, MidpointRounding.ToEven), 0, 255);
        var qa = x.Select(v => (int)Math.Clamp(MathF.Round(v / sa, MidpointRounding.ToEven) + za, 0, 255)).ToArray();
        for (int r = 0; r < M; r++)
            for (int j = 0; j < N; j++)
            {
                int acc = 0;
                for (int k = 0; k < K; k++) acc += (qa[r * K + k] - za) * qb[k * N + j];
                float expected = acc * (sa * sb);
                Assert.True(Math.Abs(y[r * N + j] - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"y[{r},{j}] = {y[r * N + j]}, expected {expected}");
            }
    }
}
