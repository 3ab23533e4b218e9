using System;
using System.Globalization;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>The <c>Quantize</c> item metadata: how the build stores and runs the quantizable layers.</summary>
public enum QuantizeMode
{
    /// <summary>Everything FP32, as before quantization existed.</summary>
    None,
    /// <summary>Every quantizable layer's weights as IEEE half; arithmetic in float.</summary>
    Fp16,
    /// <summary>Dense layers INT8 × INT8 → INT32 (weights per column, activations per row or static); embeddings INT8 per row.</summary>
    Int8,
    /// <summary>A precision per layer, the cheapest that keeps the output error under <c>MaxOutputError</c>.</summary>
    Mixed,
    /// <summary>Weight-only INT4 in blocks of 32 with half scales; embeddings INT4 per row in blocks.</summary>
    Int4,
}

/// <summary>The <c>ActivationScales</c> item metadata: how INT8 layers quantize their input.</summary>
public enum ActivationScaleMode
{
    /// <summary>A scale per row, computed at run time from the row's largest magnitude.</summary>
    Dynamic,
    /// <summary>One static scale per layer: the largest magnitude seen over the calibration set.</summary>
    MinMax,
    /// <summary>One static scale per layer: a high percentile of the magnitudes over the calibration set (clips outliers).</summary>
    Percentile,
}

/// <summary>
/// What a model's build asks of quantization (see docs/quantization.md). The defaults mean "no quantization", so a
/// <see cref="CompileRequest"/> that does not mention it compiles exactly as before.
/// </summary>
public sealed record QuantizeOptions
{
    /// <summary>The default budget of <see cref="MaxOutputError"/>: 1 % relative RMS error of the outputs.</summary>
    public const double DefaultMaxOutputError = 0.01;

    public static readonly QuantizeOptions None = new();

    public QuantizeMode Mode { get; init; } = QuantizeMode.None;

    /// <summary>Folder of the calibration set (absolute), or null: the calibration-free choices are made.</summary>
    public string? CalibrationDirectory { get; init; }

    /// <summary>
    /// <c>Mixed</c> only: the error budget, as the relative RMS error of the outputs over the calibration set,
    /// ‖y_q − y‖₂ / ‖y‖₂. Without calibration it bounds each layer's relative weight error instead (see README).
    /// </summary>
    public double MaxOutputError { get; init; } = DefaultMaxOutputError;

    public ActivationScaleMode ActivationScales { get; init; } = ActivationScaleMode.Dynamic;

    /// <summary>Where to write the reference ONNX model with the quantized weights, or null for none.</summary>
    public string? QuantizedOnnxPath { get; init; }

    /// <summary>Where to write the per-layer report (<c>&lt;Class&gt;.quantization.md</c>), or null for none.</summary>
    public string? ReportPath { get; init; }

    public bool Enabled => Mode != QuantizeMode.None;

    /// <summary>The accepted spellings of <see cref="QuantizeMode"/>, for messages.</summary>
    public static string ModeNames => string.Join(", ", Enum.GetNames<QuantizeMode>());

    /// <summary>The accepted spellings of <see cref="ActivationScaleMode"/>, for messages.</summary>
    public static string ActivationScaleNames => string.Join(", ", Enum.GetNames<ActivationScaleMode>());

    /// <summary>Parses metadata text, case-insensitively; empty means <see cref="QuantizeMode.None"/>. Numbers are refused.</summary>
    public static bool TryParseMode(string? text, out QuantizeMode mode) => TryParseName(text, QuantizeMode.None, out mode);

    /// <inheritdoc cref="TryParseMode"/>
    public static bool TryParseActivationScales(string? text, out ActivationScaleMode mode) => TryParseName(text, ActivationScaleMode.Dynamic, out mode);

    /// <summary>A finite number &gt; 0 in invariant culture (<c>0.01</c>, <c>1e-3</c>); empty gives the default.</summary>
    public static bool TryParseMaxOutputError(string? text, out double value)
    {
        value = DefaultMaxOutputError;
        if (string.IsNullOrWhiteSpace(text)) return true;
        return double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value) && value > 0;
    }

    private static bool TryParseName<T>(string? text, T empty, out T value) where T : struct, Enum
    {
        value = empty;
        if (string.IsNullOrWhiteSpace(text)) return true;
        string t = text.Trim();
        // Enum.TryParse also accepts "1" or "Int8,Fp16"; only a member's name is a valid spelling.
        foreach (var name in Enum.GetNames<T>())
            if (string.Equals(name, t, StringComparison.OrdinalIgnoreCase))
            {
                value = Enum.Parse<T>(name);
                return true;
            }
        return false;
    }
}
