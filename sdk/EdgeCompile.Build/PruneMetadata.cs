using System.Collections.Generic;
using System.IO;
using System;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Compiler.Pruning;
using Microsoft.Build.Framework;

namespace EdgeCompile.Build;

/// <summary>An <c>EdgeModel</c> item's pruning metadata, validated. The calibration folder is shared with quantization.</summary>
internal static class PruneSettings
{
    /// <summary>The item metadata this reads (<c>Calibration</c> is read by <see cref="QuantizeSettings"/>).</summary>
    public static readonly string[] MetadataNames = { "Prune", "PruneMode", "PrunedOnnx" };

    /// <summary>True when the item asks for pruning (a valid, non-zero <c>Prune</c>): then the calibration set is pruning's too.</summary>
    public static bool Requested(ITaskItem item) =>
        PruneOptions.TryParseFraction(item.GetMetadata("Prune"), out double fraction) && fraction > 0;

    /// <summary>
    /// Reads <c>Prune</c>, <c>PruneMode</c> and <c>PrunedOnnx</c>; problems go to <paramref name="errors"/>
    /// (EC1018–EC1021) or, for metadata without effect, <paramref name="warnings"/> (EC1022). Null when there is an error.
    /// </summary>
    /// <param name="calibration">The item's Calibration folder (absolute, checked by <see cref="QuantizeSettings"/>), or null.</param>
    public static PruneOptions? Read(ITaskItem item, string spec, string? calibration, string intermediate, string className,
        string projectFile, List<ItemError> errors, List<ItemError> warnings)
    {
        int before = errors.Count;
        string fractionText = item.GetMetadata("Prune").Trim();
        if (!PruneOptions.TryParseFraction(fractionText, out double fraction))
            errors.Add(new ItemError(Diagnostics.InvalidPrune, projectFile,
                $"EdgeModel '{spec}': Prune '{fractionText}' is not a fraction in [0, {PruneOptions.MaxFraction}]. Give the fraction to remove (of each FFN block's neurons, or with PruneMode NM/Unstructured of the prunable weights), e.g. Prune=\"0.4\"."));

        string modeText = item.GetMetadata("PruneMode").Trim();
        if (!PruneOptions.TryParseMode(modeText, out var mode))
            errors.Add(new ItemError(Diagnostics.InvalidPruneMode, projectFile,
                $"EdgeModel '{spec}': PruneMode '{modeText}' is not known. Use one of: {PruneOptions.ModeNames} (Structured is the default)."));

        else if (mode == PruneMode.NM && fraction > 0 && !SparsityPattern.IsUsableNm(fraction))
            errors.Add(new ItemError(Diagnostics.NmPruneUnusable, projectFile,
                $"EdgeModel '{spec}': PruneMode=\"NM\" with Prune=\"{fractionText}\" would remove {SparsityPattern.NmRemovedPerGroup(fraction)} of every {SparsityPattern.NmGroup} weights. Use Prune=\"0.25\", \"0.5\" (2:4) or \"0.75\"."));

        string onnxText = item.GetMetadata("PrunedOnnx").Trim();
        bool prunedOnnx = false;
        if (onnxText.Length > 0 && !bool.TryParse(onnxText, out prunedOnnx))
            errors.Add(new ItemError(Diagnostics.InvalidPrunedOnnx, projectFile,
                $"EdgeModel '{spec}': PrunedOnnx '{onnxText}' is not true or false."));

        if (errors.Count > before) return null;
        if (fraction == 0 && (modeText.Length > 0 || prunedOnnx))
            warnings.Add(new ItemError(Diagnostics.IgnoredPruneMetadata, projectFile,
                $"EdgeModel '{spec}': {(modeText.Length > 0 ? "PruneMode" : "PrunedOnnx")} has no effect without Prune and is ignored. Set Prune=\"<fraction>\" or remove it."));
        if (fraction == 0) return PruneOptions.None;
        return new PruneOptions
        {
            Fraction = fraction,
            Mode = mode,
            CalibrationDirectory = calibration,
            PrunedOnnxPath = prunedOnnx ? Path.Combine(intermediate, className + ".pruned.onnx") : null,
            ReportPath = Path.Combine(intermediate, className + ".pruning.md"),
        };
    }
}

/// <summary>An <c>EdgeModel</c> item's <c>SparseKernels</c> metadata: when its FP32 Dense layers with zero weights run on
/// <c>DenseSparse</c> (<see cref="SparseKernelMode"/>; README, "Sparse kernels for zero weights").</summary>
internal static class SparseKernelSettings
{
    public const string MetadataName = "SparseKernels";

    /// <summary>Reads <c>SparseKernels</c> (<c>Auto</c> when absent, any case); an unknown value goes to <paramref name="errors"/> (EC1023).</summary>
    public static SparseKernelMode Read(ITaskItem item, string spec, string projectFile, List<ItemError> errors)
    {
        string text = item.GetMetadata(MetadataName).Trim();
        if (text.Length == 0) return SparseKernelMode.Auto;
        // Enum.TryParse alone would accept numbers ("2") and combinations ("Auto,Never").
        foreach (var mode in Enum.GetValues<SparseKernelMode>())
            if (string.Equals(text, mode.ToString(), StringComparison.OrdinalIgnoreCase)) return mode;
        errors.Add(new ItemError(Diagnostics.InvalidSparseKernels, projectFile,
            $"EdgeModel '{spec}': SparseKernels '{text}' is not known. Use Auto (the default: DenseSparse only where it was measured to be faster), Never or Always (every FP32 Dense layer at density 0.5 or below, faster or not)."));
        return SparseKernelMode.Auto;
    }
}
