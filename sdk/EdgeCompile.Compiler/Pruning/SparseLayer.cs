using System.Globalization;
using System.Linq;
using System.Text;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// One Dense pruned by NM/Unstructured. Errors are the layer's relative output error on the calibration set
/// (<see cref="SparseGpt.RelativeError"/>) with magnitude pruning (the mask alone) and with SparseGPT's compensation;
/// null without a calibration set (or when H could not be factorised, for the second).
/// </summary>
public sealed record SparseLayer(string Node, int K, int N, long Zeros, double? ErrorMagnitude, double? ErrorCompensated, bool Compensated)
{
    public double Sparsity => (double)Zeros / ((long)K * N);
}

/// <summary>The NM/Unstructured rendering of a <see cref="PruningReport"/>.</summary>
internal static class SparsityReport
{
    public static string Method(PruningReport r) => r.CalibrationSamples > 0
        ? $"mask and compensation SparseGPT-style on {r.CalibrationSamples} calibration samples (OBS saliency w²/[H⁻¹]_kk, damping {Quantization.ObsFactorization.Damping:0.##} × mean diagonal), kept per layer only where it lowers the calibration error below magnitude pruning's"
        : "magnitude pruning (no calibration set: no compensation)";

    public static string Summary(PruningReport r, string className)
    {
        long zeros = r.Layers.Sum(l => l.Zeros), total = r.Layers.Sum(l => (long)l.K * l.N);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{className}: pruned {r.Fraction:0.###} {r.Mode} ({r.Pattern}), {r.Layers.Count} Dense layers, {zeros:N0} of {total:N0} weights zero ({(total > 0 ? (double)zeros / total : 0):P1}), stored dense");
        if (r.CalibrationSamples > 0 && r.Layers.Count > 0)
            text.Append(CultureInfo.InvariantCulture,
                $", worst layer error {r.Layers.Max(l => l.ErrorMagnitude ?? 0):0.####} magnitude → {r.Layers.Max(l => l.Compensated ? l.ErrorCompensated!.Value : l.ErrorMagnitude ?? 0):0.####} compensated, {r.Layers.Count(l => l.Compensated)} of {r.Layers.Count} layers compensated");
        return text.ToString();
    }

    public static string ToMarkdown(PruningReport r)
    {
        var md = new StringBuilder();
        md.AppendLine("## Pruning").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Prune = {r.Fraction:0.###}, PruneMode = {r.Mode} ({r.Pattern}); {Method(r)}. The layers stay dense in the plan, zeros stored.").AppendLine();
        md.AppendLine("| layer | K×N | zero weights | sparsity | error, magnitude (mask only) | error, compensated |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var l in r.Layers)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| `{l.Node}` | {l.K}×{l.N} | {l.Zeros:N0} | {l.Sparsity:P1} | {Number(l.ErrorMagnitude)} | {(l.Compensated || l.ErrorCompensated is null ? Number(l.ErrorCompensated) : Number(l.ErrorCompensated) + " (not used)")} |");
        md.AppendLine().AppendLine("Errors: relative output error of the layer, ‖X·(W − Ŵ)‖ / ‖X·W‖ over the calibration rows (X: the layer's FP32 inputs).");
        return md.ToString();
    }

    private static string Number(double? v) => v is double d ? d.ToString("0.####", CultureInfo.InvariantCulture) : "—";
}
