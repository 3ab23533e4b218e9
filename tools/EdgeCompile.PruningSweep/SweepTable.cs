using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace EdgeCompile.PruningSweep;

/// <summary>Writes the sweep as CSV (for the plot script, docs/plot_pruning_sweep.py) and as a Markdown table per fixture.</summary>
public static class SweepTable
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public const string CsvHeader =
        "family,prune,mode,quantize,status,accuracy,ort_fp32_accuracy,points_vs_ort,weight_bytes,onnx_bytes,ratio_to_onnx,meets_headline,output_error,compile_seconds,run_seconds,note";

    public static void WriteCsv(string path, IEnumerable<SweepResult> results)
    {
        var text = new StringBuilder(CsvHeader).Append('\n');
        foreach (var r in results)
            text.Append(string.Join(",",
                r.Family, r.Configuration.Fraction.ToString("0.##", Invariant), r.Configuration.ModeName, r.Configuration.Quantize, r.Status,
                Number(r.Accuracy, "0.0000"), Number(r.OrtAccuracy, "0.0000"), Number(r.PointsVsOrt, "0.00"),
                r.Ok ? r.WeightBytes.ToString(Invariant) : "", r.OnnxBytes.ToString(Invariant), Number(r.RatioToOnnx, "0.000"),
                r.MeetsHeadline ? "yes" : "no", r.OutputError is { } e ? e.ToString("0.#####", Invariant) : "",
                r.CompileSeconds.ToString("0.0", Invariant), r.RunSeconds.ToString("0.0", Invariant), Quote(r.Note))).Append('\n');
        File.WriteAllText(path, text.ToString());
    }

    /// <param name="header">Lines above the tables: the command, date, machine, commit.</param>
    public static void WriteMarkdown(string path, IReadOnlyList<SweepResult> results, IEnumerable<string> header)
    {
        var md = new StringBuilder();
        foreach (var line in header) md.Append(line).Append('\n');
        md.Append('\n');
        foreach (var family in results.Select(r => r.Family).Distinct())
        {
            var rows = results.Where(r => r.Family == family).ToList();
            var first = rows[0];
            md.Append(string.Create(Invariant, $"### {family}\n\nFP32 ONNX file {first.OnnxBytes:N0} bytes; ONNX Runtime FP32 accuracy {100 * first.OrtAccuracy:0.0} % on {family}'s test set.\n\n"));
            md.Append("| Prune | PruneMode | Quantize | accuracy | points vs ORT FP32 | weight bytes | × smaller than ONNX | 8× and ≤ 2 points | calibration output error |\n");
            md.Append("| ---: | --- | --- | ---: | ---: | ---: | ---: | :---: | ---: |\n");
            foreach (var r in rows)
            {
                var c = r.Configuration;
                string prune = c.Fraction.ToString("0.##", Invariant);
                if (!r.Ok)
                {
                    // One short reason; the CSV has the compiler's whole message.
                    string reason = "error " + r.Note;
                    md.Append($"| {prune} | {c.ModeName} | {c.Quantize} | {reason} | | | | | |\n");
                    continue;
                }
                md.Append(string.Create(Invariant,
                    $"| {prune} | {c.ModeName} | {c.Quantize} | {100 * r.Accuracy:0.0} % | {r.PointsVsOrt:+0.0;−0.0;0.0} | {r.WeightBytes:N0} | {r.RatioToOnnx:0.00}× | {(r.MeetsHeadline ? "yes" : "")} | {(r.OutputError is { } e ? e.ToString("0.####", Invariant) : "")} |\n"));
            }
            md.Append('\n');
        }
        File.WriteAllText(path, md.ToString());
    }

    private static string Number(double value, string format) => double.IsNaN(value) ? "" : value.ToString(format, Invariant);

    private static string Quote(string text) => text.Length == 0 ? "" : "\"" + text.Replace("\"", "\"\"").ReplaceLineEndings(" ") + "\"";
}
