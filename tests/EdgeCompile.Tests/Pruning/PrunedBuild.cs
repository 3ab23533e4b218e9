using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.Tests.Pruning;

/// <summary>
/// A fixture built by <see cref="ModelCompiler.Compile"/> with pruning (and optionally quantization) into a temporary
/// folder: the plan, the messages, the pruned ONNX file and the report. Runs the plan with the build's interpreter
/// (the runtime's own kernels) and ONNX Runtime on the pruned file.
/// </summary>
public sealed class PrunedBuild : IDisposable
{
    private readonly string _dir;

    private PrunedBuild(string dir, string family, CompileResult result)
    {
        _dir = dir;
        Family = family;
        Result = result;
    }

    public string Family { get; }
    public CompileResult Result { get; }
    public Plan Plan => Result.Plan!;
    public string PrunedOnnx => Path.Combine(_dir, "model.pruned.onnx");
    public string QuantizedOnnx => Path.Combine(_dir, "model.quantized.onnx");
    public string PruningReport => Path.Combine(_dir, "model.pruning.md");
    public string QuantizationReport => Path.Combine(_dir, "model.quantization.md");

    public static string MaxShapes(string family) => FixtureTestSet.Load(family).IsText ? "batch=8;sequence=64" : "batch=8";

    public static string Calibration(string family) => Path.Combine(Repository.Fixture(family), "calibration");

    /// <param name="fraction">0: no pruning (the unpruned FP32 baseline).</param>
    /// <param name="calibratedQuantize">Give quantization the calibration set too (INT4: GPTQ-style rounding; Mixed: the measured
    /// search); by default only pruning gets it.</param>
    /// <param name="sequential">NM/Unstructured: <see cref="PruneOptions.SequentialMoments"/>.</param>
    /// <param name="prunedOnnx">Write the pruned ONNX file (<see cref="PrunedOnnx"/>); the quantized reference is written either way.</param>
    /// <param name="modelPath">Another ONNX file of the family (same inputs, test and calibration sets); null: the fixture's.</param>
    public static PrunedBuild Compile(string family, double fraction, bool calibrated, bool compensate = true, QuantizeMode quantize = QuantizeMode.None,
        bool calibratedQuantize = false, string? modelPath = null,
        PruneMode mode = PruneMode.Structured, bool prunedOnnx = true, bool sequential = true)
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-prune-").FullName;
        var prune = new PruneOptions
        {
            Fraction = fraction,
            Mode = mode,
            CalibrationDirectory = calibrated ? Calibration(family) : null,
            Compensate = compensate,
            SequentialMoments = sequential,
            PrunedOnnxPath = prunedOnnx ? Path.Combine(dir, "model.pruned.onnx") : null,
            ReportPath = Path.Combine(dir, "model.pruning.md"),
        };
        var quantizeOptions = quantize == QuantizeMode.None ? null : new QuantizeOptions
        {
            Mode = quantize,
            CalibrationDirectory = calibratedQuantize ? Calibration(family) : null,
            QuantizedOnnxPath = Path.Combine(dir, "model.quantized.onnx"),
            ReportPath = Path.Combine(dir, "model.quantization.md"),
        };
        var request = new CompileRequest(modelPath ?? FixturePlan.ModelPath(family), "PrunedModel", "EdgeCompile.Tests.Generated", MaxShapes(family), "portable",
            Path.Combine(dir, "model.edgeplan"), Path.Combine(dir, "model.edgeweights"), "model.edgeweights", Quantize: quantizeOptions, Prune: prune);
        var result = ModelCompiler.Compile(request);
        if (!result.Success) throw new InvalidOperationException(string.Join(Environment.NewLine, result.Messages));
        return new PrunedBuild(dir, family, result);
    }

    /// <summary>The plan's logits on test samples [0, count), run by the build-time interpreter in batches of 8.</summary>
    public float[] InterpretedLogits(FixtureTestSet set, int count)
    {
        var interpreter = new PlanInterpreter(Plan);
        var all = new List<float>();
        for (int start = 0; start < count; start += 8)
        {
            int n = Math.Min(8, count - start);
            var inputs = set.Batch(start, n);
            var dims = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (name, _) in Plan.Dimensions)
                dims[name] = name.Contains("batch", StringComparison.OrdinalIgnoreCase) ? n : inputs[0].Shape[1];
            all.AddRange((float[])interpreter.Run(inputs.Select(i => i.Values).ToArray(), dims)[0]);
        }
        return all.ToArray();
    }

    /// <summary>ONNX Runtime's logits on test samples [0, count) for an ONNX file.</summary>
    public static float[] OnnxRuntimeLogits(string onnx, FixtureTestSet set, int count, SessionOptions? options = null)
    {
        using var session = new InferenceSession(onnx, options ?? new SessionOptions { IntraOpNumThreads = 1 });
        var all = new List<float>();
        for (int start = 0; start < count; start += 8)
            all.AddRange(FixturePlan.RunOnnxRuntime(session, set.Batch(start, Math.Min(8, count - start)), "logits")["logits"]);
        return all.ToArray();
    }

    /// <summary>The family's calibration set as ONNX Runtime inputs (every sample in one batch).</summary>
    public static List<(string Name, Array Values, int[] Shape)> CalibrationInputs(string family) =>
        FixtureTestSet.Load(family).InputNames.Select(name =>
        {
            var npy = EdgeCompile.Compiler.Data.NpyFile.Read(Path.Combine(Calibration(family), name + ".npy"));
            return (name, npy.Data, npy.Shape.Select(d => (int)d).ToArray());
        }).ToList();

    /// <summary>
    /// Independent of the build's own numbers: the relative error of ONNX Runtime's logits on this build's pruned ONNX
    /// file against the original model's, on the family's calibration inputs.
    /// </summary>
    public double CalibrationError()
    {
        var calibration = CalibrationInputs(Family);
        return RelativeError(OnnxLogits(PrunedOnnx, calibration), OnnxLogits(FixturePlan.ModelPath(Family), calibration));
    }

    /// <summary>ONNX Runtime's logits for an ONNX file on the given inputs (one thread).</summary>
    public static float[] OnnxLogits(string onnx, List<(string Name, Array Values, int[] Shape)> inputs)
    {
        using var session = new InferenceSession(onnx, new SessionOptions { IntraOpNumThreads = 1 });
        return FixturePlan.RunOnnxRuntime(session, inputs, "logits")["logits"];
    }

    /// <summary>‖actual − expected‖ / ‖expected‖, in double.</summary>
    public static double RelativeError(float[] actual, float[] expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            diff += ((double)actual[i] - expected[i]) * ((double)actual[i] - expected[i]);
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(diff / norm);
    }

    public static double Accuracy(float[] logits, long[] labels)
    {
        int classes = logits.Length / labels.Length, right = 0;
        for (int s = 0; s < labels.Length; s++)
        {
            int best = 0;
            for (int j = 1; j < classes; j++)
                if (logits[s * classes + j] > logits[s * classes + best]) best = j;
            right += best == labels[s] ? 1 : 0;
        }
        return (double)right / labels.Length;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
