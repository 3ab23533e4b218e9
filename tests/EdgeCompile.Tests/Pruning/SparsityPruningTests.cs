using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Onnx.Proto;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// PruneMode NM and Unstructured on the fixtures: the plan computes what ONNX Runtime computes on the pruned ONNX file,
/// the zeros follow the pattern asked for (read from that file, against the original), SparseGPT's compensation lowers
/// the error on the calibration set, and quantization after pruning keeps the zeros.
/// </summary>
public sealed class SparsityPruningTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("bert", PruneMode.NM)]
    [InlineData("bert", PruneMode.Unstructured)]
    [InlineData("distilbert", PruneMode.NM)]
    [InlineData("distilbert", PruneMode.Unstructured)]
    [InlineData("vit", PruneMode.NM)]
    [InlineData("vit", PruneMode.Unstructured)]
    public void Pruned_plan_matches_onnx_runtime_and_the_zeros_follow_the_pattern(string family, PruneMode mode)
    {
        using var build = PrunedBuild.Compile(family, 0.5, calibrated: true, mode: mode);
        var set = FixtureTestSet.Load(family);
        var ours = build.InterpretedLogits(set, set.Count);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, set.Count);
        var unpruned = PrunedBuild.OnnxRuntimeLogits(FixturePlan.ModelPath(family), set, set.Count);
        double worst = FixturePlan.MaxAbsDifference(ours, reference), moved = FixturePlan.MaxAbsDifference(unpruned, reference);
        output.WriteLine($"{family} {mode} 0.5 calibrated: max |ours − ORT(pruned)| {worst:E2}; max |ORT(pruned) − ORT(original)| {moved:E2}");
        Assert.True(worst <= 1e-4, $"max |logit difference| {worst:E2} > 1e-4");
        Assert.Equal(Labels(reference, set.Count), Labels(ours, set.Count));
        Assert.True(moved > 1e-3, $"the pruned file's logits differ from the original's by only {moved:E2}");

        var changed = ChangedInitializers(FixturePlan.ModelPath(family), build.PrunedOnnx);
        var report = File.ReadAllText(build.PruningReport);
        output.WriteLine(report);
        // Per transformer layer q, k, v (one Dense, three initializers), the attention output, the FFN up and down
        // projections; 2 layers. Not the classifier head, the pooler (a Gemm) or the embeddings.
        Assert.Equal(12, changed.Count);
        foreach (var (name, dims, before, after) in changed)
        {
            Assert.Equal(2, dims.Length);
            int k = (int)dims[0], n = (int)dims[1];
            // MatMul weights [K,N]: the groups of 4 run along K (the fixtures have no Gemm with transB among the pruned layers).
            if (mode != PruneMode.NM) continue;
            for (int j = 0; j < n; j++)
                for (int g = 0; g < k; g += 4)
                {
                    int zeros = Enumerable.Range(g, Math.Min(4, k - g)).Count(r => after[r * n + j] == 0);
                    Assert.True(zeros >= 2 * Math.Min(4, k - g) / 4, $"{name}: column {j}, rows {g}..{g + 3} have {zeros} zeros");
                }
        }
        if (mode == PruneMode.Unstructured)
        {
            // Per layer, not per initializer: BERT's q, k and v are one Dense. Every layer here has an even K·N, so the
            // layers' round(0.5·K·N) add up to half of all the pruned weights; a few more zeros may come from inputs that
            // are zero on the whole calibration set (their weights cannot matter and are cleared).
            long zeros = changed.Sum(c => c.After.LongCount(v => v == 0)), total = changed.Sum(c => (long)c.After.Length);
            Assert.True(zeros >= total / 2 && zeros <= total / 2 + total / 100, $"{zeros} zeros of {total} pruned weights");
        }
        // The classifier head (the MatMul/Gemm nearest the logits) is not pruned.
        var head = HeadWeights(FixturePlan.ModelPath(family));
        Assert.NotEmpty(head);
        Assert.DoesNotContain(changed, c => head.Contains(c.Name));
    }

    [Theory]
    // Not bert Unstructured: every layer's calibration error is lower compensated, but the model's logits are not
    // (measured 0.0888 magnitude, 0.1002 compensated with H from the FP32 model, 0.0980 with H measured sequentially on the
    // partly pruned model, the default).
    // The layers' errors add up without being compensated for each other; see the README's known limits.
    [InlineData("bert", PruneMode.NM)]
    [InlineData("distilbert", PruneMode.Unstructured)]
    [InlineData("vit", PruneMode.NM)]
    [InlineData("vit", PruneMode.Unstructured)]
    public void Compensation_lowers_the_error_on_the_calibration_set(string family, PruneMode mode)
    {
        using var magnitude = PrunedBuild.Compile(family, 0.5, calibrated: true, compensate: false, mode: mode);
        using var compensated = PrunedBuild.Compile(family, 0.5, calibrated: true, mode: mode);
        // ONNX Runtime on each pruned file against the original model, on the calibration inputs.
        double errorMagnitude = magnitude.CalibrationError(), errorCompensated = compensated.CalibrationError();
        var report = File.ReadAllText(compensated.PruningReport);
        output.WriteLine($"{family} {mode} 0.5: logits relative error on the calibration set, magnitude {errorMagnitude:0.####}, compensated {errorCompensated:0.####}");
        output.WriteLine(report);
        Assert.True(errorCompensated < errorMagnitude, $"compensated {errorCompensated} ≥ magnitude {errorMagnitude}");
        Assert.Contains(compensated.Result.Messages, m => m.Message.Contains($"pruned 0.5 {mode}") && m.Message.Contains("compensated"));
    }

    /// <summary>
    /// SparseGPT's sequential order (each layer's H measured on the model with the earlier layers pruned) against H from
    /// the FP32 model and against magnitude pruning, all measured by ONNX Runtime on the pruned files: the logits error
    /// against the original model on the calibration inputs and on the test set, and test-set accuracy.
    /// </summary>
    [Theory]
    [InlineData("bert", PruneMode.Unstructured)]
    [InlineData("bert", PruneMode.NM)]
    [InlineData("distilbert", PruneMode.Unstructured)]
    [InlineData("distilbert", PruneMode.NM)]
    [InlineData("vit", PruneMode.Unstructured)]
    [InlineData("vit", PruneMode.NM)]
    public void Sequential_moments_against_fp32_moments(string family, PruneMode mode)
    {
        var set = FixtureTestSet.Load(family);
        var original = PrunedBuild.OnnxRuntimeLogits(FixturePlan.ModelPath(family), set, set.Count);
        (double Calibration, double Test, double Accuracy) Measure(bool compensate, bool sequential)
        {
            using var build = PrunedBuild.Compile(family, 0.5, calibrated: true, compensate: compensate, mode: mode, sequential: sequential);
            var logits = PrunedBuild.OnnxRuntimeLogits(build.PrunedOnnx, set, set.Count);
            return (build.CalibrationError(), PrunedBuild.RelativeError(logits, original), PrunedBuild.Accuracy(logits, set.Labels));
        }
        var magnitude = Measure(compensate: false, sequential: false);
        var oneShot = Measure(compensate: true, sequential: false);
        var sequential = Measure(compensate: true, sequential: true);
        string Cell((double Calibration, double Test, double Accuracy) m) => $"{m.Calibration:0.0000} / {m.Test:0.0000} / {m.Accuracy:P1}";
        output.WriteLine($"| {family} | {mode} 0.5 | {Cell(magnitude)} | {Cell(oneShot)} | {Cell(sequential)} | (FP32 accuracy {PrunedBuild.Accuracy(original, set.Labels):P1})");
        // Measured (load 20–26, 300 test samples; calibration / test-set logits error against the original, test accuracy):
        // bert NM 0.1149 → 0.0997 (test 0.146 → 0.132), vit NM 0.1410 → 0.1331 (0.159 → 0.149), bert Unstructured 0.1002 →
        // 0.0980 (magnitude 0.0888: the known limit stays), vit and distilbert within ±0.3 % on the calibration set.
        Assert.True(sequential.Calibration <= 1.01 * oneShot.Calibration, $"sequential {sequential.Calibration} > one-shot {oneShot.Calibration} on the calibration set");
        if (mode == PruneMode.NM) Assert.True(sequential.Calibration < magnitude.Calibration, $"sequential {sequential.Calibration} ≥ magnitude {magnitude.Calibration}");
    }

    /// <summary>Test-set accuracy against the fixtures' labels, FP32 against pruned with and without compensation.</summary>
    [Theory]
    [InlineData("bert")]
    [InlineData("distilbert")]
    [InlineData("vit")]
    public void Accuracy_with_and_without_compensation(string family)
    {
        var set = FixtureTestSet.Load(family);
        float[] Logits(double fraction, PruneMode mode, bool calibrated)
        {
            using var build = PrunedBuild.Compile(family, fraction, calibrated, mode: mode);
            return build.InterpretedLogits(set, set.Count);
        }
        var fp32 = Logits(0, PruneMode.Structured, false);
        string Row(float[] logits) => $"{PrunedBuild.Accuracy(logits, set.Labels):P1} (logits error {PrunedBuild.RelativeError(logits, fp32):0.###})";
        var rows = new List<string> { $"FP32 {Row(fp32)}" };
        var errors = new List<(PruneMode Mode, double Plain, double Calibrated)>();
        foreach (var mode in new[] { PruneMode.NM, PruneMode.Unstructured })
        {
            var plain = Logits(0.5, mode, false);
            var calibrated = Logits(0.5, mode, true);
            rows.Add($"{mode} 0.5 magnitude {Row(plain)}");
            rows.Add($"{mode} 0.5 SparseGPT {Row(calibrated)}");
            errors.Add((mode, PrunedBuild.RelativeError(plain, fp32), PrunedBuild.RelativeError(calibrated, fp32)));
        }
        output.WriteLine($"| {family} | {string.Join(" | ", rows)} |");
        // The logits are the less noisy measure. NM: with calibration they must be closer to the unpruned model's
        // (measured: 0.25 → 0.15 on all three). Unstructured magnitude pruning is already close on bert (0.093) and
        // SparseGPT measured 0.094 there on the test set, though lower in every layer: even with H measured on the model
        // pruned so far, each layer only fits its own (already perturbed) input, so the layers' errors add up.
        // Unstructured may therefore not be more than 5 % worse.
        foreach (var (mode, plain, calibrated) in errors)
            Assert.True(mode == PruneMode.NM ? calibrated < plain : calibrated < 1.05 * plain,
                $"{family} {mode}: calibration did not bring the test-set logits closer to FP32 ({calibrated:0.###} vs {plain:0.###})");
    }

    [Theory]
    [InlineData(QuantizeMode.Int8)]
    [InlineData(QuantizeMode.Int4)]
    public void Pruning_then_quantization_keeps_the_zeros(QuantizeMode quantize)
    {
        using var build = PrunedBuild.Compile("bert", 0.5, calibrated: true, quantize: quantize, calibratedQuantize: quantize == QuantizeMode.Int4, mode: PruneMode.NM);
        Assert.Contains(build.Result.Messages, m => m.Message.Contains("pruned 0.5 NM (2:4)"));
        Assert.Contains("## Pruning", File.ReadAllText(build.QuantizationReport));
        // The quantized reference starts from the pruned model: ORT on it agrees with the plan to the quantized
        // tolerance of QuantizationReferenceTests.
        var set = FixtureTestSet.Load("bert");
        var options = new SessionOptions { IntraOpNumThreads = 1 };
        options.AddSessionConfigEntry(QuantizedOnnxWriter.OrtAccuracyLevelKey, QuantizedOnnxWriter.OrtAccuracyLevelValue);
        var ours = build.InterpretedLogits(set, 32);
        var reference = PrunedBuild.OnnxRuntimeLogits(build.QuantizedOnnx, set, 32, options);
        double worst = FixturePlan.MaxAbsDifference(ours, reference);
        output.WriteLine($"bert NM 2:4 + {quantize}: max |ours − ORT(pruned+quantized reference)| {worst:E2}");
        Assert.True(worst <= 0.1, $"{worst:E2}");

        // The dequantized weights ONNX Runtime computes from the reference are zero wherever the pruned file has a zero.
        var pruned = ChangedInitializers(FixturePlan.ModelPath("bert"), build.PrunedOnnx);
        var dequantized = DequantizedWeights(build.QuantizedOnnx, pruned.Select(p => p.Name).ToList());
        foreach (var (name, _, _, after) in pruned)
        {
            var w = dequantized[name];
            int resurrected = Enumerable.Range(0, after.Length).Count(i => after[i] == 0 && w[i] != 0);
            Assert.True(resurrected == 0, $"{quantize}: {resurrected} pruned weights of '{name}' are not zero after quantization");
        }
    }

    [Fact]
    public void Gptq_leaves_pruned_weights_at_zero()
    {
        // Correlated inputs, so that GPTQ's updates reach every later row; a 2:4 pattern in the weight.
        int k = 64, n = 16, rows = 256;
        var random = new Random(5);
        var x = new double[rows * k];
        for (int r = 0; r < rows; r++)
        {
            double shared = random.NextDouble() * 2 - 1;
            for (int i = 0; i < k; i++) x[r * k + i] = shared + 0.3 * (random.NextDouble() * 2 - 1);
        }
        var h = new double[k * k];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) h[i * k + j] += x[r * k + i] * x[r * k + j];
        var w = new float[k * n];
        for (int i = 0; i < w.Length; i++) w[i] = (i / n) % 4 < 2 ? 0 : (float)(random.NextDouble() * 2 - 1);
        var (values, _) = Int4Gptq.Quantize(w, k, n, h)!.Value;
        for (int i = 0; i < w.Length; i++)
            if (w[i] == 0) Assert.Equal(0, values[i]);
        Assert.Contains(values, v => v != 0);
    }

    [Theory]
    [InlineData(2, 0.0)]
    [InlineData(0, 0.5)]
    public void SparseGpt_beats_magnitude_on_correlated_inputs(int nmRemoved, double unstructured)
    {
        // Inputs with a shared component, so that a removed weight's contribution can be moved to its neighbours.
        int k = 48, n = 12, rows = 400;
        var random = new Random(11);
        var x = new double[rows * k];
        for (int r = 0; r < rows; r++)
        {
            double shared = random.NextDouble() * 2 - 1;
            for (int i = 0; i < k; i++) x[r * k + i] = shared + 0.5 * (random.NextDouble() * 2 - 1);
        }
        var h = new double[k * k];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) h[i * k + j] += x[r * k + i] * x[r * k + j];
        var w = new double[k * n];
        for (int i = 0; i < w.Length; i++) w[i] = random.NextDouble() * 2 - 1;
        var pattern = nmRemoved > 0 ? SparsityPattern.NM(nmRemoved) : SparsityPattern.Unstructured(unstructured);

        var mask = pattern.MagnitudeMask(w, k, n);
        var magnitude = w.Select((v, i) => mask[i] ? 0 : v).ToArray();
        var compensated = SparseGpt.Prune(w, k, n, h, pattern)!;
        Assert.Equal(magnitude.Count(v => v == 0), compensated.Count(v => v == 0));
        if (pattern.IsNM)
            for (int j = 0; j < n; j++)
                for (int g = 0; g < k; g += 4)
                    Assert.Equal(nmRemoved, Enumerable.Range(g, 4).Count(r => compensated[r * n + j] == 0));

        // The output error measured directly on the rows, ‖X·(W − Ŵ)‖ / ‖X·W‖.
        double Error(double[] pruned)
        {
            double diff = 0, norm = 0;
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < n; j++)
                {
                    double y = 0, yp = 0;
                    for (int i = 0; i < k; i++) { y += x[r * k + i] * w[i * n + j]; yp += x[r * k + i] * pruned[i * n + j]; }
                    diff += (y - yp) * (y - yp);
                    norm += y * y;
                }
            return Math.Sqrt(diff / norm);
        }
        double errorMagnitude = Error(magnitude), errorCompensated = Error(compensated);
        output.WriteLine($"{pattern}: output error magnitude {errorMagnitude:0.####}, SparseGPT {errorCompensated:0.####}");
        Assert.True(errorCompensated < 0.8 * errorMagnitude, $"SparseGPT {errorCompensated} vs magnitude {errorMagnitude}");
        Assert.Equal(errorMagnitude, SparseGpt.RelativeError(h, w, magnitude, k, n), 1e-9);
    }

    [Theory]
    [InlineData(0.1, Codes.NmFractionUnusable)]
    [InlineData(0.9, Codes.NmFractionUnusable)]
    public void Nm_fractions_that_remove_none_or_all_are_coded_errors(double fraction, string code)
    {
        var request = new CompileRequest(FixturePlan.ModelPath("bert"), "M", "N", "batch=1;sequence=8", "portable", "unused.edgeplan", "unused.edgeweights", "r",
            Prune: new PruneOptions { Mode = PruneMode.NM, Fraction = fraction });
        var e = Assert.Throws<CompilerException>(() => ModelCompiler.Build(request, new List<CompilerMessage>()));
        Assert.Equal(code, e.Code);
        Assert.Contains("Use Prune=", e.Message);
    }

    [Fact]
    public void Nm_fraction_not_a_multiple_of_a_quarter_is_rounded_with_a_warning()
    {
        using var build = PrunedBuild.Compile("bert", 0.3, calibrated: false, mode: PruneMode.NM);
        Assert.Contains(build.Result.Messages, m => m.Severity == Severity.Warning && m.Code == Codes.NmFractionRounded && m.Message.Contains("1:4"));
        var changed = ChangedInitializers(FixturePlan.ModelPath("bert"), build.PrunedOnnx);
        Assert.NotEmpty(changed);
        // 1 of every 4: a quarter of each pruned weight is zero.
        foreach (var c in changed) Assert.Equal(c.After.Length / 4, c.After.Count(v => v == 0));
    }

    private static List<long> Labels(float[] logits, int count)
    {
        int classes = logits.Length / count;
        return Enumerable.Range(0, count).Select(s => (long)Enumerable.Range(0, classes).MaxBy(j => logits[s * classes + j])).ToList();
    }

    /// <summary>The weight initializers of the MatMul/Gemm nodes first reached walking back from the graph outputs.</summary>
    private static HashSet<string> HeadWeights(string onnx)
    {
        var graph = OnnxModelFile.Load(onnx).Graph;
        var producers = new Dictionary<string, NodeProto>();
        foreach (var node in graph.Node)
            foreach (var o in node.Output) producers[o] = node;
        var heads = new HashSet<string>();
        var seen = new HashSet<string>();
        var pending = new Stack<string>(graph.Output.Select(o => o.Name));
        while (pending.Count > 0)
        {
            var value = pending.Pop();
            if (!seen.Add(value) || !producers.TryGetValue(value, out var producer)) continue;
            if (producer.OpType is "MatMul" or "Gemm") { heads.Add(producer.Input[1]); continue; }
            foreach (var i in producer.Input) pending.Push(i);
        }
        return heads;
    }

    private static Dictionary<string, (long[] Dims, float[] Values)> Initializers(string onnx) =>
        OnnxModelFile.Load(onnx).Graph.Initializer.Where(t => t.DataType == OnnxDataType.Float)
            .ToDictionary(t => t.Name, t => (t.Dims.ToArray(), OnnxProtos.ReadFloats(t)));

    /// <summary>The float initializers whose values differ between two ONNX files (same names, same shapes).</summary>
    private static List<(string Name, long[] Dims, float[] Before, float[] After)> ChangedInitializers(string original, string pruned)
    {
        var before = Initializers(original);
        return Initializers(pruned).Where(p => !before[p.Key].Values.AsSpan().SequenceEqual(p.Value.Values))
            .Select(p => (p.Key, p.Value.Dims, before[p.Key].Values, p.Value.Values)).ToList();
    }

    /// <summary>
    /// ONNX Runtime's values of named tensors of a reference ONNX file (the dequantized weights keep their initializer
    /// names): the file with those names added as graph outputs, run on one test sample.
    /// </summary>
    private static Dictionary<string, float[]> DequantizedWeights(string onnx, List<string> names)
    {
        var model = OnnxModelFile.Load(onnx);
        foreach (var name in names)
            model.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxDataType.Float } } });
        var path = Path.Combine(Path.GetDirectoryName(onnx)!, "weights-as-outputs.onnx");
        OnnxModelFile.Save(model, path);
        var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(path, options);
        var set = FixtureTestSet.Load("bert");
        var outputs = FixturePlan.RunOnnxRuntime(session, set.Batch(0, 1), names.ToArray());
        return names.ToDictionary(n => n, n => outputs[n]);
    }
}
