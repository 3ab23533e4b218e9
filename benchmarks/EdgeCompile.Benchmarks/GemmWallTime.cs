using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <c>--gemm-wall [rows,rows,…]</c>: the <see cref="GemmMlas"/> cases at 1 and 2 threads, ours and ONNX Runtime's MLAS,
/// by the <b>fastest single call</b> (wall clock) of each, the two alternating in rounds of at least 20 ms. For the
/// 2-thread comparison on a loaded machine, where thread CPU time does not apply (ORT's second thread is its own) and
/// BenchmarkDotNet's medians measure the scheduler: a call that ran with both cores free is the one to compare, and
/// over hundreds of calls each side gets such calls. Still a wall-clock figure: read it beside <c>--gemm-cpu</c>.
/// The 512-bit FMA peak loop is timed the same way (fastest of its calls) before and after.
/// </summary>
internal static class GemmWallTime
{
    private static double FastestCall(Action call, ref double best)
    {
        long start = Stopwatch.GetTimestamp(), roundEnd = start + Stopwatch.Frequency / 50;
        long now = start;
        while (now < roundEnd)
        {
            long t0 = Stopwatch.GetTimestamp();
            call();
            now = Stopwatch.GetTimestamp();
            best = Math.Min(best, (double)(now - t0) / Stopwatch.Frequency);
        }
        return best;
    }

    private static double[] Fastest(params Action[] calls)
    {
        foreach (var call in calls) { call(); call(); call(); }
        var best = new double[calls.Length];
        Array.Fill(best, double.MaxValue);
        for (int round = 0; round < 15; round++)
            for (int i = 0; i < calls.Length; i++) FastestCall(calls[i], ref best[i]);
        return best;
    }

    public static int Run(string[] args)
    {
        int[] rowCounts = args.Length > 0 && args[0] != "all" ? Array.ConvertAll(args[0].Split(','), int.Parse) : GemmMlas.RowCounts;
        var gemm = new GemmMlas();
        gemm.Setup(new[] { 1, 2 }, rowCounts);
        try
        {
            const double PeakFlops512 = 2.0 * 16 * 12 * (1 << 20);
            double peak = PeakFlops512 / Fastest(() => Gemm.Fma512(1 << 20))[0] * 1e-9;
            string loadBefore = LoadAverage();
            var lines = new List<string>();
            foreach (int threads in new[] { 1, 2 })
                foreach (int rows in rowCounts)
                    foreach (var (k, n) in GemmMlas.Shapes)
                    {
                        double[] t = Fastest(() => gemm.RunOurs(k, n, rows, threads), () => gemm.RunMlas(k, n, rows, threads));
                        double flops = 2.0 * rows * k * n;
                        lines.Add($"| {k}×{n} | {rows} | {threads} | {t[0] * 1e3:F3} | {flops / t[0] * 1e-9:F1} | @{flops / t[0] * 1e-9 / threads} | {t[1] * 1e3:F3} | {flops / t[1] * 1e-9:F1} | @{flops / t[1] * 1e-9 / threads} | {t[0] / t[1]:F2} |");
                    }
            peak = Math.Max(peak, PeakFlops512 / Fastest(() => Gemm.Fma512(1 << 20))[0] * 1e-9);
            Console.WriteLine($"--gemm-wall: fastest single call (wall clock), 15 alternating rounds of ≥ 20 ms; 512-bit FMA peak {peak:F1} GFLOP/s per core (fastest call, best of before and after); load {loadBefore} → {LoadAverage()}");
            Console.WriteLine("| shape (K×N) | rows | threads | ours: ms | GFLOP/s | % of peak × threads | MLAS: ms | GFLOP/s | % of peak × threads | ours / MLAS time |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (string line in lines)
            {
                // The "@" fields hold GFLOP/s per thread until the peak after the GEMMs is known.
                string[] f = line.Split(" | ");
                for (int i = 0; i < f.Length; i++)
                    if (f[i].StartsWith('@')) f[i] = $"{100 * double.Parse(f[i][1..]) / peak:F1} %";
                Console.WriteLine(string.Join(" | ", f));
            }
        }
        finally { gemm.Cleanup(); }
        return 0;
    }

    private static string LoadAverage()
    {
        try { return string.Join(" ", System.IO.File.ReadAllText("/proc/loadavg").Split(' ')[..3]); }
        catch (System.IO.IOException) { return "unknown"; }
    }
}
