using System;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Attributes;
using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// One layer's <see cref="Kernels.Attention"/> call at the shapes of the four benchmark models, exactly as their
/// generated code makes it (batch 1, 1 thread; q, k and v read in place from the packed QKV projection output with
/// its row stride, the key-padding mask row shared by every head and query), beside the same call to a frozen copy of
/// the session-6 kernel (<see cref="AttentionSession6"/>) for a same-run A/B. A shape is
/// <c>model heads×headDim sN [qM] [rowmask]</c>: N keys, M queries (the last M rows; default N), and with
/// <c>rowmask</c> a causal mask with one row per query ([M, N], as a decoder's) instead of the key-padding row.
/// </summary>
[Config(typeof(BenchConfig))]
[MemoryDiagnoser]
public class AttentionKernel
{
    /// <summary>The benchmark models' shapes (MobileBERT: V comes from its own projection, as in its plan).</summary>
    [Params("tinybert4 12x26 s16", "distilbert 12x64 s16", "mobilebert 4x32 s16",
        "tinybert4 12x26 s128", "distilbert 12x64 s128", "mobilebert 4x32 s128", "deit-small 6x64 s197",
        "distilbert 12x64 s16 rowmask", "distilbert 12x64 s128 rowmask")]
    public string Shape { get; set; } = "";

    private int heads, headDim, sequence, queries, qkvRow, vRow, vOffset, maskRow;
    private float[] qkv = null!, v = null!, mask = null!, y = null!, scratch = null!;

    [GlobalSetup]
    public void Setup()
    {
        string[] words = Shape.Split(' ');
        string[] hd = words[1].Split('x');
        (heads, headDim) = (int.Parse(hd[0]), int.Parse(hd[1]));
        sequence = int.Parse(words[2][1..]);
        queries = words.FirstOrDefault(w => w.StartsWith('q')) is string qw ? int.Parse(qw[1..]) : sequence;
        bool rowMask = words.Contains("rowmask"), keyPadding = words[0] != "deit-small";
        int hidden = heads * headDim;
        bool separateV = words[0] == "mobilebert";
        qkvRow = separateV ? 2 * hidden : 3 * hidden;
        (vRow, vOffset) = separateV ? (hidden, 0) : (qkvRow, 2 * hidden);
        var rng = new Random(7);
        qkv = Fill(rng, sequence * qkvRow, 1f);
        v = separateV ? Fill(rng, sequence * hidden, 1f) : qkv;
        if (rowMask)
        {
            // Query i (of the last `queries` positions) sees the keys up to its own position.
            maskRow = sequence;
            mask = new float[queries * sequence];
            for (int i = 0; i < queries; i++)
                for (int j = sequence - queries + i + 1; j < sequence; j++) mask[i * sequence + j] = float.NegativeInfinity;
        }
        else mask = keyPadding ? new float[sequence] : Array.Empty<float>();
        y = new float[queries * hidden];
        scratch = new float[Kernels.AttentionScratchPerHead(sequence, headDim, headDim)];
    }

    private static float[] Fill(Random rng, int n, float range)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * range;
        return a;
    }

    // The queries are the last `queries` rows of the projection output.
    private int QOffset => (sequence - queries) * qkvRow;

    [Benchmark]
    public void Current() => Kernels.Attention(qkv, qkv, v, mask, y, scratch, 1, heads, queries, sequence, headDim, headDim,
        1f / MathF.Sqrt(headDim), QOffset, 0, qkvRow, headDim, heads * headDim, 0, qkvRow, headDim, vOffset, 0, vRow, headDim,
        0, 0, maskRow, 0, heads * headDim, headDim);

    [Benchmark(Baseline = true)]
    public void Session6() => AttentionSession6.Run(qkv, qkv, v, mask, y, scratch, 1, heads, queries, sequence, headDim, headDim,
        1f / MathF.Sqrt(headDim), QOffset, 0, qkvRow, headDim, heads * headDim, 0, qkvRow, headDim, vOffset, 0, vRow, headDim,
        0, 0, maskRow, 0, heads * headDim, headDim);

    /// <summary>Largest |Current − Session6| over y (both runs on the same inputs), to check that the A/B compares like with like.</summary>
    public float MaxDifference()
    {
        Current();
        float[] current = (float[])y.Clone();
        Session6();
        float max = 0;
        for (int i = 0; i < y.Length; i++) max = MathF.Max(max, MathF.Abs(current[i] - y[i]));
        return max;
    }
}

/// <summary>
/// <c>--attention-cpu [rounds] [shape...]</c>: <see cref="AttentionKernel"/>'s Current and Session6 timed by the
/// calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID, as <see cref="SparseCpuTime"/>), so that waiting for a core on
/// the shared, overloaded machine is not counted, and interleaved: each round times Session6 then Current for at least
/// 20 ms of CPU each, so a slow phase of the machine hits both. Prints per shape the best and the median round of
/// each and the median of the per-round ratios Current / Session6. Shapes: the benchmark's, or those given.
/// <para>
/// <c>--attention-rest [rounds]</c>: the sweep behind <see cref="Kernels.AttentionRowKernelMaxQueries"/> and
/// <see cref="Kernels.AttentionRowKernelMaxRest"/>: for sequences of a few queries, and of 6 whole panels and a few,
/// the runtime's kernel with those queries on a panel (both settings at 0) against the 4-row kernel (both at 16),
/// interleaved in the same way. Linux only.
/// </para>
/// </summary>
internal static class AttentionCpuTime
{
    public static int Run(int rounds, string[] shapes)
    {
        if (shapes.Length == 0)
            shapes = typeof(AttentionKernel).GetProperty(nameof(AttentionKernel.Shape))!
                .GetCustomAttributes(typeof(ParamsAttribute), false).Cast<ParamsAttribute>().Single().Values.Cast<string>().ToArray();
        Console.WriteLine($"--attention-cpu: thread CPU time per call, {rounds} interleaved rounds of >= 20 ms each; Session6 = frozen session-6 kernel");
        foreach (string shape in shapes)
        {
            var b = new AttentionKernel { Shape = shape };
            b.Setup();
            Compare(shape, rounds, "Session6", b.Session6, "Current", b.Current, b.MaxDifference());
        }
        return 0;
    }

    public static int Rest(int rounds)
    {
        Console.WriteLine($"--attention-rest: thread CPU time per call, {rounds} interleaved rounds of >= 20 ms each; "
            + "Narrow = rest on the 16-lane panel (AVX-512; AVX2: the 16-lane wide panel), RowKernel = rest on the 4-row kernel");
        (int savedQueries, int savedRest) = (Kernels.AttentionRowKernelMaxQueries, Kernels.AttentionRowKernelMaxRest);
        try
        {
            foreach (string model in new[] { "distilbert 12x64", "tinybert4 12x26", "deit-small 6x64" })
            foreach (int panels in new[] { 0, 6 })
            foreach (int rest in new[] { 1, 2, 3, 4, 5, 6, 8 })
            {
                // A sequence of `rest` tokens, or of 6 whole 32-query panels and `rest` (DeiT-Small's 197 = 6·32 + 5),
                // where K and Vᵀ are packed for the panels anyway and the 4-row kernel transposes K once more.
                string shape = $"{model} s{panels * 32 + rest}";
                var b = new AttentionKernel { Shape = shape };
                b.Setup();
                Compare(shape, rounds,
                    "RowKernel", () => { SetRowKernelLimit(16); b.Current(); },
                    "Narrow", () => { SetRowKernelLimit(0); b.Current(); }, b.MaxDifference());
            }
        }
        finally { (Kernels.AttentionRowKernelMaxQueries, Kernels.AttentionRowKernelMaxRest) = (savedQueries, savedRest); }
        return 0;
    }

    private static void SetRowKernelLimit(int queries) => (Kernels.AttentionRowKernelMaxQueries, Kernels.AttentionRowKernelMaxRest) = (queries, queries);

    private static void Compare(string shape, int rounds, string nameA, Action a, string nameB, Action b, float maxDifference)
    {
        var ta = new double[rounds];
        var tb = new double[rounds];
        for (int i = 0; i < 5; i++) { a(); b(); }
        for (int r = 0; r < rounds; r++)
        {
            ta[r] = PerCall(a);
            tb[r] = PerCall(b);
        }
        double[] ratios = tb.Zip(ta, (x, z) => x / z).OrderBy(x => x).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{shape,-30} {nameA} best {ta.Min() * 1e6,8:F1} median {Median(ta) * 1e6,8:F1} us | "
            + $"{nameB} best {tb.Min() * 1e6,8:F1} median {Median(tb) * 1e6,8:F1} us | "
            + $"median {nameB}/{nameA} {ratios[rounds / 2]:F3} (middle half {ratios[rounds / 4]:F3}-{ratios[(3 * rounds - 1) / 4]:F3}) | max|diff| {maxDifference:G2}"));
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
