using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Quantization;
using Microsoft.Build.Framework;

namespace EdgeCompile.Build;

/// <summary>An <c>EdgeModel</c> item's quantization metadata, validated, with the files it adds to the build.</summary>
/// <param name="Options">What the compiler gets (report and reference-ONNX paths included).</param>
/// <param name="CalibrationFiles">Every file under the Calibration folder (absolute, sorted): inputs of the model's compile.</param>
internal sealed record QuantizeSettings(QuantizeOptions Options, IReadOnlyList<string> CalibrationFiles)
{
    /// <summary>The item metadata this reads.</summary>
    public static readonly string[] MetadataNames = { "Quantize", "Calibration", "MaxOutputError", "ActivationScales", "QuantizedOnnx" };

    /// <summary>
    /// Reads <c>Quantize</c>, <c>Calibration</c>, <c>MaxOutputError</c>, <c>ActivationScales</c> and <c>QuantizedOnnx</c>.
    /// Problems go to <paramref name="errors"/> (EC1011–EC1016) or, for metadata that would have no effect,
    /// <paramref name="warnings"/> (EC1017); the result is null when there is an error.
    /// </summary>
    public static QuantizeSettings? Read(ITaskItem item, string spec, string projectDirectory, string intermediate, string className,
        string projectFile, List<ItemError> errors, List<ItemError> warnings)
    {
        int before = errors.Count;
        string quantizeText = item.GetMetadata("Quantize").Trim();
        if (!QuantizeOptions.TryParseMode(quantizeText, out var mode))
            errors.Add(new ItemError(Diagnostics.InvalidQuantize, projectFile,
                $"EdgeModel '{spec}': Quantize '{quantizeText}' is not a quantization mode. Use one of: {QuantizeOptions.ModeNames} (case does not matter; None is the default)."));

        string calibrationText = item.GetMetadata("Calibration").Trim();
        string? calibration = null;
        var calibrationFiles = new List<string>();
        if (calibrationText.Length > 0)
        {
            calibration = Path.GetFullPath(Path.Combine(projectDirectory, calibrationText));
            if (!Directory.Exists(calibration))
                errors.Add(new ItemError(Diagnostics.CalibrationNotFound, projectFile,
                    $"EdgeModel '{spec}': the Calibration folder '{calibration}' does not exist. Fix the Calibration path (it is relative to the project folder) or add the folder with the calibration set."));
            else
                calibrationFiles.AddRange(Directory.GetFiles(calibration, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal));
        }

        string errorText = item.GetMetadata("MaxOutputError").Trim();
        if (!QuantizeOptions.TryParseMaxOutputError(errorText, out double maxOutputError))
            errors.Add(new ItemError(Diagnostics.InvalidMaxOutputError, projectFile,
                $"EdgeModel '{spec}': MaxOutputError '{errorText}' is not a positive number. Give the largest relative RMS error of the outputs Mixed may cause, ‖y_q − y‖₂ / ‖y‖₂, e.g. MaxOutputError=\"0.01\" (the default)."));

        string scalesText = item.GetMetadata("ActivationScales").Trim();
        if (!QuantizeOptions.TryParseActivationScales(scalesText, out var scales))
            errors.Add(new ItemError(Diagnostics.InvalidActivationScales, projectFile,
                $"EdgeModel '{spec}': ActivationScales '{scalesText}' is not known. Use one of: {QuantizeOptions.ActivationScaleNames} (Dynamic is the default)."));
        else if (scales != ActivationScaleMode.Dynamic && calibration is null)
            errors.Add(new ItemError(Diagnostics.ActivationScalesNeedCalibration, projectFile,
                $"EdgeModel '{spec}': ActivationScales=\"{scales}\" measures the activations on a calibration set, but the item has no Calibration folder. Add Calibration=\"<folder>\" or remove ActivationScales (Dynamic needs none)."));

        string onnxText = item.GetMetadata("QuantizedOnnx").Trim();
        bool quantizedOnnx = false;
        if (onnxText.Length > 0 && !bool.TryParse(onnxText, out quantizedOnnx))
            errors.Add(new ItemError(Diagnostics.InvalidQuantizedOnnx, projectFile,
                $"EdgeModel '{spec}': QuantizedOnnx '{onnxText}' is not true or false."));

        if (errors.Count > before) return null;

        // Metadata that this Quantize value ignores: say so rather than let the user believe it acts.
        var ignored = new List<string>();
        if (mode == QuantizeMode.None)
        {
            if (calibration is not null) ignored.Add("Calibration");
            if (quantizedOnnx) ignored.Add("QuantizedOnnx");
        }
        if (errorText.Length > 0 && mode != QuantizeMode.Mixed) ignored.Add("MaxOutputError");
        if (scales != ActivationScaleMode.Dynamic && mode is not (QuantizeMode.Int8 or QuantizeMode.Mixed)) ignored.Add("ActivationScales");
        if (ignored.Count > 0)
            warnings.Add(new ItemError(Diagnostics.IgnoredQuantizeMetadata, projectFile,
                $"EdgeModel '{spec}': {string.Join(", ", ignored)} has no effect with Quantize=\"{mode}\" and is ignored. {(mode == QuantizeMode.None ? "Set Quantize" : "Remove it")} (MaxOutputError is for Mixed, ActivationScales for Int8 and Mixed)."));

        var options = new QuantizeOptions
        {
            Mode = mode,
            CalibrationDirectory = mode == QuantizeMode.None ? null : calibration,
            MaxOutputError = maxOutputError,
            ActivationScales = scales,
            ReportPath = mode == QuantizeMode.None ? null : Path.Combine(intermediate, className + ".quantization.md"),
            QuantizedOnnxPath = mode != QuantizeMode.None && quantizedOnnx ? Path.Combine(intermediate, className + ".quantized.onnx") : null,
        };
        return new QuantizeSettings(options, options.CalibrationDirectory is null ? Array.Empty<string>() : calibrationFiles);
    }

    /// <summary>The part of a model's inputs key that quantization adds: the calibration files by name and size
    /// (so adding, removing or resizing one changes the key; a rewrite in place is caught by its timestamp).</summary>
    public string InputsKey(string projectDirectory) =>
        "calibration=" + string.Join(",", CalibrationFiles.Select(f => Path.GetRelativePath(projectDirectory, f).Replace('\\', '/') + ":" + new FileInfo(f).Length));
}
