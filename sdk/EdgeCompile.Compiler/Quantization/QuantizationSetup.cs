using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// Turns a model's <see cref="QuantizeOptions"/> into the policy the lowering asks, and tells the build log how the
/// precisions will be chosen (docs/quantization.md, steps 3–4): from a calibration set when there is one
/// (<see cref="CalibratedQuantization"/>), else from the weights alone (<see cref="CalibrationFreePolicy"/>).
/// </summary>
public static class QuantizationSetup
{
    /// <param name="lower">Lowers the optimised graph with a policy (null: FP32) into a fresh plan.</param>
    public static QuantizationContext Create(QuantizeOptions options, string modelPath, List<CompilerMessage> messages, Func<IPrecisionPolicy?, Plan> lower)
    {
        var report = new QuantizationReport(options.Mode);
        var collect = options.QuantizedOnnxPath is not null;
        if (options.CalibrationDirectory is not null)
        {
            var calibrated = new CalibratedQuantization(options, lower);
            var (policy, note) = calibrated.Choose();
            report.PolicyNote = note.Length == 0 ? null : note;
            report.CalibrationSamples = calibrated.SampleCount;
            report.Sensitivities = calibrated.Sensitivities?.ToDictionary(s => s.Node, StringComparer.Ordinal);
            return new QuantizationContext(policy, report, collect) { Calibrated = calibrated };
        }

        if (options.ActivationScales != ActivationScaleMode.Dynamic)
            throw new CompilerException(Codes.QuantizationUnavailable,
                $"ActivationScales=\"{options.ActivationScales}\" (static INT8 activation scales) is measured on a calibration set: set Calibration=\"<folder of .npy files>\" on the item, or remove ActivationScales (Dynamic is the default).");

        if (options.Mode == QuantizeMode.Mixed)
        {
            string limit = options.MaxOutputError.ToString("R", CultureInfo.InvariantCulture);
            // Said in the log and in the report: this is a proxy, not the output-error budget MaxOutputError names.
            report.PolicyNote = $"Precision chosen from weight statistics only, without a calibration set: INT8 where the layer's relative INT8 weight error is at most MaxOutputError = {limit}, else FP16 (FP32 if a weight is beyond the FP16 range).";
            messages.Add(new CompilerMessage(Severity.Info, Codes.MixedWithoutCalibration,
                $"Quantize=\"Mixed\": no Calibration folder is set, so each layer's precision is chosen from its weights only (INT8 where its relative INT8 weight error ≤ {limit}, else FP16); the output error is not measured. See the build report for each layer.",
                modelPath));
        }
        return new QuantizationContext(new CalibrationFreePolicy(options.Mode, options.MaxOutputError), report, collect);
    }
}
