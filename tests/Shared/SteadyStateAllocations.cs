using System;
using System.Threading;

namespace EdgeCompile.Tests.Shared;

/// <summary>
/// Bytes a piece of code allocates per call once the process is warm. The first calls of any
/// method can allocate inside the runtime (tiered JIT promotion, type loading), so this warms up
/// in rounds, giving the background JIT time between them, until a round allocates nothing or
/// the rounds run out; then it measures. Code that allocates on every call allocates in every
/// round, so it is always caught.
/// </summary>
public static class SteadyStateAllocations
{
    /// <summary>Bytes allocated by <paramref name="calls"/> calls after warm-up (0 for allocation-free code).</summary>
    public static long Bytes(Action call, int calls = 50, int maxWarmupRounds = 20)
    {
        for (int round = 0; round < maxWarmupRounds && Measure(call, calls) != 0; round++)
            Thread.Sleep(150);
        return Measure(call, calls);
    }

    private static long Measure(Action call, int calls)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < calls; i++) call();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
