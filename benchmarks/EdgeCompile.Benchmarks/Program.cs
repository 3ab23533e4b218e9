using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Running;

namespace EdgeCompile.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        foreach (string problem in ModelCatalog.Problems()) Console.WriteLine("EdgeCompile.Benchmarks: " + problem);
        Console.WriteLine("EdgeCompile.Benchmarks: models compiled for target profile " + ModelCatalog.Profiles);
        Console.WriteLine("EdgeCompile.Benchmarks: EdgeCompile and ONNX Runtime both run on Threads threads");

        if (args.Length >= 1 && args[0] == "--sparse-cpu") return SparseCpuTime.Run(args.Skip(1).ToArray());
        if (args.Length >= 1 && args[0] == "--gemm-cpu") return GemmCpuTime.Run(args.Skip(1).ToArray());
        if (args.Length >= 1 && args[0] == "--gemm-wall") return GemmWallTime.Run(args.Skip(1).ToArray());
        if (args.Length >= 1 && args[0] == "--alloc-check") return AllocCheck(args.Skip(1).ToArray());
        if (args.Length is 4 or 5 && args[0] == "--loop") return Loop(args[1], args[2], int.Parse(args[3]), args.Length == 5 ? int.Parse(args[4]) : 1);
        if (args.Length >= 1 && args[0] == "--threads-ab") return ThreadsAb.Run(args.Skip(1).ToArray());
        if (args.Length >= 1 && args[0] == "--attention-cpu") return AttentionCpuTime.Run(args.Length > 1 ? int.Parse(args[1]) : 15, args.Skip(2).ToArray());
        if (args.Length >= 1 && args[0] == "--attention-rest") return AttentionCpuTime.Rest(args.Length > 1 ? int.Parse(args[1]) : 15);
        if (args.Length >= 3 && args[0] == "--ort-profile") return OrtProfile.Run(args[1], int.Parse(args[2]), args.Skip(3).FirstOrDefault());

        // A job from the command line (e.g. `--job Dry` for a smoke check) replaces BenchConfig's in-process job; keep it
        // in process as well: out of process, BenchmarkDotNet would build and copy the ~500 MB assembly per job.
        if (args.Any(a => a is "--job" or "-j") && !args.Contains("--inProcess"))
        {
            Console.WriteLine("EdgeCompile.Benchmarks: running the command-line job in process (added --inProcess)");
            args = args.Append("--inProcess").ToArray();
        }

        // With no model compiled in, the Inference class has no cases at all: offer only the GEMM benchmarks.
        var types = new List<Type>();
        if (ModelCatalog.Available.Any()) types.Add(typeof(Inference));
        if (QuantizedInference.Models.Any()) types.Add(typeof(QuantizedInference));
        if (PrunedInference.Models.Any()) types.Add(typeof(PrunedInference));
        types.AddRange(new[] { typeof(Gemm), typeof(GemmMlas), typeof(GemmSparse), typeof(GemmInt8), typeof(GemmWeightOnly), typeof(AttentionKernel), typeof(GeluKernel) });
        var summaries = BenchmarkSwitcher.FromTypes(types.ToArray()).Run(args);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    /// <summary>
    /// Exact managed bytes allocated per call on the calling thread (GC.GetAllocatedBytesForCurrentThread), after a
    /// warm-up: a cross-check of the MemoryDiagnoser column, which in process also counts other threads' allocations.
    /// Also the whole process's bytes (GC.GetTotalAllocatedBytes): once the generated code runs on worker threads,
    /// their allocations show only there (it may also catch the runtime's own background work, e.g. tiered JIT).
    /// Every available model (or the ones named after --alloc-check) at each of its sequence lengths and 1 and 2 threads.
    /// </summary>
    private static int AllocCheck(string[] models)
    {
        const int Warm = 30, Calls = 20;
        string[] unknown = models.Except(Inference.Models).ToArray();
        if (unknown.Length > 0)
        {
            Console.Error.WriteLine($"--alloc-check: no compiled model {string.Join(", ", unknown)}; available: {string.Join(", ", Inference.Models)}");
            return 2;
        }
        foreach (string model in models.Length > 0 ? models : Inference.Models)
        foreach (int sequence in ModelCatalog.Get(model).Sequences)
        foreach (int threads in new[] { 1, 2 })
        {
            var b = new Inference { Model = model, Sequence = sequence, Threads = threads };
            b.Setup();
            foreach (var (name, run) in new (string, Action)[] { ("OnnxRuntime", b.OnnxRuntime), ("OnnxRuntimeIoBinding", b.OnnxRuntimeIoBinding), ("EdgeCompile", b.EdgeCompile) })
            {
                for (int i = 0; i < Warm; i++) run();
                long before = GC.GetAllocatedBytesForCurrentThread(), beforeAll = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < Calls; i++) run();
                long bytes = GC.GetAllocatedBytesForCurrentThread() - before, all = GC.GetTotalAllocatedBytes(precise: true) - beforeAll;
                Console.WriteLine($"{model,-10} sequence {sequence,3} threads {threads} {name,-21} {bytes / (double)Calls,8:F1} B/call on this thread, "
                    + $"{all / (double)Calls,8:F1} B/call in the process ({Calls} calls after {Warm} warm-up)");
            }
            b.Cleanup();
        }
        var named = models.Length > 0 ? models : Inference.Models.ToArray();
        bool quantizedOk = AllocCheckQuantized(named);
        return AllocCheckPruned(named) && quantizedOk ? 0 : 1;
    }

    /// <summary>
    /// The same count for PrunedInference's four classes (1 thread); false when a pruned class allocates anything on the
    /// calling thread.
    /// </summary>
    private static bool AllocCheckPruned(string[] models)
    {
        const int Warm = 30, Calls = 20;
        bool ok = true;
        foreach (string model in models.Intersect(PrunedInference.Models))
        {
            var b = new PrunedInference { Model = model };
            b.Setup();
            foreach (var (name, run) in new (string, Action)[] { ("EdgeCompileFp32", b.EdgeCompileFp32), ("EdgeCompileFp32Pruned", b.EdgeCompileFp32Pruned),
                         ("EdgeCompileInt8", b.EdgeCompileInt8), ("EdgeCompileInt8Pruned", b.EdgeCompileInt8Pruned) })
            {
                for (int i = 0; i < Warm; i++) run();
                long before = GC.GetAllocatedBytesForCurrentThread(), beforeAll = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < Calls; i++) run();
                long bytes = GC.GetAllocatedBytesForCurrentThread() - before, all = GC.GetTotalAllocatedBytes(precise: true) - beforeAll;
                Console.WriteLine($"{model,-10} pruned benchmark threads 1 {name,-21} {bytes / (double)Calls,8:F1} B/call on this thread, "
                    + $"{all / (double)Calls,8:F1} B/call in the process ({Calls} calls after {Warm} warm-up)");
                if (bytes != 0)
                {
                    Console.WriteLine($"--alloc-check: {model}: {name} allocates {bytes / (double)Calls:F1} B per call; it must allocate nothing");
                    ok = false;
                }
            }
            b.Cleanup();
        }
        return ok;
    }

    /// <summary>
    /// <c>--loop &lt;model&gt; fp32|int8|fp32-pruned|int8-pruned &lt;calls&gt; [threads]</c>: one generated class of the model
    /// (the unpruned or pruned FP32/INT8 one; each needs its build switch), <c>calls</c> times on <c>threads</c> threads
    /// (default 1) after a 10-call warm-up, at sequence 128 (DeiT-Small: 197): something to attach a sampling profiler to
    /// (<c>DOTNET_PerfMapEnabled=1 perf record</c>) and the two-thread A/B's measurement. Prints the wall time per call
    /// (mean, median, minimum), the calling thread's CPU time per call (the part of the wall time that is not waiting
    /// for a core on a loaded machine) and the whole process's (which adds what the pool's worker threads use,
    /// spinning included).
    /// </summary>
    private static int Loop(string model, string which, int calls, int threads)
    {
        BenchmarkModel m = ModelCatalog.Get(model);
        Func<int, IEdgeModel>? create = which switch
        {
            "fp32" => m.CreateEdge,
            "int8" => m.CreateEdgeInt8,
            "fp32-pruned" => PrunedModels.Fp32(model),
            "int8-pruned" => PrunedModels.Int8(model),
            _ => throw new ArgumentException($"--loop: '{which}' is none of fp32, int8, fp32-pruned, int8-pruned"),
        };
        if (create is null)
        {
            Console.Error.WriteLine($"--loop: {model} {which} is not in this build (BenchmarkInt8 / BenchmarkPruned, or the model is missing)");
            return 2;
        }
        using IEdgeModel edge = create(threads);
        ModelInputs inputs = m.CreateInputs(m.QuantizedSequence, 20261123);
        var logits = new float[m.Labels];
        for (int i = 0; i < 10; i++) edge.Run(inputs, logits);
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var wall = new double[calls];
        TimeSpan processCpuStart = process.TotalProcessorTime;
        double cpuStart = SparseCpuTime.ThreadCpuSeconds();
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
        {
            long before = System.Diagnostics.Stopwatch.GetTimestamp();
            edge.Run(inputs, logits);
            wall[i] = System.Diagnostics.Stopwatch.GetElapsedTime(before).TotalMilliseconds;
        }
        double total = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        double cpu = SparseCpuTime.ThreadCpuSeconds() - cpuStart;
        process.Refresh();
        double processCpu = (process.TotalProcessorTime - processCpuStart).TotalMilliseconds;
        Array.Sort(wall);
        Console.WriteLine($"--loop {model} {which} threads {threads}: {calls} calls, wall {total / calls:F2} ms per call "
            + $"(median {wall[calls / 2]:F2}, min {wall[0]:F2}), thread CPU {cpu * 1000 / calls:F2} ms, process CPU {processCpu / calls:F2} ms per call; "
            + $"logits bits hash {ThreadsAb.Hash(logits):x16}");
        return 0;
    }

    /// <summary>
    /// The same count for QuantizedInference's EdgeCompile FP32 and INT8 classes (sequence 128, DeiT-Small 197; 1 and 2
    /// threads); false when the INT8 class allocates anything on the calling thread (it must allocate nothing per call).
    /// </summary>
    private static bool AllocCheckQuantized(string[] models)
    {
        const int Warm = 30, Calls = 20;
        bool ok = true;
        foreach (string model in models.Intersect(QuantizedInference.Models))
        foreach (int threads in new[] { 1, 2 })
        {
            var b = new QuantizedInference { Model = model, Threads = threads };
            b.Setup();
            foreach (var (name, run) in new (string, Action)[] { ("EdgeCompileFp32", b.EdgeCompileFp32), ("EdgeCompileInt8", b.EdgeCompileInt8) })
            {
                for (int i = 0; i < Warm; i++) run();
                long before = GC.GetAllocatedBytesForCurrentThread(), beforeAll = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < Calls; i++) run();
                long bytes = GC.GetAllocatedBytesForCurrentThread() - before, all = GC.GetTotalAllocatedBytes(precise: true) - beforeAll;
                Console.WriteLine($"{model,-10} sequence {ModelCatalog.Get(model).QuantizedSequence,3} threads {threads} {name,-21} {bytes / (double)Calls,8:F1} B/call on this thread, "
                    + $"{all / (double)Calls,8:F1} B/call in the process ({Calls} calls after {Warm} warm-up)");
                if (name == "EdgeCompileInt8" && bytes != 0)
                {
                    Console.WriteLine($"--alloc-check: {model} threads {threads}: EdgeCompile INT8 allocates {bytes / (double)Calls:F1} B per call; it must allocate nothing");
                    ok = false;
                }
            }
            b.Cleanup();
        }
        return ok;
    }
}
