using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

/// <summary>Which inner loop <see cref="Kernels.DenseSparse"/> runs (tests force each one; see <see cref="Kernels.DenseSparsePath"/>).</summary>
internal enum SparsePath { Auto, Avx2, AdvSimd, Vector128, Scalar }

// DenseSparse: a fully connected layer whose constant weights are mostly zero, stored compressed by output column.
//
// Why this layout (the idea of XNNPACK's f32 SpMM, our own code): a sparse W gives no run of consecutive weights to
// load as a vector, so the vectors run over the *rows* of x instead. x is transposed once per call into scratch
// (xT[i, m] = x[m, i], rows padded to a multiple of 8 with zeros), and each nonzero W[i, j] becomes one broadcast
// weight times one contiguous run of xT row i: for a block of 32 rows (AVX2) or 16 (Vector128) that is 4 vector
// FMAs per nonzero, with no gather and no shuffle. The work is proportional to the nonzeros; what it loses against
// the dense kernel is one load per FMA instead of two thirds of one, the index load and the scattered stores of
// each output column, which is why it only pays below a break-even density (BENCHMARKS.md, "Sparse Dense kernel vs
// dense"), and why the compiler picks it per layer.
//
// Loop nest: output column j (a work item owns a range of columns; the column's values and indices stay in L1) ×
// row block (32 / 16 rows, then 16 / 8 and 8 / 4 for the tail) × the column's nonzeros, two at a time into two accumulator
// sets so that eight independent FMA chains cover the FMA latency.
public static unsafe partial class Kernels
{
    /// <summary>
    /// Fully connected layer on column-compressed sparse weights: <c>y[r,j] = act(Σ_i x[r,i]·W[i,j] + bias[j])</c>,
    /// <c>x</c> is <c>[rows,k]</c>, <c>y</c> is <c>[rows,n]</c>, <c>bias</c> has length n or is empty.
    /// W is given by its nonzeros column by column (docs/plan-format.md, "DenseSparse"): column j's nonzeros are
    /// entries <c>columnStarts[j] .. columnStarts[j+1]-1</c> of <paramref name="values"/> (the weights) and of
    /// <paramref name="indices"/> (their row i in W, unsigned 16-bit little-endian, two bytes each, ascending).
    /// <c>columnStarts</c> has n+1 entries, the first 0 and the last the number of nonzeros. <paramref name="scratch"/>
    /// holds the transposed x: at least <see cref="DenseSparseScratchLength"/>(rows, k) floats. <c>y</c> must not
    /// overlap the inputs or the scratch. Allocates nothing.
    /// </summary>
    public static void DenseSparse(ReadOnlySpan<float> x, ReadOnlySpan<float> values, ReadOnlySpan<byte> indices, ReadOnlySpan<int> columnStarts,
        ReadOnlySpan<float> bias, Span<float> y, Span<float> scratch, int rows, int k, int n, Activation activation, WorkerPool? workers)
        => DenseSparse(x, values, indices, columnStarts, bias, y, scratch, rows, k, n, activation, workers, SparsePath.Auto);

    /// <summary>Floats of scratch <see cref="DenseSparse"/> needs: x transposed, its rows padded to a multiple of 8.</summary>
    public static long DenseSparseScratchLength(int rows, int k) => (long)k * DenseSparsePaddedRows(rows);

    /// <summary>
    /// The inner loop <see cref="DenseSparse"/> runs in this process: <c>Avx2</c> (AVX2+FMA, 32-row blocks),
    /// <c>AdvSimd</c> (arm64, 16-row blocks), <c>Vector128</c> (other 128-bit SIMD) or <c>Scalar</c>; for diagnostics
    /// and tests, the same checks in the same order as the kernel.
    /// </summary>
    public static string DenseSparsePath => ResolveSparsePath(SparsePath.Auto).ToString();

    private static int DenseSparsePaddedRows(int rows) => (rows + 7) & ~7;

    private static SparsePath ResolveSparsePath(SparsePath path) => path != SparsePath.Auto ? path
        : Avx2.IsSupported && Fma.IsSupported ? SparsePath.Avx2
        : AdvSimd.Arm64.IsSupported ? SparsePath.AdvSimd
        : Vector128.IsHardwareAccelerated ? SparsePath.Vector128
        : SparsePath.Scalar;

    internal static void DenseSparse(ReadOnlySpan<float> x, ReadOnlySpan<float> values, ReadOnlySpan<byte> indices, ReadOnlySpan<int> columnStarts,
        ReadOnlySpan<float> bias, Span<float> y, Span<float> scratch, int rows, int k, int n, Activation activation, WorkerPool? workers, SparsePath path)
    {
        Guard.NonNegative(rows, "rows");
        Guard.NonNegative(k, "k");
        Guard.NonNegative(n, "n");
        if (k > ushort.MaxValue + 1) throw new ArgumentOutOfRangeException(nameof(k), k, "DenseSparse stores row indices in 16 bits: k must be at most 65536.");
        Guard.Length(x.Length, (long)rows * k, "x");
        Guard.Length(columnStarts.Length, (long)n + 1, "columnStarts");
        int nonzeros = columnStarts[n];
        Guard.Length(values.Length, nonzeros, "values");
        Guard.Length(indices.Length, 2L * nonzeros, "indices");
        if (bias.Length != 0) Guard.Length(bias.Length, n, "bias");
        Guard.Length(y.Length, (long)rows * n, "y");
        Guard.AtLeast(scratch.Length, DenseSparseScratchLength(rows, k), "scratch");
        if ((uint)activation > (uint)Activation.Silu)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        // The compressed weights are trusted to be well formed only after this check: every later access is unchecked
        // pointer arithmetic. Starts: one pass over N. Indices: one vectorised maximum over the nnz of them (a scalar
        // pass cost up to a fifth of a 16-row call on 768×3072), and the slow search only to name a bad one.
        var kIndex = MemoryMarshal.Cast<byte, ushort>(indices);
        if (columnStarts[0] != 0) ThrowBadSparse("columnStarts[0] must be 0");
        for (int j = 0; j < n; j++)
            if (columnStarts[j + 1] < columnStarts[j]) ThrowBadSparse($"columnStarts decreases at column {j}");
        if (nonzeros > 0 && System.Numerics.Tensors.TensorPrimitives.Max(kIndex) >= k) ThrowBadIndex(kIndex, columnStarts, k);
        if (rows == 0 || n == 0) return;

        path = ResolveSparsePath(path);
        int padded = DenseSparsePaddedRows(rows);
        fixed (float* px = x, pv = values, pbias = bias, py = y, pt = scratch)
        fixed (ushort* pi = kIndex)
        fixed (int* ps = columnStarts)
        {
            TransposeRows(px, pt, rows, padded, k);
            var args = new SparseArgs(pt, pv, pi, ps, bias.IsEmpty ? null : pbias, py, rows, padded, n, activation, path);
            int threads = workers?.Threads ?? 1;
            if (threads <= 1 || (long)rows * nonzeros < DenseParallelThreshold)
            {
                SparseColumns(args, 0, n);
                return;
            }
            // Columns split evenly, about two items per thread (claimed dynamically, as in Dense): each item reads
            // its own share of W once and all of them share the transposed x.
            var work = new SparseWork(args, Math.Min(n, threads * 2));
            workers!.Run(ref work, work.Items);
        }
    }

    private static void ThrowBadSparse(string what) => throw new ArgumentException($"DenseSparse weights: {what}.", "columnStarts");

    private static void ThrowBadIndex(ReadOnlySpan<ushort> kIndex, ReadOnlySpan<int> columnStarts, int k)
    {
        for (int j = 0; j + 1 < columnStarts.Length; j++)
            for (int p = columnStarts[j]; p < columnStarts[j + 1]; p++)
                if (kIndex[p] >= k) ThrowBadSparse($"column {j} has row index {kIndex[p]} ≥ k = {k}");
    }

    /// <summary>xT[i·padded + m] = x[m·k + i]; rows rows..padded-1 of xT are zero (their results are never stored).</summary>
    private static void TransposeRows(float* x, float* xT, int rows, int padded, int k)
    {
        // 8 rows at a time: each read of x walks 8 rows in step, each write fills 8 consecutive floats of xT.
        for (int m0 = 0; m0 < padded; m0 += 8)
        {
            int live = Math.Min(8, rows - m0);
            for (int i = 0; i < k; i++)
            {
                float* dst = xT + (nint)i * padded + m0;
                int m = 0;
                for (; m < live; m++) dst[m] = x[(nint)(m0 + m) * k + i];
                for (; m < 8; m++) dst[m] = 0;
            }
        }
    }

    private readonly struct SparseArgs(float* xT, float* values, ushort* indices, int* starts, float* bias, float* y,
        int rows, int padded, int n, Activation activation, SparsePath path)
    {
        public readonly float* XT = xT, Values = values, Bias = bias, Y = y;
        public readonly ushort* Indices = indices;
        public readonly int* Starts = starts;
        public readonly int Rows = rows, Padded = padded, N = n;
        public readonly Activation Activation = activation;
        public readonly SparsePath Path = path;
    }

    private ref struct SparseWork(SparseArgs args, int items) : IParallelWork
    {
        private readonly SparseArgs _args = args;
        public readonly int Items = items;

        public void Execute(int index)
        {
            int n = _args.N;
            SparseColumns(_args, (int)((long)index * n / Items), (int)((long)(index + 1) * n / Items));
        }
    }

    /// <summary>Output columns j0..j1 of every row, then the activation (other than ReLU, which the loops fuse) on them.</summary>
    private static void SparseColumns(in SparseArgs a, int j0, int j1)
    {
        switch (a.Path)
        {
            case SparsePath.Avx2: SparseAvx2.Columns(a, j0, j1); break;
            case SparsePath.AdvSimd: SparseVector128<AdvSimdFma>.Columns(a, j0, j1); break;
            case SparsePath.Vector128: SparseVector128<PortableFma>.Columns(a, j0, j1); break;
            default: SparseScalar.Columns(a, j0, j1); break;
        }
        if (a.Activation is not (Activation.None or Activation.Relu))
            for (int r = 0; r < a.Rows; r++) ApplyActivation(new Span<float>(a.Y + (nint)r * a.N + j0, j1 - j0), a.Activation);
    }

    /// <summary>Stores one computed column block (the accumulators spilled to <paramref name="block"/>) at stride N, live rows only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreColumn(in SparseArgs a, float* block, int m0, int count, int j)
    {
        int live = Math.Min(count, a.Rows - m0);
        float* dst = a.Y + (nint)m0 * a.N + j;
        for (int r = 0; r < live; r++) dst[(nint)r * a.N] = block[r];
    }

    /// <summary>AVX2+FMA: blocks of 32 rows (4 ymm per accumulator set, two sets), then one of 16 and 8-row blocks for the tail
    /// (16 rows as one block, not two: each nonzero's index and broadcast then feed 2 FMAs instead of 1).</summary>
    private static class SparseAvx2
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void Columns(in SparseArgs a, int j0, int j1)
        {
            float* block = stackalloc float[32];
            bool relu = a.Activation == Activation.Relu;
            for (int j = j0; j < j1; j++)
            {
                int s = a.Starts[j], e = a.Starts[j + 1];
                float b = a.Bias == null ? 0f : a.Bias[j];
                int m0 = 0;
                for (; m0 + 32 <= a.Padded; m0 += 32)
                {
                    Block<Rows4>(a, s, e, m0, b, relu, block);
                    StoreColumn(a, block, m0, 32, j);
                }
                if (m0 + 16 <= a.Padded)
                {
                    Block<Rows2>(a, s, e, m0, b, relu, block);
                    StoreColumn(a, block, m0, 16, j);
                    m0 += 16;
                }
                for (; m0 < a.Padded; m0 += 8)
                {
                    Block<Rows1>(a, s, e, m0, b, relu, block);
                    StoreColumn(a, block, m0, 8, j);
                }
            }
        }

        /// <summary>TVectors (1, 2 or 4) vectors of 8 rows starting at row m0, for the nonzeros s..e of one column.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Block<TVectors>(in SparseArgs a, int s, int e, int m0, float bias, bool relu, float* block) where TVectors : struct, IRowCount
        {
            int v = TVectors.Value;
            nint stride = a.Padded;
            float* xT = a.XT + m0;
            float* w = a.Values;
            ushort* idx = a.Indices;
            Vector256<float> c0 = Vector256.Create(bias), c1 = c0, c2 = c0, c3 = c0;
            Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default;
            int p = s;
            for (; p + 2 <= e; p += 2)
            {
                Vector256<float> w0 = Vector256.Create(w[p]), w1 = Vector256.Create(w[p + 1]);
                float* r0 = xT + idx[p] * stride, r1 = xT + idx[p + 1] * stride;
                c0 = Fma.MultiplyAdd(w0, Vector256.Load(r0), c0);
                d0 = Fma.MultiplyAdd(w1, Vector256.Load(r1), d0);
                if (v > 1)
                {
                    c1 = Fma.MultiplyAdd(w0, Vector256.Load(r0 + 8), c1);
                    d1 = Fma.MultiplyAdd(w1, Vector256.Load(r1 + 8), d1);
                }
                if (v > 2)
                {
                    c2 = Fma.MultiplyAdd(w0, Vector256.Load(r0 + 16), c2);
                    d2 = Fma.MultiplyAdd(w1, Vector256.Load(r1 + 16), d2);
                    c3 = Fma.MultiplyAdd(w0, Vector256.Load(r0 + 24), c3);
                    d3 = Fma.MultiplyAdd(w1, Vector256.Load(r1 + 24), d3);
                }
            }
            if (p < e)
            {
                Vector256<float> w0 = Vector256.Create(w[p]);
                float* r0 = xT + idx[p] * stride;
                c0 = Fma.MultiplyAdd(w0, Vector256.Load(r0), c0);
                if (v > 1) c1 = Fma.MultiplyAdd(w0, Vector256.Load(r0 + 8), c1);
                if (v > 2)
                {
                    c2 = Fma.MultiplyAdd(w0, Vector256.Load(r0 + 16), c2);
                    c3 = Fma.MultiplyAdd(w0, Vector256.Load(r0 + 24), c3);
                }
            }
            c0 += d0;
            if (relu) c0 = Vector256.Max(c0, Vector256<float>.Zero);  // NaN-propagating like MathF.Max
            c0.Store(block);
            if (v > 1)
            {
                c1 += d1;
                if (relu) c1 = Vector256.Max(c1, Vector256<float>.Zero);
                c1.Store(block + 8);
            }
            if (v > 2)
            {
                c2 += d2; c3 += d3;
                if (relu)
                {
                    c2 = Vector256.Max(c2, Vector256<float>.Zero);
                    c3 = Vector256.Max(c3, Vector256<float>.Zero);
                }
                c2.Store(block + 16); c3.Store(block + 24);
            }
        }
    }

    /// <summary>A 128-bit fused (or, where the ISA has none, separate) multiply-add for <see cref="SparseVector128{TFma}"/>.</summary>
    private interface IFma128
    {
        static abstract Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c);
    }

    /// <summary>arm64 NEON: FMLA.</summary>
    private readonly struct AdvSimdFma : IFma128
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => AdvSimd.FusedMultiplyAdd(c, a, b);
    }

    /// <summary>Any 128-bit SIMD: fused where the hardware has it, else a multiply then an add.</summary>
    private readonly struct PortableFma : IFma128
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);
    }

    /// <summary>AdvSimd / Vector128: blocks of 16 rows (4 xmm per accumulator set, two sets), then one of 8 and 4-row blocks for the tail.</summary>
    private static class SparseVector128<TFma> where TFma : struct, IFma128
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
        public static void Columns(in SparseArgs a, int j0, int j1)
        {
            float* block = stackalloc float[16];
            bool relu = a.Activation == Activation.Relu;
            for (int j = j0; j < j1; j++)
            {
                int s = a.Starts[j], e = a.Starts[j + 1];
                float b = a.Bias == null ? 0f : a.Bias[j];
                int m0 = 0;
                for (; m0 + 16 <= a.Padded; m0 += 16)
                {
                    Block<Rows4>(a, s, e, m0, b, relu, block);
                    StoreColumn(a, block, m0, 16, j);
                }
                if (m0 + 8 <= a.Padded)
                {
                    Block<Rows2>(a, s, e, m0, b, relu, block);
                    StoreColumn(a, block, m0, 8, j);
                    m0 += 8;
                }
                for (; m0 < a.Padded; m0 += 4)
                {
                    Block<Rows1>(a, s, e, m0, b, relu, block);
                    StoreColumn(a, block, m0, 4, j);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Block<TVectors>(in SparseArgs a, int s, int e, int m0, float bias, bool relu, float* block) where TVectors : struct, IRowCount
        {
            int v = TVectors.Value;
            nint stride = a.Padded;
            float* xT = a.XT + m0;
            float* w = a.Values;
            ushort* idx = a.Indices;
            Vector128<float> c0 = Vector128.Create(bias), c1 = c0, c2 = c0, c3 = c0;
            Vector128<float> d0 = default, d1 = default, d2 = default, d3 = default;
            int p = s;
            for (; p + 2 <= e; p += 2)
            {
                Vector128<float> w0 = Vector128.Create(w[p]), w1 = Vector128.Create(w[p + 1]);
                float* r0 = xT + idx[p] * stride, r1 = xT + idx[p + 1] * stride;
                c0 = TFma.MulAdd(w0, Vector128.Load(r0), c0);
                d0 = TFma.MulAdd(w1, Vector128.Load(r1), d0);
                if (v > 1)
                {
                    c1 = TFma.MulAdd(w0, Vector128.Load(r0 + 4), c1);
                    d1 = TFma.MulAdd(w1, Vector128.Load(r1 + 4), d1);
                }
                if (v > 2)
                {
                    c2 = TFma.MulAdd(w0, Vector128.Load(r0 + 8), c2);
                    d2 = TFma.MulAdd(w1, Vector128.Load(r1 + 8), d2);
                    c3 = TFma.MulAdd(w0, Vector128.Load(r0 + 12), c3);
                    d3 = TFma.MulAdd(w1, Vector128.Load(r1 + 12), d3);
                }
            }
            if (p < e)
            {
                Vector128<float> w0 = Vector128.Create(w[p]);
                float* r0 = xT + idx[p] * stride;
                c0 = TFma.MulAdd(w0, Vector128.Load(r0), c0);
                if (v > 1) c1 = TFma.MulAdd(w0, Vector128.Load(r0 + 4), c1);
                if (v > 2)
                {
                    c2 = TFma.MulAdd(w0, Vector128.Load(r0 + 8), c2);
                    c3 = TFma.MulAdd(w0, Vector128.Load(r0 + 12), c3);
                }
            }
            c0 += d0;
            if (relu) c0 = Vector128.Max(c0, Vector128<float>.Zero);
            c0.Store(block);
            if (v > 1)
            {
                c1 += d1;
                if (relu) c1 = Vector128.Max(c1, Vector128<float>.Zero);
                c1.Store(block + 4);
            }
            if (v > 2)
            {
                c2 += d2; c3 += d3;
                if (relu)
                {
                    c2 = Vector128.Max(c2, Vector128<float>.Zero);
                    c3 = Vector128.Max(c3, Vector128<float>.Zero);
                }
                c2.Store(block + 8); c3.Store(block + 12);
            }
        }
    }

    /// <summary>No SIMD: four rows at a time with four independent sums.</summary>
    private static class SparseScalar
    {
        [SkipLocalsInit]
        public static void Columns(in SparseArgs a, int j0, int j1)
        {
            float* block = stackalloc float[4];
            nint stride = a.Padded;
            bool relu = a.Activation == Activation.Relu;
            for (int j = j0; j < j1; j++)
            {
                int s = a.Starts[j], e = a.Starts[j + 1];
                float b = a.Bias == null ? 0f : a.Bias[j];
                for (int m0 = 0; m0 < a.Rows; m0 += 4)
                {
                    float* xT = a.XT + m0;
                    float s0 = b, s1 = b, s2 = b, s3 = b;
                    for (int p = s; p < e; p++)
                    {
                        float w = a.Values[p];
                        float* r = xT + a.Indices[p] * stride;  // 4 floats exist: padded is a multiple of 8
                        s0 += w * r[0]; s1 += w * r[1]; s2 += w * r[2]; s3 += w * r[3];
                    }
                    if (relu) { s0 = MathF.Max(s0, 0f); s1 = MathF.Max(s1, 0f); s2 = MathF.Max(s2, 0f); s3 = MathF.Max(s3, 0f); }
                    block[0] = s0; block[1] = s1; block[2] = s2; block[3] = s3;
                    StoreColumn(a, block, m0, 4, j);
                }
            }
        }
    }
}
