using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using EdgeCompile.Compiler.Data;

namespace EdgeCompile.PruningSweep;

/// <summary>
/// One fixture folder of tests/fixtures (tests/fixtures/README.md, "Layout of a family folder"): the FP32 ONNX file,
/// its test set with labels (the independent reference for accuracy) and its calibration folder.
/// </summary>
public sealed class FixtureData
{
    public required string Family { get; init; }
    public required string ModelPath { get; init; }
    public required string CalibrationDirectory { get; init; }
    public required string[] InputNames { get; init; }
    public required NpyFile[] Inputs { get; init; }
    public required long[] Labels { get; init; }

    public bool IsText => InputNames.Contains("input_ids");
    public int Count => Labels.Length;
    public long OnnxBytes => new FileInfo(ModelPath).Length;

    /// <summary>The batch and sequence maxima the sweep compiles with: the test set runs in batches of 8 at its full length.</summary>
    public string MaxShapes => IsText ? $"batch={Batch};sequence={Inputs[0].Shape[1]}" : $"batch={Batch}";

    /// <summary>Samples per run of the plan or of ONNX Runtime.</summary>
    public const int Batch = 8;

    /// <summary>Fixture folders: every folder under <paramref name="fixturesRoot"/> with a model.onnx, meta.json and test/ set.</summary>
    public static IEnumerable<string> Discover(string fixturesRoot) =>
        Directory.EnumerateDirectories(fixturesRoot)
            .Where(d => File.Exists(Path.Combine(d, "model.onnx")) && File.Exists(Path.Combine(d, "meta.json")) && Directory.Exists(Path.Combine(d, "test")))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)!;

    public static FixtureData Load(string fixturesRoot, string family)
    {
        string dir = Path.Combine(fixturesRoot, family), test = Path.Combine(dir, "test");
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "meta.json")));
        var names = meta.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToArray();
        return new FixtureData
        {
            Family = family,
            ModelPath = Path.Combine(dir, "model.onnx"),
            CalibrationDirectory = Path.Combine(dir, "calibration"),
            InputNames = names,
            Inputs = names.Select(n => NpyFile.Read(Path.Combine(test, n + ".npy"))).ToArray(),
            Labels = NpyFile.Read(Path.Combine(test, "labels.npy")).As<long>(),
        };
    }

    /// <summary>Samples [start, start+count) of every input, in the order of <see cref="InputNames"/>, with their shapes.</summary>
    public (Array Values, long[] Shape)[] Slice(int start, int count)
    {
        var result = new (Array, long[])[Inputs.Length];
        for (int i = 0; i < Inputs.Length; i++)
        {
            var npy = Inputs[i];
            var shape = (long[])npy.Shape.Clone();
            int perSample = (int)shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            shape[0] = count;
            var values = Array.CreateInstance(npy.Data.GetType().GetElementType()!, count * perSample);
            Array.Copy(npy.Data, start * perSample, values, 0, count * perSample);
            result[i] = (values, shape);
        }
        return result;
    }

    /// <summary>The fraction of samples whose largest logit is the label's (ties go to the lower class, like argmax).</summary>
    public double Accuracy(float[] logits)
    {
        int classes = logits.Length / Count, right = 0;
        for (int s = 0; s < Count; s++)
        {
            int best = 0;
            for (int j = 1; j < classes; j++)
                if (logits[s * classes + j] > logits[s * classes + best]) best = j;
            right += best == Labels[s] ? 1 : 0;
        }
        return (double)right / Count;
    }
}
