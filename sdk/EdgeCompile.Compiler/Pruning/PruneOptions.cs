using System;
using System.Globalization;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>The <c>PruneMode</c> item metadata: which weights pruning removes.</summary>
public enum PruneMode
{
    /// <summary>
    /// Whole attention heads (their q/k/v columns and output-projection rows), whole FFN neurons (columns of the up
    /// projection, rows of the down projection) and conv channels: the layers shrink.
    /// </summary>
    Structured,
    /// <summary>round(4·Prune) of every 4 consecutive weights along each Dense's input dimension (0.5: 2:4); the layers stay dense.</summary>
    NM,
    /// <summary>The fraction Prune of each prunable Dense's weights, wherever they are; the layers stay dense.</summary>
    Unstructured,
}

/// <summary>
/// What a model's build asks of pruning (see README, "Pruning"). The defaults mean "no pruning", so a
/// <see cref="CompileRequest"/> that does not mention it compiles exactly as before. Pruning runs before quantization.
/// </summary>
public sealed record PruneOptions
{
    /// <summary>The largest <see cref="Fraction"/> accepted: beyond it a model keeps too little to be worth building.</summary>
    public const double MaxFraction = 0.9;

    public static readonly PruneOptions None = new();

    /// <summary>The fraction of each attention's heads, each FFN block's neurons and each conv channel group's channels
    /// (Structured) or of each prunable Dense's weights (NM, Unstructured) to remove, in [0, <see cref="MaxFraction"/>]; 0: no pruning.</summary>
    public double Fraction { get; init; }

    public PruneMode Mode { get; init; } = PruneMode.Structured;

    /// <summary>Folder of the calibration set (absolute), or null: neurons (weights) are ranked from the weights and not compensated.</summary>
    public string? CalibrationDirectory { get; init; }

    /// <summary>
    /// With a calibration set: refit the down projections after removing neurons, or update the remaining weights
    /// SparseGPT-style (NM, Unstructured) (the default). False ranks by the calibration activations but only drops the
    /// neurons (NM/Unstructured: prunes by magnitude); not item metadata, it is there to measure what compensation gains.
    /// </summary>
    public bool Compensate { get; init; } = true;

    /// <summary>
    /// NM and Unstructured with a calibration set: measure each layer's input moments on the model with the layers before it
    /// already pruned and compensated (SparseGPT's sequential order; the default), so that a layer's update also absorbs
    /// what the earlier layers' pruning changed in its input; false measures all of them once on the FP32 model (one
    /// calibration run instead of one per layer). Not item metadata: it is there to measure what the order gains
    /// (README, "NM and Unstructured").
    /// </summary>
    public bool SequentialMoments { get; init; } = true;

    /// <summary>Where to write the pruned model as ONNX (the reference ONNX Runtime checks the pruned numerics against), or null.</summary>
    public string? PrunedOnnxPath { get; init; }

    /// <summary>The build also writes the quantized reference ONNX file, which starts from the pruned model (set by the compiler).</summary>
    public bool QuantizedReference { get; init; }

    /// <summary>Pruning records the pruned initializers: for the pruned ONNX file or for the quantized reference built on it.</summary>
    public bool WritesOnnx => PrunedOnnxPath is not null || QuantizedReference;

    /// <summary>Where to write the pruning report (<c>&lt;Class&gt;.pruning.md</c>) when the model is not also quantized, or null.</summary>
    public string? ReportPath { get; init; }

    public bool Enabled => Fraction > 0;

    /// <summary>A number in [0, 0.9] in invariant culture (<c>0.4</c>); empty gives 0 (no pruning).</summary>
    public static bool TryParseFraction(string? text, out double value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text)) return true;
        return double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value) && value >= 0 && value <= MaxFraction;
    }

    /// <summary>A member name of <see cref="PruneMode"/>, any case; empty gives <see cref="PruneMode.Structured"/>.</summary>
    public static bool TryParseMode(string? text, out PruneMode mode)
    {
        mode = PruneMode.Structured;
        if (string.IsNullOrWhiteSpace(text)) return true;
        foreach (var name in Enum.GetNames<PruneMode>())
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                mode = Enum.Parse<PruneMode>(name);
                return true;
            }
        return false;
    }

    /// <summary>The accepted spellings of <see cref="PruneMode"/>, for messages.</summary>
    public static string ModeNames => string.Join(", ", Enum.GetNames<PruneMode>());
}
