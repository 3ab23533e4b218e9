using System;
using System.Linq;
using System.Runtime.InteropServices;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <c>--gemm-cpu [rows,rows,…]</c>: the one-thread <see cref="GemmMlas"/> cases, our Dense and ONNX Runtime's MLAS GEMM
/// (plus the variants of an A/B in progress) side by side, and the 512-bit FMA peak loop, timed by the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead
/// of the wall clock, for a machine too loaded for wall time to mean anything (time spent waiting for a core is not
/// counted; cache refills after other processes ran still are). Per case: best of 7 rounds of at least 20 ms of CPU,
/// the variants alternating round by round so that all see the same load; the peak is measured before and
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

    /// <summary>
    /// A named way to compute one <see cref="GemmMlas"/> case at one thread: (K, N, rows) → one call. The first two are
    /// always ours as shipped and ONNX Runtime's MLAS; same-run A/Bs of a kernel change add their variants after them.
    /// </summary>
    private sealed record Variant(string Name, Action<int, int, int> Call);

    public static int Run(string[] args)
    {
        int[] rowCounts = args.Length > 0 && args[0] != "all" ? Array.ConvertAll(args[0].Split(','), int.Parse) : GemmMlas.RowCounts;
        var gemm = new GemmMlas();
        gemm.Setup(new[] { 1 }, rowCounts);
        try
        {
            var variants = new System.Collections.Generic.List<Variant>
            {
                new("ours", (k, n, rows) => gemm.RunOurs(k, n, rows, 1)),
                new("MLAS", (k, n, rows) => gemm.RunMlas(k, n, rows, 1)),
            };
            Activation activation = Activation.None;
            foreach (string experiment in args.Skip(1)) AddExperiment(experiment, gemm, variants, ref activation);
            if (activation != Activation.None) variants[0] = new("ours", (k, n, rows) => gemm.RunOurs(k, n, rows, 1, activation));

            // What ONNX Runtime runs for the product: one profiled session, a few runs, its node events.
            using (var profiled = new OrtGemm(768, 3072, GemmMlas.Fill(new Random(1), 768 * 3072), 1, System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gemm-cpu-ort")))
            {
                float[] px = new float[128 * 768], py = new float[128 * 3072];
                profiled.Bind(128, px, py);
                for (int i = 0; i < 3; i++) profiled.Run(128);
                Console.WriteLine("--gemm-cpu: ONNX Runtime's nodes per run (op/node, from its profiler): " + string.Join(", ", profiled.ProfiledNodes()));
            }

            const double PeakFlops512 = 2.0 * 16 * 12 * (1 << 20);
            double peak512 = PeakFlops512 / Best(() => Gemm.Fma512(1 << 20))[0] * 1e-9;

            var results = new System.Collections.Generic.List<(int K, int N, int Rows, double[] Seconds)>();
            foreach (int rows in rowCounts)
                foreach (var (k, n) in GemmMlas.Shapes)
                {
                    var calls = variants.ConvertAll<Action>(v => () => v.Call(k, n, rows)).ToArray();
                    results.Add((k, n, rows, Best(calls)));
                }

            peak512 = Math.Max(peak512, PeakFlops512 / Best(() => Gemm.Fma512(1 << 20))[0] * 1e-9);
            Console.WriteLine($"--gemm-cpu: thread CPU time per call, best of 7 rounds, 1 thread; 512-bit FMA peak {peak512:F1} GFLOP/s (best of before and after); load {LoadAverage()}");
            var header = new System.Text.StringBuilder("| shape (K×N) | rows |");
            foreach (var v in variants) header.Append($" {v.Name}: ms | GFLOP/s | % of peak |");
            foreach (var v in variants) if (v.Name != "MLAS") header.Append($" {v.Name} / MLAS time |");
            Console.WriteLine(header);
            Console.WriteLine(string.Concat(System.Linq.Enumerable.Repeat("| --- ", 2 + 3 * variants.Count + variants.Count - 1)) + "|");
            foreach (var (k, n, rows, seconds) in results)
            {
                double flops = 2.0 * rows * k * n;
                var line = new System.Text.StringBuilder($"| {k}×{n} | {rows} |");
                foreach (double t in seconds) line.Append($" {t * 1e3:F3} | {flops / t * 1e-9:F1} | {100 * flops / t * 1e-9 / peak512:F1} % |");
                for (int i = 0; i < variants.Count; i++) if (variants[i].Name != "MLAS") line.Append($" {seconds[i] / seconds[1]:F2} |");
                Console.WriteLine(line);
            }
        }
        finally { gemm.Cleanup(); }
        return 0;
    }

    /// <summary>
    /// The variants of a same-run A/B beside ours as shipped and MLAS: <c>inplace</c> adds our kernel reading x in place
    /// (<see cref="Kernels.DenseXInPlace{TShape}"/>: what Dense ran before x was packed, and still runs for narrow,
    /// shallow layers); <c>gelu</c> runs our side with exact GELU (MLAS still without it: its cost shows in the ratio);
    /// <c>gelu-ab</c> adds our product without activation followed by one GELU pass over y, once with the previous
    /// operator (<see cref="GeluErfOperator"/>) and once with the current one (<see cref="GeluOperator"/>, what the
    /// fused epilogue of <c>gelu</c> runs), and the product alone, so the GELU's share shows in one run.
    /// </summary>
    private static void AddExperiment(string name, GemmMlas gemm, System.Collections.Generic.List<Variant> variants, ref Activation activation)
    {
        switch (name)
        {
            case "inplace":
                variants.Add(new("x in place", (k, n, rows) => gemm.RunOurs(k, n, rows, 1, Activation.None, xInPlace: true)));
                break;
            case "gelu":
                activation = Activation.Gelu;
                break;
            case "gelu-ab":
                variants.Add(new("no activation", (k, n, rows) => gemm.RunOurs(k, n, rows, 1)));
                variants.Add(new("+ old GELU pass", (k, n, rows) => { gemm.RunOurs(k, n, rows, 1); Loops.Unary(gemm.OursOutput(rows, n), gemm.OursOutput(rows, n), new GeluErfOperator()); }));
                variants.Add(new("+ new GELU pass", (k, n, rows) => { gemm.RunOurs(k, n, rows, 1); Loops.Unary(gemm.OursOutput(rows, n), gemm.OursOutput(rows, n), new GeluOperator()); }));
                break;
            default:
                throw new ArgumentException($"--gemm-cpu: unknown experiment '{name}' (inplace, gelu, gelu-ab)");
        }
    }

    private static string LoadAverage()
    {
        try { return string.Join(" ", System.IO.File.ReadAllText("/proc/loadavg").Split(' ')[..3]); }
        catch (System.IO.IOException) { return "unknown"; }
    }
}
