using System;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// Each fixture compiled with a calibration-free <c>Quantize</c> mode and run through the generated code on its whole
/// test set: accuracy against the stored labels (the independent reference), next to the FP32 build's accuracy and
/// how often the two builds agree. The numbers printed are the BENCHMARKS accuracy table.
/// </summary>
public sealed class QuantizationAccuracyTests(ITestOutputHelper output)
{
    /// <summary>Accuracy points a mode may lose against FP32 on a fixture's test set (300 samples: 1 point = 3 samples).</summary>
    private static double AllowedLoss(QuantizeMode mode) => mode == QuantizeMode.Int4 ? 0.03 : 0.01;

    public static TheoryData<string, QuantizeMode> Cases
    {
        get
        {
            var data = new TheoryData<string, QuantizeMode>();
            foreach (var family in FixtureCompilerTests.FamilyNames)
                foreach (var mode in new[] { QuantizeMode.Int8, QuantizeMode.Fp16, QuantizeMode.Int4 })
                    data.Add(family, mode);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Quantized_accuracy_stays_within_the_allowed_loss_of_fp32(string family, QuantizeMode mode)
    {
        var set = FixtureTestSet.Load(family);
        string model = Path.Combine(Repository.Fixture(family), "model.onnx"), shapes = set.IsText ? "batch=8;sequence=64" : "batch=8";
        using var fp32 = CompiledFixture.Compile(model, shapes);
        using var quantized = CompiledFixture.Compile(model, shapes, quantize: new QuantizeOptions { Mode = mode });
        var fp32Logits = Logits(fp32, set);
        var logits = Logits(quantized, set);
        int[] reference = Predict(fp32Logits, set.Count), ours = Predict(logits, set.Count);
        double worst = logits.Zip(fp32Logits, (a, b) => Math.Abs(a - b)).Max();
        double fp32Accuracy = Accuracy(reference, set.Labels), accuracy = Accuracy(ours, set.Labels);
        int agree = ours.Zip(reference, (a, b) => a == b ? 1 : 0).Sum();
        var summary = quantized.Result.Messages.Single(m => m.Message.Contains($": {mode}, ")).Message;
        output.WriteLine($"{family} {mode}: accuracy {accuracy:P1} (FP32 {fp32Accuracy:P1}), agrees with FP32 on {agree}/{set.Count}, max |logit − FP32 logit| {worst:E2}; {summary}");
        Assert.True(accuracy >= fp32Accuracy - AllowedLoss(mode) - 1e-9,
            $"{family} {mode}: accuracy {accuracy:P1} is more than {AllowedLoss(mode):P0} below FP32's {fp32Accuracy:P1}");
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
