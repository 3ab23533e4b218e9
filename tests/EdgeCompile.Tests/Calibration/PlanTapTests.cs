using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Compiler;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Calibration;

/// <summary>
/// The tap sees the ops it selects, with the values ONNX Runtime computes for the same tensors: the x of every Dense
/// is compared with the input of the ONNX MatMul/Gemm node the Dense was fused from (exposed as an extra output).
/// </summary>
public sealed class PlanTapTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("bert")]
    [InlineData("vit")]
    public void Dense_inputs_are_the_values_onnx_runtime_computes(string family)
    {
        var set = FixtureTestSet.Load(family);
        var plan = FixturePlan.Build(family, set.IsText ? "batch=2;sequence=64" : "batch=2");
        var inputs = set.Batch(3, 2);
        var dims = set.IsText ? new Dictionary<string, long> { ["batch"] = 2, ["sequence"] = 64 } : new Dictionary<string, long> { ["batch"] = 2 };

        var seen = new List<(PlanOp Op, int Index, float[] Values)>();
        var tap = PlanTap.ForKernels(new[] { "Dense" }, (op, index, values) => seen.Add((op, index, values.ToArray())));
        new PlanInterpreter(plan).Run(inputs.Select(i => i.Values).ToArray(), dims, tap);

        // Every Dense op, in schedule order, each float input once (x, packed weights, and the bias when present).
        var denseOps = plan.Ops.Where(o => o.Kernel == "Dense").ToList();
        Assert.NotEmpty(denseOps);
        var expectedCalls = denseOps.SelectMany(o => Enumerable.Range(0, o.Inputs.Count).Where(i => o.Inputs[i] is not null).Select(i => (o, i)));
        Assert.Equal(expectedCalls, seen.Select(s => (s.Op, s.Index)));

        // The x of a Dense fused from an ONNX MatMul/Gemm (+ Add) is that MatMul's first input.
        var onnx = new OnnxIntermediates(FixturePlan.ModelPath(family));
        var compared = denseOps.Select(op => (Op: op, X: onnx.DenseInput(op.Node))).Where(p => p.X is not null).ToList();
        foreach (var op in denseOps) output.WriteLine($"Dense {op.Node}: x = {onnx.DenseInput(op.Node) ?? "(not an ONNX value)"}");
        Assert.True(compared.Count >= denseOps.Count / 2, $"only {compared.Count} of {denseOps.Count} Dense ops map to an ONNX MatMul/Gemm");
        using var session = onnx.SessionExposing(compared.Select(p => p.X!));
        var reference = FixturePlan.RunOnnxRuntime(session, inputs, compared.Select(p => p.X!).Distinct().ToArray());
        double worst = 0;
        foreach (var (op, name) in compared)
        {
            var x = seen.Single(s => s.Op == op && s.Index == 0).Values;
            var expected = reference[name!];
            Assert.Equal(expected.Length, x.Length);
            for (int i = 0; i < x.Length; i++)
                worst = Math.Max(worst, Math.Abs(x[i] - expected[i]) / Math.Max(1.0, Math.Abs(expected[i])));
        }
        output.WriteLine($"{family}: {denseOps.Count} Dense ops, {compared.Count} compared with ONNX Runtime, max relative diff of x {worst:E2}");
        Assert.True(worst <= 1e-4, $"max relative difference {worst:E3}");
    }

    [Fact]
    public void Output_tap_sees_what_the_op_wrote()
    {
        var set = FixtureTestSet.Load("mobilevit");
        var plan = FixturePlan.Build("mobilevit", "batch=1");
        var last = plan.Ops.Last(o => o.Outputs.Contains(plan.Outputs[0].Tensor));
        float[]? tapped = null;
        var tap = new PlanTap(op => op == last, onInput: null, onOutput: (op, index, values) => tapped = values.ToArray());
        var logits = (float[])new PlanInterpreter(plan).Run(new[] { set.Batch(0, 1)[0].Values }, new Dictionary<string, long> { ["batch"] = 1 }, tap)[0];
        Assert.NotNull(tapped);
        Assert.Equal(logits, tapped);
    }
}
