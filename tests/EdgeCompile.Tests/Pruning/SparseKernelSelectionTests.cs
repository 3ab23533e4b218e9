using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using EdgeCompile.Tests.Shared;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// The sparse Dense kernel end to end: a real fixture with 80 % of each Dense weight zeroed by magnitude (in a copy of
/// its ONNX file written with the compiler's protobuf classes), compiled for <c>x64-avx2</c>, must run those layers on
/// <c>DenseSparse</c> and match ONNX Runtime on that same file; the unpruned fixture must keep every layer dense.
/// </summary>
public sealed class SparseKernelSelectionTests(ITestOutputHelper output)
{
    private const double Fraction = 0.8;

    /// <summary>
    /// Zeroes the <paramref name="fraction"/> smallest-magnitude entries of every 2-D float initializer that a MatMul or
    /// Gemm multiplies by (the Dense weights; embedding tables feed Gather and stay). Returns the new file and the
    /// pruned initializers' names.
    /// </summary>
    private static (string Path, List<string> Pruned) WriteMagnitudePruned(string family, double fraction, string dir)
    {
        var model = OnnxModelFile.Load(Path.Combine(Repository.Fixture(family), "model.onnx"));
        var graph = model.Graph;
        var denseWeights = graph.Node.Where(n => n.OpType is "MatMul" or "Gemm" && n.Input.Count > 1).Select(n => n.Input[1]).ToHashSet();
        var pruned = new List<string>();
        for (int t = 0; t < graph.Initializer.Count; t++)
        {
            var init = graph.Initializer[t];
            if (!denseWeights.Contains(init.Name) || init.Dims.Count != 2 || init.DataType != 1) continue;
            float[] values = init.FloatData.Count > 0 ? init.FloatData.ToArray()
                : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray();
            var order = values.Select(Math.Abs).OrderBy(v => v).ToArray();
            float threshold = order[(int)(fraction * (order.Length - 1))];
            int zeroed = 0, target = (int)Math.Round(fraction * values.Length);
            for (int i = 0; i < values.Length && zeroed < target; i++)
                if (Math.Abs(values[i]) <= threshold) { values[i] = 0; zeroed++; }
            graph.Initializer[t] = OnnxProtos.Floats(init.Name, init.Dims.ToArray(), values);
            pruned.Add(init.Name);
        }
        graph.ValueInfo.Clear();  // shapes are unchanged, but leave nothing stale for ONNX Runtime to check
        string path = Path.Combine(dir, family + ".sparse.onnx");
        OnnxModelFile.Save(model, path);
        return (path, pruned);
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("vit")]
    public void Magnitude_pruned_fixture_runs_its_dense_layers_sparse_and_matches_onnx_runtime(string family)
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-sparse-").FullName;
        try
        {
            var (path, pruned) = WriteMagnitudePruned(family, Fraction, dir);
            Assert.NotEmpty(pruned);
            var set = FixtureTestSet.Load(family);
            using var f = CompiledFixture.Compile(path, set.IsText ? "batch=8;sequence=64" : "batch=8", profile: "x64-avx2", threads: 2);
            var plan = f.Result.Plan!;

            // Every pruned weight ends in a Dense layer at density ≈ 0.2 (Q, K and V fused into one), below the x64-avx2
            // break-even: all go sparse. The only other FP32 Dense is ViT's patch embedding (a Conv, not pruned).
            var decisions = plan.SparseDecisions;
            foreach (var d in decisions) output.WriteLine($"{d.Node} {d.K}×{d.N} density {d.Density:0.000}: {d.Reason}");
            var low = decisions.Where(d => d.Density <= 1 - Fraction + 0.01).ToList();
            Assert.All(decisions, d => Assert.True(low.Contains(d) || d.Density > 0.9, $"{d.Node}: density {d.Density}"));
            Assert.InRange(low.Count, (pruned.Count + 2) / 3, pruned.Count);
            Assert.All(low, d => Assert.True(d.Sparse, d.Reason));
            Assert.Equal(low.Count, plan.Ops.Count(o => o.Kernel == "DenseSparse"));
            Assert.Contains(f.Result.Messages, m => m.Code == Codes.SparseKernels && m.Message.Contains("DenseSparse for " + low.Count));
            // Bytes: each sparse layer stores 6 bytes per nonzero + 4 per column, less than its dense panels.
            Assert.All(low, d => Assert.True(d.StoredBytes < d.DenseBytes, $"{d.Node}: {d.StoredBytes} ≥ {d.DenseBytes}"));

            // Against ONNX Runtime on the same pruned file: every test sample, logits within 1e-4, the same labels.
            int classes = int.Parse(f.Model.Info.Outputs[0].Shape.Last());
            double worst = 0;
            int agree = 0;
            Action? steady = null;
            for (int start = 0; start < set.Count; start += 8)
            {
                int count = Math.Min(8, set.Count - start);
                var inputs = set.Batch(start, count);
                var expected = f.RunOnnxRuntime(inputs);
                var actual = new float[count * classes];
                var dims = set.IsText ? new[] { count, inputs[0].Shape[1] } : new[] { count };
                f.Model.Run(dims, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
                for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
                for (int b = 0; b < count; b++) agree += ArgMax(actual, b, classes) == ArgMax(expected, b, classes) ? 1 : 0;
                steady ??= f.Model.Bind(dims, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
            }
            output.WriteLine($"{family}: {low.Count} sparse layers, max |logit diff| {worst:E2}, labels agree {agree}/{set.Count}");
            Assert.True(worst <= FixtureCompilerTests.Tolerance, $"max |logit diff| {worst:E3} > {FixtureCompilerTests.Tolerance}");
            Assert.Equal(set.Count, agree);

            // The generated code with sparse layers allocates nothing per run.
            Assert.Equal(0, SteadyStateAllocations.Bytes(steady!, calls: 5));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Unpruned_fixture_keeps_every_layer_dense_and_logs_nothing()
    {
        var set = FixtureTestSet.Load("bert");
        var dir = Directory.CreateTempSubdirectory("edgecompile-sparse-").FullName;
        try
        {
            var request = new CompileRequest(Path.Combine(Repository.Fixture("bert"), "model.onnx"), "Dense", "EdgeCompile.Tests.Generated", "batch=8;sequence=64", "x64-avx2",
                Path.Combine(dir, "m.edgeplan"), Path.Combine(dir, "m.edgeweights"), "m.edgeweights");
            var result = ModelCompiler.Compile(request);
            Assert.True(result.Success);
            Assert.NotEmpty(result.Plan!.SparseDecisions);
            Assert.All(result.Plan.SparseDecisions, d => Assert.False(d.Sparse, d.Reason));
            Assert.DoesNotContain(result.Plan.Ops, o => o.Kernel == "DenseSparse");
            Assert.DoesNotContain(result.Messages, m => m.Code == Codes.SparseKernels);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_rule_is_a_strict_threshold_per_profile()
    {
        foreach (string profile in new[] { "portable", "x64-avx2", "x64-avx512", "arm64-neon" })
            foreach (long rows in new long[] { 16, 128, 512 })
            {
                double be = SparseRule.BreakEven(profile, rows);
                Assert.InRange(be, 0.0, 0.5);
                long k = 100, n = 100, atBreakEven = (long)Math.Round(be * k * n);
                var at = SparseRule.Decide("x", profile, k, n, rows, atBreakEven, 40_000);
                Assert.False(at.Sparse, at.Reason);
                Assert.StartsWith("dense kept: density", at.Reason);
                Assert.Contains(profile, at.Reason);
                if (be == 0) continue;  // a profile where sparse never pays
                var below = SparseRule.Decide("x", profile, k, n, rows, atBreakEven - 1, 40_000);
                Assert.True(below.Sparse, below.Reason);
                Assert.StartsWith("sparse: density", below.Reason);
            }
        // Past 65536 rows of W the 16-bit indices cannot address: dense, whatever the density.
        Assert.False(SparseRule.Decide("x", "x64-avx2", 70_000, 4, 16, 1, 1).Sparse);
    }

    private static int ArgMax(float[] values, int row, int width)
    {
        int best = 0;
        for (int j = 1; j < width; j++) if (values[row * width + j] > values[row * width + best]) best = j;
        return best;
    }
}
