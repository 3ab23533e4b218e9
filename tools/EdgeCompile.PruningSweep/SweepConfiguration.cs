using System.Globalization;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;

namespace EdgeCompile.PruningSweep;

/// <summary>One point of the grid. <see cref="Fraction"/> 0 is the unpruned model, the same for every mode, so it is built once.</summary>
public sealed record SweepConfiguration(double Fraction, PruneMode? Mode, QuantizeMode Quantize)
{
    /// <summary>"none" for the unpruned model, else the <c>PruneMode</c> name.</summary>
    public string ModeName => Mode?.ToString() ?? "none";

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"Prune={Fraction:0.##} PruneMode={ModeName} Quantize={Quantize}");
}

/// <summary>What one configuration measured on one fixture.</summary>
/// <param name="Status"><c>ok</c>, or <c>error</c> when the compiler refuses the configuration (the note has its code and message).</param>
/// <param name="Accuracy">On the fixture's test set, run by the plan interpreter; NaN unless ok.</param>
/// <param name="WeightBytes">The plan's weights blob; 0 unless ok.</param>
/// <param name="OutputError">Quantization's measured relative output error on the calibration set, if it measured one.</param>
public sealed record SweepResult(
    string Family, SweepConfiguration Configuration, string Status, double Accuracy, long WeightBytes, long OnnxBytes,
    double OrtAccuracy, double? OutputError, double CompileSeconds, double RunSeconds, string Note)
{
    public bool Ok => Status == "ok";

    /// <summary>How many times smaller than the FP32 ONNX file the plan's weights are.</summary>
    public double RatioToOnnx => Ok ? (double)OnnxBytes / WeightBytes : double.NaN;

    /// <summary>Accuracy points (percent) against ONNX Runtime on the FP32 file; negative: lost.</summary>
    public double PointsVsOrt => Ok ? 100 * (Accuracy - OrtAccuracy) : double.NaN;

    /// <summary>The headline: at least 8× smaller than the FP32 ONNX file, at most 2 points lost.</summary>
    public bool MeetsHeadline => Ok && RatioToOnnx >= 8 && PointsVsOrt >= -2 - 1e-9;
}
