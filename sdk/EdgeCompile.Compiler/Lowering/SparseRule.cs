using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// What the lowering decided for one constant FP32 Dense weight: the sparse kernel (<c>DenseSparse</c>) or the dense
/// packed one, and why. One per such layer, in <see cref="Planning.Plan.SparseDecisions"/>, for the build log and the
/// pruning report. <see cref="DenseBytes"/> is what the dense kernel stores (the panel-packed matrix),
/// <see cref="SparseBytes"/> what the sparse kernel would store (values, indices, column starts); the layer stores
/// the one its kernel reads.
/// </summary>
public sealed record SparseDecision(string Node, long K, long N, long Rows, long Nonzeros, double BreakEven, bool Sparse, string Reason,
    long DenseBytes, long SparseBytes)
{
    public double Density => K * N == 0 ? 1 : (double)Nonzeros / (K * N);
    public long StoredBytes => Sparse ? SparseBytes : DenseBytes;
    public string Kernel => Sparse ? "DenseSparse" : "Dense";
}

/// <summary>
/// When <c>DenseSparse</c> beats the dense packed kernel: a layer goes sparse iff its density (nonzeros / K·N) is
/// below the break-even density measured for the target profile and the layer's row count (at the MaxShapes maxima).
/// Deterministic: it depends only on the profile, the rows and the weights.
/// </summary>
public static class SparseRule
{
    /// <summary>Rows at or below this count are "few rows" (a short sequence, batch 1): the dense kernel then streams
    /// W once for little arithmetic and the sparse kernel's saving in bytes counts for more.</summary>
    public const long FewRows = 32;

    /// <summary>
    /// The break-even density for a profile and a row count. A placeholder until measured (see BENCHMARKS.md).
    /// </summary>
    public static double BreakEven(string profile, long rows) => profile switch
    {
        "x64-avx2" => 0.3,
        "x64-avx512" => 0.25,
        _ => 0.2,
    };

    public static SparseDecision Decide(string node, string profile, long k, long n, long rows, long nonzeros, long denseBytes)
    {
        double breakEven = BreakEven(profile, rows);
        double density = k * n == 0 ? 1 : (double)nonzeros / (k * n);
        long sparseBytes = SparsePacking.StoredBytes(n, nonzeros);
        string where = string.Create(CultureInfo.InvariantCulture, $"{profile}, {rows} rows");
        if (k > SparsePacking.MaxK)
            return new(node, k, n, rows, nonzeros, breakEven, false, $"dense kept: K = {k} is beyond the sparse kernel's 16-bit row indices", denseBytes, sparseBytes);
        bool sparse = density < breakEven;
        string reason = sparse
            ? string.Create(CultureInfo.InvariantCulture, $"sparse: density {density:0.00} below break-even {breakEven:0.00} for {where}")
            : string.Create(CultureInfo.InvariantCulture, $"dense kept: density {density:0.00} not below break-even {breakEven:0.00} for {where}");
        return new(node, k, n, rows, nonzeros, breakEven, sparse, reason, denseBytes, sparseBytes);
    }
}

/// <summary>The sparse-kernel decisions as one build-log line and as a report section.</summary>
public static class SparseReport
{
    /// <summary>Layers worth telling about: those that run sparse, and dense ones with at least this fraction of zeros.</summary>
    public const double NotableDensity = 0.9;

    public static IEnumerable<SparseDecision> Notable(IEnumerable<SparseDecision> decisions) =>
        decisions.Where(d => d.Sparse || d.Density <= NotableDensity);

    /// <summary>The EC3015 line, or null when no layer has notably many zeros.</summary>
    public static string? Summary(string className, IReadOnlyList<SparseDecision> decisions)
    {
        var notable = Notable(decisions).ToList();
        if (notable.Count == 0) return null;
        var text = new StringBuilder();
        int sparse = notable.Count(d => d.Sparse);
        text.Append(CultureInfo.InvariantCulture,
            $"{className}: DenseSparse for {sparse} of {decisions.Count} FP32 Dense layers, their weights {notable.Where(d => d.Sparse).Sum(d => d.DenseBytes):N0} → {notable.Where(d => d.Sparse).Sum(d => d.SparseBytes):N0} bytes");
        foreach (var d in notable) text.Append(CultureInfo.InvariantCulture, $"; {d.Node} ({d.K}×{d.N}): {d.Reason}");
        return text.ToString();
    }

    /// <summary>A level-2 section with one row per notable layer (empty when there is none).</summary>
    public static string ToMarkdown(IReadOnlyList<SparseDecision> decisions)
    {
        var notable = Notable(decisions).ToList();
        if (notable.Count == 0) return "";
        var md = new StringBuilder();
        md.AppendLine("## Sparse kernels").AppendLine();
        md.AppendLine("A Dense layer with FP32 weights runs on `DenseSparse` (nonzeros and their indices) iff its density is below the break-even density measured for the target profile (BENCHMARKS.md, \"Sparse Dense kernel vs dense\"). Layers with at least 10 % zero weights:").AppendLine();
        md.AppendLine("| layer | K×N | density | break-even | kernel | weight bytes stored | reason |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var d in notable)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| `{d.Node}` | {d.K}×{d.N} | {d.Density:0.00} | {d.BreakEven:0.00} | {d.Kernel} | {d.StoredBytes:N0} (dense {d.DenseBytes:N0}, sparse {d.SparseBytes:N0}) | {d.Reason} |");
        return md.ToString();
    }
}
