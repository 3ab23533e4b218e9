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
        AddColumn(new GflopsColumn(), new PeakPercentColumn(256), new PeakPercentColumn(512));
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Value);
    }
}

/// <summary>Floating-point operations of one invocation, for the GFLOP/s column.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FlopsAttribute(double flops) : Attribute
{
    public double Flops { get; } = flops;
}

/// <summary>Marks an FMA-bound loop whose GFLOP/s is the peak for vectors of <see cref="Bits"/> bits.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FmaPeakAttribute(int bits) : Attribute
{
    public int Bits { get; } = bits;
}

internal static class Flop
{
    public static double? Rate(Summary summary, BenchmarkCase c)
    {
        var flops = c.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsAttribute>()?.Flops;
        var stats = summary[c]?.ResultStatistics;
        if (flops is null || stats is null || stats.Median <= 0) return null;
        return flops.Value / stats.Median; // FLOP per ns = GFLOP/s
    }

    public static double? Peak(Summary summary, int bits) => summary.BenchmarksCases
        .Where(c => c.Descriptor.WorkloadMethod.GetCustomAttribute<FmaPeakAttribute>()?.Bits == bits)
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
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => c.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsAttribute>() is not null);
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
