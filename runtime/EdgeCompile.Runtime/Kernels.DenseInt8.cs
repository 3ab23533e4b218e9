using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

// DenseInt8<TShape>: the entry point, the activation quantization, the blocking, the threading and the epilogue
// (docs/quantization.md, "INT8"). The integer micro-kernels, one per instruction set, live side by side in
// Kernels.DenseInt8.<Isa>.cs and all implement IDenseInt8MicroKernel; they differ only in how they compute the exact
// int32 accumulators acc[r,j] = Σ_k q_x[r,k]·q_w[k,j], never in the result.
//
// Loop nest (the FP32 Dense driver's, without its k blocking):
//   quantize every row of x into scratch (once, before the product; see QuantizeActivations)
//   row block (up to 128 rows: the quantized x block, ≤ 128·2·Kq bytes, stays in L2 while the panels stream past)
//     panel p (a work item owns a range of panels and a range of rows)
//       column slice of the panel (NR = the micro-kernel width)
//         row tile (up to MR rows): micro-kernel over the whole of K, accumulators in registers, stored to a small
//         int buffer on the stack; the epilogue turns them into y (rescale, bias, ReLU) for columns < N only.
//     then any other activation (GELU, …) over each row of the block, on the item's whole column range at once.
// The k loop is not blocked: a slice of W is NR·Kq bytes (16 columns × K 3072 = 48 KB), a quarter of the FP32
// slice, so it stays in L1/L2 while the row tiles stream past it, and each tile's accumulators are finished (and
// the epilogue run) in one pass.
public static unsafe partial class Kernels
{
    /// <summary>
    /// Largest K: the accumulators are exact int32 sums, and the widest partial sum (the unsigned-offset VNNI path,
    /// Σ (q_x+128)·q_w with |·| ≤ 255·127 per term) stays below 2³¹ for K ≤ 65536.
    /// </summary>
    public const int DenseInt8MaxK = 1 << 16;

    /// <summary>
    /// Fully connected layer on INT8 weights with activations quantized on the fly (docs/quantization.md):
    /// <c>y[r,j] = act((float)acc[r,j]·(s_x[r]·wScale[j]) + bias[j])</c>, <c>acc[r,j] = Σ_k q_x[r,k]·q_w[k,j]</c> exact
    /// in int32. <c>q_x</c>, <c>s_x</c> are per row of <c>x</c> (<paramref name="inputScale"/> = 0: dynamic, from the
    /// row's largest magnitude) or fixed (<paramref name="inputScale"/> &gt; 0, from calibration).
    /// <paramref name="w"/> holds <c>q_w</c> in quad panels of <c>P = TShape.Panel</c> columns: byte
    /// <c>p·Kq·P + g·4P + 4j + t</c> is <c>q_w[4g+t, p·P+j]</c> (zero past K or N), <c>Kq = ⌈K/4⌉·4</c>.
    /// <paramref name="wColumnSum"/> is <c>Σ_k q_w[k,j]</c> (length N), or empty: the unsigned-offset (AVX-VNNI) path
    /// then computes each strip's sums itself with one extra one-row tile of ones, and the other paths never need
    /// them (builds leave them out: 4 bytes per column less to ship). <paramref name="scratch"/> receives the quantized
    /// activations and must hold at least <see cref="DenseInt8ScratchBytes"/>(rows, K) bytes. Neither <c>y</c> nor
    /// <c>scratch</c> may overlap the inputs; <c>y</c> is written for its <c>rows·N</c> elements only.
    /// </summary>
    public static void DenseInt8<TShape>(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScale,
        ReadOnlySpan<int> wColumnSum, ReadOnlySpan<float> bias, Span<float> y, Span<byte> scratch, int rows,
        float inputScale, Activation activation, WorkerPool? workers) where TShape : struct, IDenseShape
    {
        // The order of the checks decides which path runs: each IsSupported folds to a constant (and so does the
        // panel width), so one branch survives per instantiation. AVX-VNNI (vpdpbusd, 32 multiply-adds per
        // instruction) first, for both panel widths: it is a 256-bit VEX extension like AVX2. .NET 10 has no 512-bit
        // vpdpbusd (no Avx512Vnni class), so AVX-512 CPUs use the 256-bit VEX form where they have it (avx_vnni:
        // Sapphire Rapids, Zen 4 on), and int16 vpmaddwd on zmm for 32-column panels where they do not (Skylake-SP
        // to Ice Lake-SP), as Dense uses AVX-512 for 32-column panels only.
        if (AvxVnni.IsSupported) DenseInt8Using<TShape, DenseInt8AvxVnni<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
        else if (TShape.Panel == 32 && Avx512BW.IsSupported) DenseInt8Using<TShape, DenseInt8Avx512<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
        else if (Avx2.IsSupported) DenseInt8Using<TShape, DenseInt8Avx2<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
        else if (AdvSimd.Arm64.IsSupported && Dp.IsSupported) DenseInt8Using<TShape, DenseInt8Dot<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
        else if (AdvSimd.Arm64.IsSupported) DenseInt8Using<TShape, DenseInt8AdvSimd<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
        else if (Vector128.IsHardwareAccelerated) DenseInt8Using<TShape, DenseInt8Vector128<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
        else DenseInt8Using<TShape, DenseInt8Scalar<TShape>>(x, w, wScale, wColumnSum, bias, y, scratch, rows, inputScale, activation, workers);
    }

    /// <summary>
    /// Bytes of <c>scratch</c> that <see cref="DenseInt8{TShape}"/> needs for <paramref name="rows"/> rows of
    /// <paramref name="k"/> features: <c>rows·(2·Kq + 16) + 64</c> (quantized activations of up to two bytes, a row
    /// scale, and room to align the start to 64 bytes).
    /// </summary>
    public static long DenseInt8ScratchBytes(int rows, int k)
    {
        Guard.NonNegative(rows, nameof(rows));
        Guard.NonNegative(k, nameof(k));
        return (long)rows * (2L * DenseInt8PaddedK(k) + 16) + 64;
    }

    /// <summary>Length of a quad-panel-packed <c>[k,n]</c> INT8 weight matrix: <c>⌈n/panel⌉·Kq·panel</c>.</summary>
    public static long PackedDenseInt8Length(int k, int n, int panel) => (long)((n + panel - 1) / panel) * DenseInt8PaddedK(k) * panel;

    /// <summary>K rounded up to whole groups of four (the depth of one dot-product lane).</summary>
    private static int DenseInt8PaddedK(int k) => (k + 3) & ~3;

    /// <summary>The checks and the body of <see cref="DenseInt8{TShape}"/> on a given micro-kernel (tests force each path through this).</summary>
    internal static void DenseInt8Using<TShape, TKernel>(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> wScale,
        ReadOnlySpan<int> wColumnSum, ReadOnlySpan<float> bias, Span<float> y, Span<byte> scratch, int rows,
        float inputScale, Activation activation, WorkerPool? workers)
        where TShape : struct, IDenseShape where TKernel : struct, IDenseInt8MicroKernel
    {
        int k = TShape.K, n = TShape.N, panel = TShape.Panel;
        // Shape checks fold away for a valid shape struct (all three are JIT-time constants).
        if (k < 0 || n < 0) ThrowBadShape(typeof(TShape), "K and N must be non-negative");
        if (k > DenseInt8MaxK) ThrowBadShape(typeof(TShape), $"K must be at most {DenseInt8MaxK} for exact int32 accumulation");
        if (panel != 16 && panel != 32) ThrowBadShape(typeof(TShape), "Panel must be 16 or 32");
        Guard.NonNegative(rows, nameof(rows));
        Guard.Length(x.Length, (long)rows * k, nameof(x));
        Guard.Length(w.Length, PackedDenseInt8Length(k, n, panel), nameof(w));
        Guard.Length(wScale.Length, n, nameof(wScale));
        if (!wColumnSum.IsEmpty) Guard.Length(wColumnSum.Length, n, nameof(wColumnSum));
        if (!bias.IsEmpty) Guard.Length(bias.Length, n, nameof(bias));
        Guard.Length(y.Length, (long)rows * n, nameof(y));
        Guard.AtLeast(scratch.Length, DenseInt8ScratchBytes(rows, k), nameof(scratch));
        if (!(inputScale >= 0f) || float.IsPositiveInfinity(inputScale))
            throw new ArgumentOutOfRangeException(nameof(inputScale), inputScale, "inputScale must be 0 (dynamic) or a positive finite scale.");
        if ((uint)activation > (uint)Activation.Silu)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        if (rows == 0 || n == 0) return;

        // Every length is checked above; from here on the loops run on raw pointers, pinned for the whole call
        // (which includes the time worker threads use them: WorkerPool.Run returns when all items are done).
        fixed (float* px = x, pscale = wScale, pbias = bias, py = y)
        fixed (sbyte* pw = w)
        fixed (int* psum = wColumnSum)
        fixed (byte* pscratch = scratch)
        {
            // Scratch: [pad to 64][quantized x: rows·Kq elements of TKernel.Format][row scales: rows floats].
            // Kq is a multiple of 4, so the scales are 4-byte aligned and every group of four activations is too.
            byte* xq = (byte*)(((nuint)pscratch + 63) & ~(nuint)63);
            nint lda = (nint)DenseInt8PaddedK(k) * DenseInt8ElementBytes(TKernel.Format);
            float* rowScale = (float*)(xq + lda * rows);
            QuantizeActivations(px, rows, k, DenseInt8PaddedK(k), inputScale, TKernel.Format, xq, rowScale);

            var args = new DenseInt8Args(xq, pw, pscale, psum, bias.IsEmpty ? null : pbias, py, rowScale, rows, activation);
            DenseInt8Run<TShape, TKernel>(args, workers);
        }
    }

    private static void DenseInt8Run<TShape, TKernel>(in DenseInt8Args args, WorkerPool? workers)
        where TShape : struct, IDenseShape where TKernel : struct, IDenseInt8MicroKernel
    {
        int threads = workers?.Threads ?? 1;
        int panels = (TShape.N + TShape.Panel - 1) / TShape.Panel;
        // The FP32 threshold: below it the pool's hand-off costs more than a second thread gains, and an integer
        // multiply-add is no slower than a float one on any of the paths.
        if (threads <= 1 || (long)args.Rows * TShape.K * TShape.N < DenseParallelThreshold)
        {
            DenseInt8Block<TShape, TKernel>(args, 0, args.Rows, 0, panels);
            return;
        }

        // As Dense: one item per thread, whole panels first (each thread streams its own part of W once), rows
        // only when there are too few panels; claimed dynamically.
        DenseSplit(threads, panels, args.Rows, TKernel.Rows, out int panelGroups, out int rowTiles, out int rowGroups);
        var work = new DenseInt8Work<TShape, TKernel>(args, panels, panelGroups, rowTiles, rowGroups);
        workers!.Run(ref work, panelGroups * rowGroups);
    }

    /// <summary>One work item: a range of panels × a range of row tiles.</summary>
    private ref struct DenseInt8Work<TShape, TKernel>(DenseInt8Args args, int panels, int panelGroups, int rowTiles, int rowGroups) : IParallelWork
        where TShape : struct, IDenseShape where TKernel : struct, IDenseInt8MicroKernel
    {
        private readonly DenseInt8Args _args = args;

        public void Execute(int index)
        {
            int pg = index % panelGroups, rg = index / panelGroups;
            int p0 = (int)((long)pg * panels / panelGroups), p1 = (int)((long)(pg + 1) * panels / panelGroups);
            int t0 = (int)((long)rg * rowTiles / rowGroups), t1 = (int)((long)(rg + 1) * rowTiles / rowGroups);
            int r0 = t0 * TKernel.Rows, r1 = Math.Min(_args.Rows, t1 * TKernel.Rows);
            DenseInt8Block<TShape, TKernel>(_args, r0, r1, p0, p1);
        }
    }

    /// <summary>
    /// <see cref="DenseInt8MaxK"/> bytes of 1 on the pinned object heap (allocated once, when first used; the array
    /// field keeps it alive): the activation row whose dot products with a weight strip are its column sums.
    /// </summary>
    private static class Int8Ones
    {
        private static readonly byte[] s_row = Make();
        public static readonly byte* Row = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(s_row));

        private static byte[] Make()
        {
            var ones = GC.AllocateArray<byte>(DenseInt8MaxK, pinned: true);
            Array.Fill(ones, (byte)1);
            return ones;
        }
    }

    /// <summary>The pinned operands of one <see cref="DenseInt8{TShape}"/> call (bias null when absent), x already quantized.</summary>
    private readonly struct DenseInt8Args(byte* xq, sbyte* w, float* wScale, int* wColumnSum, float* bias, float* y,
        float* rowScale, int rows, Activation activation)
    {
        public readonly byte* Xq = xq;
        public readonly sbyte* W = w;
        public readonly float* WScale = wScale, Bias = bias, Y = y, RowScale = rowScale;
        public readonly int* WColumnSum = wColumnSum;
        public readonly int Rows = rows;
        public readonly Activation Activation = activation;
    }

    /// <summary>Rows <paramref name="r0"/>..<paramref name="r1"/> × panels <paramref name="p0"/>..<paramref name="p1"/> of the output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DenseInt8Block<TShape, TKernel>(in DenseInt8Args args, int r0, int r1, int p0, int p1)
        where TShape : struct, IDenseShape where TKernel : struct, IDenseInt8MicroKernel
    {
        // All of these are constants per (shape, kernel) instantiation.
        int n = TShape.N, panel = TShape.Panel, mr = TKernel.Rows, nr = TKernel.Columns;
        int kq = DenseInt8PaddedK(TShape.K);
        nint lda = (nint)kq * DenseInt8ElementBytes(TKernel.Format);
        bool offset = TKernel.Format == Int8ActivationFormat.OffsetByte;
        int* acc = stackalloc int[mr * nr];
        // Without stored column sums the offset path gets a strip's Σ_k q_w[k,j] as the one-row tile of a row of
        // ones (exact, the same micro-kernel): one extra row per strip and row block.
        bool sumStrips = offset && args.WColumnSum == null;
        int* stripSum = stackalloc int[nr];
        // ReLU is fused into the epilogue; any other activation runs over whole row segments after each row block.
        bool relu = args.Activation == Activation.Relu;
        int colStart = p0 * panel, span = relu || args.Activation == Activation.None ? 0 : Math.Min(p1 * panel, n) - colStart;

        int rowBlocks = (r1 - r0 + DenseMaxRowBlock - 1) / DenseMaxRowBlock;
        int mc = ((r1 - r0 + rowBlocks - 1) / Math.Max(rowBlocks, 1) + mr - 1) / mr * mr;
        for (int rb = r0; rb < r1; rb += mc)
        {
            int rbEnd = Math.Min(rb + mc, r1);
            // Tiles of (nearly) equal height, as in Dense: 8 rows run as 4 + 4 rather than 6 + 2.
            int tiles = (rbEnd - rb + mr - 1) / mr;
            for (int p = p0; p < p1; p++)
            {
                for (int s = 0; s < panel; s += nr)
                {
                    int col = p * panel + s;
                    if (col >= n) break;  // the rest of the last panel is zero padding
                    int width = Math.Min(nr, n - col);
                    sbyte* b = args.W + (nint)p * kq * panel + 4 * s;
                    if (sumStrips) TKernel.Tile(1, Int8Ones.Row, b, stripSum);
                    int* columnSum = sumStrips ? stripSum : args.WColumnSum + col;
                    for (int t = 0; t < tiles; t++)
                    {
                        int r = rb + t * (rbEnd - rb) / tiles, m = rb + (t + 1) * (rbEnd - rb) / tiles - r;
                        TKernel.Tile(m, args.Xq + r * lda, b, acc);
                        DenseInt8Epilogue(acc, nr, m, width, offset, args.RowScale + r, args.WScale + col, columnSum,
                            args.Bias == null ? null : args.Bias + col, args.Y + (nint)r * n + col, n, relu);
                    }
                }
            }
            // The other activations once per row over this item's whole column range, not per tile: on 16-column
            // tile rows the per-call cost of the vectorized loop (and its tail) was larger than the work (GELU cost
            // 2.5× more in the INT8 DistilBERT than in the FP32 one). The row block's output is still in L2.
            if (span > 0)
            {
                for (int r = rb; r < rbEnd; r++) ApplyActivation(new Span<float>(args.Y + (nint)r * n + colStart, span), args.Activation);
            }
        }
    }
}

/// <summary>How a micro-kernel wants the quantized activations in scratch.</summary>
internal enum Int8ActivationFormat
{
    /// <summary>q_x as sbyte (signed dot products: ARM sdot, widening multiplies).</summary>
    SByte,
    /// <summary>q_x + 128 as byte (x64 vpdpbusd multiplies unsigned by signed bytes; the epilogue subtracts 128·Σq_w).</summary>
    OffsetByte,
    /// <summary>q_x as short (x64 vpmaddwd, portable int16 multiplies).</summary>
    Int16,
}

/// <summary>
/// An integer register-tile micro-kernel for one instruction set. Implementations are structs generic over the layer
/// shape, so the quantized-x row stride and the panel group stride (4·Panel bytes) are constants in their loops.
/// </summary>
internal unsafe interface IDenseInt8MicroKernel
{
    /// <summary>Rows of the register tile (MR).</summary>
    static abstract int Rows { get; }
    /// <summary>Columns of the register tile (NR); divides 16, so a tile never straddles two panels.</summary>
    static abstract int Columns { get; }
    /// <summary>The element type of the quantized activations the kernel reads.</summary>
    static abstract Int8ActivationFormat Format { get; }

    /// <summary>
    /// For r &lt; <paramref name="rows"/> (1..Rows) and j &lt; Columns:
    /// <c>acc[r·Columns + j] = Σ_{k &lt; Kq} a[r·Kq + k]·q_w[k, j]</c> in int32, where <c>a</c> holds Kq activations
    /// of <see cref="Format"/> per row and <c>q_w[4g+t, j]</c> is <c>b[g·4·Panel + 4j + t]</c>.
    /// </summary>
    static abstract void Tile(int rows, byte* a, sbyte* b, int* acc);
}
