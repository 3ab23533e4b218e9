using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.PruningSweep;

/// <summary>
/// Builds one fixture in one configuration with <see cref="ModelCompiler.Compile"/> (the same entry point the MSBuild task
/// calls) into a temporary folder, with the fixture's calibration set for pruning and quantization, and runs the plan on
/// the whole test set with the build's <see cref="PlanInterpreter"/> (the runtime's kernels).
/// </summary>
public static class SweepRunner
{
    public static SweepResult Run(FixtureData fixture, SweepConfiguration config, double ortAccuracy)
    {
        var clock = Stopwatch.StartNew();
        var prune = config.Mode is { } mode
            ? new PruneOptions { Fraction = config.Fraction, Mode = mode, CalibrationDirectory = fixture.CalibrationDirectory }
            : null;
        var quantize = config.Quantize == QuantizeMode.None
            ? null
            : new QuantizeOptions { Mode = config.Quantize, CalibrationDirectory = fixture.CalibrationDirectory };
        // Nothing is written: Build is everything Compile does but the files, and Pack weighs the blob it would write.
        var request = new CompileRequest(fixture.ModelPath, "SweepModel", "EdgeCompile.PruningSweep.Generated", fixture.MaxShapes, "portable",
            "unused.edgeplan", "unused.edgeweights", "model.edgeweights", Quantize: quantize, Prune: prune);
        var messages = new List<CompilerMessage>();
        Plan plan;
        QuantizationContext? quantization;
        try
        {
            plan = ModelCompiler.Build(request, messages, out quantization, out _);
            WeightPacker.Pack(plan);
        }
        catch (CompilerException e)
        {
            // A configuration the compiler refuses is a row of the table (with its code), not the end of the sweep.
            return new SweepResult(fixture.Family, config, "error", double.NaN, 0, fixture.OnnxBytes, ortAccuracy, null, clock.Elapsed.TotalSeconds, 0, $"{e.Code}: {e.Message}");
        }
        double compileSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        double accuracy = fixture.Accuracy(InterpretedLogits(plan, fixture));
        string note = messages.Where(m => m.Severity == Severity.Warning).Select(m => $"{m.Code}: {m.Message}").FirstOrDefault() ?? "";
        return new SweepResult(fixture.Family, config, "ok", accuracy, plan.WeightBytes, fixture.OnnxBytes, ortAccuracy,
            quantization?.Report.OutputError, compileSeconds, clock.Elapsed.TotalSeconds, note);
    }

    /// <summary>The logits of every test sample, run in batches of <see cref="FixtureData.Batch"/> at the set's full length.</summary>
    public static float[] InterpretedLogits(Plan plan, FixtureData fixture)
    {
        var interpreter = new PlanInterpreter(plan);
        var all = new List<float>();
        for (int start = 0; start < fixture.Count; start += FixtureData.Batch)
        {
            int count = Math.Min(FixtureData.Batch, fixture.Count - start);
            var inputs = fixture.Slice(start, count);
            var dims = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (name, _) in plan.Dimensions)
                dims[name] = name.Contains("batch", StringComparison.OrdinalIgnoreCase) ? count : inputs[0].Shape[1];
            all.AddRange((float[])interpreter.Run(inputs.Select(i => i.Values).ToArray(), dims)[0]);
        }
        return all.ToArray();
    }

    /// <summary>ONNX Runtime (one thread) on the FP32 file: the reference column.</summary>
    public static double OnnxRuntimeAccuracy(FixtureData fixture)
    {
        using var session = new InferenceSession(fixture.ModelPath, new SessionOptions { IntraOpNumThreads = 1 });
        var all = new List<float>();
        for (int start = 0; start < fixture.Count; start += FixtureData.Batch)
        {
            var inputs = fixture.Slice(start, Math.Min(FixtureData.Batch, fixture.Count - start));
            var values = inputs.Select(i => i.Values switch
            {
                long[] ids => OrtValue.CreateTensorValueFromMemory(ids, i.Shape),
                float[] floats => OrtValue.CreateTensorValueFromMemory(floats, i.Shape),
                var other => throw new NotSupportedException($"{fixture.Family}: test input of type {other.GetType().Name}"),
            }).ToArray();
            try
            {
                using var outputs = session.Run(new RunOptions(), fixture.InputNames, values, new[] { "logits" });
                all.AddRange(outputs[0].GetTensorDataAsSpan<float>().ToArray());
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        return fixture.Accuracy(all.ToArray());
    }
}
