using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Compiler.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// Issue 4's latency target, side by side in one run: one inference (batch 1) of each benchmark model at sequence 128
/// (DeiT-Small: its 197 tokens) with
/// <list type="bullet">
/// <item>EdgeCompile FP32 (the generated class of <see cref="Inference"/>; the baseline of the Ratio column),</item>
/// <item>EdgeCompile INT8 (the same model compiled with <c>Quantize="Int8"</c>: INT8 weights per column, dynamic
/// per-row activation scales, <c>DenseInt8</c>),</item>
/// <item>ONNX Runtime FP32 on model.onnx (all graph optimisations, IntraOpNumThreads = Threads),</item>
/// <item>ONNX Runtime on model.ort-dynamic.onnx: the model rewritten the way
/// <c>onnxruntime.quantization.quantize_dynamic(weight_type=QInt8)</c> does with its defaults, i.e. per_channel=False
/// (one weight scale per tensor), written at setup by <see cref="OrtDynamicQuantization"/> when it is missing or older
/// than model.onnx; ONNX Runtime fuses its pattern into DynamicQuantizeMatMul.</item>
/// </list>
/// Before anything is timed, INT8 is compared with FP32 (EdgeCompile INT8 vs EdgeCompile FP32, ONNX Runtime dynamic vs
/// ONNX Runtime FP32, and EdgeCompile FP32 vs ONNX Runtime FP32 within 1e-3): the quantized differences are printed,
/// and setup fails only on an absurd result (non-finite logits, or an error as large as the logits themselves).
/// </summary>
[Config(typeof(QuantizedInferenceConfig))]
[MemoryDiagnoser]
public class QuantizedInference
{
    /// <summary>Models whose FP32 and INT8 generated classes are both in this build.</summary>
    public static IEnumerable<string> Models => ModelCatalog.Available.Where(m => m.CreateEdgeInt8 is not null).Select(m => m.Name);

    [ParamsSource(nameof(Models), Priority = 1)] public string Model { get; set; } = "";

    /// <summary>ONNX Runtime's IntraOpNumThreads and the generated classes' <c>threads</c> constructor argument.</summary>
    [Params(1, 2, Priority = 2)] public int Threads { get; set; }

    private const int Seed = 20261123;

    private IEdgeModel fp32 = null!, int8 = null!;
    private OrtRunner ortFp32 = null!, ortDynamic = null!;
    private ModelInputs inputs = null!;
    private float[] fp32Logits = null!, int8Logits = null!;

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkModel m = ModelCatalog.Get(Model);
        int sequence = m.QuantizedSequence;
        inputs = m.CreateInputs(sequence, Seed);
        fp32Logits = GC.AllocateArray<float>(m.Labels, pinned: true);
        int8Logits = GC.AllocateArray<float>(m.Labels, pinned: true);
        fp32 = m.CreateEdge!(Threads);
        int8 = m.CreateEdgeInt8!(Threads);

        WriteOrtDynamic(m);
        ortFp32 = new OrtRunner(m, m.OnnxPath, inputs, Threads);
        ortDynamic = new OrtRunner(m, m.OrtDynamicPath, inputs, Threads);

        // A wrong fast result must never be reported: compare before timing.
        EdgeCompileFp32();
        EdgeCompileInt8();
        OnnxRuntimeFp32();
        OnnxRuntimeDynamic();
        string where = $"{Model} sequence {sequence} threads {Threads}";
        float fp32Diff = MaxDiff(fp32Logits, ortFp32.Logits);
        if (!(fp32Diff <= 1e-3f))
            throw new InvalidOperationException($"{where}: EdgeCompile FP32 and ONNX Runtime FP32 disagree (max |diff| {fp32Diff} > 1e-3). Not benchmarking a wrong result.");
        string edge = Compare(where, "EdgeCompile INT8 vs EdgeCompile FP32", int8Logits, fp32Logits);
        string ort = Compare(where, "ONNX Runtime dynamic vs ONNX Runtime FP32", ortDynamic.Logits, ortFp32.Logits);
        Console.WriteLine($"// {where} ({int8.Info.Profile}): EdgeCompile FP32 vs ONNX Runtime FP32 max |diff| {fp32Diff:G3}; {edge}; {ort}");
    }

    /// <summary>
    /// ONNX Runtime's INT8 baseline file, written once per model (quantize_dynamic's default per_channel=False) and
    /// again whenever model.onnx is newer.
    /// </summary>
    private static void WriteOrtDynamic(BenchmarkModel m)
    {
        var target = new FileInfo(m.OrtDynamicPath);
        if (target.Exists && target.LastWriteTimeUtc >= File.GetLastWriteTimeUtc(m.OnnxPath)) return;
        string temporary = m.OrtDynamicPath + ".tmp";
        OrtDynamicQuantization.WriteOrtDynamicQuantized(m.OnnxPath, temporary, perChannel: false);
        File.Move(temporary, m.OrtDynamicPath, overwrite: true);
        Console.WriteLine($"// wrote {m.OrtDynamicPath} (ONNX Runtime dynamic quantization, per tensor)");
    }

    private static float MaxDiff(float[] a, float[] b)
    {
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return float.IsFinite(max) ? max : float.NaN;
    }

    private static int ArgMax(float[] a)
    {
        int best = 0;
        for (int i = 1; i < a.Length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    /// <summary>
    /// Max |diff|, relative L2 error and argmax of a quantized result against its FP32 reference. Throws only on an
    /// absurd result: a non-finite logit, a relative L2 error above 0.5, or a different argmax although the FP32 margin
    /// between the top two logits is more than twice the largest difference (a quantization error cannot explain it).
    /// </summary>
    private static string Compare(string where, string what, float[] quantized, float[] reference)
    {
        double err2 = 0, ref2 = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            err2 += (double)(quantized[i] - reference[i]) * (quantized[i] - reference[i]);
            ref2 += (double)reference[i] * reference[i];
        }
        float maxDiff = MaxDiff(quantized, reference);
        double relative = Math.Sqrt(err2 / Math.Max(ref2, 1e-30));
        int qTop = ArgMax(quantized), rTop = ArgMax(reference);
        float margin = reference[rTop] - reference.Where((_, i) => i != rTop).DefaultIfEmpty(float.NegativeInfinity).Max();
        string text = $"{what}: max |diff| {maxDiff:G3}, relative L2 {relative:G3}, argmax {qTop} vs {rTop} (FP32 top-2 margin {margin:G3})";
        if (float.IsNaN(maxDiff) || !(relative <= 0.5) || (qTop != rTop && margin > 2 * maxDiff))
            throw new InvalidOperationException($"{where}: {text}: not a plausible quantization error. Not benchmarking it.");
        return text;
    }

    [Benchmark(Baseline = true)]
    public void EdgeCompileFp32() => fp32.Run(inputs, fp32Logits);

    [Benchmark]
    public void EdgeCompileInt8() => int8.Run(inputs, int8Logits);

    [Benchmark]
    public void OnnxRuntimeFp32() => ortFp32.Run();

    [Benchmark]
    public void OnnxRuntimeDynamic() => ortDynamic.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        ortDynamic?.Dispose();
        ortFp32?.Dispose();
        int8?.Dispose();
        fp32?.Dispose();
    }

    /// <summary>One ONNX Runtime session on pre-allocated, pinned inputs and outputs (the Run path of <see cref="Inference"/>).</summary>
    internal sealed class OrtRunner : IDisposable
    {
        private readonly InferenceSession session;
        private readonly RunOptions runOptions = new();
        private readonly string[] inputNames, outputNames = { "logits" };
        private readonly OrtValue[] inputValues, outputValues;
        public float[] Logits { get; }

        public OrtRunner(BenchmarkModel m, string path, ModelInputs inputs, int threads)
        {
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
            };
            session = new InferenceSession(path, options);
            long[] shape = m.InputShape(inputs.Sequence);
            inputNames = m.InputNames;
            inputValues = inputNames.Select(name => name switch
            {
                "input_ids" => OrtValue.CreateTensorValueFromMemory(inputs.InputIds, shape),
                "attention_mask" => OrtValue.CreateTensorValueFromMemory(inputs.AttentionMask, shape),
                "token_type_ids" => OrtValue.CreateTensorValueFromMemory(inputs.TokenTypeIds, shape),
                "pixel_values" => OrtValue.CreateTensorValueFromMemory(inputs.PixelValues, shape),
                _ => throw new InvalidOperationException($"unexpected input {name}"),
            }).ToArray();
            Logits = GC.AllocateArray<float>(m.Labels, pinned: true);
            outputValues = new[] { OrtValue.CreateTensorValueFromMemory(Logits, new long[] { 1, m.Labels }) };
        }

        public void Run() => session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);

        public void Dispose()
        {
            foreach (var v in inputValues) v.Dispose();
            foreach (var v in outputValues) v.Dispose();
            runOptions.Dispose();
            session.Dispose();
        }
    }
}

/// <summary><see cref="BenchConfig"/> plus the column with the target profile and threads of the EdgeCompile code.</summary>
public sealed class QuantizedInferenceConfig : BenchConfig
{
    public QuantizedInferenceConfig() => AddColumn(new EdgeCompileColumn());
}
