using System.Collections.Generic;
using EdgeCompile.Compiler.Onnx;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>What the lowering needs to quantize: who decides each layer's precision, and where the outcome is recorded.</summary>
public sealed class QuantizationContext
{
    public QuantizationContext(IPrecisionPolicy policy, QuantizationReport report, bool collectReferenceWeights = false)
    {
        Policy = policy;
        Report = report;
        ReferenceWeights = collectReferenceWeights ? new List<WeightReplacement>() : null;
    }

    public IPrecisionPolicy Policy { get; }
    public QuantizationReport Report { get; }

    /// <summary>
    /// When the reference ONNX file is requested: each quantized weight as the replacement of the initializer it came
    /// from (<see cref="QuantizedOnnxWriter"/>); null otherwise.
    /// </summary>
    public List<WeightReplacement>? ReferenceWeights { get; }

    /// <summary>With a calibration set: what ran it, to measure the final plan's output error; null otherwise.</summary>
    public CalibratedQuantization? Calibrated { get; init; }
}
