using System;
using System.Linq;
using BenchmarkDotNet.Running;

namespace EdgeCompile.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        foreach (string problem in ModelCatalog.Problems()) Console.WriteLine("EdgeCompile.Benchmarks: " + problem);

        if (args.Length == 1 && args[0] == "--alloc-check") return AllocCheck();

        // With no model compiled in, the Inference class has no cases at all: offer only the GEMM benchmarks.
        Type[] types = ModelCatalog.Available.Any() ? new[] { typeof(Inference), typeof(Gemm) } : new[] { typeof(Gemm) };
        var summaries = BenchmarkSwitcher.FromTypes(types).Run(args);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    /// <summary>
    /// Exact managed bytes allocated per call on the calling thread (GC.GetAllocatedBytesForCurrentThread), after a
    /// warm-up: a cross-check of the MemoryDiagnoser column, which in process also counts other threads' allocations.
    /// </summary>
    private static int AllocCheck()
    {
        const int Warm = 30, Calls = 20;
        foreach (string model in Inference.Models)
        foreach (int sequence in new[] { 16, 128 })
        {
            var b = new Inference { Model = model, Sequence = sequence, Threads = 1 };
            b.Setup();
            foreach (var (name, run) in new (string, Action)[] { ("OnnxRuntime", b.OnnxRuntime), ("OnnxRuntimeIoBinding", b.OnnxRuntimeIoBinding), ("EdgeCompile", b.EdgeCompile) })
            {
                for (int i = 0; i < Warm; i++) run();
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < Calls; i++) run();
                long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
                Console.WriteLine($"{model,-10} sequence {sequence,3} {name,-21} {bytes / (double)Calls,8:F1} B/call (this thread, {Calls} calls after {Warm} warm-up)");
            }
            b.Cleanup();
        }
        return 0;
    }
}
