using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using EdgeCompile.Tests.Shared;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// The sparse Dense kernel end to end. A real fixture with 80 % of each Dense weight zeroed by magnitude (in a copy of
/// its ONNX file written with the compiler's protobuf classes), compiled for <c>x64-avx2</c>: by the measured rule its
/// 64-wide layers stay dense (the sparse kernel never pays at that size, BENCHMARKS.md), with that reason; with
/// <see cref="SparseKernelMode.Always"/> they all run on <c>DenseSparse</c>, which must match ONNX Runtime on that
/// same file (generated code and the build's interpreter) and allocate nothing. A 768×768 layer at density 0.1 goes
/// sparse by the rule itself. The unpruned fixture keeps every layer dense and logs nothing.
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
    public void Magnitude_pruned_fixture_keeps_its_small_layers_dense_by_the_rule(string family)
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-sparse-").FullName;
        try
        {
            var (path, pruned) = WriteMagnitudePruned(family, Fraction, dir);
            var set = FixtureTestSet.Load(family);
            var request = new CompileRequest(path, "Pruned", "EdgeCompile.Tests.Generated", set.IsText ? "batch=8;sequence=64" : "batch=8", "x64-avx2",
                Path.Combine(dir, "m.edgeplan"), Path.Combine(dir, "m.edgeweights"), "m.edgeweights");
            var result = ModelCompiler.Compile(request);
            Assert.True(result.Success);
            var low = result.Plan!.SparseDecisions.Where(d => d.Density <= 1 - Fraction + 0.01).ToList();
            Assert.InRange(low.Count, (pruned.Count + 2) / 3, pruned.Count);
            Assert.All(low, d => Assert.False(d.Sparse, d.Reason));
            Assert.All(low, d => Assert.Contains($"below {SparseRule.MinSide} on a side", d.Reason));
            Assert.DoesNotContain(result.Plan.Ops, o => o.Kernel == "DenseSparse");
            var line = Assert.Single(result.Messages, m => m.Code == Codes.SparseKernels);
            Assert.Contains("DenseSparse for 0 of", line.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("vit")]
    public void Magnitude_pruned_fixture_on_DenseSparse_matches_onnx_runtime(string family)
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-sparse-").FullName;
        try
        {
            var (path, pruned) = WriteMagnitudePruned(family, Fraction, dir);
            Assert.NotEmpty(pruned);
            var set = FixtureTestSet.Load(family);
            using var f = CompiledFixture.Compile(path, set.IsText ? "batch=8;sequence=64" : "batch=8", profile: "x64-avx2", threads: 2,
                sparseKernels: SparseKernelMode.Always);
            var plan = f.Result.Plan!;

            // Every pruned weight ends in a Dense layer at density ≈ 0.2 (Q, K and V fused into one): all go sparse. The
            // only other FP32 Dense is ViT's patch embedding (a Conv, not pruned).
            var decisions = plan.SparseDecisions;
            foreach (var d in decisions) output.WriteLine($"{d.Node} {d.K}×{d.N} density {d.Density:0.000}: {d.Reason}");
            var low = decisions.Where(d => d.Density <= 1 - Fraction + 0.01).ToList();
            Assert.All(decisions, d => Assert.True(low.Contains(d) || d.Density > 0.9, $"{d.Node}: density {d.Density}"));
            Assert.InRange(low.Count, (pruned.Count + 2) / 3, pruned.Count);
            Assert.All(low, d => Assert.True(d.Sparse, d.Reason));
            Assert.Equal(low.Count, plan.Ops.Count(o => o.Kernel == "DenseSparse"));
            Assert.Contains(f.Result.Messages, m => m.Code == Codes.SparseKernels && m.Message.Contains("DenseSparse for " + low.Count));
            // Bytes: each sparse layer stores 6 bytes per nonzero + 4 per column, less than its dense panels, and the
            // weights blob holds exactly that: it shrinks by the difference against the same file compiled all dense.
            Assert.All(low, d => Assert.True(d.StoredBytes < d.DenseBytes, $"{d.Node}: {d.StoredBytes} ≥ {d.DenseBytes}"));
            var dense = ModelCompiler.Compile(new CompileRequest(path, "AllDense", "EdgeCompile.Tests.Generated", set.IsText ? "batch=8;sequence=64" : "batch=8", "x64-avx2",
                Path.Combine(dir, "d.edgeplan"), Path.Combine(dir, "d.edgeweights"), "d.edgeweights", SparseKernels: SparseKernelMode.Never));
            long saved = low.Sum(d => d.DenseBytes - d.SparseBytes);
            output.WriteLine($"{family}: weights {dense.Plan!.WeightBytes:N0} bytes all dense, {plan.WeightBytes:N0} with {low.Count} sparse layers");
            Assert.InRange(dense.Plan.WeightBytes - plan.WeightBytes, saved - 64L * low.Count * 3, saved + 64L * low.Count * 3);  // blob alignment padding

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

            // The build's plan interpreter (calibration, accuracy measurement) runs DenseSparse through its KernelTable too.
            var first = set.Batch(0, 8);
            var interpreterDims = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (name, _) in plan.Dimensions)
                interpreterDims[name] = name.Contains("batch", StringComparison.OrdinalIgnoreCase) ? 8 : first[0].Shape[1];
            var interpreted = (float[])new PlanInterpreter(plan).Run(first.Select(i => i.Values).ToArray(), interpreterDims)[0];
            var reference = f.RunOnnxRuntime(first);
            double worstInterpreted = 0;
            for (int i = 0; i < reference.Length; i++) worstInterpreted = Math.Max(worstInterpreted, Math.Abs(interpreted[i] - reference[i]));
            output.WriteLine($"{family}: interpreter max |logit diff| {worstInterpreted:E2} on the first 8 samples");
            Assert.True(worstInterpreted <= FixtureCompilerTests.Tolerance, $"interpreter: max |logit diff| {worstInterpreted:E3}");

            // The generated code with sparse layers allocates nothing per run.
            Assert.Equal(0, SteadyStateAllocations.Bytes(steady!, calls: 5));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Large_layer_below_break_even_goes_sparse_by_the_rule_and_matches_onnx_runtime()
    {
        // y = x·W + b, x [batch,16,768], W 768×768 at density 0.1 (random positions), 32 rows at batch 2: below x64-avx2's 0.20.
        const int K = 768, N = 768;
        var rng = new Random(7);
        var w = new float[K * N];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextDouble() < 0.1 ? (float)(rng.NextDouble() * 2 - 1) : 0f;
        var bias = new float[N];
        for (int j = 0; j < N; j++) bias[j] = (float)(rng.NextDouble() - 0.5);
        var dir = Directory.CreateTempSubdirectory("edgecompile-sparse-").FullName;
        try
        {
            string path = new OnnxModelBuilder().Input("x", "batch", 16, K).Output("y", "batch", 16, N)
                .TypedInitializer("W", new long[] { K, N }, w).TypedInitializer("b", new long[] { N }, bias)
                .Node("MatMul", "/fc/MatMul", new[] { "x", "W" }, new[] { "xw" })
                .Node("Add", "/fc/Add", new[] { "xw", "b" }, new[] { "y" })
                .Save(Path.Combine(dir, "fc.onnx"));
            using var f = CompiledFixture.Compile(path, "batch=2", profile: "x64-avx2");
            var d = Assert.Single(f.Result.Plan!.SparseDecisions);
            Assert.True(d.Sparse, d.Reason);
            Assert.StartsWith("sparse: density 0.10 below break-even 0.20 for x64-avx2, 32 rows", d.Reason);
            Assert.Single(f.Result.Plan.Ops, o => o.Kernel == "DenseSparse");

            var x = new float[2 * 16 * K];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var expected = f.RunOnnxRuntime(new List<(string, Array, int[])> { ("x", x, new[] { 2, 16, K }) }, output: "y");
            var actual = new float[2 * 16 * N];
            f.Model.Run(new[] { 2 }, new Array[] { x }, new Array[] { actual });
            double worst = 0;
            for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
            Assert.True(worst <= FixtureCompilerTests.Tolerance, $"max |y diff| {worst:E3}");
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
                Assert.InRange(be, 0.05, 0.5);
                Assert.Equal(0, SparseRule.BreakEven(profile, 64, 1000, rows));  // too small a layer: never
                long k = 1000, n = 1000, atBreakEven = (long)Math.Round(be * k * n);
                var at = SparseRule.Decide("x", profile, k, n, rows, atBreakEven, 4_000_000);
                Assert.False(at.Sparse, at.Reason);
                Assert.StartsWith("dense kept: density", at.Reason);
                Assert.Contains(profile, at.Reason);
                var below = SparseRule.Decide("x", profile, k, n, rows, atBreakEven - 1, 4_000_000);
                Assert.True(below.Sparse, below.Reason);
                Assert.StartsWith("sparse: density", below.Reason);
            }
        // Past 65536 rows of W the 16-bit indices cannot address: dense, whatever the density or the mode.
        Assert.False(SparseRule.Decide("x", "x64-avx2", 70_000, 400, 16, 1, 1, SparseKernelMode.Always).Sparse);
        Assert.False(SparseRule.Decide("x", "x64-avx2", 1000, 1000, 16, 1, 1, SparseKernelMode.Never).Sparse);
        Assert.True(SparseRule.Decide("x", "x64-avx2", 64, 64, 16, 2048, 1, SparseKernelMode.Always).Sparse);
        Assert.False(SparseRule.Decide("x", "x64-avx2", 64, 64, 16, 2049, 1, SparseKernelMode.Always).Sparse);
    }

    private static int ArgMax(float[] values, int row, int width)
    {
        int best = 0;
        for (int j = 1; j < width; j++) if (values[row * width + j] > values[row * width + best]) best = j;
        return best;
    }
}
