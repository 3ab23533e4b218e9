using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Calibration;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Quantization;

/// <summary>
/// Quantization that runs the fixture's committed calibration set in the build (static INT8 scales, compensated
/// INT4, Mixed under a budget). Outputs are judged against ONNX Runtime's FP32 outputs on the same samples, not
/// against the build's own measurements.
/// </summary>
public sealed class CalibratedQuantizationTests(ITestOutputHelper output)
{
    private const string Family = "bert";
    private const string MaxShapes = "batch=1;sequence=64";

    private static string CalibrationFolder => Path.Combine(Repository.Fixture(Family), "calibration");

    private static (Plan Plan, QuantizationContext? Context, List<CompilerMessage> Messages) Build(QuantizeOptions? options)
    {
        var request = new CompileRequest(FixturePlan.ModelPath(Family), "M", "N", MaxShapes, "portable",
            "unused.edgeplan", "unused.edgeweights", "unused.edgeweights", Quantize: options);
        var messages = new List<CompilerMessage>();
        var plan = ModelCompiler.Build(request, messages, out var context);
        return (plan, context, messages);
    }

    /// <summary>Relative RMS error of a plan's logits against ONNX Runtime FP32, over the calibration samples.</summary>
    private static double ErrorAgainstOnnxRuntime(Plan plan)
    {
        var samples = CalibrationSet.Load(CalibrationFolder, plan).Samples().ToList();
        using var session = FixturePlan.Session(Family);
        var interpreter = new PlanInterpreter(plan);
        double diff = 0, norm = 0;
        foreach (var sample in samples)
        {
            var names = plan.Inputs.Select(i => i.Name).ToList();
            var inputs = names.Select((n, i) => (n, sample.Inputs[i], new[] { 1, sample.Inputs[i].Length }));
            var expected = FixturePlan.RunOnnxRuntime(session, inputs, "logits")["logits"];
            var actual = (float[])interpreter.Run(sample)[0];
            for (int i = 0; i < expected.Length; i++)
            {
                diff += Math.Pow((double)actual[i] - expected[i], 2);
                norm += (double)expected[i] * expected[i];
            }
        }
        return Math.Sqrt(diff / norm);
    }

    private static IEnumerable<PlanOp> Calls(Plan plan, string kernel) => plan.Ops.Where(o => o.Kernel == kernel);

    [Theory]
    [InlineData(ActivationScaleMode.MinMax)]
    [InlineData(ActivationScaleMode.Percentile)]
    public void Static_activation_scales_come_from_the_calibration_set(ActivationScaleMode scales)
    {
        var (plan, context, _) = Build(new QuantizeOptions { Mode = QuantizeMode.Int8, CalibrationDirectory = CalibrationFolder, ActivationScales = scales });

        var dense = Calls(plan, "DenseInt8").ToList();
        Assert.NotEmpty(dense);
        Assert.All(dense, op => Assert.True(float.Parse(op.Parameters.Single(p => p.Name == "inputScale").Value.TrimEnd('f'),
            System.Globalization.CultureInfo.InvariantCulture) > 0, op.Node));
        double error = ErrorAgainstOnnxRuntime(plan);
        output.WriteLine($"{scales}: error vs ONNX Runtime FP32 {error:G4}, the build's own measure {context!.Report.OutputError:G4}");
        Assert.True(error < 0.1, $"relative error {error}");
        Assert.Equal(error, context.Report.OutputError!.Value, 2);
    }

    [Fact]
    public void Compensated_int4_is_closer_to_fp32_than_plain_rounding()
    {
        var plain = Build(new QuantizeOptions { Mode = QuantizeMode.Int4 }).Plan;
        var compensated = Build(new QuantizeOptions { Mode = QuantizeMode.Int4, CalibrationDirectory = CalibrationFolder });

        double plainError = ErrorAgainstOnnxRuntime(plain), compensatedError = ErrorAgainstOnnxRuntime(compensated.Plan);
        output.WriteLine($"INT4 error vs ONNX Runtime FP32 on the calibration set: plain {plainError:G4}, compensated {compensatedError:G4}");
        Assert.Equal(Calls(plain, "DenseInt4").Count(), Calls(compensated.Plan, "DenseInt4").Count());
        Assert.True(compensatedError < plainError, $"compensated {compensatedError}, plain {plainError}");
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.01)]
    [InlineData(0.002)]
    public void Mixed_keeps_the_output_error_within_the_budget(double budget)
    {
        var (plan, context, messages) = Build(new QuantizeOptions { Mode = QuantizeMode.Mixed, CalibrationDirectory = CalibrationFolder, MaxOutputError = budget });

        double error = ErrorAgainstOnnxRuntime(plan);
        var report = context!.Report;
        var counts = report.Layers.GroupBy(l => l.Precision).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"budget {budget}: error vs ONNX Runtime FP32 {error:G4} (build measured {report.OutputError:G4}); " +
            string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}")) + $"; {report.Ratio:0.00}x smaller");
        Assert.True(error <= budget * 1.01, $"error {error} over budget {budget}");
        Assert.NotNull(report.Sensitivities);
        Assert.DoesNotContain(messages, m => m.Code == Codes.MixedWithoutCalibration);
        Assert.True(report.Ratio > 1.5, $"ratio {report.Ratio}");
    }

    [Fact]
    public void A_loose_budget_makes_mixed_all_int8()
    {
        var (plan, context, _) = Build(new QuantizeOptions { Mode = QuantizeMode.Mixed, CalibrationDirectory = CalibrationFolder, MaxOutputError = 1 });
        Assert.All(context!.Report.Layers.Where(l => l.Kind != "Conv2d"), l => Assert.Equal(Precision.Int8, l.Precision));
        Assert.Empty(Calls(plan, "Dense"));
    }
}
