using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// <c>--threads-ab [rounds] [model ...]</c>: the two-thread A/B of session 6 in one process. Each FP32 model (sequence
/// 128, DeiT-Small 197) runs as three variants, round by round in rotating order so that all three see the same load:
/// <c>2thr-old</c> = two threads with the runtime's split and wait before session 6 (two items per thread per dense
/// product, the idle worker and the waiting caller yield from the start), <c>2thr-new</c> = two threads as shipped
/// (one item per thread, 30 µs of spinning without a yield), and <c>1thr</c> = one thread (not affected by either).
/// Prints, per variant, the wall time per call (median, minimum, mean over all rounds' calls), the calling thread's
/// and the whole process's CPU time per call, and a hash of the logits' bits (equal = bit-identical outputs).
/// </summary>
internal static class ThreadsAb
{
    private sealed class Variant(string name, IEdgeModel model, int itemsPerThread, int busySpinMicroseconds)
    {
        public readonly string Name = name;
        public readonly IEdgeModel Model = model;
        public readonly int ItemsPerThread = itemsPerThread, BusySpinMicroseconds = busySpinMicroseconds;
        public readonly List<double> Wall = new();
        public double ThreadCpu, ProcessCpu;
        public ulong Hash;
    }

    public static int Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out int r) ? r : 10;
        string[] names = args.SkipWhile(a => int.TryParse(a, out _)).ToArray();
        IEnumerable<BenchmarkModel> models = ModelCatalog.Available.Where(m => names.Length == 0 || names.Contains(m.Name));
        Console.WriteLine($"--threads-ab: {rounds} rounds; load average at start: {System.IO.File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (BenchmarkModel m in models)
        {
            using IEdgeModel one = m.CreateEdge!(1), two = m.CreateEdge!(2);
            var variants = new[]
            {
                new Variant("2thr-old", two, 2, 0),
                new Variant("2thr-new", two, 1, 30),
                new Variant("1thr", one, 1, 30),
            };
            ModelInputs inputs = m.CreateInputs(m.QuantizedSequence, 20261123);
            var logits = new float[m.Labels];
            // About 0.3 s of one-thread work per variant and round on a quiet machine.
            int calls = Math.Max(2, (int)(0.3 / EstimateSeconds(one, inputs, logits)));
            foreach (Variant v in variants)
            {
                Apply(v);
                for (int i = 0; i < 5; i++) v.Model.Run(inputs, logits);
            }

            var process = Process.GetCurrentProcess();
            for (int round = 0; round < rounds; round++)
            {
                for (int j = 0; j < variants.Length; j++)
                {
                    Variant v = variants[(round + j) % variants.Length];
                    Apply(v);
                    v.Model.Run(inputs, logits);  // one untimed call: the worker is spinning again
                    process.Refresh();
                    TimeSpan processStart = process.TotalProcessorTime;
                    double threadStart = SparseCpuTime.ThreadCpuSeconds();
                    for (int i = 0; i < calls; i++)
                    {
                        long before = Stopwatch.GetTimestamp();
                        v.Model.Run(inputs, logits);
                        v.Wall.Add(Stopwatch.GetElapsedTime(before).TotalMilliseconds);
                    }
                    v.ThreadCpu += SparseCpuTime.ThreadCpuSeconds() - threadStart;
                    process.Refresh();
                    v.ProcessCpu += (process.TotalProcessorTime - processStart).TotalSeconds;
                    v.Hash = Hash(logits);
                }
            }
            Apply(variants[1]);

            Console.WriteLine($"{m.Name} sequence {m.QuantizedSequence}: {rounds} rounds × {calls} calls per variant; load average now {System.IO.File.ReadAllText("/proc/loadavg").Trim()}");
            Console.WriteLine("| variant | wall median | wall min | wall mean | thread CPU | process CPU | logits hash |");
            foreach (Variant v in variants)
            {
                double[] wall = v.Wall.Order().ToArray();
                Console.WriteLine($"| {v.Name} | {wall[wall.Length / 2]:F2} ms | {wall[0]:F2} ms | {wall.Average():F2} ms | "
                    + $"{v.ThreadCpu * 1000 / wall.Length:F2} ms | {v.ProcessCpu * 1000 / wall.Length:F2} ms | {v.Hash:x16} |");
            }
        }
        return 0;
    }

    private static void Apply(Variant v)
    {
        Kernels.DenseItemsPerThread = v.ItemsPerThread;
        WorkerPool.BusySpinMicroseconds = v.BusySpinMicroseconds;
    }

    private static double EstimateSeconds(IEdgeModel model, ModelInputs inputs, float[] logits)
    {
        for (int i = 0; i < 3; i++) model.Run(inputs, logits);  // past the first calls' JIT work
        double start = SparseCpuTime.ThreadCpuSeconds();
        model.Run(inputs, logits);
        return Math.Max(1e-4, SparseCpuTime.ThreadCpuSeconds() - start);
    }

    internal static ulong Hash(float[] logits)
    {
        ulong hash = 14695981039346656037;
        foreach (float v in logits) hash = (hash ^ (uint)BitConverter.SingleToInt32Bits(v)) * 1099511628211;
        return hash;
    }
}
