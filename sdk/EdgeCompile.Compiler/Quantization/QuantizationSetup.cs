using System.Collections.Generic;
using System.Globalization;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// Turns a model's <see cref="QuantizeOptions"/> into the policy the lowering asks, and tells the build log how the
/// precisions will be chosen. This is where the calibrated policies plug in (docs/quantization.md, steps 3–4).
/// </summary>
public static class QuantizationSetup
{
    public static QuantizationContext Create(QuantizeOptions options, string modelPath, List<CompilerMessage> messages)
    {
        if (options.ActivationScales != ActivationScaleMode.Dynamic)
            throw new CompilerException(Codes.QuantizationUnavailable,
                $"ActivationScales=\"{options.ActivationScales}\" (static INT8 activation scales) needs the calibration pass, which this version of the compiler does not run yet. Remove ActivationScales (Dynamic is the default).");

        var report = new QuantizationReport(options.Mode);
        var policy = new CalibrationFreePolicy(options.Mode, options.MaxOutputError);
        string limit = options.MaxOutputError.ToString("R", CultureInfo.InvariantCulture);
        if (options.Mode == QuantizeMode.Mixed)
        {
            // Said in the log and in the report: this is a proxy, not the output-error budget MaxOutputError names.
            report.PolicyNote = $"Precision chosen from weight statistics only, without a calibration set: INT8 where the layer's relative INT8 weight error is at most MaxOutputError = {limit}, else FP16 (FP32 if a weight is beyond the FP16 range).";
            string why = options.CalibrationDirectory is null ? "no Calibration folder is set" : "this version of the compiler does not run the calibration set yet";
            messages.Add(new CompilerMessage(Severity.Info, Codes.MixedWithoutCalibration,
                $"Quantize=\"Mixed\": {why}, so each layer's precision is chosen from its weights only (INT8 where its relative INT8 weight error ≤ {limit}, else FP16); the output error is not measured. See the build report for each layer.",
                modelPath));
        }
        else if (options.CalibrationDirectory is not null)
        {
            messages.Add(new CompilerMessage(Severity.Info, "",
                $"Quantize=\"{options.Mode}\": the Calibration folder is not used by this mode in this version of the compiler (plain rounding, dynamic activation scales).", modelPath));
        }
        if (options.QuantizedOnnxPath is not null)
            messages.Add(new CompilerMessage(Severity.Info, "",
                $"QuantizedOnnx: this version of the compiler has no reference ONNX writer yet; '{options.QuantizedOnnxPath}' is not written.", modelPath));
        return new QuantizationContext(policy, report);
    }
}
