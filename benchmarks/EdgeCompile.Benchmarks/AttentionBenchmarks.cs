using System;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// One layer's <see cref="Kernels.Attention"/> call at the shapes of the four benchmark models, exactly as their
/// generated code makes it (batch 1, 1 thread; q, k and v read in place from the packed QKV projection output with
/// its row stride, the key-padding mask row shared by every head and query). For a same-run A/B of a kernel change,
/// add the old kernel as a second benchmark while measuring (as commits 86dc613 and 6c439f3 did with a frozen copy).
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class AttentionKernel
{
    /// <summary>model: heads × headDim at its sequence (MobileBERT: V comes from its own projection, as in its plan).</summary>
    [Params("tinybert4 12x26 s128", "distilbert 12x64 s128", "mobilebert 4x32 s128", "deit-small 6x64 s197")]
    public string Shape { get; set; } = "";

    private int heads, headDim, sequence, qkvRow, vRow, vOffset;
    private bool hasMask;
    private float[] qkv = null!, v = null!, mask = null!, y = null!, scratch = null!;

    [GlobalSetup]
    public void Setup()
    {
        (heads, headDim, sequence, hasMask) = Shape.Split(' ')[0] switch
        {
            "tinybert4" => (12, 26, 128, true),
            "distilbert" => (12, 64, 128, true),
            "mobilebert" => (4, 32, 128, true),
            "deit-small" => (6, 64, 197, false),
            _ => throw new ArgumentException(Shape),
        };
        int hidden = heads * headDim;
        bool separateV = Shape.StartsWith("mobilebert");
        qkvRow = separateV ? 2 * hidden : 3 * hidden;
        (vRow, vOffset) = separateV ? (hidden, 0) : (qkvRow, 2 * hidden);
        var rng = new Random(7);
        qkv = Fill(rng, sequence * qkvRow, 1f);
        v = separateV ? Fill(rng, sequence * hidden, 1f) : qkv;
        mask = hasMask ? new float[sequence] : Array.Empty<float>();
        y = new float[sequence * hidden];
        scratch = new float[Kernels.AttentionScratchPerHead(sequence, headDim, headDim)];
    }

    private static float[] Fill(Random rng, int n, float range)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * range;
        return a;
    }

    [Benchmark]
    public void Current() => Kernels.Attention(qkv, qkv, v, mask, y, scratch, 1, heads, sequence, sequence, headDim, headDim,
        1f / MathF.Sqrt(headDim), 0, 0, qkvRow, headDim, heads * headDim, 0, qkvRow, headDim, vOffset, 0, vRow, headDim,
        0, 0, 0, 0, heads * headDim, headDim);
}

/// <summary>
/// <c>--attention-cpu [rounds]</c>: <see cref="AttentionKernel"/> timed by the calling thread's CPU time
/// (CLOCK_THREAD_CPUTIME_ID, as <see cref="SparseCpuTime"/>), so that waiting for a core on a shared, overloaded
/// machine is not counted: rounds of at least 20 ms of CPU each; prints per shape the best and the median round.
/// Linux only.
/// </summary>
internal static class AttentionCpuTime
{
    public static int Run(int rounds)
    {
        Console.WriteLine($"--attention-cpu: thread CPU time per call, {rounds} interleaved rounds of >= 20 ms each");
        foreach (string shape in new AttentionKernel().GetType().GetProperty(nameof(AttentionKernel.Shape))!
                     .GetCustomAttributes(typeof(BenchmarkDotNet.Attributes.ParamsAttribute), false)
                     .Cast<BenchmarkDotNet.Attributes.ParamsAttribute>().Single().Values.Cast<string>())
        {
            var b = new AttentionKernel { Shape = shape };
            b.Setup();
            var current = new double[rounds];
            for (int i = 0; i < 5; i++) b.Current();
            for (int r = 0; r < rounds; r++) current[r] = PerCall(b.Current);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{shape,-22} best {current.Min() * 1e6,8:F1} us, median {Median(current) * 1e6,8:F1} us per call"));
        }
        return 0;
    }

    private static double PerCall(Action run)
    {
        int calls = 0;
        double start = SparseCpuTime.ThreadCpuSeconds(), elapsed;
        do { run(); calls++; elapsed = SparseCpuTime.ThreadCpuSeconds() - start; } while (elapsed < 0.02);
        return elapsed / calls;
    }

    private static double Median(double[] x)
    {
        var sorted = x.OrderBy(v => v).ToArray();
        return sorted[sorted.Length / 2];
    }
}
