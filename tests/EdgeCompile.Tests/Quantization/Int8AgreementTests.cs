using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Quantization;

/// <summary>
/// How far <c>Quantize="Int8"</c> (no calibration: dynamic per-row activation scales, INT8 embedding tables) moves
/// the logits from FP32, per input, next to ONNX Runtime's dynamic INT8 (<c>quantize_dynamic</c> defaults, written
/// by <see cref="OrtDynamicQuantization"/>) against ONNX Runtime FP32 on the same inputs. The relative L2 error of
/// one input's logits varies by 10× and more from input to input (see BENCHMARKS, "INT8 vs FP32 agreement"), so a
/// single input says little: the tests compare medians over many inputs.
/// </summary>
public sealed class Int8AgreementTests(ITestOutputHelper output)
{
    /// <summary>
    /// Median of EdgeCompile's per-input error may be at most this many times ONNX Runtime dynamic's. Measured
    /// (session 6): fixtures 0.7–2.3× (bert 0.0015 vs 0.00066), benchmark models 1.1–2.9× (DistilBERT 0.0087 vs
    /// 0.0030, TinyBERT-4 1.9×; ONNX Runtime keeps the embedding tables FP32 and quantizes activations per tensor).
    /// A wrong scale axis, a lost bias or a wrong zero point gives 10× and more.
    /// </summary>
    private const double MaxRatioToOrtDynamic = 4;

    /// <summary>Floor of the allowed median, for models on which ONNX Runtime dynamic is almost exact (bert fixture: 0.00066).</summary>
    private const double MedianFloor = 0.002;

    public static TheoryData<string> FixtureFamilies => new() { "bert", "distilbert", "mobilebert", "vit" };

    [Theory]
    [MemberData(nameof(FixtureFamilies))]
    public void Int8_logits_stay_as_close_to_fp32_as_onnx_runtime_dynamic_on_the_fixture_test_set(string family)
    {
        var set = FixtureTestSet.Load(family);
        string model = FixturePlan.ModelPath(family);
        string shapes = set.IsText ? "batch=8;sequence=64" : "batch=8";
        var fp32 = new PlanInterpreter(BuildPlan(model, shapes, null));
        var int8 = new PlanInterpreter(BuildPlan(model, shapes, new QuantizeOptions { Mode = QuantizeMode.Int8 }));
        string dynamicPath = Path.Combine(Path.GetTempPath(), $"ec-int8agreement-{family}-{Environment.ProcessId}.onnx");
        OrtDynamicQuantization.WriteOrtDynamicQuantized(model, dynamicPath, perChannel: false);
        try
        {
            using var ortFp32 = new InferenceSession(model, new SessionOptions { IntraOpNumThreads = 1 });
            using var ortDynamic = new InferenceSession(dynamicPath, new SessionOptions { IntraOpNumThreads = 1 });
            var ours = new List<double>();
            var theirs = new List<double>();
            double fp32VsOrt = 0;
            const int batch = 8, batches = 4;
            for (int start = 0; start < batch * batches; start += batch)
            {
                var inputs = set.Batch(start, batch);
                var dims = set.IsText ? new Dictionary<string, long> { ["batch"] = batch, ["sequence"] = inputs[0].Shape[1] } : new Dictionary<string, long> { ["batch"] = batch };
                var values = inputs.Select(i => i.Values).ToArray();
                var a = (float[])fp32.Run(values, dims)[0];
                var b = (float[])int8.Run(values, dims)[0];
                var oa = FixturePlan.RunOnnxRuntime(ortFp32, inputs, "logits")["logits"];
                var ob = FixturePlan.RunOnnxRuntime(ortDynamic, inputs, "logits")["logits"];
                fp32VsOrt = Math.Max(fp32VsOrt, FixturePlan.MaxAbsDifference(a, oa));
                int labels = a.Length / batch;
                for (int s = 0; s < batch; s++)
                {
                    ours.Add(RelativeL2(a.AsSpan(s * labels, labels), b.AsSpan(s * labels, labels)));
                    theirs.Add(RelativeL2(oa.AsSpan(s * labels, labels), ob.AsSpan(s * labels, labels)));
                }
            }
            Check($"{family} (fixture, {ours.Count} test samples)", ours, theirs, fp32VsOrt);
        }
        finally
        {
            File.Delete(dynamicPath);
        }
    }

    /// <summary>
    /// The four benchmark models (random weights) at sequence 128, batch 1, on 16 seeded inputs; input 0 is the one
    /// <c>QuantizedInference</c> checks (seed 20261123). Needs EDGECOMPILE_BENCHMARK_MODELS = the folder
    /// tests/fixtures/make_benchmark_models.py writes (with each model.ort-dynamic.onnx), else skipped.
    /// </summary>
    [BenchmarkModelsTheory]
    [InlineData("tinybert4")]
    [InlineData("distilbert")]
    [InlineData("mobilebert")]
    [InlineData("deit-small")]
    public void Int8_logits_stay_as_close_to_fp32_as_onnx_runtime_dynamic_on_the_benchmark_models(string name)
    {
        string folder = Path.Combine(BenchmarkModelsTheoryAttribute.Folder!, name);
        string model = Path.Combine(folder, "model.onnx");
        bool image = name == "deit-small";
        string shapes = image ? "batch=1" : "batch=1;sequence=128";
        var fp32 = new PlanInterpreter(BuildPlan(model, shapes, null));
        var int8 = new PlanInterpreter(BuildPlan(model, shapes, new QuantizeOptions { Mode = QuantizeMode.Int8 }));
        using var ortFp32 = new InferenceSession(model, new SessionOptions { IntraOpNumThreads = 1 });
        using var ortDynamic = new InferenceSession(Path.Combine(folder, "model.ort-dynamic.onnx"), new SessionOptions { IntraOpNumThreads = 1 });
        string[] names = ortFp32.InputMetadata.Keys.ToArray();
        var ours = new List<double>();
        var theirs = new List<double>();
        double fp32VsOrt = 0;
        const int samples = 16;
        for (int sample = 0; sample < samples; sample++)
        {
            var (values, dims, shape) = BenchmarkInputs(name, image, 20261123 + sample);
            var a = (float[])fp32.Run(values, dims)[0];
            var b = (float[])int8.Run(values, dims)[0];
            var feed = names.Select((n, i) => (n, values[i], shape)).ToList();
            var oa = FixturePlan.RunOnnxRuntime(ortFp32, feed, "logits")["logits"];
            var ob = FixturePlan.RunOnnxRuntime(ortDynamic, feed, "logits")["logits"];
            fp32VsOrt = Math.Max(fp32VsOrt, FixturePlan.MaxAbsDifference(a, oa));
            ours.Add(RelativeL2(a, b));
            theirs.Add(RelativeL2(oa, ob));
            if (sample == 0)
                output.WriteLine($"{name}, input 0 (QuantizedInference's): EdgeCompile INT8 vs FP32 max |diff| {MaxDiff(a, b):G3} / rel. L2 {ours[0]:G3}; ORT dynamic vs ORT FP32 {MaxDiff(oa, ob):G3} / {theirs[0]:G3}");
        }
        Check($"{name} (benchmark model, {samples} seeded inputs)", ours, theirs, fp32VsOrt);
    }

    /// <summary>QuantizedInference's inputs (ModelCatalog.CreateInputs): random ids in [1, 30522), mask 1, token types 0; or pixels in [-1, 1).</summary>
    private static (Array[] Values, Dictionary<string, long> Dims, int[] Shape) BenchmarkInputs(string name, bool image, int seed)
    {
        var rng = new Random(seed);
        if (image)
        {
            var pixels = new float[3 * 224 * 224];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(rng.NextDouble() * 2 - 1);
            return (new Array[] { pixels }, new() { ["batch"] = 1 }, new[] { 1, 3, 224, 224 });
        }
        var ids = new long[128];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(1, 30522);
        var mask = Enumerable.Repeat(1L, 128).ToArray();
        var values = name == "distilbert" ? new Array[] { ids, mask } : new Array[] { ids, mask, new long[128] };
        return (values, new() { ["batch"] = 1, ["sequence"] = 128 }, new[] { 1, 128 });
    }

    private void Check(string what, List<double> ours, List<double> theirs, double fp32VsOrt)
    {
        double median = Median(ours), ortMedian = Median(theirs), allowed = Math.Max(MaxRatioToOrtDynamic * ortMedian, MedianFloor);
        output.WriteLine($"{what}: relative L2 of the logits, EdgeCompile INT8 vs FP32 median {median:G3} (max {ours.Max():G3}); " +
            $"ONNX Runtime dynamic vs FP32 median {ortMedian:G3} (max {theirs.Max():G3}); EdgeCompile FP32 vs ORT FP32 max |diff| {fp32VsOrt:G2}");
        Assert.True(fp32VsOrt <= 1e-3, $"{what}: the FP32 plan is off ONNX Runtime FP32 by {fp32VsOrt:G3}");
        Assert.True(median <= allowed, $"{what}: median relative L2 {median:G3} > {allowed:G3} ({MaxRatioToOrtDynamic}× ONNX Runtime dynamic's {ortMedian:G3})");
    }

    private static Plan BuildPlan(string model, string shapes, QuantizeOptions? quantize) =>
        ModelCompiler.Build(new CompileRequest(model, "Agreement", "EdgeCompile.Tests.Generated", shapes, "portable",
            "unused.edgeplan", "unused.edgeweights", "unused.edgeweights", Quantize: quantize), new List<CompilerMessage>());

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    private static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }

    /// <summary>‖q − r‖₂ / ‖r‖₂ in double.</summary>
    private static double RelativeL2(ReadOnlySpan<float> reference, ReadOnlySpan<float> quantized)
    {
        double e2 = 0, r2 = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)quantized[i] - reference[i];
            e2 += d * d;
            r2 += (double)reference[i] * reference[i];
        }
        return Math.Sqrt(e2 / Math.Max(r2, 1e-30));
    }
}

/// <summary>A theory over the benchmark models, skipped with the reason when EDGECOMPILE_BENCHMARK_MODELS does not name their folder.</summary>
public sealed class BenchmarkModelsTheoryAttribute : TheoryAttribute
{
    public static string? Folder => Environment.GetEnvironmentVariable("EDGECOMPILE_BENCHMARK_MODELS") is { Length: > 0 } f && Directory.Exists(f) ? f : null;

    public BenchmarkModelsTheoryAttribute()
    {
        if (Folder is null)
            Skip = "EDGECOMPILE_BENCHMARK_MODELS is not set to the benchmark models' folder (tests/fixtures/make_benchmark_models.py writes artifacts/benchmark-models/)";
    }
}
