using System;
using System.Linq;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// A short job (3 warm-up, 10 measured iterations) so the whole suite runs in a few minutes on 2 cores, in process:
/// the generated project would otherwise rebuild the models' assembly (hundreds of MB of embedded weights) and
/// inherit the repository's warnings-as-errors settings. It is the default job: a job given on the command line
/// (<c>--job Dry</c> for a smoke check) replaces it, and <see cref="Program"/> keeps such a job in process too.
/// </summary>
public class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddJob(Job.Default
            .WithWarmupCount(3)
            .WithIterationCount(10)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId("Short-InProcess")
            .AsDefault());
        AddColumn(StatisticColumn.Median, StatisticColumn.Min);
        AddColumn(new GflopsColumn(), new OwnPeakPercentColumn(), new PeakPercentColumn(256), new PeakPercentColumn(512));
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Value);
    }
}

/// <summary>Floating-point operations of one invocation, for the GFLOP/s column.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FlopsAttribute(double flops) : Attribute
{
    public double Flops { get; } = flops;
}

/// <summary>
/// A dense layer benchmark with arguments <c>rows</c> (and optionally <c>threads</c>): FLOPs = 2·rows·K·N, and its
/// kernel's vector width (<see cref="Bits"/>) and instruction (<see cref="Kind"/>) pick the peak of the "% of own
/// peak" column.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DenseShapeAttribute(int k, int n, int bits, PeakKind kind = PeakKind.Fp32Fma) : Attribute
{
    public int K { get; } = k;
    public int N { get; } = n;
    public int Bits { get; } = bits;
    public PeakKind Kind { get; } = kind;
}

/// <summary>The vector width (and peak kind) of the kernel a benchmark measures, for the "% of own peak" column.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OwnPeakAttribute(int bits, PeakKind kind = PeakKind.Fp32Fma) : Attribute
{
    public int Bits { get; } = bits;
    public PeakKind Kind { get; } = kind;
}

/// <summary>What a peak loop is bound by: FP32 FMAs (the default), or INT8 vpdpbusd (AVX-VNNI) for the integer kernels.</summary>
public enum PeakKind
{
    Fp32Fma,
    Int8Vnni,
}

/// <summary>
/// Marks a loop whose GFLOP/s is the peak for vectors of <see cref="Bits"/> bits of <see cref="Kind"/> (an FMA-bound
/// loop unless told otherwise).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FmaPeakAttribute(int bits, PeakKind kind = PeakKind.Fp32Fma) : Attribute
{
    public int Bits { get; } = bits;
    public PeakKind Kind { get; } = kind;
}

internal static class Flop
{
    public static double? Rate(Summary summary, BenchmarkCase c)
    {
        var flops = c.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsAttribute>()?.Flops;
        if (flops is null && c.Descriptor.WorkloadMethod.GetCustomAttribute<DenseShapeAttribute>() is { } shape)
            flops = 2.0 * Argument(c, "rows") * shape.K * shape.N;
        var stats = summary[c]?.ResultStatistics;
        if (flops is null || stats is null || stats.Median <= 0) return null;
        return flops.Value / stats.Median; // FLOP per ns = GFLOP/s
    }

    /// <summary>An integer benchmark argument or parameter (1 when the benchmark has none of that name).</summary>
    public static int Argument(BenchmarkCase c, string name)
        => c.Parameters.Items.FirstOrDefault(p => p.Name == name)?.Value is int v ? v : 1;

    public static double? Peak(Summary summary, int bits, PeakKind kind = PeakKind.Fp32Fma) => summary.BenchmarksCases
        .Where(c => c.Descriptor.WorkloadMethod.GetCustomAttribute<FmaPeakAttribute>() is { } peak && peak.Bits == bits && peak.Kind == kind)
        .Select(c => Rate(summary, c)).Where(r => r is not null).Max();
}

public sealed class GflopsColumn : IColumn
{
    public string Id => "GFLOPs";
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Floating-point operations per second (2·m·k·n for a GEMM, 2·lanes·chains·iterations for an FMA loop) / median time, in 10^9";
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => Flop.Rate(summary, c) is not null);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => Flop.Rate(summary, benchmarkCase)?.ToString("F1") ?? "-";
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
}

public sealed class PeakPercentColumn(int bits) : IColumn
{
    public string Id => $"PeakPercent{bits}";
    public string ColumnName => $"% of {bits}-bit FMA peak";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => bits;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"GFLOP/s as a percentage of the FmaPeak_V{bits} loop's GFLOP/s measured in the same run";
    public bool IsAvailable(Summary summary) => Flop.Peak(summary, bits) is not null;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        double? rate = Flop.Rate(summary, benchmarkCase), peak = Flop.Peak(summary, bits);
        return rate is null || peak is null ? "-" : (100 * rate.Value / peak.Value).ToString("F1") + " %";
    }
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
}

/// <summary>
/// What the EdgeCompile code of an Inference case really runs with: the generated class's target profile (its
/// <c>Info.Profile</c>) and thread count (1 until the generated classes take a thread count, whatever Threads says).
/// </summary>
public sealed class EdgeCompileColumn : IColumn
{
    public string Id => "EdgeCompileSetup";
    public string ColumnName => "EdgeCompile";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Params;
    public int PriorityInCategory => 100;
    public bool IsNumeric => false;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Target profile and threads of the EdgeCompile code in this case (the generated class's Info.Profile; threads = its constructor's thread count)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var items = benchmarkCase.Parameters.Items;
        if (items.FirstOrDefault(p => p.Name == nameof(Inference.Model))?.Value is not string model) return "-";
        int threads = items.FirstOrDefault(p => p.Name == nameof(Inference.Threads))?.Value is int t ? t : 1;
        return $"{ModelCatalog.Profile(model)}, {threads} thr";
    }
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
}

/// <summary>GFLOP/s as a percentage of (the FMA peak of the kernel's own vector width × its thread count).</summary>
public sealed class OwnPeakPercentColumn : IColumn
{
    public string Id => "OwnPeakPercent";
    public string ColumnName => "% of own peak";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "GFLOP/s / (peak GFLOP/s of the kernel's vector width and instruction, FMA: 512-bit for P32, 256-bit for P16 and the old kernel; VNNI: 256-bit vpdpbusd for DenseInt8; × threads), same run";
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => Bits(c) is not null);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    private static int? Bits(BenchmarkCase c)
        => c.Descriptor.WorkloadMethod.GetCustomAttribute<DenseShapeAttribute>()?.Bits
           ?? c.Descriptor.WorkloadMethod.GetCustomAttribute<OwnPeakAttribute>()?.Bits;

    private static PeakKind Kind(BenchmarkCase c)
        => c.Descriptor.WorkloadMethod.GetCustomAttribute<DenseShapeAttribute>()?.Kind
           ?? c.Descriptor.WorkloadMethod.GetCustomAttribute<OwnPeakAttribute>()?.Kind ?? PeakKind.Fp32Fma;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        int? bits = Bits(benchmarkCase);
        double? rate = Flop.Rate(summary, benchmarkCase), peak = bits is null ? null : Flop.Peak(summary, bits.Value, Kind(benchmarkCase));
        if (rate is null || peak is null) return "-";
        return (100 * rate.Value / (peak.Value * Flop.Argument(benchmarkCase, "threads"))).ToString("F1") + " %";
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
}
