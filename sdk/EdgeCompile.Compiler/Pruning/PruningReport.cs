using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>One FFN block's outcome. Errors are relative output errors of the block on the calibration set (null without one).</summary>
public sealed record PrunedBlock(string Up, string Down, int Neurons, int Kept, double? ErrorDropped, double? ErrorCompensated, bool Compensated);

/// <summary>What pruning did, for the build report (own file, or a section of the quantization report) and one log line.</summary>
public sealed class PruningReport
{
    public PruningReport(double fraction) => Fraction = fraction;

    public double Fraction { get; }
    public PruneMode Mode { get; init; } = PruneMode.Structured;
    /// <summary>NM/Unstructured: the pattern and the pruned layers (<see cref="SparsityPruner"/>).</summary>
    public SparsityPattern? Pattern { get; init; }
    public List<SparseLayer> Layers { get; } = new();
    public List<PrunedBlock> Blocks { get; } = new();
    public int CalibrationSamples { get; set; }
    public long ParametersBefore { get; set; }
    public long ParametersAfter { get; set; }
    /// <summary>The FP32 weights blob of the plan before and after pruning (before any quantization).</summary>
    public long Fp32BytesBefore { get; set; }
    public long Fp32BytesAfter { get; set; }

    public string Ranking => CalibrationSamples > 0
        ? $"neurons ranked by E|a_j|·‖W_down[j,:]‖₂ on {CalibrationSamples} calibration samples; the down projection refitted by least squares on their activations (damping {DownProjectionRefit.Damping:0.##} × mean diagonal)"
        : "neurons ranked by ‖W_up[:,j]‖₂·‖W_down[j,:]‖₂ (no calibration set: no compensation)";

    /// <summary>The one build-log line.</summary>
    public string Summary(string className)
    {
        if (Mode != PruneMode.Structured) return SparsityReport.Summary(this, className);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{className}: pruned {Fraction:0.###} structured, {Blocks.Count} FFN blocks, neurons {Blocks.Sum(b => b.Neurons):N0} → {Blocks.Sum(b => b.Kept):N0}, parameters {ParametersBefore:N0} → {ParametersAfter:N0}, FP32 weights {Fp32BytesBefore:N0} → {Fp32BytesAfter:N0} bytes");
        if (CalibrationSamples > 0)
            text.Append(CultureInfo.InvariantCulture, $", worst block error {Blocks.Max(b => b.ErrorDropped ?? 0):0.####} dropped → {Blocks.Max(b => b.ErrorCompensated ?? 0):0.####} compensated");
        return text.ToString();
    }

    /// <summary>The report section (a level-2 heading and a table), appended to the quantization report when there is one.</summary>
    public string ToMarkdown()
    {
        if (Mode != PruneMode.Structured) return SparsityReport.ToMarkdown(this);
        var md = new StringBuilder();
        md.AppendLine("## Pruning").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Prune = {Fraction:0.###}, PruneMode = Structured (FFN neurons); {Ranking}.").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Parameters {ParametersBefore:N0} → {ParametersAfter:N0}; FP32 weights {Fp32BytesBefore:N0} → {Fp32BytesAfter:N0} bytes.").AppendLine();
        md.AppendLine("| up projection | down projection | neurons | error, dropped | error, compensated |");
        md.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var b in Blocks)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| `{b.Up}` | `{b.Down}` | {b.Neurons} → {b.Kept} | {Number(b.ErrorDropped)} | {(b.Compensated || b.ErrorCompensated is null ? Number(b.ErrorCompensated) : Number(b.ErrorCompensated) + " (not used)")} |");
        md.AppendLine().AppendLine("Errors: relative output error of the block, ‖Y_pruned − Y‖ / ‖Y‖ over the calibration tokens.");
        return md.ToString();
    }

    /// <summary>A whole report file for a model that is pruned but not quantized.</summary>
    public string ToDocument(string className, string source) => $"# {className}: pruning\n\nModel: `{source}`\n\n{ToMarkdown()}";

    private static string Number(double? v) => v is double d ? d.ToString("0.####", CultureInfo.InvariantCulture) : "—";
}
