using System;
using System.Runtime.InteropServices;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <c>--gemm-cpu</c>: the one-thread <see cref="Gemm"/> cases, x packed (as shipped) and in place (the previous kernel)
/// side by side, and the two FMA peak loops, timed by the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead
/// of the wall clock, for a machine too loaded for wall time to mean anything (time spent waiting for a core is not
/// counted; cache refills after other processes ran still are). Per case: best of 7 rounds of at least 20 ms of CPU,
/// the two variants alternating round by round so that both see the same load; the peaks are measured before and
/// after the GEMMs and the higher is used. Linux only.
/// </summary>
internal static class GemmCpuTime
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    private const int ThreadCpuClock = 3;  // CLOCK_THREAD_CPUTIME_ID

    private static double ThreadCpuSeconds()
    {
        if (ClockGetTime(ThreadCpuClock, out var t) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    private static double Round(Action call)
    {
        int calls = 0;
        double start = ThreadCpuSeconds(), elapsed;
        do { call(); calls++; elapsed = ThreadCpuSeconds() - start; } while (elapsed < 0.02);
        return elapsed / calls;
    }

    /// <summary>Best seconds per call of each action, rounds interleaved.</summary>
    private static double[] Best(params Action[] calls)
    {
        foreach (var call in calls) { call(); call(); call(); }
        var best = new double[calls.Length];
        Array.Fill(best, double.MaxValue);
        for (int round = 0; round < 7; round++)
            for (int i = 0; i < calls.Length; i++) best[i] = Math.Min(best[i], Round(calls[i]));
        return best;
    }

    public static int Run()
    {
        var gemm = new Gemm();
        gemm.Setup();
        try
        {
            const double PeakFlops256 = 2.0 * 8 * 12 * (1 << 20), PeakFlops512 = 2.0 * 16 * 12 * (1 << 20);
            double[] peaks = Best(() => gemm.FmaPeak_V256(), () => gemm.FmaPeak_V512());
            double peak256 = PeakFlops256 / peaks[0] * 1e-9, peak512 = PeakFlops512 / peaks[1] * 1e-9;

            var cases = new (string Name, int K, int N, int Bits, Action<int, bool> Call)[]
            {
                ("P32 768×768", 768, 768, 512, (r, p) => gemm.DenseP32_768x768(r, 1, p)),
                ("P32 768×3072", 768, 3072, 512, (r, p) => gemm.DenseP32_768x3072(r, 1, p)),
                ("P32 3072×768", 3072, 768, 512, (r, p) => gemm.DenseP32_3072x768(r, 1, p)),
                ("P32 312×1200", 312, 1200, 512, (r, p) => gemm.DenseP32_312x1200(r, 1, p)),
                ("P16 768×768", 768, 768, 256, (r, p) => gemm.DenseP16_768x768(r, 1, p)),
                ("P16 768×3072", 768, 3072, 256, (r, p) => gemm.DenseP16_768x3072(r, 1, p)),
                ("P16 3072×768", 3072, 768, 256, (r, p) => gemm.DenseP16_3072x768(r, 1, p)),
                ("P16 312×1200", 312, 1200, 256, (r, p) => gemm.DenseP16_312x1200(r, 1, p)),
            };
            var rowsOut = new System.Collections.Generic.List<string>();
            foreach (int rows in new[] { 128, 16 })
                foreach (var c in cases)
                {
                    double[] t = Best(() => c.Call(rows, false), () => c.Call(rows, true));
                    double flops = 2.0 * rows * c.K * c.N;
                    rowsOut.Add($"{c.Name} | {rows} | {t[0] * 1e3:F3} ms | {flops / t[0] * 1e-9:F1} | {t[1] * 1e3:F3} ms | {flops / t[1] * 1e-9:F1} | {t[0] / t[1]:F2}× | {c.Bits}");
                }

            peaks = Best(() => gemm.FmaPeak_V256(), () => gemm.FmaPeak_V512());
            peak256 = Math.Max(peak256, PeakFlops256 / peaks[0] * 1e-9);
            peak512 = Math.Max(peak512, PeakFlops512 / peaks[1] * 1e-9);
            Console.WriteLine($"--gemm-cpu: thread CPU time per call, best of 7 rounds, 1 thread; FMA peak {peak256:F1} GFLOP/s (256-bit), {peak512:F1} GFLOP/s (512-bit)");
            Console.WriteLine("| shape (K×N) | rows | in place: time | GFLOP/s | % of own peak | packed: time | GFLOP/s | % of own peak | speedup |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (string line in rowsOut)
            {
                string[] f = line.Split(" | ");
                double peak = f[7] == "512" ? peak512 : peak256;
                double before = double.Parse(f[3]), after = double.Parse(f[5]);
                Console.WriteLine($"| {f[0]} | {f[1]} | {f[2]} | {f[3]} | {100 * before / peak:F1} % | {f[4]} | {f[5]} | {100 * after / peak:F1} % | {f[6]} |");
            }
        }
        finally { gemm.Cleanup(); }
        return 0;
    }
}
