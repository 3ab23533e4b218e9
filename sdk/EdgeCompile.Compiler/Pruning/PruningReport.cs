using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>One FFN block's outcome. Errors are relative output errors of the block on the calibration set (null without one).</summary>
public sealed record PrunedBlock(string Up, string Down, int Neurons, int Kept, double? ErrorDropped, double? ErrorCompensated, bool Compensated);

/// <summary>
/// One attention layer's outcome: heads before and after, which stayed, and the output projection's relative error on
/// the calibration set with the removed heads dropped and after its refit (null without one).
/// </summary>
public sealed record PrunedHeads(string Attention, string Output, int Heads, int Kept, IReadOnlyList<int> KeptHeads, double? ErrorDropped, double? ErrorCompensated, bool Compensated);

/// <summary>
/// One conv channel group's outcome (<see cref="ConvChannelGroup"/>). Errors are relative output errors of the consumer
/// on the calibration set (null without one).
/// </summary>
public sealed record PrunedChannelGroup(string Producer, string? Depthwise, string Consumer, int Channels, int Kept, double? ErrorDropped, double? ErrorCompensated, bool Compensated);

/// <summary>
/// One residual channel group's outcome (<see cref="ResidualChannelGroup"/>), named by its first producer. Errors are the
/// worst relative output error over its consumers on the calibration set (null without one).
/// </summary>
public sealed record PrunedResidualGroup(string FirstProducer, int Producers, int ScaleShifts, int Consumers, int Channels, int Kept, double? ErrorDropped, double? ErrorCompensated, bool Compensated);

/// <summary>What pruning did, for the build report (own file, or a section of the quantization report) and one log line.</summary>
public sealed class PruningReport
{
    public PruningReport(double fraction) => Fraction = fraction;

    /// <summary>The Prune asked for: the fraction of the prunable weights removed.</summary>
    public double Fraction { get; set; }
    /// <summary>
    /// The fraction of each dimension (heads, neurons, channels) removed to get there, when it differs from
    /// <see cref="Fraction"/> (a model with residual channel groups: <see cref="ResidualChannelPruner.PerDimensionFraction"/>).
    /// </summary>
    public double? DimensionFraction { get; set; }
    public PruneMode Mode { get; init; } = PruneMode.Structured;
    /// <summary>NM/Unstructured: the pattern and the pruned layers (<see cref="SparsityPruner"/>).</summary>
    public SparsityPattern? Pattern { get; init; }
    public List<SparseLayer> Layers { get; } = new();
    public List<PrunedBlock> Blocks { get; } = new();
    public List<PrunedHeads> Attention { get; } = new();
    public List<PrunedChannelGroup> ConvGroups { get; } = new();
    public List<PrunedResidualGroup> ResidualGroups { get; } = new();
    public int CalibrationSamples { get; set; }
    public long ParametersBefore { get; set; }
    public long ParametersAfter { get; set; }
    /// <summary>The FP32 weights blob of the plan before and after pruning (before any quantization).</summary>
    public long Fp32BytesBefore { get; set; }
    public long Fp32BytesAfter { get; set; }

    public string Ranking => (CalibrationSamples > 0
        ? $"heads ranked by sqrt(E‖o_h·W_o[rows of h]‖²) and their output projection refitted the same way; "
        : "heads ranked by ‖W_v[:,columns of h]‖_F·‖W_o[rows of h]‖_F; ") + NeuronRankingText;

    private string NeuronRankingText => CalibrationSamples > 0
        ? $"neurons ranked by E|a_j|·‖W_down[j,:]‖₂ on {CalibrationSamples} calibration samples; the down projection refitted by least squares on their activations (damping {DownProjectionRefit.Damping:0.##} × mean diagonal)"
        : "neurons ranked by ‖W_up[:,j]‖₂·‖W_down[j,:]‖₂ (no calibration set: no compensation)";

    public string ChannelRanking => CalibrationSamples > 0
        ? $"conv channels ranked by E|a_c|·‖W_consumer[:,c]‖₂, a_c the channel the 1×1 consumer reads, over every pixel of the {CalibrationSamples} calibration samples; the consumer refitted by the same least squares"
        : "conv channels ranked by ‖W_producer[c]‖₂ (× ‖W_depthwise[c]‖₂)·‖W_consumer[:,c]‖₂ (no calibration set: no compensation)";

    public string ResidualRanking => CalibrationSamples > 0
        ? $"channels ranked by Σ_consumers E|a_c|·‖W_consumer[c,:]‖₂, a_c the channel as each consumer reads it on the {CalibrationSamples} calibration samples; each consumer refitted by the same least squares"
        : "channels ranked by ‖W_producers[:,c]‖₂·rms(γ_c)·‖W_consumers[c,:]‖₂ (no calibration set: no compensation)";

    /// <summary>The one build-log line.</summary>
    public string Summary(string className)
    {
        if (Mode != PruneMode.Structured) return SparsityReport.Summary(this, className);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{className}: pruned {Fraction:0.###} structured, {Blocks.Count} FFN blocks, neurons {Blocks.Sum(b => b.Neurons):N0} → {Blocks.Sum(b => b.Kept):N0}");
        if (ConvGroups.Count > 0)
            text.Append(CultureInfo.InvariantCulture, $", {ConvGroups.Count} conv channel groups, channels {ConvGroups.Sum(g => g.Channels):N0} → {ConvGroups.Sum(g => g.Kept):N0}");
        if (ResidualGroups.Count > 0)
            text.Append(CultureInfo.InvariantCulture, $", {ResidualGroups.Count} residual channel groups, channels {ResidualGroups.Sum(g => g.Channels):N0} → {ResidualGroups.Sum(g => g.Kept):N0} ({DimensionFraction:0.###} of each dimension)");
        text.Append(CultureInfo.InvariantCulture, $", parameters {ParametersBefore:N0} → {ParametersAfter:N0}, FP32 weights {Fp32BytesBefore:N0} → {Fp32BytesAfter:N0} bytes");
        if (CalibrationSamples > 0)
        {
            var dropped = Blocks.Select(b => b.ErrorDropped ?? 0).Concat(ConvGroups.Select(g => g.ErrorDropped ?? 0)).DefaultIfEmpty(0).Max();
            var chosen = Blocks.Select(b => b.ErrorCompensated ?? 0).Concat(ConvGroups.Select(g => g.ErrorCompensated ?? 0)).DefaultIfEmpty(0).Max();
            if (Blocks.Count > 0 || ConvGroups.Count > 0)
                text.Append(CultureInfo.InvariantCulture, $", worst block error {dropped:0.####} dropped → {chosen:0.####} compensated");
        }
        if (Attention.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $", {Attention.Count} attention layers, heads {Attention.Sum(a => a.Heads):N0} → {Attention.Sum(a => a.Kept):N0}");
            if (CalibrationSamples > 0)
                text.Append(CultureInfo.InvariantCulture, $" (worst layer error {Attention.Max(a => a.ErrorDropped ?? 0):0.####} dropped → {Attention.Max(a => (a.Compensated ? a.ErrorCompensated : a.ErrorDropped) ?? 0):0.####} compensated)");
        }
        return text.ToString();
    }

    /// <summary>The report section (a level-2 heading and a table), appended to the quantization report when there is one.</summary>
    public string ToMarkdown()
    {
        if (Mode != PruneMode.Structured) return SparsityReport.ToMarkdown(this);
        var md = new StringBuilder();
        md.AppendLine("## Pruning").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Prune = {Fraction:0.###}, PruneMode = Structured (attention heads, then FFN neurons{(ConvGroups.Count > 0 ? ", then conv channels" : "")}{(ResidualGroups.Count > 0 ? ", then residual (NoNorm) channels" : "")}); {Ranking}.").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Parameters {ParametersBefore:N0} → {ParametersAfter:N0}; FP32 weights {Fp32BytesBefore:N0} → {Fp32BytesAfter:N0} bytes.").AppendLine();
        if (Attention.Count > 0)
        {
            md.AppendLine("| attention | output projection | heads | kept | error, dropped | error, compensated |");
            md.AppendLine("| --- | --- | --- | --- | --- | --- |");
            foreach (var a in Attention)
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| `{a.Attention}` | `{a.Output}` | {a.Heads} → {a.Kept} | {(a.Kept == a.Heads ? "all" : string.Join(", ", a.KeptHeads))} | {Number(a.ErrorDropped)} | {(a.Compensated || a.ErrorCompensated is null ? Number(a.ErrorCompensated) : Number(a.ErrorCompensated) + " (not used)")} |");
            md.AppendLine();
        }
        md.AppendLine("| up projection | down projection | neurons | error, dropped | error, compensated |");
        md.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var b in Blocks)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| `{b.Up}` | `{b.Down}` | {b.Neurons} → {b.Kept} | {Number(b.ErrorDropped)} | {(b.Compensated || b.ErrorCompensated is null ? Number(b.ErrorCompensated) : Number(b.ErrorCompensated) + " (not used)")} |");
        md.AppendLine().AppendLine("Errors: relative output error of the output projection (attention) or of the block (FFN), ‖Y_pruned − Y‖ / ‖Y‖ over the calibration tokens.");
        if (ConvGroups.Count > 0)
        {
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Conv channel groups: {ChannelRanking}.").AppendLine();
            md.AppendLine("| producer | depthwise | consumer (1×1) | channels | error, dropped | error, compensated |");
            md.AppendLine("| --- | --- | --- | --- | --- | --- |");
            foreach (var g in ConvGroups)
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| `{g.Producer}` | {(g.Depthwise is null ? "—" : $"`{g.Depthwise}`")} | `{g.Consumer}` | {g.Channels} → {g.Kept} | {Number(g.ErrorDropped)} | {(g.Compensated || g.ErrorCompensated is null ? Number(g.ErrorCompensated) : Number(g.ErrorCompensated) + " (not used)")} |");
            md.AppendLine().AppendLine("Errors: relative output error of the 1×1 consumer, over every pixel of the calibration images.");
        }
        if (ResidualGroups.Count > 0)
        {
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"Residual channel groups (NoNorm streams: producers' columns, γ/β, consumers' rows), {DimensionFraction:0.###} of every dimension removed so that {Fraction:0.###} of the prunable weights are: {ResidualRanking}.").AppendLine();
            md.AppendLine("| first producer | producers | NoNorms | consumers | channels | worst error, dropped | worst error, compensated |");
            md.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
            foreach (var g in ResidualGroups)
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| `{g.FirstProducer}` | {g.Producers} | {g.ScaleShifts} | {g.Consumers} | {g.Channels} → {g.Kept} | {Number(g.ErrorDropped)} | {Number(g.ErrorCompensated)}{(g.Compensated || g.ErrorCompensated is null ? "" : " (not used)")} |");
            md.AppendLine().AppendLine("Errors: the worst relative output error of one consumer (pre-activation), over the calibration tokens.");
        }
        return md.ToString();
    }

    /// <summary>A whole report file for a model that is pruned but not quantized.</summary>
    public string ToDocument(string className, string source) => $"# {className}: pruning\n\nModel: `{source}`\n\n{ToMarkdown()}";

    private static string Number(double? v) => v is double d ? d.ToString("0.####", CultureInfo.InvariantCulture) : "—";
}
