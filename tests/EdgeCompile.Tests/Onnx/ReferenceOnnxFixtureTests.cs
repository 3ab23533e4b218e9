using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Onnx;

/// <summary>
/// The reference ONNX file of real fixtures with every MatMul/Gemm/Conv weight replaced: ONNX Runtime loads it with all
/// graph optimisations, the dequantized weights are exactly q·s, and the model stays about as accurate as in FP32.
/// </summary>
public sealed class ReferenceOnnxFixtureTests(ITestOutputHelper output)
{
    private static readonly string[] WeightOps = { "MatMul", "Gemm", "Conv" };

    public static TheoryData<string> Families => new() { "bert", "vit" };

    public static TheoryData<string> AllFamilies
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var family in FixtureCompilerTests.FamilyNames) data.Add(family);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Int8_per_column_weights_and_dynamic_activations(string family)
    {
        using var dir = new TempDir();
        var (path, model, set) = Load(family);
        var plan = OnnxFiles.Weights(model, WeightOps).Select(w =>
        {
            int axis = OutputAxis(w.Op, w.Node);
            var (q, s) = TestQuantizer.Int8PerAxis(OnnxFiles.Floats(OnnxFiles.Initializer(model, w.Name)), w.Dims, axis);
            return (w.Name, w.Dims, Replacement: (WeightReplacement)new Int8WeightReplacement(w.Name, q, s, axis, ActivationQuantization.Dynamic),
                Expected: TestQuantizer.Dequantize(q, s, TestQuantizer.PerAxisIndex(w.Dims, axis)));
        }).ToList();
        Check(dir, family, path, set, plan.Select(p => (p.Name, p.Replacement, p.Expected)).ToList(), maxAccuracyDrop: 0.03);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Int8_with_static_activation_scales(string family)
    {
        // A static scale per layer as calibration would give it: the largest |activation| of the test set over 127 is
        // not known here, so a generous fixed range (|x| ≤ 8 for these LayerNorm'd models) stands in for it.
        using var dir = new TempDir();
        var (path, model, set) = Load(family);
        var plan = OnnxFiles.Weights(model, WeightOps).Select(w =>
        {
            int axis = OutputAxis(w.Op, w.Node);
            var (q, s) = TestQuantizer.Int8PerAxis(OnnxFiles.Floats(OnnxFiles.Initializer(model, w.Name)), w.Dims, axis);
            return (w.Name, (WeightReplacement)new Int8WeightReplacement(w.Name, q, s, axis, ActivationQuantization.Static(8f / 127)),
                TestQuantizer.Dequantize(q, s, TestQuantizer.PerAxisIndex(w.Dims, axis)));
        }).ToList();
        Check(dir, family, path, set, plan, maxAccuracyDrop: 0.05);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Fp16_weights(string family)
    {
        using var dir = new TempDir();
        var (path, model, set) = Load(family);
        var plan = OnnxFiles.Weights(model, WeightOps).Select(w =>
        {
            var h = OnnxFiles.Floats(OnnxFiles.Initializer(model, w.Name)).Select(v => (Half)v).ToArray();
            return (w.Name, (WeightReplacement)new HalfWeightReplacement(w.Name, h), h.Select(v => (float)v).ToArray());
        }).ToList();
        Check(dir, family, path, set, plan, maxAccuracyDrop: 0.01);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Int4_blocked_weights_at_opset_21(string family)
    {
        using var dir = new TempDir();
        var (path, model, set) = Load(family);
        var plan = OnnxFiles.Weights(model, WeightOps).Select(w =>
        {
            // Blocks run along the kernel's K: axis 0 of a MatMul weight, axis 1 of a transposed Gemm weight, and C·kh·kw of a
            // Conv filter, written as the [O, C·kh·kw] view of the [O,C,kh,kw] initializer.
            long[] view = w.Op == "Conv" ? new[] { w.Dims[0], w.Dims.Skip(1).Aggregate(1L, (a, b) => a * b) } : w.Dims;
            int axis = 1 - OutputAxis(w.Op, w.Node);
            var (q, s) = TestQuantizer.Int4Blocked(OnnxFiles.Floats(OnnxFiles.Initializer(model, w.Name)), view, axis, 32);
            return (w.Name, (WeightReplacement)new Int4WeightReplacement(w.Name, q, s, axis, 32, w.Op == "Conv" ? view : null),
                TestQuantizer.Dequantize(q, s, TestQuantizer.BlockedIndex(view, axis, 32)));
        }).ToList();
        var written = Check(dir, family, path, set, plan, maxAccuracyDrop: 0.05);
        Assert.Equal(21, OnnxFiles.Load(written).OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version);
        using var defaults = OnnxFiles.Session(written);
        // ONNX Runtime's default MatMulNBits accuracy level (4) also quantizes activations: reported, not the oracle.
        output.WriteLine($"{family} INT4 with ONNX Runtime's default MatMulNBits accuracy level: accuracy {OnnxFiles.Accuracy(OnnxFiles.Logits(defaults, set), set):P1}");
    }

    /// <summary>
    /// Raising every fixture to opset 21 (ReduceMean's axes become an input, Split gains num_outputs) changes no output:
    /// each of their ops (tests/fixtures/OPS.md) means the same at opset 21.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllFamilies))]
    public void Raising_the_opset_keeps_every_output(string family)
    {
        var (path, model, set) = Load(family);
        OpsetUpgrade.Raise(model, 21);
        Assert.Equal(21, model.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version);
        Assert.All(model.Graph.Node.Where(n => n.OpType.StartsWith("Reduce")),
            n => Assert.True(n.Input.Count == 2 && n.Attribute.All(a => a.Name != "axes"), $"{n.OpType} keeps an axes attribute at opset 21"));
        Assert.All(model.Graph.Node.Where(n => n.OpType == "Split"),
            n => Assert.True(n.Input.Count == 2 && n.Input[1].Length > 0 || n.Attribute.Any(a => a.Name == "num_outputs"), "Split has neither split nor num_outputs"));
        using var dir = new TempDir();
        OnnxFiles.Save(model, dir.File("raised.onnx"));
        using var original = OnnxFiles.Session(path);
        using var raised = OnnxFiles.Session(dir.File("raised.onnx"));
        var batch = set.Batch(0, 20);
        // Equal up to float rounding: ONNX Runtime may pick other kernels or fusions per opset (EfficientFormer differs by ~1e-7).
        var expected = OnnxFiles.Run(original, batch, "logits")["logits"];
        var actual = OnnxFiles.Run(raised, batch, "logits")["logits"];
        double diff = OnnxFiles.MaxAbsDiff(expected, actual);
        output.WriteLine($"{family} at opset 21: max |logit diff| {diff:E2}");
        Assert.True(diff <= 1e-5 * Math.Max(1, expected.Max(v => Math.Abs(v))), $"max |logit diff| {diff:E3} after raising the opset");
    }

    /// <summary>Writes the file, checks the dequantized weights bit for bit and the accuracy; returns the written path.</summary>
    private string Check(TempDir dir, string family, string path, FixtureTestSet set, List<(string Name, WeightReplacement Replacement, float[] Expected)> plan,
        double maxAccuracyDrop)
    {
        Assert.NotEmpty(plan);
        string written = dir.File("quantized.onnx"), probe = dir.File("probe.onnx");
        QuantizedOnnxWriter.Write(path, written, plan.Select(p => p.Replacement).ToList());

        // The dequantized weights, exposed as extra outputs of a copy: exactly q·s (or the Half values) in float.
        var copy = OnnxFiles.Load(written);
        Assert.DoesNotContain(copy.Graph.Initializer, t => plan.Any(p => p.Name == t.Name));
        foreach (var p in plan) OnnxFiles.AddFloatOutput(copy, p.Name);
        OnnxFiles.Save(copy, probe);
        using (var session = OnnxFiles.ReferenceSession(probe))
        {
            var values = OnnxFiles.Run(session, set.Batch(0, 1), plan.Select(p => p.Name).ToArray());
            foreach (var p in plan) Assert.True(p.Expected.SequenceEqual(values[p.Name]), $"dequantized '{p.Name}' differs from q·s");
        }

        using var fp32 = OnnxFiles.Session(path);
        using var quantized = OnnxFiles.ReferenceSession(written);
        var reference = OnnxFiles.Logits(fp32, set);
        var actual = OnnxFiles.Logits(quantized, set);
        double diff = OnnxFiles.MaxAbsDiff(reference, actual), scale = reference.Max(v => Math.Abs(v));
        double before = OnnxFiles.Accuracy(reference, set), after = OnnxFiles.Accuracy(actual, set);
        string kind = plan[0].Replacement switch
        {
            Int8WeightReplacement q => q.Activation is { IsDynamic: true } ? "INT8 dynamic" : "INT8 static",
            Int4WeightReplacement => "INT4",
            _ => "FP16",
        };
        output.WriteLine($"{family} {kind}: {plan.Count} weights, max |logit diff| {diff:G3} (max |logit| {scale:G3}), accuracy FP32 {before:P1} → {after:P1}");
        Assert.True(diff > 0, "the quantized model computes exactly the FP32 logits: nothing was replaced");
        Assert.True(diff < 0.2 * scale, $"max |logit diff| {diff} is not small next to the logits (max {scale})");
        Assert.True(after >= before - maxAccuracyDrop, $"accuracy fell from {before:P1} to {after:P1}");
        return written;
    }

    private static (string Path, ModelProto Model, FixtureTestSet Set) Load(string family)
    {
        var path = Path.Combine(Repository.Fixture(family), "model.onnx");
        return (path, OnnxFiles.Load(path), FixtureTestSet.Load(family));
    }

    /// <summary>The initializer axis that indexes the layer's output columns: N of a MatMul [K,N], of a Gemm by transB, O of a Conv.</summary>
    private static int OutputAxis(string op, NodeProto node) => op switch
    {
        "MatMul" => 1,
        "Gemm" => node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1 ? 0 : 1,
        _ => 0,
    };
}
