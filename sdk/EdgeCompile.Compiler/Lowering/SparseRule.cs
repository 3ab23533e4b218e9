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

/// <summary>How the lowering chooses <c>DenseSparse</c> (<see cref="CompileRequest.SparseKernels"/>).</summary>
public enum SparseKernelMode
{
    /// <summary>By <see cref="SparseRule"/>: only where the measured break-even says the sparse kernel is faster.</summary>
    Auto,
    /// <summary>Every FP32 Dense stays on the dense packed kernel.</summary>
    Never,
    /// <summary>Every FP32 Dense at density ≤ 0.5 runs sparse, faster or not: for tests and experiments.</summary>
    Always,
}

/// <summary>
/// When <c>DenseSparse</c> beats the dense packed kernel: a layer goes sparse iff its density (nonzeros / K·N) is
/// strictly below the break-even density measured for the target profile and the layer's shape class (rows at the
/// MaxShapes maxima, and whether the layer is large enough at all). Deterministic: it depends only on the profile,
/// the shape and the weights, never on the machine that builds.
/// </summary>
/// <remarks>
/// Measured (BENCHMARKS.md, "Sparse Dense kernel vs dense"; <c>--sparse-cpu</c>, thread CPU time, three runs on a
/// shared 2-core Xeon with AVX-512, one thread, no activation). Break-even density = where the sparse time crosses the
/// dense time, interpolated between densities 0.5, 0.4, 0.3, 0.2, 0.1; on 312×1200, 768×768, 768×3072, 3072×768:
/// <list type="bullet">
/// <item>vs the AVX2 dense kernel (16-column panels; x64-avx2): 16 rows 0.28-0.50, 128 rows 0.22-0.30.</item>
/// <item>vs the AVX-512 dense kernel (32-column panels; x64-avx512; the sparse kernel has no 512-bit path): 16 rows
/// 0.17-0.40, 128 rows 0.12-0.26.</item>
/// <item>64×128 (the fixtures' size): never at 128 rows (0.5-0.7× dense even at density 0.1), at 16 rows at most
/// 0.12 in two runs of three, never against AVX-512: the fixed costs (transposing x, storing each output column with
/// stride N) grow with rows·(K+N), the work saved with rows·K·N, so small layers do not pay. The smallest measured
/// shape that pays is 312×1200; hence <see cref="MinSide"/>.</item>
/// </list>
/// Each threshold is the lowest break-even measured in its class, rounded down to 0.05, so that a layer is made sparse
/// only where every run found it faster. Few rows means at most 16 (measured at 16); anything above gets the 128-row
/// threshold, the lower one (the break-even falls as rows grow: the dense kernel reuses each weight across more rows).
/// arm64-neon cannot be timed here (QEMU is not a timing oracle), and portable may run on any CPU: both get 0.10 for
/// every row count, a density where the sparse kernel does a tenth of the dense kernel's FMAs, measured here to be
/// 2-4× less efficient per FMA.
/// </remarks>
public static class SparseRule
{
    /// <summary>Rows at or below this count use the few-rows threshold (measured at 16 rows: a short sequence at batch 1).</summary>
    public const long FewRows = 16;

    /// <summary>Layers with K or N below this stay dense on every profile (see the remarks: fixed costs dominate).</summary>
    public const long MinSide = 256;

    /// <summary>
    /// The break-even density for a profile and a row count (at the MaxShapes maxima), for a layer whose K and N are
    /// both at least <see cref="MinSide"/>.
    /// </summary>
    public static double BreakEven(string profile, long rows) => (profile, rows <= FewRows) switch
    {
        // vs Dense<P16> with AVX2+FMA: lowest break-even 0.28 at 16 rows (312×1200), 0.22 at 128 rows (312×1200, 768×768, 3072×768).
        ("x64-avx2", true) => 0.25,
        ("x64-avx2", false) => 0.20,
        // vs Dense<P32> with AVX-512F: lowest 0.17 at 16 rows (312×1200), 0.12 at 128 rows (312×1200).
        ("x64-avx512", true) => 0.15,
        ("x64-avx512", false) => 0.10,
        // Not timed (arm64-neon), or any CPU (portable): conservative.
        _ => 0.10,
    };

    /// <summary>The break-even for a layer of this shape: 0 when it is too small to ever pay.</summary>
    public static double BreakEven(string profile, long k, long n, long rows) =>
        k < MinSide || n < MinSide ? 0 : BreakEven(profile, rows);

    public static SparseDecision Decide(string node, string profile, long k, long n, long rows, long nonzeros, long denseBytes,
        SparseKernelMode mode = SparseKernelMode.Auto)
    {
        double breakEven = BreakEven(profile, k, n, rows);
        double density = k * n == 0 ? 1 : (double)nonzeros / (k * n);
        long sparseBytes = SparsePacking.StoredBytes(n, nonzeros);
        string where = string.Create(CultureInfo.InvariantCulture, $"{profile}, {rows} rows");
        SparseDecision Make(bool sparse, string reason) => new(node, k, n, rows, nonzeros, breakEven, sparse, reason, denseBytes, sparseBytes);

        if (k > SparsePacking.MaxK)
            return Make(false, $"dense kept: K = {k} is beyond the sparse kernel's 16-bit row indices");
        switch (mode)
        {
            case SparseKernelMode.Never:
                return Make(false, "dense kept: SparseKernels = Never");
            case SparseKernelMode.Always:
                return density <= 0.5
                    ? Make(true, string.Create(CultureInfo.InvariantCulture, $"sparse: density {density:0.00}, SparseKernels = Always"))
                    : Make(false, string.Create(CultureInfo.InvariantCulture, $"dense kept: density {density:0.00} above 0.5 (SparseKernels = Always)"));
        }
        if (k < MinSide || n < MinSide)
            return Make(false, string.Create(CultureInfo.InvariantCulture,
                $"dense kept: density {density:0.00}, but a {k}×{n} layer is below {MinSide} on a side, where the sparse kernel never beats dense"));
        return density < breakEven
            ? Make(true, string.Create(CultureInfo.InvariantCulture, $"sparse: density {density:0.00} below break-even {breakEven:0.00} for {where}"))
            : Make(false, string.Create(CultureInfo.InvariantCulture, $"dense kept: density {density:0.00} not below break-even {breakEven:0.00} for {where}"));
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
