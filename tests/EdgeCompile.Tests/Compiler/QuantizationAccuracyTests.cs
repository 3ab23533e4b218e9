using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// Each fixture compiled in every <c>Quantize</c> mode and run through the generated code on its whole test set:
/// accuracy against the stored labels (the independent reference) and weight bytes, next to ONNX Runtime's FP32
/// accuracy on the same file. Each family writes its row of the table in BENCHMARKS.md to
/// <c>artifacts/quantization-accuracy/&lt;family&gt;.md</c> and the whole table to
/// <c>artifacts/quantization-accuracy.md</c>, so one command makes it:
/// <c>dotnet test tests/EdgeCompile.Tests --filter FullyQualifiedName~QuantizationAccuracyTests</c>.
/// </summary>
public sealed class QuantizationAccuracyTests(ITestOutputHelper output)
{
    private sealed record Mode(string Name, QuantizeOptions? Options, double AllowedLoss);

    /// <summary>The modes of the table; Mixed and the compensated INT4 run the fixture's calibration set (64 training samples).</summary>
    private static Mode[] Modes(string family)
    {
        string calibration = Path.Combine(Repository.Fixture(family), "calibration");
        return new[]
        {
            new Mode("FP32", null, 0),
            new Mode("FP16", new QuantizeOptions { Mode = QuantizeMode.Fp16 }, 0.01),
            new Mode("INT8", new QuantizeOptions { Mode = QuantizeMode.Int8 }, 0.01),
            new Mode("Mixed", new QuantizeOptions { Mode = QuantizeMode.Mixed, CalibrationDirectory = calibration }, 0.01),
            new Mode("INT4", new QuantizeOptions { Mode = QuantizeMode.Int4 }, 0.03),
            new Mode("INT4 + calibration", new QuantizeOptions { Mode = QuantizeMode.Int4, CalibrationDirectory = calibration }, 0.03),
        };
    }

    private static string TableFolder => Path.Combine(Repository.Root, "artifacts", "quantization-accuracy");

    public static TheoryData<string> Families => new(FixtureCompilerTests.FamilyNames);

    [Theory]
    [MemberData(nameof(Families))]
    public void Every_mode_stays_within_the_allowed_accuracy_loss_of_fp32(string family)
    {
        var set = FixtureTestSet.Load(family);
        string model = Path.Combine(Repository.Fixture(family), "model.onnx"), shapes = set.IsText ? "batch=8;sequence=64" : "batch=8";
        double ortAccuracy = Accuracy(Predict(OnnxRuntimeLogits(model, set), set.Count), set.Labels);

        var cells = new List<string>();
        double fp32Accuracy = double.NaN;
        long fp32Bytes = 0;
        var failures = new List<string>();
        foreach (var mode in Modes(family))
        {
            using var f = CompiledFixture.Compile(model, shapes, quantize: mode.Options);
            double accuracy = Accuracy(Predict(Logits(f, set), set.Count), set.Labels);
            long bytes = f.Result.Plan!.WeightBytes;
            if (mode.Options is null) (fp32Accuracy, fp32Bytes) = (accuracy, bytes);
            string line = f.Result.Messages.LastOrDefault(m => m.Severity == Severity.Info && m.Message.Contains(" bytes (")) is { } log ? log.Message : "";
            output.WriteLine($"{family} {mode.Name}: accuracy {accuracy:P1}, weights {bytes:N0} bytes. {line}");
            cells.Add(mode.Options is null
                ? string.Format(CultureInfo.InvariantCulture, "{0:0.0} % · {1:N0} B", 100 * accuracy, bytes)
                : string.Format(CultureInfo.InvariantCulture, "{0:0.0} % · {1:0.00}×", 100 * accuracy, (double)fp32Bytes / bytes));
            if (accuracy < fp32Accuracy - mode.AllowedLoss - 1e-9)
                failures.Add($"{mode.Name}: {accuracy:P1} is more than {mode.AllowedLoss:P0} below FP32's {fp32Accuracy:P1}");
        }
        WriteRow(family, string.Format(CultureInfo.InvariantCulture, "| {0} | {1:0.0} % | {2} |", family, 100 * ortAccuracy, string.Join(" | ", cells)));
        Assert.True(Math.Abs(fp32Accuracy - ortAccuracy) < 1e-9, $"the FP32 build's accuracy {fp32Accuracy:P1} differs from ONNX Runtime's {ortAccuracy:P1}");
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    /// <summary>This family's row, then the whole table from every row written so far (the theory runs them all).</summary>
    private static void WriteRow(string family, string row)
    {
        Directory.CreateDirectory(TableFolder);
        File.WriteAllText(Path.Combine(TableFolder, family + ".md"), row + "\n");
        var header = "| fixture | ONNX Runtime FP32 | FP32 (accuracy · weight bytes) | " + string.Join(" | ", Modes(family).Skip(1).Select(m => m.Name + " (accuracy · × smaller)")) + " |";
        var rule = "| --- | ---: | ---: |" + string.Concat(Enumerable.Repeat(" ---: |", Modes(family).Length - 1));
        var rows = FixtureCompilerTests.FamilyNames.Select(f => Path.Combine(TableFolder, f + ".md")).Where(File.Exists).Select(p => File.ReadAllText(p).TrimEnd());
        File.WriteAllText(Path.Combine(Repository.Root, "artifacts", "quantization-accuracy.md"), string.Join("\n", new[] { header, rule }.Concat(rows)) + "\n");
    }

    private static float[] OnnxRuntimeLogits(string model, FixtureTestSet set)
    {
        using var session = new InferenceSession(model, new SessionOptions { IntraOpNumThreads = 1 });
        var all = new List<float>();
        for (int start = 0; start < set.Count; start += 8)
        {
            var inputs = set.Batch(start, Math.Min(8, set.Count - start));
            using var results = session.Run(inputs.Select(i => Calibration.FixturePlan.Value(i.Name, i.Values, i.Shape)).ToList());
            all.AddRange(results.First(r => r.Name == "logits").AsEnumerable<float>());
        }
        return all.ToArray();
    }

    private static int[] Predict(float[] logits, int count)
    {
        int classes = logits.Length / count;
        var result = new int[count];
        for (int s = 0; s < count; s++)
            for (int j = 1; j < classes; j++)
                if (logits[s * classes + j] > logits[s * classes + result[s]]) result[s] = j;
        return result;
    }

    private static float[] Logits(CompiledFixture f, FixtureTestSet set)
    {
        int classes = int.Parse(f.Model.Info.Outputs[0].Shape.Last());
        var all = new float[set.Count * classes];
        for (int start = 0; start < set.Count; start += 8)
        {
            int count = Math.Min(8, set.Count - start);
            var inputs = set.Batch(start, count);
            var actual = new float[count * classes];
            var dims = set.IsText ? new[] { count, inputs[0].Shape[1] } : new[] { count };
            f.Model.Run(dims, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
            Array.Copy(actual, 0, all, start * classes, actual.Length);
        }
        return all;
    }

    private static double Accuracy(int[] predicted, long[] labels) => (double)predicted.Where((p, i) => p == labels[i]).Count() / labels.Length;
}
