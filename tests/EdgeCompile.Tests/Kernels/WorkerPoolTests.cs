using EdgeCompile.Tests.Shared;
using System;
using System.Diagnostics;
using System.Threading;
using EdgeCompile.Runtime;

namespace EdgeCompile.Tests.RuntimeKernels;

public class WorkerPoolTests
{
    /// <summary>Counts how often each item runs; a ref struct like the kernels' work items.</summary>
    private ref struct CountingWork(Span<int> hits) : IParallelWork
    {
        private readonly Span<int> _hits = hits;
        public void Execute(int index) => Interlocked.Increment(ref _hits[index]);
    }

    private ref struct ThrowingWork(Span<int> hits, int bad) : IParallelWork
    {
        private readonly Span<int> _hits = hits;
        public void Execute(int index)
        {
            Interlocked.Increment(ref _hits[index]);
            if (index == bad) throw new InvalidOperationException($"item {index} failed");
        }
    }

    private struct NestedWork(WorkerPool pool) : IParallelWork
    {
        public void Execute(int index)
        {
            var inner = new CountingWork(new int[4]);
            pool.Run(ref inner, 4);
        }
    }

    /// <summary>Item 0 waits (up to a timeout) until another item has run on a different thread.</summary>
    private sealed class Meeting
    {
        public int FirstThread = -1, OtherThreadSeen;
    }

    private struct MeetingWork(Meeting meeting) : IParallelWork
    {
        public void Execute(int index)
        {
            int me = Environment.CurrentManagedThreadId;
            Interlocked.CompareExchange(ref meeting.FirstThread, me, -1);
            if (Volatile.Read(ref meeting.FirstThread) != me) Volatile.Write(ref meeting.OtherThreadSeen, 1);
            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref meeting.OtherThreadSeen) == 0 && clock.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(1);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void EveryItemRunsExactlyOnce(int threads)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.Threads);
        var rng = new Random(threads);
        var hits = new int[1000];
        // Many short jobs back to back: workers that wake late must never take an item of a later job.
        for (int job = 0; job < 3000; job++)
        {
            int count = job % 7 == 0 ? rng.Next(0, 1000) : rng.Next(0, 6);
            Array.Clear(hits);
            var work = new CountingWork(hits);
            pool.Run(ref work, count);
            for (int i = 0; i < hits.Length; i++)
            {
                if (hits[i] != (i < count ? 1 : 0))
                    Assert.Fail($"job {job} ({count} items, {threads} threads): item {i} ran {hits[i]} times");
            }
        }
    }

    [Fact]
    public void EveryItemRunsExactlyOnceAfterTheWorkersFallAsleep()
    {
        using var pool = new WorkerPool(3);
        var hits = new int[64];
        for (int job = 0; job < 5; job++)
        {
            Thread.Sleep(100);  // far past the spin (200 µs): the workers block
            Array.Clear(hits);
            var work = new CountingWork(hits);
            pool.Run(ref work, hits.Length);
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    /// <summary>Items that run on two threads, each slow enough (2 ms) to outlast any spin: it records its thread.</summary>
    private ref struct SlowWork(Span<int> done, Span<int> thread) : IParallelWork
    {
        private readonly Span<int> _done = done, _thread = thread;
        public void Execute(int index)
        {
            _thread[index] = Environment.CurrentManagedThreadId;
            Thread.Sleep(2);
            Volatile.Write(ref _done[index], 1);
        }
    }

    /// <summary>
    /// Run returns only when the items other threads took are finished, however long the caller has to wait (past
    /// the busy spin into the yielding one), also with the busy spin switched off (the --threads-ab "old" variant).
    /// </summary>
    [Theory]
    [InlineData(30)]
    [InlineData(0)]
    public void RunWaitsForTheItemsOfOtherThreads(int busySpinMicroseconds)
    {
        int saved = WorkerPool.BusySpinMicroseconds;
        WorkerPool.BusySpinMicroseconds = busySpinMicroseconds;
        try
        {
            using var pool = new WorkerPool(2);
            var done = new int[4];
            var thread = new int[4];
            int onWorker = 0;
            for (int job = 0; job < 50; job++)
            {
                Array.Clear(done);
                var work = new SlowWork(done, thread);
                pool.Run(ref work, done.Length);
                Assert.All(done, d => Assert.Equal(1, d));
                foreach (int t in thread) if (t != Environment.CurrentManagedThreadId) onWorker++;
            }
            Assert.True(onWorker > 0, "the worker never took an item: the test did not exercise the wait");
        }
        finally
        {
            WorkerPool.BusySpinMicroseconds = saved;
        }
    }

    [Fact]
    public void WorkerThreadsTakePart()
    {
        using var pool = new WorkerPool(2);
        var meeting = new Meeting();
        var work = new MeetingWork(meeting);
        pool.Run(ref work, 2);
        Assert.Equal(1, meeting.OtherThreadSeen);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(2, 37)]
    [InlineData(3, 99)]
    public void AnExceptionPropagatesAndThePoolStaysUsable(int threads, int bad)
    {
        using var pool = new WorkerPool(threads);
        var hits = new int[100];
        var e = Assert.Throws<InvalidOperationException>(() =>
        {
            var failing = new ThrowingWork(hits, bad);
            pool.Run(ref failing, hits.Length);
        });
        Assert.Equal($"item {bad} failed", e.Message);
        Assert.Equal(1, hits[bad]);
        Assert.All(hits, h => Assert.InRange(h, 0, 1));  // items after the failure may be skipped, none runs twice

        Array.Clear(hits);
        var work = new CountingWork(hits);
        pool.Run(ref work, hits.Length);
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void RunFromAWorkItemIsRejected()
    {
        using var pool = new WorkerPool(2);
        var work = new NestedWork(pool);
        Assert.Throws<InvalidOperationException>(() => pool.Run(ref work, 3));
        var hits = new int[3];
        var ok = new CountingWork(hits);
        pool.Run(ref ok, 3);  // still usable
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void DisposeStopsThePool()
    {
        var pool = new WorkerPool(3);
        var hits = new int[10];
        var work = new CountingWork(hits);
        pool.Run(ref work, 10);
        var clock = Stopwatch.StartNew();
        pool.Dispose();  // joins the threads, whether they spin or sleep
        pool.Dispose();  // idempotent
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Throws<ObjectDisposedException>(() => { var w = new CountingWork(hits); pool.Run(ref w, 10); });

        var single = new WorkerPool(1);
        single.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { var w = new CountingWork(hits); single.Run(ref w, 1); });
    }

    [Fact]
    public void DisposeWhileTheWorkersSleep()
    {
        var pool = new WorkerPool(4);
        Thread.Sleep(100);
        var clock = Stopwatch.StartNew();
        pool.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(WorkerPool.MaxThreads + 1)]
    public void ThreadCountOutOfRangeIsRejected(int threads)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(threads));

    [Fact]
    public void RunAllocatesNothing()
    {
        using var pool = new WorkerPool(2);
        var hits = new int[50];
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            var work = new CountingWork(hits);
            pool.Run(ref work, hits.Length);
        }));
    }
}
