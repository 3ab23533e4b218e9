using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <c>--sparse-cpu</c>: the <see cref="GemmSparse"/> cases timed by the calling thread's own CPU time
/// (CLOCK_THREAD_CPUTIME_ID) instead of the wall clock, so that time the thread spends waiting for a core on a
/// shared, overloaded machine is not counted. (Cache and TLB refills after the other processes ran still are: the
/// numbers are an upper bound on an idle machine's.) Per case: best of 7 rounds of at least 20 ms of CPU each. Prints,
/// per shape and row count, each case's time, its speedup over dense16 / dense32, and the break-even density
/// (interpolated between the measured densities where the sparse time crosses the dense one). Linux only.
/// </summary>
internal static class SparseCpuTime
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    private const int ThreadCpuClock = 3;  // CLOCK_THREAD_CPUTIME_ID

    internal static double ThreadCpuSeconds()
    {
        if (ClockGetTime(ThreadCpuClock, out var t) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    private static double Measure(GemmSparse b)
    {
        for (int i = 0; i < 3; i++) b.Layer();
        double best = double.MaxValue;
        for (int round = 0; round < 7; round++)
        {
            int calls = 0;
            double start = ThreadCpuSeconds(), elapsed;
            do { b.Layer(); calls++; elapsed = ThreadCpuSeconds() - start; } while (elapsed < 0.02);
            best = Math.Min(best, elapsed / calls);
        }
        return best;
    }

    public static int Run(string[] shapes)
    {
        var weights = new[] { "dense16", "dense32", "2:4", "d0.5", "d0.4", "d0.3", "d0.2", "d0.1" };
        var sparseDensities = new (string Name, double Density)[] { ("d0.5", 0.5), ("d0.4", 0.4), ("d0.3", 0.3), ("d0.2", 0.2), ("d0.1", 0.1) };
        Console.WriteLine($"--sparse-cpu: thread CPU time per call, best of 7 rounds; DenseSparse path {EdgeCompile.Runtime.Kernels.DenseSparsePath}");
        foreach (string shape in shapes.Length > 0 ? shapes : GemmSparse.Shapes)
        foreach (int rows in new[] { 16, 128 })
        {
            var times = new Dictionary<string, double>();
            foreach (string w in weights)
            {
                var b = new GemmSparse { Shape = shape, Rows = rows, Weights = w };
                b.Setup();
                times[w] = Measure(b);
            }
            string Line(string w) => string.Create(CultureInfo.InvariantCulture,
                $"{w}={times[w] * 1e6:0.0}us ({times["dense16"] / times[w]:0.00}x/{times["dense32"] / times[w]:0.00}x)");
            Console.WriteLine($"{shape} rows {rows}: " + string.Join(" ", weights.Select(Line)));
            foreach (string dense in new[] { "dense16", "dense32" })
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{shape} rows {rows}: break-even vs {dense} at density {BreakEven(sparseDensities.Select(s => (s.Density, times[s.Name])).ToArray(), times[dense]):0.00}"));
        }
        return 0;
    }

    /// <summary>The density where the sparse time (linear between measured points) equals the dense time; 0 when sparse never wins, 0.5+ when it always does.</summary>
    private static double BreakEven((double Density, double Seconds)[] sparse, double dense)
    {
        var points = sparse.OrderBy(p => p.Density).ToArray();
        if (points[0].Seconds >= dense) return 0;
        for (int i = 1; i < points.Length; i++)
            if (points[i].Seconds >= dense)
            {
                var (d0, t0) = points[i - 1];
                var (d1, t1) = points[i];
                return d0 + (dense - t0) / (t1 - t0) * (d1 - d0);
            }
        return points[^1].Density;
    }
}
