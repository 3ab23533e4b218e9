using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// One inference (batch 1) of each benchmark model: EdgeCompile's generated class vs ONNX Runtime on the same
/// model.onnx and the same inputs. Baseline = ONNX Runtime with <c>Run(RunOptions, names, values, outputNames,
/// outputValues)</c> into pre-allocated outputs; <see cref="OrtIoBinding"/> is the same session through a bound
/// input/output set (ORT's lowest-allocation path). Everything is created once in <see cref="Setup"/>.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class Inference
{
    public static IEnumerable<string> Models => ModelCatalog.Available.Select(m => m.Name);

    [ParamsSource(nameof(Models))] public string Model { get; set; } = "";
    [Params(16, 128)] public int Sequence { get; set; }
    /// <summary>ONNX Runtime's IntraOpNumThreads. The generated code is single-threaded today.</summary>
    [Params(1)] public int Threads { get; set; }

    private const int Seed = 20261123;

    private IEdgeModel edge = null!;
    private InferenceSession session = null!;
    private RunOptions runOptions = null!;
    private OrtIoBinding binding = null!;
    private long[] inputIds = null!, attentionMask = null!, tokenTypeIds = null!;
    private float[] edgeLogits = null!, ortLogits = null!;
    private string[] inputNames = null!, outputNames = null!;
    private OrtValue[] inputValues = null!, outputValues = null!;

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkModel m = ModelCatalog.Get(Model);
        int n = Sequence;

        // Same seeded random token ids for both, attention mask all ones, token types all zeros. Pinned so
        // the OrtValues below can wrap them for the whole run.
        var rng = new Random(Seed);
        inputIds = GC.AllocateArray<long>(n, pinned: true);
        for (int i = 0; i < n; i++) inputIds[i] = rng.Next(1, m.Vocabulary);
        attentionMask = GC.AllocateArray<long>(n, pinned: true);
        Array.Fill(attentionMask, 1L);
        tokenTypeIds = GC.AllocateArray<long>(n, pinned: true);
        edgeLogits = GC.AllocateArray<float>(m.Labels, pinned: true);
        ortLogits = GC.AllocateArray<float>(m.Labels, pinned: true);

        edge = m.CreateEdge!();

        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
        };
        session = new InferenceSession(m.OnnxPath, options);
        options.Dispose();
        runOptions = new RunOptions();

        long[] shape = { 1, n };
        inputNames = m.InputNames;
        inputValues = inputNames.Select(name => name switch
        {
            "input_ids" => OrtValue.CreateTensorValueFromMemory(inputIds, shape),
            "attention_mask" => OrtValue.CreateTensorValueFromMemory(attentionMask, shape),
            "token_type_ids" => OrtValue.CreateTensorValueFromMemory(tokenTypeIds, shape),
            _ => throw new InvalidOperationException($"unexpected input {name}"),
        }).ToArray();
        outputNames = new[] { "logits" };
        outputValues = new[] { OrtValue.CreateTensorValueFromMemory(ortLogits, new long[] { 1, m.Labels }) };

        binding = session.CreateIoBinding();
        for (int i = 0; i < inputNames.Length; i++) binding.BindInput(inputNames[i], inputValues[i]);
        binding.BindOutput(outputNames[0], outputValues[0]);

        // A wrong fast result must never be reported: both must agree before anything is timed.
        EdgeCompile();
        OnnxRuntime();
        Check("OnnxRuntime.Run", edgeLogits, ortLogits);
        Array.Clear(ortLogits);
        OnnxRuntimeIoBinding();
        Check("OnnxRuntime.RunWithBinding", edgeLogits, ortLogits);
        Console.WriteLine($"// {Model} sequence {n}: EdgeCompile logits [{string.Join(", ", edgeLogits)}], "
            + $"ONNX Runtime [{string.Join(", ", ortLogits)}]");
    }

    private void Check(string what, float[] edgeOut, float[] ortOut)
    {
        for (int i = 0; i < edgeOut.Length; i++)
        {
            float diff = Math.Abs(edgeOut[i] - ortOut[i]);
            if (!(diff <= 1e-3f))
                throw new InvalidOperationException(
                    $"{Model} sequence {Sequence}: EdgeCompile and {what} disagree on logits[{i}]: "
                    + $"{edgeOut[i]} vs {ortOut[i]} (|diff| {diff} > 1e-3). Not benchmarking a wrong result.");
        }
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);

    [Benchmark]
    public void OnnxRuntimeIoBinding() => session.RunWithBinding(runOptions, binding);

    [Benchmark]
    public void EdgeCompile() => edge.Run(Sequence, inputIds, attentionMask, tokenTypeIds, edgeLogits);

    [GlobalCleanup]
    public void Cleanup()
    {
        binding?.Dispose();
        foreach (var v in inputValues ?? Array.Empty<OrtValue>()) v.Dispose();
        foreach (var v in outputValues ?? Array.Empty<OrtValue>()) v.Dispose();
        runOptions?.Dispose();
        session?.Dispose();
        edge?.Dispose();
    }
}
