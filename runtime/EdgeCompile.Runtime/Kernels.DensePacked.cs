using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>
/// The build-time shape of one fully connected layer. The generator emits one struct per distinct shape, so
/// <see cref="Kernels.Dense{TShape}"/> is compiled (by the JIT or NativeAOT) once per shape with
/// <see cref="K"/>, <see cref="N"/> and <see cref="Panel"/> as constants.
/// </summary>
public interface IDenseShape
{
    /// <summary>Input features (the reduction length).</summary>
    static abstract int K { get; }
    /// <summary>Output features.</summary>
    static abstract int N { get; }
    /// <summary>Columns per packed weight panel (16 or 32), chosen by the compiler for the target profile.</summary>
    static abstract int Panel { get; }
}

// Dense<TShape>: the entry point, the cache blocking and the threading. The register-tile micro-kernels, one per
// instruction set, live side by side in Kernels.DensePacked.<Isa>.cs and all implement IDenseMicroKernel.
//
// Loop nest (BLIS/MLAS style; B = the packed weights, A = x, C = y); the k and column bounds are constants per shape:
//   row block (up to 128 rows; W is streamed once per row block)
//     outer k block (kc2: the x block of mc × kc2 floats stays in L2 while all panels stream past it)
//       panel p (P columns; a work item owns a range of panels and a range of rows)
//         column slice of the panel (NR = the micro-kernel width: P itself for AVX-512, 16 or 8 below it)
//           k block (kc: the kc × NR slice of W stays in L1 while every row tile streams past it; an IPanelSource
//                    gives it: FP32 panels in place, Half and INT4 panels widened once into a float buffer)
//             row tile (up to MR rows): micro-kernel, the accumulators in registers for the whole k block
// The x86 micro-kernels read x packed per row block and outer k block (PackX: the tile's values for one k step side by
// side) when N ≥ DensePackXMinColumns or K ≥ DensePackXMinDepth; other layers and the ARM and portable kernels read it in place. The C tile is loaded once per k block after the first, and
// its epilogue runs on the last k block while the tile is in registers (bias, ReLU) or in L1 (other activations).
public static unsafe partial class Kernels
{
    /// <summary>
    /// Fully connected layer on panel-packed weights: <c>y[r,j] = act(Σ_i x[r,i]·W[i,j] + bias[j])</c>, <c>x</c> is
    /// <c>[rows,K]</c>, <c>y</c> is <c>[rows,N]</c>, <c>bias</c> has length N or is empty. <c>w</c> holds W
    /// packed in panels of <c>P = TShape.Panel</c> columns: panel <c>p</c> (columns <c>p·P .. p·P+P-1</c>) is
    /// <c>K·P</c> consecutive floats, row <c>i</c> of the panel at <c>p·K·P + i·P</c>; columns past N are zero.
    /// Length <c>⌈N/P⌉·K·P</c>. <paramref name="workers"/> (may be null) splits the output across threads when the
    /// product is large enough to pay for it. <c>y</c> must not overlap the inputs.
    /// </summary>
    public static void Dense<TShape>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int rows, Activation activation, WorkerPool? workers) where TShape : struct, IDenseShape
    {
        CheckDense<TShape>(x.Length, w.Length, PackedDenseLength(TShape.K, TShape.N, TShape.Panel), bias.Length, y.Length, rows, activation);
        if (rows == 0 || TShape.N == 0) return;

        // Every length is checked above; from here on the loops run on raw pointers. The spans are pinned for the
        // whole call, which includes the time worker threads use the pointers (WorkerPool.Run returns when all
        // items are done).
        fixed (float* px = x, pw = w, pbias = bias, py = y)
        {
            var args = new DenseArgs(px, bias.IsEmpty ? null : pbias, py, rows, activation);
            DenseDispatch<TShape, FloatPanels<TShape>>(args, new FloatPanels<TShape>(pw), workers);
        }
    }

    /// <summary>
    /// The checks every panel-packed fully connected kernel makes: the shape, then the lengths in argument order
    /// (<paramref name="wLength"/> against <paramref name="wExpected"/>, the weights' own element count).
    /// </summary>
    private static void CheckDense<TShape>(int xLength, int wLength, long wExpected, int biasLength, int yLength,
        int rows, Activation activation) where TShape : struct, IDenseShape
    {
        int k = TShape.K, n = TShape.N, panel = TShape.Panel;
        // Shape checks fold away for a valid shape struct (all three are JIT-time constants).
        if (k < 0 || n < 0) ThrowBadShape(typeof(TShape), "K and N must be non-negative");
        if (panel != 16 && panel != 32) ThrowBadShape(typeof(TShape), "Panel must be 16 or 32");
        Guard.NonNegative(rows, "rows");
        Guard.Length(xLength, (long)rows * k, "x");
        Guard.Length(wLength, wExpected, "w");
        if (biasLength != 0) Guard.Length(biasLength, n, "bias");
        Guard.Length(yLength, (long)rows * n, "y");
        if ((uint)activation > (uint)Activation.Silu)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
    }

    /// <summary>
    /// Narrowest layer (N) for which the x86 micro-kernels read x packed (<see cref="XPacked"/>); narrower layers read
    /// it in place (<see cref="XInPlace"/>). Packing costs about as much per x value whatever N is, and it is repaid by
    /// every column slice that reuses the block. Measured (thread CPU time, 1 thread, load ≈ 25): at 128 rows packing
    /// lost 5-33 % in 9 of 10 cases at N = 64 and 128 (where the in-place kernel ran at up to 94-100 % of the FMA peak:
    /// W fits in L2), 2-3 % at N = 512, and gained up to 14 % at N = 768-3072 (within noise in some runs); at 16 rows
    /// it gained 9-10 % at N = 512 and 8-73 % at N = 768-3072.
    /// </summary>
    internal const int DensePackXMinColumns = 512;

    /// <summary>
    /// Narrower layers (N &lt; <see cref="DensePackXMinColumns"/>) read x packed too when K is at least this: their x
    /// rows are then ≥ 4 KB apart, so the in-place broadcasts of a 12-row tile fall into a few L1 sets. Measured (thread
    /// CPU time, 1 thread, load ≈ 25, 512-bit kernel, 1536×384, the DeiT-Small / MiniLM FFN down-projection): packing
    /// took 23-29 % off at 16 rows (3 runs), 15 % at 32, 2 % at 64, and was within noise at 128 and 197 (-2 to +7 %).
    /// </summary>
    internal const int DensePackXMinDepth = 1024;

    /// <summary>The x layout for the shape (a constant per instantiation), then <see cref="DenseDispatch{TShape, TSource, TX}"/>.</summary>
    private static void DenseDispatch<TShape, TSource>(in DenseArgs args, in TSource source, WorkerPool? workers)
        where TShape : struct, IDenseShape where TSource : struct, IPanelSource
    {
        if (TShape.N >= DensePackXMinColumns || TShape.K >= DensePackXMinDepth) DenseDispatch<TShape, TSource, XPacked>(args, source, workers);
        else DenseDispatch<TShape, TSource, XInPlace>(args, source, workers);
    }

    /// <summary>Picks the micro-kernel for the panel width and this CPU; each test folds to a constant per
    /// instantiation, so one branch survives. <typeparamref name="TX"/> is how the x86 micro-kernels read x.</summary>
    private static void DenseDispatch<TShape, TSource, TX>(in DenseArgs args, in TSource source, WorkerPool? workers)
        where TShape : struct, IDenseShape where TSource : struct, IPanelSource where TX : struct, IXLayout
    {
        if (TShape.Panel == 32 && Avx512F.IsSupported) DenseRun<TShape, DenseAvx512<TShape, TX>, TSource>(args, source, workers);
        else if (Avx2.IsSupported && Fma.IsSupported) DenseRun<TShape, DenseAvx2<TShape, TX>, TSource>(args, source, workers);
        else if (AdvSimd.Arm64.IsSupported) DenseRun<TShape, DenseAdvSimd<TShape>, TSource>(args, source, workers);
        else if (Vector128.IsHardwareAccelerated) DenseRun<TShape, DenseVector128<TShape>, TSource>(args, source, workers);
        else DenseRun<TShape, DenseScalar<TShape>, TSource>(args, source, workers);
    }

    /// <summary>
    /// <see cref="Dense{TShape}"/> with the x86 micro-kernels reading x in place, K floats between rows, whatever N
    /// (the kernel before x was packed; what Dense runs below <see cref="DensePackXMinColumns"/> and on ARM). Same
    /// checks, same sums in the same order, so the same results; the reference side of the <c>Gemm</c> benchmark's A/B.
    /// </summary>
    internal static void DenseXInPlace<TShape>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int rows, Activation activation, WorkerPool? workers) where TShape : struct, IDenseShape
    {
        CheckDense<TShape>(x.Length, w.Length, PackedDenseLength(TShape.K, TShape.N, TShape.Panel), bias.Length, y.Length, rows, activation);
        if (rows == 0 || TShape.N == 0) return;
        fixed (float* px = x, pw = w, pbias = bias, py = y)
        {
            var args = new DenseArgs(px, bias.IsEmpty ? null : pbias, py, rows, activation);
            DenseDispatch<TShape, FloatPanels<TShape>, XInPlace>(args, new FloatPanels<TShape>(pw), workers);
        }
    }

    /// <summary>Length of a panel-packed <c>[k,n]</c> weight matrix with <paramref name="panel"/> columns per panel.</summary>
    public static long PackedDenseLength(int k, int n, int panel) => (long)((n + panel - 1) / panel) * k * panel;

    private static void ThrowBadShape(Type shape, string what)
        => throw new NotSupportedException($"Dense shape {shape.Name}: {what}.");

    /// <summary>
    /// Below this many multiply-adds (rows·K·N, here 131 k: 1-2 µs on one core) one thread does the whole product:
    /// handing items to the pool costs ≈ 0.4 µs when its threads are spinning (measured) and more when they must be
    /// woken, which would eat most of the gain.
    /// </summary>
    internal const long DenseParallelThreshold = 1L << 17;

    private static void DenseRun<TShape, TKernel, TSource>(in DenseArgs args, in TSource source, WorkerPool? workers)
        where TShape : struct, IDenseShape where TKernel : struct, IDenseMicroKernel where TSource : struct, IPanelSource
    {
        int threads = workers?.Threads ?? 1;
        int panels = (TShape.N + TShape.Panel - 1) / TShape.Panel;
        if (threads <= 1 || (long)args.Rows * TShape.K * TShape.N < DenseParallelThreshold)
        {
            DenseBlock<TShape, TKernel, TSource>(args, source, 0, args.Rows, 0, panels);
            return;
        }

        DenseSplit(threads, panels, args.Rows, TKernel.Rows, out int panelGroups, out int rowTiles, out int rowGroups);
        var work = new DenseWork<TShape, TKernel, TSource>(args, source, panels, panelGroups, rowTiles, rowGroups);
        workers!.Run(ref work, panelGroups * rowGroups);
    }

    /// <summary>
    /// How a parallel dense product is cut into items (also <see cref="DenseInt8{TShape}"/>'s): by panels first, so
    /// that each thread streams its own part of W (the big operand) once and all threads share x; by row tiles as
    /// well only when there are fewer panels than threads. One item per thread, each a contiguous run of whole panels:
    /// with two items per thread (before session 6) a 128-column layer became 4 one-panel items, and each item
    /// repeated the work a call does once per panel range (packing x when N ≥ <see cref="DensePackXMinColumns"/>,
    /// 3.5× the one-thread PackX samples in a MobileBERT profile on the loaded machine) and lost the next-panel W
    /// prefetch at its end.
    /// Items are still claimed dynamically: a worker that has not started by the time the caller finishes its own
    /// item leaves its item to the caller too.
    /// </summary>
    internal static void DenseSplit(int threads, int panels, int rows, int tileRows, out int panelGroups, out int rowTiles, out int rowGroups)
    {
        int target = threads * DenseItemsPerThread;
        panelGroups = Math.Min(panels, target);
        rowTiles = (rows + tileRows - 1) / tileRows;
        rowGroups = Math.Min(rowTiles, (target + panelGroups - 1) / panelGroups);
    }

    /// <summary>Items per thread in <see cref="DenseSplit"/>: 1. Not a setting: the two-thread benchmark (<c>--threads-ab</c>)
    /// sets it to 2, the split before session 6, to compare both in one process.</summary>
    internal static int DenseItemsPerThread = 1;

    /// <summary>One work item: a range of panels × a range of row tiles.</summary>
    private ref struct DenseWork<TShape, TKernel, TSource>(DenseArgs args, TSource source, int panels, int panelGroups, int rowTiles, int rowGroups) : IParallelWork
        where TShape : struct, IDenseShape where TKernel : struct, IDenseMicroKernel where TSource : struct, IPanelSource
    {
        private readonly DenseArgs _args = args;
        private readonly TSource _source = source;

        public void Execute(int index)
        {
            int pg = index % panelGroups, rg = index / panelGroups;
            int p0 = (int)((long)pg * panels / panelGroups), p1 = (int)((long)(pg + 1) * panels / panelGroups);
            int t0 = (int)((long)rg * rowTiles / rowGroups), t1 = (int)((long)(rg + 1) * rowTiles / rowGroups);
            int r0 = t0 * TKernel.Rows, r1 = Math.Min(_args.Rows, t1 * TKernel.Rows);
            DenseBlock<TShape, TKernel, TSource>(_args, _source, r0, r1, p0, p1);
        }
    }

    /// <summary>The pinned operands of one panel-packed Dense call except the weights, which the
    /// <see cref="IPanelSource"/> holds (bias null when absent).</summary>
    private readonly struct DenseArgs(float* x, float* bias, float* y, int rows, Activation activation)
    {
        public readonly float* X = x, Bias = bias, Y = y;
        public readonly int Rows = rows;
        public readonly Activation Activation = activation;
    }

    /// <summary>
    /// Rows <paramref name="r0"/>..<paramref name="r1"/> (r0 a multiple of the tile height) × panels
    /// <paramref name="p0"/>..<paramref name="p1"/> of the output.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void DenseBlock<TShape, TKernel, TSource>(in DenseArgs args, in TSource source, int r0, int r1, int p0, int p1)
        where TShape : struct, IDenseShape where TKernel : struct, IDenseMicroKernel where TSource : struct, IPanelSource
    {
        // All of these are constants per (shape, kernel) instantiation.
        int k = TShape.K, n = TShape.N, panel = TShape.Panel, mr = TKernel.Rows, nr = TKernel.Columns;
        int kBlocks = k <= TKernel.KBlock ? 1 : (k + TKernel.KBlock - 1) / TKernel.KBlock;
        int kc = kBlocks == 1 ? k : (k + kBlocks - 1) / kBlocks;   // equal blocks rather than a short last one

        // Row blocks of at most DenseMaxRowBlock rows, of equal size (rounded up to whole tiles); then the outer k
        // block: as many k blocks as keep the x block (mc × kc2 floats) within the L2 budget.
        int rowBlocks = (r1 - r0 + DenseMaxRowBlock - 1) / DenseMaxRowBlock;
        int mc = ((r1 - r0 + rowBlocks - 1) / rowBlocks + mr - 1) / mr * mr;
        int kc2 = kc == 0 ? 0 : Math.Max(1, DenseL2Budget / sizeof(float) / mc / kc) * kc;

        // Weight-only formats widen each kc × NR slice into this buffer (rows Panel floats apart, as in a float
        // panel; at most KBlock × 32 floats = 24-48 KB, so it stays in L1 while the row tiles stream past it). It is
        // filled before it is read, hence SkipLocalsInit. FP32 panels are read in place and need none.
        float* slice = null;
        if (TSource.Widens)
        {
            float* raw = stackalloc float[kc * panel + 16];
            slice = (float*)(((nint)raw + 63) & ~(nint)63);  // whole cache lines
        }

        // The x block packed for the micro-kernel (see PackX): mc × kc2 floats, at most DenseL2Budget bytes (mc·kc
        // alone is at most 132 × 384 floats, below the budget), filled before it is read.
        float* packed = null;
        if (TKernel.PacksX)
        {
            float* raw = stackalloc float[mc * Math.Min(kc2, k) + 16];
            packed = (float*)(((nint)raw + 63) & ~(nint)63);
        }

        Activation activation = args.Activation;
        bool relu = activation == Activation.Relu;
        bool after = activation != Activation.None && !relu;  // applied to each finished tile while it is in L1
        float* x = args.X, y = args.Y, bias = args.Bias;

        // The last column slice when N is not a multiple of its width: the row block is computed into this buffer
        // of register-tile width (the zero-padded weight columns make the extra columns harmless), k block by k block
        // as the full slices are (so the sums run in the same order), and only the columns below N are copied to y,
        // so y is never written past N. Its bias is padded to the tile width.
        int edgeCol = n - n % nr;
        float* edge = null, edgeBias = null;
        if (n % nr != 0)
        {
            // At most mc (≤ 140) rows × NR (≤ 32) floats; written by the first k block before it is read.
            float* block = stackalloc float[mc * nr];
            edge = block;
            if (bias != null)
            {
                float* pad = stackalloc float[nr];
                new Span<float>(pad, nr).Clear();
                new ReadOnlySpan<float>(bias + edgeCol, n - edgeCol).CopyTo(new Span<float>(pad, nr));
                edgeBias = pad;
            }
        }

        for (int rb = r0; rb < r1; rb += mc)
        {
            int rbEnd = Math.Min(rb + mc, r1);
            // Tiles of (nearly) equal height: 16 rows run as 8 + 8 rather than 12 + 4, so that no tile is left with
            // too few accumulators to hide the FMA latency.
            int tiles = (rbEnd - rb + mr - 1) / mr;
            int ko = 0;
            do  // at least once, so that K = 0 still writes act(bias)
            {
                int koEnd = Math.Min(ko + kc2, k), kLen = koEnd - ko;
                if (TKernel.PacksX) PackX(x + (nint)rb * k + ko, k, packed, rbEnd - rb, tiles, mr, kLen);
                for (int p = p0; p < p1; p++)
                {
                    for (int s = 0; s < panel; s += nr)
                    {
                        int col = p * panel + s;
                        if (col >= n) break;  // the rest of the last panel is zero padding
                        bool isEdge = col == edgeCol;
                        float* biasCol = bias == null ? null : isEdge ? edgeBias : bias + col;
                        nint ldc = isEdge ? nr : n;

                        int k0 = ko;
                        do
                        {
                            int kcur = Math.Min(kc, koEnd - k0);
                            bool first = k0 == 0, last = k0 + kcur == k;
                            float* b = source.Slice(slice, p, s, k0, kcur, nr);

                            // The W slice the next k block (or the next panel) will use, prefetched into L2 a share
                            // per tile: the first tile over a slice would otherwise wait on L3 or memory for it.
                            // (Measured: +8 % on 768×3072, where W is 9 MB; neutral where W fits in L2.)
                            byte* next = null;
                            nint nextBytes = 0;
                            if (k0 + kcur < koEnd)
                            {
                                next = source.Row(p, k0 + kcur);
                                nextBytes = (nint)Math.Min(kc, koEnd - k0 - kcur) * TSource.RowBytes;
                            }
                            else if (p + 1 < p1 && s + nr >= panel)
                            {
                                next = source.Row(p + 1, ko);
                                nextBytes = (nint)Math.Min(kc, koEnd - ko) * TSource.RowBytes;
                            }
                            nint share = (nextBytes / tiles + 63) & ~63;

                            for (int t = 0; t < tiles; t++)
                            {
                                int r = rb + t * (rbEnd - rb) / tiles, m = rb + (t + 1) * (rbEnd - rb) / tiles - r;
                                float* a = TKernel.PacksX ? packed + ((nint)t * kLen + (k0 - ko)) * mr : x + (nint)r * k + k0;
                                float* c = isEdge ? edge + (nint)(r - rb) * nr : y + (nint)r * n + col;
                                nint pfBytes = next == null ? 0 : Math.Min(share, nextBytes - t * share);
                                if (TKernel.PrefetchesInLoop)
                                {
                                    // Spread over the tile's k steps: a burst of hundreds of prefetches at the start
                                    // of a tile held the fill buffers the kernel's own W loads need (16 rows: 2 tiles
                                    // per slice, 192 lines each).
                                    if (pfBytes > 0 && kcur > 0) TKernel.Tile(m, a, b, c, ldc, kcur, biasCol, !first, last && relu, next + t * share, (pfBytes + kcur - 1) / kcur);
                                    else TKernel.Tile(m, a, b, c, ldc, kcur, biasCol, !first, last && relu, (byte*)b, 0);
                                }
                                else
                                {
                                    if (pfBytes > 0) DensePrefetchL2(next + t * share, pfBytes);
                                    TKernel.Tile(m, a, b, c, ldc, kcur, biasCol, !first, last && relu);
                                }
                                if (last && after && !isEdge)
                                {
                                    for (int i = 0; i < m; i++) ApplyActivation(new Span<float>(c + (nint)i * n, nr), activation);
                                }
                            }
                            k0 += kcur;
                        }
                        while (k0 < koEnd);

                        if (isEdge && koEnd == k)
                        {
                            for (int r = rb; r < rbEnd; r++)
                            {
                                var dst = new Span<float>(y + (nint)r * n + col, n - col);
                                new ReadOnlySpan<float>(edge + (nint)(r - rb) * nr, n - col).CopyTo(dst);
                                if (!relu) ApplyActivation(dst, activation);
                            }
                        }
                    }
                }
                ko = koEnd;
            }
            while (ko < k);
        }
    }

    /// <summary>
    /// Packs <paramref name="rows"/> rows × <paramref name="kLen"/> columns of x (rows <paramref name="ldx"/> floats
    /// apart) for a micro-kernel with <see cref="IDenseMicroKernel.PacksX"/>: tile by tile (the driver's equal-height
    /// tiles), each tile <c>kLen × mr</c> floats with the tile's values for one k step side by side, so the kernel's
    /// broadcasts read one or two consecutive cache lines per k step instead of one line in each of mr rows K floats
    /// apart (with K = 3072 the rows are 12 KB apart and all fall into the same L1 set, where they evict each other
    /// and the W slice). Done once per row block and outer k block and reused by every panel. Slots of rows past a
    /// short tile's height are never read, so they are left unwritten.
    /// </summary>
    private static void PackX(float* x, nint ldx, float* dst, int rows, int tiles, int mr, int kLen)
    {
        for (int t = 0; t < tiles; t++)
        {
            int r = t * rows / tiles, m = (t + 1) * rows / tiles - r;
            float* tile = dst + (nint)t * kLen * mr;
            int i = 0;
            if (Sse.IsSupported)
            {
                // Four rows at a time, 4 × 4 blocks transposed in registers: a scalar copy (one strided store per
                // float) cost up to 8 % of a 768 × 768 product at 128 rows.
                for (; i + 4 <= m; i += 4)
                {
                    float* s0 = x + (nint)(r + i) * ldx, s1 = s0 + ldx, s2 = s1 + ldx, s3 = s2 + ldx;
                    float* d = tile + i;
                    int j = 0;
                    for (; j + 4 <= kLen; j += 4, d += 4 * mr)
                    {
                        Vector128<float> r0 = Sse.LoadVector128(s0 + j), r1 = Sse.LoadVector128(s1 + j);
                        Vector128<float> r2 = Sse.LoadVector128(s2 + j), r3 = Sse.LoadVector128(s3 + j);
                        Vector128<float> lo01 = Sse.UnpackLow(r0, r1), lo23 = Sse.UnpackLow(r2, r3);    // k j, j+1
                        Vector128<float> hi01 = Sse.UnpackHigh(r0, r1), hi23 = Sse.UnpackHigh(r2, r3);  // k j+2, j+3
                        Sse.Store(d, Sse.MoveLowToHigh(lo01, lo23));
                        Sse.Store(d + mr, Sse.MoveHighToLow(lo23, lo01));
                        Sse.Store(d + 2 * mr, Sse.MoveLowToHigh(hi01, hi23));
                        Sse.Store(d + 3 * mr, Sse.MoveHighToLow(hi23, hi01));
                    }
                    for (; j < kLen; j++, d += mr)
                    {
                        d[0] = s0[j]; d[1] = s1[j]; d[2] = s2[j]; d[3] = s3[j];
                    }
                }
            }
            for (; i < m; i++)
            {
                float* src = x + (nint)(r + i) * ldx;
                float* d = tile + i;
                for (int j = 0; j < kLen; j++) d[(nint)j * mr] = src[j];
            }
        }
    }

    /// <summary>Prefetches <paramref name="bytes"/> from <paramref name="p"/> into L2 where the ISA has a prefetch hint (x64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DensePrefetchL2(byte* p, nint bytes)
    {
        if (!Sse.IsSupported) return;
        for (byte* end = p + bytes; p < end; p += 64) Sse.Prefetch1(p);
    }

    /// <summary>Largest row block: W is read once per row block, so blocks should be tall; 128 rows keep the x block
    /// at least 192 k deep within <see cref="DenseL2Budget"/>.</summary>
    private const int DenseMaxRowBlock = 128;

    /// <summary>
    /// Bytes of x (one row block × one outer k block) that should stay in L2 while every panel streams past them:
    /// a quarter to half of the L2 of current x64 and ARM64 cores (256 KB Skylake client to 2 MB Sapphire Rapids),
    /// leaving room for the W slices and the C tiles. (Measured flat between 256 and 512 KB on a 2 MB L2.)
    /// </summary>
    private const int DenseL2Budget = 256 * 1024;
}

/// <summary>
/// Where the driver gets the kc × NR float slice of W that a micro-kernel reads (rows <c>Panel</c> floats apart).
/// FP32 panels are read in place; the weight-only formats (<see cref="Kernels.DenseHalf{TShape}"/>,
/// <see cref="Kernels.DenseInt4{TShape}"/>) widen the slice into a buffer laid out the same way, so every
/// micro-kernel runs unchanged and gives the same sums as on the widened float weights. Implementations are structs
/// holding the pinned weight pointers; the driver calls them through a generic parameter, so they inline.
/// </summary>
internal unsafe interface IPanelSource
{
    /// <summary>Whether <see cref="Slice"/> writes into the buffer (then the driver provides one).</summary>
    static abstract bool Widens { get; }

    /// <summary>Bytes one k row of one panel takes in the weights (what the driver prefetches).</summary>
    static abstract int RowBytes { get; }

    /// <summary>Address of row <paramref name="k0"/> of panel <paramref name="p"/> in the weights.</summary>
    byte* Row(int p, int k0);

    /// <summary>
    /// Rows <paramref name="k0"/>..k0+kc of columns <paramref name="s"/>..s+nr of panel <paramref name="p"/> as floats,
    /// row i at <c>result + i·Panel</c>: a pointer into the weights, or <paramref name="buffer"/> (kc·Panel floats)
    /// after widening into it. <paramref name="nr"/> is a micro-kernel width (4, 8, 16 or 32).
    /// </summary>
    float* Slice(float* buffer, int p, int s, int k0, int kc, int nr);
}

/// <summary>FP32 panels (<see cref="Kernels.Dense{TShape}"/>): every slice is read where it is.</summary>
internal readonly unsafe struct FloatPanels<TShape>(float* w) : IPanelSource where TShape : struct, IDenseShape
{
    private readonly float* _w = w;

    public static bool Widens => false;
    public static int RowBytes => TShape.Panel * sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Row(int p, int k0) => (byte*)(_w + ((nint)p * TShape.K + k0) * TShape.Panel);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Slice(float* buffer, int p, int s, int k0, int kc, int nr) => _w + ((nint)p * TShape.K + k0) * TShape.Panel + s;
}

/// <summary>
/// A register-tile micro-kernel for one instruction set (TensorPrimitives style: one struct per ISA, side by side).
/// Implementations are structs generic over the layer shape, so the x row stride (K) and the W row stride
/// (Panel) are constants in their loops.
/// </summary>
internal unsafe interface IDenseMicroKernel
{
    /// <summary>Rows of the register tile (MR).</summary>
    static abstract int Rows { get; }
    /// <summary>Columns of the register tile (NR); divides 16.</summary>
    static abstract int Columns { get; }
    /// <summary>Largest k block: a KBlock × Columns slice of W stays in L1 while the row tiles stream past it.</summary>
    static abstract int KBlock { get; }
    /// <summary>
    /// Whether <see cref="Tile"/> reads x packed by the driver (<c>Kernels.PackX</c>: step i of row r at
    /// <c>a[i·Rows + r]</c>) rather than in place (row r at <c>a[r·K + i]</c>).
    /// </summary>
    static virtual bool PacksX => false;

    /// <summary>Whether the kernel has the prefetching <see cref="Tile(int, float*, float*, float*, nint, int, float*, bool, bool, byte*, nint)"/>
    /// (then the driver calls that one; otherwise it prefetches before each tile).</summary>
    static virtual bool PrefetchesInLoop => false;

    /// <summary>
    /// <see cref="Tile(int, float*, float*, float*, nint, int, float*, bool, bool)"/> that also prefetches into L2, at k
    /// step i, the bytes <c>prefetch + i·prefetchStep</c> up to <c>prefetch + (i + 1)·prefetchStep</c> (at most 128;
    /// the driver passes a share of the W slice the next k block will read). Only where <see cref="PrefetchesInLoop"/>.
    /// </summary>
    static virtual void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu, byte* prefetch, nint prefetchStep)
        => throw new NotSupportedException();

    /// <summary>
    /// For r &lt; <paramref name="rows"/> (1..Rows) and j &lt; Columns:
    /// <c>c[r·ldc + j] = init + Σ_{i &lt; kc} x(r, i)·b[i·Panel + j]</c>, x(r, i) = <c>a[r·K + i]</c>, or
    /// <c>a[i·Rows + r]</c> when <see cref="PacksX"/>; where init is <c>c[r·ldc + j]</c> when
    /// <paramref name="accumulate"/>, else <c>bias[j]</c> (0 when <paramref name="bias"/> is null);
    /// <paramref name="relu"/> clamps the result at 0 before it is stored.
    /// </summary>
    static abstract void Tile(int rows, float* a, float* b, float* c, nint ldc, int kc, float* bias, bool accumulate, bool relu);
}

/// <summary>How an x86 micro-kernel reads x (a generic parameter, so the layout is a constant in its loop).</summary>
internal interface IXLayout
{
    static abstract bool Packed { get; }
}

/// <summary>x read in place: row r of the tile at <c>a + r·K</c> (the A side of the Gemm benchmark's A/B).</summary>
internal readonly struct XInPlace : IXLayout { public static bool Packed => false; }

/// <summary>x packed by the driver (<c>Kernels.PackX</c>): k step i of the tile at <c>a + i·Rows</c>.</summary>
internal readonly struct XPacked : IXLayout { public static bool Packed => true; }

/// <summary>An integer known when the JIT compiles a generic instantiation: the row count of a micro-kernel call.</summary>
internal interface IRowCount
{
    static abstract int Value { get; }
}

internal readonly struct Rows1 : IRowCount { public static int Value => 1; }
internal readonly struct Rows2 : IRowCount { public static int Value => 2; }
internal readonly struct Rows3 : IRowCount { public static int Value => 3; }
internal readonly struct Rows4 : IRowCount { public static int Value => 4; }
internal readonly struct Rows5 : IRowCount { public static int Value => 5; }
internal readonly struct Rows6 : IRowCount { public static int Value => 6; }
internal readonly struct Rows7 : IRowCount { public static int Value => 7; }
internal readonly struct Rows8 : IRowCount { public static int Value => 8; }

internal readonly struct Rows9 : IRowCount { public static int Value => 9; }
internal readonly struct Rows10 : IRowCount { public static int Value => 10; }
internal readonly struct Rows11 : IRowCount { public static int Value => 11; }
internal readonly struct Rows12 : IRowCount { public static int Value => 12; }
