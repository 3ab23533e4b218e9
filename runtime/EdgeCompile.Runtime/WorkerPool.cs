using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace EdgeCompile.Runtime;

/// <summary>
/// One piece of work split into numbered items that may run on different threads. Implemented by
/// <c>ref struct</c>s that hold the spans of one kernel call; <see cref="Execute"/> must only touch the
/// part of the output that belongs to item <paramref name="index"/>.
/// </summary>
public interface IParallelWork
{
    void Execute(int index);
}

/// <summary>
/// The threads of one model instance (its <c>threads</c> constructor option). <see cref="Run{TWork}"/> splits a
/// kernel's items across the calling thread and <see cref="Threads"/> − 1 background threads that live as long
/// as the pool, and returns when all items are done. Nothing is allocated per call: the work is a
/// <c>ref struct</c> on the caller's stack that the workers reach through a pointer while the caller waits.
/// A pool serves one caller at a time (like the model instance that owns it); a work item must not call
/// <see cref="Run{TWork}"/> on the pool that runs it.
/// </summary>
/// <remarks>
/// Items are claimed from one 64-bit word that holds the job's generation (high half) and the number of items
/// still unclaimed (low half), so a worker that wakes up late can never take an item of a later job, and the
/// caller waits only for items that are running, never for a worker that has not woken up yet: if the workers
/// are asleep the caller simply does all the items itself.
/// Idle workers spin for <see cref="SpinMicroseconds"/> (a transformer runs its kernels back to back, and waking a
/// blocked thread costs tens of microseconds), without yielding for the first <see cref="BusySpinMicroseconds"/>
/// (the usual gap between two kernels), then yielding as they spin so that they do not starve the caller on a
/// machine with fewer free cores than threads, then block until the next job.
/// </remarks>
public sealed unsafe class WorkerPool : IDisposable
{
    /// <summary>Largest accepted thread count.</summary>
    public const int MaxThreads = 256;

    /// <summary>How long an idle worker spins for the next job before it blocks.</summary>
    internal const int SpinMicroseconds = 200;

    /// <summary>
    /// How long a waiting thread spins without yielding: an idle worker for the next job, the caller for the items
    /// other threads are finishing. After that the worker yields as it spins, and the caller yields until done.
    /// </summary>
    /// <remarks>Not a setting: the two-thread benchmark (<c>--threads-ab</c>) sets it to 0, the behaviour before
    /// session 6 (yield from the start), to compare both in one process.</remarks>
    internal static int BusySpinMicroseconds = 30;

    private static long BusySpinTicks => Stopwatch.Frequency * BusySpinMicroseconds / 1_000_000;

    private readonly Shared? _shared;

    /// <summary>Creates a pool of <paramref name="threads"/> threads in all (the caller counts as one).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is not in 1..<see cref="MaxThreads"/>.</exception>
    public WorkerPool(int threads)
    {
        if (threads < 1 || threads > MaxThreads)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"threads must be from 1 to {MaxThreads}.");
        Threads = threads;
        // The threads reference only the shared state, not this object, so a pool that is dropped without
        // Dispose is still collected, and its finalizer stops the threads.
        _shared = new Shared(threads - 1);
    }

    /// <summary>Stops the threads of a pool that was not disposed.</summary>
    ~WorkerPool() => _shared?.Stop(join: false);  // null when the constructor threw

    /// <summary>Threads that run work, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs <c>work.Execute(i)</c> for every <c>i</c> in <c>[0, count)</c>, spread over the pool's threads, and
    /// returns when all are done. An exception thrown by an item is rethrown here once the items already started
    /// have finished; the items not started by then are skipped.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool is disposed.</exception>
    /// <exception cref="InvalidOperationException">The pool is already running work (from another thread, or an item calls Run).</exception>
    public void Run<TWork>(ref TWork work, int count) where TWork : IParallelWork, allows ref struct
    {
        Shared s = _shared!;
        ObjectDisposedException.ThrowIf(s.Disposed, this);
        if (count <= 0) return;
        if (Interlocked.Exchange(ref s.Running, 1) != 0)
            throw new InvalidOperationException("This WorkerPool is already running work: a pool serves one caller at a time, and a work item must not call Run on its own pool.");
        try
        {
            if (s.Workers == 0 || count == 1)
            {
                for (int i = 0; i < count; i++) work.Execute(i);
                return;
            }
            // Pinned for the duration of the job: the workers hold a raw pointer to it. A ref struct lives on the
            // stack and does not move, but TWork may also be an ordinary struct inside an object.
            fixed (byte* pinned = &Unsafe.As<TWork, byte>(ref work))
            {
                s.RunJob(&Invoke<TWork>, pinned, count);
            }
        }
        finally
        {
            Volatile.Write(ref s.Running, 0);
            GC.KeepAlive(this);  // the finalizer must not stop the threads while a job runs
        }
    }

    private static void Invoke<TWork>(void* work, int index) where TWork : IParallelWork, allows ref struct
        => Unsafe.AsRef<TWork>(work).Execute(index);

    /// <summary>Stops the background threads and waits for them. Idempotent.</summary>
    public void Dispose()
    {
        _shared!.Stop(join: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Everything the worker threads touch.</summary>
    private sealed class Shared
    {
        private readonly Thread[] _threads;
        private readonly object _gate = new();

        // The current job. _invoke, _work and _count are written before _claim publishes the job; a thread reads
        // them only after it has claimed an item, which proves the job is still the current one.
        private delegate*<void*, int, void> _invoke;
        private void* _work;
        private int _count;
        private long _claim;      // generation << 32 | items not yet claimed
        private int _pending;     // items not yet finished (or skipped after a failure)
        private int _sleepers;    // workers blocked in Monitor.Wait
        private ExceptionDispatchInfo? _failure;
        private volatile bool _disposed;
        public int Running;

        public Shared(int workers)
        {
            _threads = new Thread[workers];
            for (int i = 0; i < workers; i++)
            {
                _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"EdgeCompile worker {i + 1}" };
                _threads[i].Start();
            }
        }

        public int Workers => _threads.Length;
        public bool Disposed => _disposed;

        private static int Generation(long claim) => (int)(claim >> 32);

        public void RunJob(delegate*<void*, int, void> invoke, void* work, int count)
        {
            _invoke = invoke;
            _work = work;
            _count = count;
            _failure = null;
            Volatile.Write(ref _pending, count);
            int generation = Generation(Volatile.Read(ref _claim)) + 1;
            // Publish (a full fence: the fields above are visible to whoever sees the new generation), then wake
            // the blocked workers if there are any; a worker that is about to block re-checks the generation
            // after counting itself a sleeper, so one of the two sides always sees the other (Dekker).
            Interlocked.Exchange(ref _claim, (long)generation << 32 | (uint)count);
            if (Volatile.Read(ref _sleepers) != 0)
            {
                lock (_gate) Monitor.PulseAll(_gate);
            }

            DoItems(generation);

            // Wait only for items other threads are still running: such an item is usually a few to a hundred
            // microseconds from done, so first spin without giving up the core (a yield on a busy machine can hand
            // it to another process for a whole time slice, milliseconds, while the item finishes), then yield.
            long busySpinTicks = BusySpinTicks;
            if (busySpinTicks > 0 && Volatile.Read(ref _pending) != 0)
            {
                long start = Stopwatch.GetTimestamp();
                int spins = 0;
                while (Volatile.Read(ref _pending) != 0
                    && ((++spins & 63) != 0 || Stopwatch.GetTimestamp() - start <= busySpinTicks))
                {
                    Thread.SpinWait(1);
                }
            }
            var spinner = new SpinWait();
            while (Volatile.Read(ref _pending) != 0) spinner.SpinOnce(sleep1Threshold: -1);
            _work = null;
            _invoke = null;
            ExceptionDispatchInfo? failure = _failure;
            _failure = null;
            failure?.Throw();
        }

        private void DoItems(int generation)
        {
            while (true)
            {
                long claim = Volatile.Read(ref _claim);
                int left = (int)claim;
                if (Generation(claim) != generation || left == 0) return;
                if (Interlocked.CompareExchange(ref _claim, claim - 1, claim) != claim) continue;
                try
                {
                    _invoke(_work, _count - left);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
                    // Skip the items nobody has claimed yet: take them all at once and count them as finished.
                    long rest = Interlocked.Exchange(ref _claim, (long)generation << 32);
                    if (Generation(rest) == generation) Interlocked.Add(ref _pending, -(int)rest);
                }
                Interlocked.Decrement(ref _pending);
            }
        }

        private void WorkerLoop()
        {
            int seen = Generation(Volatile.Read(ref _claim));
            long spinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
            while (true)
            {
                long start = Stopwatch.GetTimestamp(), busySpinTicks = BusySpinTicks;
                int spins = 0;
                bool busy = busySpinTicks > 0;
                while (Generation(Volatile.Read(ref _claim)) == seen && !_disposed)
                {
                    // Reading the clock is slow on some VMs (≈ 0.25 µs here), so only every 64th spin.
                    if ((++spins & 63) == 0)
                    {
                        long spent = Stopwatch.GetTimestamp() - start;
                        if (spent > spinTicks)
                        {
                            Sleep(seen);
                            break;
                        }
                        busy = spent <= busySpinTicks;
                    }
                    // The gap between two kernels of a model is mostly a few microseconds (a residual add, a norm):
                    // keep the core for that long, as a yield on a busy machine can lose it for a time slice and
                    // leave the next job to the caller alone. Past that, let another runnable thread have it.
                    if (!busy && (spins & 15) == 0) Thread.Yield();
                    else Thread.SpinWait(1);
                }
                if (_disposed) return;
                seen = Generation(Volatile.Read(ref _claim));
                DoItems(seen);
            }
        }

        private void Sleep(int seen)
        {
            lock (_gate)
            {
                Interlocked.Increment(ref _sleepers);
                while (Generation(Volatile.Read(ref _claim)) == seen && !_disposed) Monitor.Wait(_gate);
                Interlocked.Decrement(ref _sleepers);
            }
        }

        public void Stop(bool join)
        {
            if (_disposed) return;
            _disposed = true;
            lock (_gate) Monitor.PulseAll(_gate);
            if (!join) return;
            foreach (Thread t in _threads)
            {
                if (t != Thread.CurrentThread) t.Join();
            }
        }
    }
}
