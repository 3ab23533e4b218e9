using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Filters;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// One inference (batch 1) of each benchmark model: EdgeCompile's generated class vs ONNX Runtime on the same
/// model.onnx and the same inputs, at 1 and 2 threads. Baseline = ONNX Runtime with <c>Run(RunOptions, names, values,
/// outputNames, outputValues)</c> into pre-allocated outputs; <see cref="OrtIoBinding"/> is the same session through a
/// bound input/output set (ORT's lowest-allocation path). Everything is created once in <see cref="Setup"/>.
/// Text models run at sequence 16 and 128; an image model has one fixed token count (DeiT-Small: 197), which is what
/// its Sequence column shows (<see cref="InferenceConfig"/> leaves out the other combinations).
/// </summary>
[Config(typeof(InferenceConfig))]
[MemoryDiagnoser]
public class Inference
{
    public static IEnumerable<string> Models => ModelCatalog.Available.Select(m => m.Name);

    /// <summary>Every sequence length of any available model; <see cref="InferenceConfig"/> keeps each model's own.</summary>
    public static IEnumerable<int> Sequences => ModelCatalog.Available.SelectMany(m => m.Sequences).Distinct().Order();

    [ParamsSource(nameof(Models), Priority = 1)] public string Model { get; set; } = "";
    [ParamsSource(nameof(Sequences), Priority = 2)] public int Sequence { get; set; }
    /// <summary>
    /// ONNX Runtime's IntraOpNumThreads and the generated class's <c>threads</c> constructor argument.
    /// </summary>
    [Params(1, 2, Priority = 3)] public int Threads { get; set; }

    private const int Seed = 20261123;

    private IEdgeModel edge = null!;
    private InferenceSession session = null!;
    private RunOptions runOptions = null!;
    private OrtIoBinding binding = null!;
    private ModelInputs inputs = null!;
    private float[] edgeLogits = null!, ortLogits = null!;
    private string[] inputNames = null!, outputNames = null!;
    private OrtValue[] inputValues = null!, outputValues = null!;

    /// <summary>Whether this model is measured at this sequence length (the filter of <see cref="InferenceConfig"/>).</summary>
    public static bool Applies(string model, int sequence) => ModelCatalog.Get(model).Sequences.Contains(sequence);

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkModel m = ModelCatalog.Get(Model);
        if (!Applies(Model, Sequence))
            throw new InvalidOperationException($"{Model} is not measured at sequence {Sequence} (it runs at {string.Join("/", m.Sequences)}).");

        // Same seeded random inputs for both (text: token ids, mask all ones, token types zero; image: pixels in [-1, 1)).
        inputs = m.CreateInputs(Sequence, Seed);
        edgeLogits = GC.AllocateArray<float>(m.Labels, pinned: true);
        ortLogits = GC.AllocateArray<float>(m.Labels, pinned: true);

        edge = m.CreateEdge!(Threads);

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

        long[] shape = m.InputShape(Sequence);
        inputNames = m.InputNames;
        inputValues = inputNames.Select(name => name switch
        {
            "input_ids" => OrtValue.CreateTensorValueFromMemory(inputs.InputIds, shape),
            "attention_mask" => OrtValue.CreateTensorValueFromMemory(inputs.AttentionMask, shape),
            "token_type_ids" => OrtValue.CreateTensorValueFromMemory(inputs.TokenTypeIds, shape),
            "pixel_values" => OrtValue.CreateTensorValueFromMemory(inputs.PixelValues, shape),
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
        float runDiff = Check("OnnxRuntime.Run", edgeLogits, ortLogits);
        Array.Clear(ortLogits);
        OnnxRuntimeIoBinding();
        float bindingDiff = Check("OnnxRuntime.RunWithBinding", edgeLogits, ortLogits);
        Console.WriteLine($"// {Model} sequence {Sequence} threads {Threads}: EdgeCompile ({edge.Info.Profile}, {edge.Threads} thread(s)) "
            + $"agrees with ONNX Runtime ({Threads} thread(s)) on {m.Labels} logits: max |diff| {Math.Max(runDiff, bindingDiff):G3} "
            + $"(Run {runDiff:G3}, RunWithBinding {bindingDiff:G3}); logits[0..{Math.Min(4, m.Labels)}) "
            + $"EdgeCompile [{string.Join(", ", edgeLogits.Take(4))}], ONNX Runtime [{string.Join(", ", ortLogits.Take(4))}]");
    }

    /// <summary>Throws unless every logit agrees within 1e-3; returns the largest absolute difference.</summary>
    private float Check(string what, float[] edgeOut, float[] ortOut)
    {
        float max = 0;
        for (int i = 0; i < edgeOut.Length; i++)
        {
            float diff = Math.Abs(edgeOut[i] - ortOut[i]);
            if (!(diff <= 1e-3f))
                throw new InvalidOperationException(
                    $"{Model} sequence {Sequence} threads {Threads}: EdgeCompile and {what} disagree on logits[{i}]: "
                    + $"{edgeOut[i]} vs {ortOut[i]} (|diff| {diff} > 1e-3). Not benchmarking a wrong result.");
            max = Math.Max(max, diff);
        }
        return max;
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);

    [Benchmark]
    public void OnnxRuntimeIoBinding() => session.RunWithBinding(runOptions, binding);

    [Benchmark]
    public void EdgeCompile() => edge.Run(inputs, edgeLogits);

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

/// <summary>
/// <see cref="BenchConfig"/> plus: only each model's own sequence lengths (text 16/128, DeiT-Small 197), and a column
/// saying which target profile and how many threads the EdgeCompile code of the case really uses.
/// </summary>
public sealed class InferenceConfig : BenchConfig
{
    public InferenceConfig()
    {
        AddFilter(new SimpleFilter(c =>
        {
            var model = c.Parameters.Items.FirstOrDefault(p => p.Name == nameof(Inference.Model))?.Value as string;
            var sequence = c.Parameters.Items.FirstOrDefault(p => p.Name == nameof(Inference.Sequence))?.Value;
            return model is null || sequence is not int n || Inference.Applies(model, n);
        }));
        AddColumn(new EdgeCompileColumn());
    }
}
