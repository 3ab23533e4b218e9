using System;
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
/// A pool serves one caller at a time (like the model instance that owns it).
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    /// <summary>Largest accepted thread count.</summary>
    public const int MaxThreads = 256;

    // Workers spin this many iterations for the next job before blocking: a transformer runs its kernels
    // back to back, and waking a blocked thread costs more than most kernels at batch 1 take.
    private const int SpinIterations = 20_000;

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly object _gate = new();

    // The current job: set by Run before the generation is bumped, read by workers after they see it.
    private delegate*<void*, int, void> _invoke;
    private void* _work;
    private int _count;
    private int _next;          // next item to claim
    private int _busyWorkers;   // workers still inside the current job
    private int _generation;    // bumped once per job; workers wait for a change
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _failure;

    /// <summary>Creates a pool of <paramref name="threads"/> threads in all (the caller counts as one).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is not in 1..<see cref="MaxThreads"/>.</exception>
    public WorkerPool(int threads)
    {
        if (threads < 1 || threads > MaxThreads)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"threads must be from 1 to {MaxThreads}.");
        Threads = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"EdgeCompile worker {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run work, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs <c>work.Execute(i)</c> for every <c>i</c> in <c>[0, count)</c>, spread over the pool's threads, and
    /// returns when all are done. An exception thrown by an item is rethrown here (after all threads stop).
    /// </summary>
    public void Run<TWork>(ref TWork work, int count) where TWork : IParallelWork, allows ref struct
    {
        if (count <= 0) return;
        if (_threads.Length == 0 || count == 1)
        {
            for (int i = 0; i < count; i++) work.Execute(i);
            return;
        }
        ObjectDisposedException.ThrowIf(_disposed, this);

        _invoke = &Invoke<TWork>;
        _work = Unsafe.AsPointer(ref work);
        _count = count;
        _next = 0;
        _failure = null;
        Volatile.Write(ref _busyWorkers, _threads.Length);
        Interlocked.Increment(ref _generation);
        lock (_gate) _wake.Set();  // under the lock: a worker resets the event only after re-checking the generation

        DoItems();

        var spinner = new SpinWait();
        while (Volatile.Read(ref _busyWorkers) != 0) spinner.SpinOnce(sleep1Threshold: -1);
        _work = null;
        _failure?.Throw();
    }

    private static void Invoke<TWork>(void* work, int index) where TWork : IParallelWork, allows ref struct
        => Unsafe.AsRef<TWork>(work).Execute(index);

    private void DoItems()
    {
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < _count) _invoke(_work, i);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
            Volatile.Write(ref _next, int.MaxValue / 2);  // stop handing out items
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < SpinIterations) { Thread.SpinWait(8); continue; }
                lock (_gate)
                {
                    // Re-check under the lock: Run sets the event under the same lock after bumping the generation.
                    if (Volatile.Read(ref _generation) != seen || _disposed) break;
                    _wake.Reset();
                }
                _wake.Wait();
                spins = 0;
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            DoItems();
            Interlocked.Decrement(ref _busyWorkers);
        }
    }

    /// <summary>Stops the background threads. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate) _wake.Set();
        foreach (var t in _threads) t.Join();
        _wake.Dispose();
    }
}
