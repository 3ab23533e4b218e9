using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>One row of the build report: a layer with weights, what it became and what it costs.</summary>
/// <param name="Node">The plan op's node name.</param>
/// <param name="Kind"><c>Dense</c>, <c>Embedding</c> or <c>Conv2d</c>.</param>
/// <param name="Shape"><c>K×N</c>, <c>V×D</c>, or a convolution's filter shape.</param>
/// <param name="WeightError">Relative RMS error of the weights the kernel uses against the FP32 weights; null when not measured.</param>
/// <param name="BytesBefore">Bytes of the layer's weights in an FP32 build (Dense: the packed panels), bias excluded.</param>
/// <param name="BytesAfter">Bytes of every weight tensor the layer's op reads now (values, scales, column sums), bias excluded.</param>
/// <param name="Note">Why a layer stays FP32 when the mode would change it, or null.</param>
public sealed record LayerReport(string Node, string Kind, string Shape, Precision Precision, double? WeightError, long BytesBefore, long BytesAfter, string? Note = null);

/// <summary>
/// The per-model quantization report: filled by the lowering layer by layer, completed with the whole blob's totals
/// once the plan is final, written as <c>&lt;Class&gt;.quantization.md</c> and summarised in one build-log line.
/// </summary>
public sealed class QuantizationReport
{
    public QuantizationReport(QuantizeMode mode) => Mode = mode;

    public QuantizeMode Mode { get; }
    public List<LayerReport> Layers { get; } = new();
    /// <summary>How the precisions were chosen, one sentence (e.g. Mixed from weight statistics), or null.</summary>
    public string? PolicyNote { get; set; }

    /// <summary>Bytes of all weights in the plan (quantized or not, bias, norms...), before padding to 64-byte alignment.</summary>
    public long TotalAfter { get; private set; }
    /// <summary><see cref="TotalAfter"/> with every reported layer at its FP32 size: what an FP32 build of the same graph stores.</summary>
    public long TotalBefore { get; private set; }

    public double Ratio => TotalAfter == 0 ? 1 : (double)TotalBefore / TotalAfter;

    /// <summary>Sets the totals from the final plan's weight tensors.</summary>
    public void Complete(Plan plan)
    {
        TotalAfter = WeightTensorBytes(plan);
        TotalBefore = TotalAfter - Layers.Sum(l => l.BytesAfter) + Layers.Sum(l => l.BytesBefore);
    }

    /// <summary>Σ element bytes over the weight tensors that own storage (what the blob holds, alignment aside).</summary>
    public static long WeightTensorBytes(Plan plan) =>
        plan.Tensors.Where(t => t.Storage == StorageKind.Weight && t.ViewOf is null)
            .Sum(t => (long)t.Data!.Count * Ir.ElementTypes.Size(t.Type));

    /// <summary>The build-log line: <c>Spam: Int8, 14 layers (12 INT8, 2 FP32), weights 3,528,112 → 913,400 bytes (3.86x smaller)</c>.</summary>
    public string Summary(string className)
    {
        var counts = Layers.GroupBy(l => l.Precision).OrderByDescending(g => g.Key).Select(g => $"{g.Count()} {Name(g.Key)}");
        return string.Format(CultureInfo.InvariantCulture, "{0}: {1}, {2} layers ({3}), weights {4:N0} → {5:N0} bytes ({6:0.00}x smaller)",
            className, Mode, Layers.Count, string.Join(", ", counts), TotalBefore, TotalAfter, Ratio);
    }

    public string ToMarkdown(string className, string source)
    {
        var sb = new StringBuilder();
        void Line(string s = "") => sb.Append(s).Append('\n');
        Line($"# Quantization report: {className}");
        Line();
        Line($"Model `{source}`, `Quantize=\"{Mode}\"`.{(PolicyNote is null ? "" : " " + PolicyNote)}");
        Line();
        Line("Weight error: relative RMS error of the weights the kernel multiplies by, against the FP32 weights,");
        Line("‖W_q − W‖₂ / ‖W‖₂ (0 for FP32). Bytes: the layer's weight tensors (values, scales, column sums; bias");
        Line("excluded) in an FP32 build and in this one.");
        Line();
        Line("| node | kind | shape | precision | weight error | bytes before | bytes after | note |");
        Line("| --- | --- | --- | --- | ---: | ---: | ---: | --- |");
        foreach (var l in Layers)
        {
            string error = l.WeightError is { } e ? e.ToString("0.00000", CultureInfo.InvariantCulture) : "—";
            Line(string.Format(CultureInfo.InvariantCulture, "| `{0}` | {1} | {2} | {3} | {4} | {5:N0} | {6:N0} | {7} |",
                l.Node.Replace("|", "\\|").Replace("`", "'"), l.Kind, l.Shape, Name(l.Precision), error, l.BytesBefore, l.BytesAfter, l.Note ?? ""));
        }
        Line();
        Line("Totals over every weight of the model (quantized layers, FP32 layers, biases, norms, positions...):");
        Line();
        Line(string.Format(CultureInfo.InvariantCulture, "- weights before: {0:N0} bytes", TotalBefore));
        Line(string.Format(CultureInfo.InvariantCulture, "- weights after: {0:N0} bytes", TotalAfter));
        Line(string.Format(CultureInfo.InvariantCulture, "- ratio: {0:0.00}x smaller", Ratio));
        foreach (var g in Layers.GroupBy(l => l.Precision).OrderByDescending(g => g.Key))
            Line(string.Format(CultureInfo.InvariantCulture, "- {0}: {1} layer(s), {2:N0} → {3:N0} bytes", Name(g.Key), g.Count(), g.Sum(l => l.BytesBefore), g.Sum(l => l.BytesAfter)));
        return sb.ToString();
    }

    public static string Name(Precision p) => p switch
    {
        Precision.Fp32 => "FP32",
        Precision.Fp16 => "FP16",
        Precision.Int8 => "INT8",
        _ => "INT4",
    };
}
