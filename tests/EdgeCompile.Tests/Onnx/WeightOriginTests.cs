using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Onnx;

/// <summary>
/// A Dense layer's weight traced back to its ONNX initializers after fusion (merged q|k|v projections, transposed Gemm
/// weights, the patch Conv's filter), and a model quantized in the kernel's [K,N] frame written back through that trace.
/// </summary>
public sealed class WeightOriginTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("bert")]
    [InlineData("distilbert")]
    [InlineData("vit")]
    public void Every_dense_weight_traces_back_to_its_initializers_column_for_column(string family)
    {
        var path = Path.Combine(Repository.Fixture(family), "model.onnx");
        var model = OnnxFiles.Load(path);
        var layers = DenseLayers(path);
        Assert.NotEmpty(layers);
        foreach (var (layer, w, k, n) in layers)
        {
            var origin = WeightOrigins.ForLayer(layer);
            Assert.True(origin is not null, $"{layer} has no weight origin");
            Assert.Equal(n, origin!.Sum(s => s.Count));
            foreach (var s in origin)
            {
                var init = OnnxFiles.Floats(OnnxFiles.Initializer(model, s.Initializer));
                Assert.Equal(k * s.Count, init.Length);
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < s.Count; j++)
                    {
                        float expected = s.Frame == WeightFrame.AsIs ? init[i * s.Count + j] : init[j * k + i];
                        if (w[i * n + s.Offset + j] != expected) Assert.Fail($"{layer}: column {s.Offset + j} row {i} is not '{s.Initializer}' ({s.Frame})");
                    }
            }
        }
        output.WriteLine($"{family}: " + string.Join("; ", layers.Select(l => $"{l.Layer.Name} ← " +
            string.Join(" | ", WeightOrigins.ForLayer(l.Layer)!.Select(s => $"{s.Initializer}[{s.Offset}+{s.Count}]{(s.Frame == WeightFrame.AsIs ? "" : " " + s.Frame)}")))));
        if (family == "bert") Assert.Contains(layers, l => WeightOrigins.ForLayer(l.Layer)!.Count == 3); // merged q|k|v
        if (family == "bert") Assert.Contains(layers, l => WeightOrigins.ForLayer(l.Layer)!.Any(s => s.Frame == WeightFrame.Transposed)); // Gemm transB
        if (family == "vit") Assert.Contains(layers, l => WeightOrigins.ForLayer(l.Layer)!.Any(s => s.Frame == WeightFrame.ConvFilter));
    }

    /// <summary>
    /// What the build does: quantize each Dense weight in its [K,N] frame (INT8 per column, INT4 in blocks of 32 along K,
    /// or FP16), hand the result to DenseWeightReplacements with the layer's origin, write the reference file.
    /// </summary>
    [Theory]
    [InlineData("bert", "int8")]
    [InlineData("vit", "int8")]
    [InlineData("bert", "int4")]
    [InlineData("vit", "int4")]
    [InlineData("vit", "fp16")]
    public void Kernel_frame_quantization_written_back_gives_the_same_dequantized_weights(string family, string precision)
    {
        var path = Path.Combine(Repository.Fixture(family), "model.onnx");
        var replacements = new List<WeightReplacement>();
        var expected = new Dictionary<string, Dictionary<(int, int), float>>(); // initializer → (row, column) of the Dense frame → q·s
        foreach (var (layer, w, k, n) in DenseLayers(path))
        {
            var origin = WeightOrigins.ForLayer(layer)!;
            float[] dequantized;
            switch (precision)
            {
                case "int8":
                    var (q8, s8) = TestQuantizer.Int8PerAxis(w, new long[] { k, n }, 1);
                    replacements.AddRange(DenseWeightReplacements.Int8(origin, k, n, q8, s8, ActivationQuantization.Dynamic));
                    dequantized = TestQuantizer.Dequantize(q8, s8, TestQuantizer.PerAxisIndex(new long[] { k, n }, 1));
                    break;
                case "int4":
                    var (q4, s4) = TestQuantizer.Int4Blocked(w, new long[] { k, n }, 0, 32);
                    replacements.AddRange(DenseWeightReplacements.Int4(origin, k, n, q4, s4.Select(v => (Half)v).ToArray(), 32));
                    dequantized = TestQuantizer.Dequantize(q4, s4, TestQuantizer.BlockedIndex(new long[] { k, n }, 0, 32));
                    break;
                default:
                    var h = w.Select(v => (Half)v).ToArray();
                    replacements.AddRange(DenseWeightReplacements.Half(origin, k, n, h));
                    dequantized = h.Select(v => (float)v).ToArray();
                    break;
            }
            foreach (var s in origin)
            {
                var cells = expected[s.Initializer] = new Dictionary<(int, int), float>();
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < s.Count; j++)
                        cells[s.Frame == WeightFrame.AsIs ? (i, j) : (j, i)] = dequantized[i * n + s.Offset + j];
            }
        }

        using var dir = new TempDir();
        QuantizedOnnxWriter.Write(path, dir.File("quantized.onnx"), replacements);
        var probe = OnnxFiles.Load(dir.File("quantized.onnx"));
        foreach (var name in expected.Keys) OnnxFiles.AddFloatOutput(probe, name);
        OnnxFiles.Save(probe, dir.File("probe.onnx"));
        using var session = OnnxFiles.ReferenceSession(dir.File("probe.onnx"));
        var set = FixtureTestSet.Load(family);
        var values = OnnxFiles.Run(session, set.Batch(0, 1), expected.Keys.ToArray());
        var original = OnnxFiles.Load(path);
        foreach (var (name, cells) in expected)
        {
            var dims = OnnxFiles.Initializer(original, name).Dims;
            long columns = dims.Skip(1).Aggregate(1L, (a, b) => a * b); // a Conv filter [O,C,kh,kw] as [O, C·kh·kw]
            foreach (var ((r, c), v) in cells)
                if (values[name][r * columns + c] != v) Assert.Fail($"'{name}' [{r},{c}] is {values[name][r * columns + c]}, expected {v}");
        }

        using var fp32 = OnnxFiles.Session(path);
        using var quantized = OnnxFiles.ReferenceSession(dir.File("quantized.onnx"));
        double before = OnnxFiles.Accuracy(OnnxFiles.Logits(fp32, set), set), after = OnnxFiles.Accuracy(OnnxFiles.Logits(quantized, set), set);
        output.WriteLine($"{family} {precision} through the weight origins: {replacements.Count} initializers, accuracy FP32 {before:P1} → {after:P1}");
        Assert.True(after >= before - 0.05, $"accuracy fell from {before:P1} to {after:P1}");
    }

    /// <summary>Every node the lowering turns into a Dense with a constant weight, with that weight in the [K,N] frame.</summary>
    private static List<(Node Layer, float[] W, int K, int N)> DenseLayers(string path)
    {
        var graph = OnnxImporter.Import(path);
        ShapeInference.Run(graph);
        DeadCode.Run(graph);
        Fusion.Run(graph);
        DeadCode.Run(graph);
        var layers = new List<(Node, float[], int, int)>();
        foreach (var n in graph.Nodes)
        {
            if (n.Input(1)?.Const is not { } c) continue;
            var v = Enumerable.Range(0, (int)c.Count).Select(i => (float)c[i]).ToArray();
            switch (n.OpType)
            {
                case FusedOps.Dense or "MatMul" when c.Shape.Length == 2:
                    layers.Add((n, v, (int)c.Shape[0], (int)c.Shape[1]));
                    break;
                case "Gemm":
                    bool t = n.Int("transB", 0) != 0;
                    int rows = (int)c.Shape[t ? 1 : 0], cols = (int)c.Shape[t ? 0 : 1];
                    layers.Add((n, t ? Transpose(v, cols, rows) : v, rows, cols));
                    break;
                case "Conv" when n.Ints("strides") is { } s && n.Ints("kernel_shape") is { } kernel && s.SequenceEqual(kernel):
                    int o = (int)c.Shape[0], f = v.Length / o;
                    layers.Add((n, Transpose(v, o, f), f, o));
                    break;
            }
        }
        return layers;
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t[j * rows + i] = m[i * cols + j];
        return t;
    }
}
