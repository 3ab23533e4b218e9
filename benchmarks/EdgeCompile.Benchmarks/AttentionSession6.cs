using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

using EdgeCompile.Runtime;

namespace EdgeCompile.Benchmarks;

/// <summary>
/// A frozen copy of runtime/EdgeCompile.Runtime/Kernels.Attention.cs as of commit 5a62b5a (session 6: whole 32-lane
/// query panels on AVX-512, a last panel of at most 8 queries to the 4-row kernel, per-query mask rows added with a
/// scalar loop), only so that <see cref="AttentionKernel"/> can time it and the runtime's kernel in the same run (an
/// A/B on this shared machine is only fair within one run). Not used by anything else.
/// </summary>
internal static class AttentionSession6
{
    /// <summary>Query rows the attention kernel processes together (rows of the score tile in scratch).</summary>
    private const int AttentionRowBlock = 4;

    /// <summary>Keys are padded to a multiple of this in the transposed-K scratch (the widest vector: 16 floats).</summary>
    private const int AttentionKeyPadding = 16;

    // Below this many multiply-adds (pairs·seqQ·seqK·(headDim + valueDim)) one thread does everything: measured with a
    // 2-thread pool at 16 tokens (TinyBERT-4 160 k, DistilBERT 393 k multiply-adds: 10-40 µs) the second thread gained
    // nothing, at 128 tokens (MobileBERT 4.2 M upwards) it gave 1.4-1.7x.
    private const long AttentionParallelThreshold = 1 << 19;

    /// <summary>
    /// Floats of <c>scores</c> scratch the attention kernel needs to work on one (batch, head) pair:
    /// <c>(seqK + 44)·(headDim + valueDim + 44)</c>. The x86 kernels hold there the head's K and Vᵀ packed in blocks
    /// of up to 12 rows, and for a panel of up to 32 queries its Qᵀ, Sᵀ and yᵀ; the other kernels use less of it (Kᵀ
    /// and 4 score rows). A simple polynomial bound rather than the exact sum, so that the compiler can size it symbolically.
    /// </summary>
    public static int AttentionScratchPerHead(int seqK, int headDim, int valueDim)
    {
        Guard.NonNegative(seqK, nameof(seqK)); Guard.NonNegative(headDim, nameof(headDim)); Guard.NonNegative(valueDim, nameof(valueDim));
        return checked((seqK + 44) * (headDim + valueDim + 44));
    }

    /// <summary>
    /// Floats of <c>scores</c> scratch that let every (batch, head) pair have its own region, so that
    /// <see cref="Run"/> can run the pairs on any number of threads:
    /// <c>batch·heads·AttentionScratchPerHead(seqK, headDim, valueDim)</c>.
    /// </summary>
    public static int AttentionScratchLength(int batch, int heads, int seqK, int headDim, int valueDim)
    {
        Guard.NonNegative(batch, nameof(batch)); Guard.NonNegative(heads, nameof(heads));
        return checked(batch * heads * AttentionScratchPerHead(seqK, headDim, valueDim));
    }

    /// <summary>The panel width of the attention products on AVX-512 (the tiles get their k and row stride per call).</summary>
    private readonly struct AttentionPanels32 : IDenseShape { public static int K => 0; public static int N => 0; public static int Panel => 32; }

    /// <summary>The panel width of the attention products on AVX2.</summary>
    private readonly struct AttentionPanels16 : IDenseShape { public static int K => 0; public static int N => 0; public static int Panel => 16; }

    private static int PaddedKeys(int seqK) => checked(seqK + AttentionKeyPadding - 1) / AttentionKeyPadding * AttentionKeyPadding;

    /// <summary>
    /// Scaled dot-product attention. For batch b, head h, query row i:
    /// <c>s_j = scale·Σ_d q[b,i,h,d]·k[b,j,h,d] + mask[b,h,i,j]</c>, <c>p = softmax(s)</c> (max subtracted),
    /// <c>y[b,i,h,:] = Σ_j p_j·v[b,j,h,:]</c>. Element (b,i,h,d) of q is at
    /// <c>qOffset + b·qBatchStride + i·qRowStride + h·qHeadStride + d</c>; likewise k, v and y (no offset);
    /// the mask element at <c>b·maskBatchStride + h·maskHeadStride + i·maskRowStride + j</c>; an empty mask adds nothing.
    /// A row whose scores are all −∞ gives NaN (as the unfused graph does); a finite mask such as −3.4E+38 on every
    /// key gives the mean of the values.
    /// <para>
    /// <c>scores</c> is scratch of at least <see cref="AttentionScratchPerHead"/><c>(seqK, headDim, valueDim)</c> floats: one
    /// region. With <paramref name="workers"/>, as many (batch, head) pairs as there are regions run at the same
    /// time; <see cref="AttentionScratchLength"/> (<c>batch·heads</c> regions) lets every pair run as its own work
    /// item. <c>y</c> must not overlap q, k, v or <c>scores</c>. Allocates nothing.
    /// </para>
    /// </summary>
    public static void Run(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> mask,
        Span<float> y, Span<float> scores,
        int batch, int heads, int seqQ, int seqK, int headDim, int valueDim, float scale,
        int qOffset, int qBatchStride, int qRowStride, int qHeadStride,
        int kOffset, int kBatchStride, int kRowStride, int kHeadStride,
        int vOffset, int vBatchStride, int vRowStride, int vHeadStride,
        int maskBatchStride, int maskHeadStride, int maskRowStride,
        int yBatchStride, int yRowStride, int yHeadStride,
        WorkerPool? workers = null)
    {
        Guard.NonNegative(batch, nameof(batch)); Guard.NonNegative(heads, nameof(heads));
        Guard.NonNegative(seqQ, nameof(seqQ)); Guard.NonNegative(seqK, nameof(seqK));
        Guard.NonNegative(headDim, nameof(headDim)); Guard.NonNegative(valueDim, nameof(valueDim));
        if (batch == 0 || heads == 0 || seqQ == 0 || valueDim == 0) return;
        if (seqK == 0) throw new ArgumentException("Attention needs at least one key (seqK = 0).", nameof(seqK));
        CheckAttentionOperand(q.Length, nameof(q), qOffset, batch, qBatchStride, seqQ, qRowStride, heads, qHeadStride, headDim);
        CheckAttentionOperand(k.Length, nameof(k), kOffset, batch, kBatchStride, seqK, kRowStride, heads, kHeadStride, headDim);
        CheckAttentionOperand(v.Length, nameof(v), vOffset, batch, vBatchStride, seqK, vRowStride, heads, vHeadStride, valueDim);
        CheckAttentionOperand(y.Length, nameof(y), 0, batch, yBatchStride, seqQ, yRowStride, heads, yHeadStride, valueDim);
        if (!mask.IsEmpty) CheckAttentionOperand(mask.Length, nameof(mask), 0, batch, maskBatchStride, heads, maskHeadStride, seqQ, maskRowStride, seqK);
        long region = AttentionScratchPerHead(seqK, headDim, valueDim);
        Guard.AtLeast(scores.Length, region, nameof(scores));
        long pairs = (long)batch * heads;
        if (pairs > int.MaxValue) throw new ArgumentException($"Attention over {pairs} (batch, head) pairs is too large.", nameof(heads));

        var work = new AttentionWork(q, k, v, mask, y, scores, batch, heads, seqQ, seqK, headDim, valueDim, scale,
            qOffset, qBatchStride, qRowStride, qHeadStride, kOffset, kBatchStride, kRowStride, kHeadStride,
            vOffset, vBatchStride, vRowStride, vHeadStride, maskBatchStride, maskHeadStride, maskRowStride,
            yBatchStride, yRowStride, yHeadStride, (int)region);

        long regions = scores.Length / region;
        int threads = workers?.Threads ?? 1;
        long multiplyAdds = pairs * seqQ * seqK * (headDim + valueDim);
        if (threads > 1 && pairs > 1 && regions > 1 && multiplyAdds >= AttentionParallelThreshold)
        {
            // Every pair its own region: one work item per pair, claimed dynamically. Fewer regions: one item per
            // region, each doing every parts-th pair.
            int parts = regions >= pairs ? (int)pairs : (int)Math.Min(regions, threads);
            work.Parts = parts;
            workers!.Run(ref work, parts);
        }
        else
        {
            work.Parts = 1;
            work.Execute(0);
        }
    }

    private static void CheckAttentionOperand(int length, string name, int offset,
        int n0, int s0, int n1, int s1, int n2, int s2, int inner)
    {
        if ((offset | s0 | s1 | s2) < 0) throw new ArgumentException($"Attention offset and strides of {name} must be non-negative.", name);
        long last = offset + (long)(n0 - 1) * s0 + (long)(n1 - 1) * s1 + (long)(n2 - 1) * s2 + inner;
        Guard.AtLeast(length, last, name);
    }

    /// <summary>One attention call; item <c>p</c> of <see cref="Parts"/> computes pairs p, p+Parts, ... in scratch region p.</summary>
    private unsafe ref struct AttentionWork : IParallelWork
    {
        private readonly ReadOnlySpan<float> _q, _k, _v, _mask;
        private readonly Span<float> _y, _scores;
        private readonly int _batch, _heads, _seqQ, _seqK, _headDim, _valueDim;
        private readonly float _scale;
        private readonly int _qOffset, _qBatch, _qRow, _qHead, _kOffset, _kBatch, _kRow, _kHead, _vOffset, _vBatch, _vRow, _vHead;
        private readonly int _mBatch, _mHead, _mRow, _yBatch, _yRow, _yHead, _region;
        public int Parts;

        public AttentionWork(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> mask,
            Span<float> y, Span<float> scores, int batch, int heads, int seqQ, int seqK, int headDim, int valueDim, float scale,
            int qOffset, int qBatch, int qRow, int qHead, int kOffset, int kBatch, int kRow, int kHead,
            int vOffset, int vBatch, int vRow, int vHead, int mBatch, int mHead, int mRow, int yBatch, int yRow, int yHead, int region)
        {
            _q = q; _k = k; _v = v; _mask = mask; _y = y; _scores = scores;
            _batch = batch; _heads = heads; _seqQ = seqQ; _seqK = seqK; _headDim = headDim; _valueDim = valueDim; _scale = scale;
            _qOffset = qOffset; _qBatch = qBatch; _qRow = qRow; _qHead = qHead;
            _kOffset = kOffset; _kBatch = kBatch; _kRow = kRow; _kHead = kHead;
            _vOffset = vOffset; _vBatch = vBatch; _vRow = vRow; _vHead = vHead;
            _mBatch = mBatch; _mHead = mHead; _mRow = mRow; _yBatch = yBatch; _yRow = yRow; _yHead = yHead; _region = region;
            Parts = 1;
        }

        public readonly void Execute(int index)
        {
            int pairs = _batch * _heads;
            ref float region = ref Unsafe.Add(ref MemoryMarshal.GetReference(_scores), (nint)index * _region);
            for (int pair = index; pair < pairs; pair += Parts)
            {
                int b = pair / _heads, h = pair - b * _heads;
                ref float q = ref Unsafe.Add(ref MemoryMarshal.GetReference(_q), _qOffset + b * _qBatch + h * _qHead);
                ref float k = ref Unsafe.Add(ref MemoryMarshal.GetReference(_k), _kOffset + b * _kBatch + h * _kHead);
                ref float v = ref Unsafe.Add(ref MemoryMarshal.GetReference(_v), _vOffset + b * _vBatch + h * _vHead);
                ref float y = ref Unsafe.Add(ref MemoryMarshal.GetReference(_y), b * _yBatch + h * _yHead);
                bool hasMask = !_mask.IsEmpty;
                ref float m = ref hasMask ? ref Unsafe.Add(ref MemoryMarshal.GetReference(_mask), b * _mBatch + h * _mHead) : ref region;
                var head = new AttentionHead(_seqQ, _seqK, _headDim, _valueDim, _scale, _qRow, _kRow, _vRow, hasMask ? _mRow : -1, _yRow);
                if (Avx512F.IsSupported || (Avx2.IsSupported && Fma.IsSupported))
                {
                    // Every operand was validated by Attention and is pinned for the whole call (the references
                    // point into the caller's spans, which WorkerPool.Run outlives).
                    fixed (float* pq = &q, pk = &k, pv = &v, pm = &m, py = &y, pr = &region)
                    {
                        if (Avx512F.IsSupported)
                            head.RunPanels<DenseAvx512<AttentionPanels32, XPacked>, FloatVector512>(pq, pk, pv, hasMask ? pm : null, py, pr);
                        else
                            head.RunPanels<DenseAvx2<AttentionPanels16, XPacked>, FloatVector256>(pq, pk, pv, hasMask ? pm : null, py, pr);
                    }
                }
                else if (Vector512.IsHardwareAccelerated) head.Run<FloatVector512>(ref q, ref k, ref v, ref m, ref y, ref region);
                else if (Vector256.IsHardwareAccelerated) head.Run<FloatVector256>(ref q, ref k, ref v, ref m, ref y, ref region);
                else if (Vector128.IsHardwareAccelerated) head.Run<FloatVector128>(ref q, ref k, ref v, ref m, ref y, ref region);
                else head.Run<FloatVector1>(ref q, ref k, ref v, ref m, ref y, ref region);
            }
        }
    }

    /// <summary>
    /// Attention of one (batch, head) pair, all references already at the pair's first element and validated by
    /// <see cref="Run"/>. K is transposed into scratch (<c>kt[d·P + j]</c>, keys zero-padded to P), so that a
    /// block of 4 query rows × 2 vectors of keys is a register-blocked outer-product loop over d; the 4 score rows go
    /// to a tile in scratch, get the mask and the softmax numerator in place, and are multiplied by V 4 rows × 2
    /// vectors of value columns at a time, the softmax denominator applied once at the end.
    /// </summary>
    private readonly unsafe struct AttentionHead(int seqQ, int seqK, int headDim, int valueDim, float scale,
        int qRow, int kRow, int vRow, int maskRow, int yRow)
    {
        /// <summary>
        /// The x86 path: both products through the dense layer's register-tile micro-kernel (<typeparamref name="TKernel"/>:
        /// MR × NR = 12 × 32 on AVX-512, 6 × 16 on AVX2), which keeps several times more multiply-adds in flight than
        /// the 4-row tiles of <see cref="Run{TV}"/>. Both products are computed transposed, a panel of NR queries at a
        /// time: Sᵀ = K·Qᵀ (x = K in blocks of MR keys, W = the panel's Qᵀ) and yᵀ = Vᵀ·Pᵀ (x = Vᵀ in blocks of MR value
        /// columns, W = Pᵀ). Sᵀ comes out as [key][NR queries], which is already the panel layout the kernel reads as W,
        /// so the probabilities need no packing, and the softmax runs down the keys with each query in its own lane:
        /// whole vectors, no horizontal maximum or sum, no key tail. K and Vᵀ are packed once per head, Qᵀ once per
        /// panel (O(keys·d) against O(keys²·d) multiply-adds); yᵀ is divided by the sums and transposed into y.
        /// <paramref name="mask"/> is null without a mask. Needs NR = 2·TV.Count ≤ 32.
        /// </summary>
        public void RunPanels<TKernel, TV>(float* q, float* k, float* v, float* mask, float* y, float* region)
            where TKernel : struct, IDenseMicroKernel where TV : struct, IFloatVector<TV>
        {
            int nr = TKernel.Columns, mr = TKernel.Rows, w = TV.Count;
            int keyBlocks = (seqK + mr - 1) / mr, valueBlocks = (valueDim + mr - 1) / mr;
            // Scratch layout (AttentionScratchPerHead bounds the sum): K | Vᵀ | Qᵀ of a panel | Sᵀ of a panel | yᵀ of a panel.
            float* kx = region;                                  // block b, dimension d, key r of the block at [b·MR·headDim + d·MR + r]
            float* vx = kx + (nint)keyBlocks * mr * headDim;     // block b, key j, column r of the block at [b·MR·seqK + j·MR + r]
            float* qt = vx + (nint)valueBlocks * mr * seqK;      // dimension d, query c at [d·NR + c], times the scale
            float* st = qt + (nint)headDim * nr;                 // key j, query c at [j·NR + c]
            float* yt = st + (nint)seqK * nr;                    // value column r, query c at [r·NR + c]
            PackKeyBlocks(k, kx, mr, keyBlocks);
            PackValueBlocks(v, vx, mr, valueBlocks);
            // A last panel of at most NR/4 queries (DeiT's 197 = 6·32 + 5) would cost as much as a whole one: those
            // rows go to the 4-row kernel instead, whose own Kᵀ then overwrites the packed K (no longer needed).
            int rest = seqQ % nr, panelled = seqQ > nr && rest <= nr / 4 ? seqQ - rest : seqQ;
            for (int i = 0; i < panelled; i += nr)
            {
                int queries = Math.Min(nr, seqQ - i);
                PackQueryPanel(q + (nint)i * qRow, qt, queries, nr);
                // The panel's Qᵀ (headDim × NR) and then its Pᵀ (seqK × NR) stay in L1 while the blocks stream past.
                for (int b = 0; b < keyBlocks; b++)
                    TKernel.Tile(Math.Min(mr, seqK - b * mr), kx + (nint)b * mr * headDim, qt, st + (nint)b * mr * nr, nr, headDim, null, false, false);
                SoftmaxColumns<TV>(st, mask == null ? null : mask + (nint)i * maskRow, queries, nr, out TV inv0, out TV inv1);
                for (int b = 0; b < valueBlocks; b++)
                    TKernel.Tile(Math.Min(mr, valueDim - b * mr), vx + (nint)b * mr * seqK, st, yt + (nint)b * mr * nr, nr, seqK, null, false, false);
                for (int c = 0; c < valueDim; c++)
                {
                    float* row = yt + (nint)c * nr;
                    TV.Store(TV.Multiply(TV.Load(ref row[0]), inv0), ref row[0]);
                    TV.Store(TV.Multiply(TV.Load(ref row[w]), inv1), ref row[w]);
                }
                float* yi = y + (nint)i * yRow;
                if (valueDim >= 8)
                {
                    // Query qq's row of y is column qq of yᵀ: gathers of 8 floats NR apart; a last partial vector
                    // ends at valueDim (overlapping columns get the same values again).
                    Vector256<int> lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * nr;
                    for (int qq = 0; qq < queries; qq++)
                    {
                        float* dst = yi + (nint)qq * yRow;
                        float* src = yt + qq;
                        int c = 0;
                        for (; c + 8 <= valueDim; c += 8) Avx2.GatherVector256(src + (nint)c * nr, lanes, 4).Store(dst + c);
                        if (c < valueDim) Avx2.GatherVector256(src + (nint)(valueDim - 8) * nr, lanes, 4).Store(dst + valueDim - 8);
                    }
                    continue;
                }
                for (int qq = 0; qq < queries; qq++)
                {
                    float* dst = yi + (nint)qq * yRow;
                    float* src = yt + qq;
                    for (int c = 0; c < valueDim; c++) dst[c] = src[(nint)c * nr];
                }
            }
            if (panelled < seqQ)
            {
                var tail = new AttentionHead(seqQ - panelled, seqK, headDim, valueDim, scale, qRow, kRow, vRow, maskRow, yRow);
                float* tailMask = mask == null ? region : mask + (nint)panelled * maskRow;
                tail.Run<TV>(ref q[(nint)panelled * qRow], ref *k, ref *v, ref *tailMask, ref y[(nint)panelled * yRow], ref *region);
            }
        }

        /// <summary>
        /// Over Sᵀ (<c>st[j·NR + c]</c>, query c of the panel in lane c): adds the mask, subtracts each query's maximum
        /// over the keys, exponentiates in place; <paramref name="inv0"/>, <paramref name="inv1"/> get 1 / Σ per query
        /// (NaN when the maximum is ±∞ or NaN, as a max-subtracted softmax gives). <paramref name="mask"/> is at the
        /// panel's first query (null without a mask). Queries from <paramref name="queries"/> on are padding.
        /// </summary>
        private void SoftmaxColumns<TV>(float* st, float* mask, int queries, int nr, out TV inv0, out TV inv1)
            where TV : struct, IFloatVector<TV>
        {
            int w = TV.Count;
            if (mask != null && maskRow != 0)
            {
                // A mask row per query: added one element at a time (the key-padding mask, one row for every query,
                // is added as a broadcast below).
                for (int c = 0; c < queries; c++)
                {
                    float* m = mask + (nint)c * maskRow;
                    for (int j = 0; j < seqK; j++) st[(nint)j * nr + c] += m[j];
                }
                mask = null;
            }
            // Two maxima and two sums per vector: one chain per vector would wait on the latency of every step.
            TV ninf = TV.Create(float.NegativeInfinity);
            TV a0 = ninf, a1 = ninf, b0 = ninf, b1 = ninf;
            int j2 = 0;
            if (mask != null)
            {
                for (int j = 0; j < seqK; j++)
                {
                    float* row = st + (nint)j * nr;
                    TV m = TV.Create(mask[j]);
                    TV s0 = TV.Add(TV.Load(ref row[0]), m), s1 = TV.Add(TV.Load(ref row[w]), m);
                    TV.Store(s0, ref row[0]); TV.Store(s1, ref row[w]);
                    if ((j & 1) == 0) { a0 = TV.Max(a0, s0); a1 = TV.Max(a1, s1); }
                    else { b0 = TV.Max(b0, s0); b1 = TV.Max(b1, s1); }
                }
            }
            else
            {
                for (; j2 + 2 <= seqK; j2 += 2)
                {
                    float* row = st + (nint)j2 * nr;
                    a0 = TV.Max(a0, TV.Load(ref row[0])); a1 = TV.Max(a1, TV.Load(ref row[w]));
                    b0 = TV.Max(b0, TV.Load(ref row[nr])); b1 = TV.Max(b1, TV.Load(ref row[nr + w]));
                }
                if (j2 < seqK) { float* row = st + (nint)j2 * nr; a0 = TV.Max(a0, TV.Load(ref row[0])); a1 = TV.Max(a1, TV.Load(ref row[w])); }
            }
            TV max0 = TV.Max(a0, b0), max1 = TV.Max(a1, b1);
            a0 = TV.Zero; a1 = TV.Zero; b0 = TV.Zero; b1 = TV.Zero;
            int jj = 0;
            for (; jj + 2 <= seqK; jj += 2)
            {
                float* row = st + (nint)jj * nr;
                TV e0 = TV.Exp(TV.Subtract(TV.Load(ref row[0]), max0)), e1 = TV.Exp(TV.Subtract(TV.Load(ref row[w]), max1));
                TV e2 = TV.Exp(TV.Subtract(TV.Load(ref row[nr]), max0)), e3 = TV.Exp(TV.Subtract(TV.Load(ref row[nr + w]), max1));
                TV.Store(e0, ref row[0]); TV.Store(e1, ref row[w]); TV.Store(e2, ref row[nr]); TV.Store(e3, ref row[nr + w]);
                a0 = TV.Add(a0, e0); a1 = TV.Add(a1, e1); b0 = TV.Add(b0, e2); b1 = TV.Add(b1, e3);
            }
            if (jj < seqK)
            {
                float* row = st + (nint)jj * nr;
                TV e0 = TV.Exp(TV.Subtract(TV.Load(ref row[0]), max0)), e1 = TV.Exp(TV.Subtract(TV.Load(ref row[w]), max1));
                TV.Store(e0, ref row[0]); TV.Store(e1, ref row[w]);
                a0 = TV.Add(a0, e0); a1 = TV.Add(a1, e1);
            }
            TV one = TV.Create(1f);
            inv0 = TV.Divide(one, TV.Add(a0, b0));
            inv1 = TV.Divide(one, TV.Add(a1, b1));
        }

        /// <summary>K as the kernel's packed x: key j = b·mr + r, dimension d at <c>kx[b·mr·headDim + d·mr + r]</c>
        /// (the lanes past seqK in the last block are not read).</summary>
        private void PackKeyBlocks(float* k, float* kx, int mr, int keyBlocks)
        {
            // Dimension d of a block is gathers of 8 keys kRow apart (MR = 12: two, MR = 6: one), stored over the
            // block's MR lanes and the next dimension's first 4 or 2, which that dimension's stores then overwrite
            // (after the block's last dimension: the next block's first, or the start of Vᵀ, which is packed
            // afterwards). Lanes past the block or past seqK read the block's last key again, never past K.
            Vector256<int> lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            for (int b = 0; b < keyBlocks; b++)
            {
                Vector256<int> last = Vector256.Create(Math.Min(mr, seqK - b * mr) - 1);
                Vector256<int> rows0 = Vector256.Min(lanes, last) * kRow;
                Vector256<int> rows1 = Vector256.Min(lanes + Vector256.Create(8), last) * kRow;
                float* src = k + (nint)b * mr * kRow;
                float* dst = kx + (nint)b * mr * headDim;
                for (int d = 0; d < headDim; d++)
                {
                    Avx2.GatherVector256(src + d, rows0, 4).Store(dst + (nint)d * mr);
                    if (mr > 8) Avx2.GatherVector256(src + d, rows1, 4).Store(dst + (nint)d * mr + 8);
                }
            }
        }

        /// <summary>Vᵀ as the kernel's packed x: column c = b·mr + r, key j at <c>vx[b·mr·seqK + j·mr + r]</c>.</summary>
        private void PackValueBlocks(float* v, float* vx, int mr, int valueBlocks)
        {
            for (int b = 0; b < valueBlocks; b++)
            {
                int columns = Math.Min(mr, valueDim - b * mr);
                float* dst = vx + (nint)b * mr * seqK;
                for (int j = 0; j < seqK; j++, dst += mr)
                {
                    float* src = v + (nint)j * vRow + b * mr;
                    int c = 0;
                    for (; c + 8 <= columns; c += 8) Vector256.Store(Vector256.Load(src + c), dst + c);
                    for (; c + 4 <= columns; c += 4) Vector128.Store(Vector128.Load(src + c), dst + c);
                    for (; c < columns; c++) dst[c] = src[c];
                }
            }
        }

        /// <summary>Qᵀ of a panel times the scale, as the kernel's W: query c, dimension d at <c>qt[d·nr + c]</c>; the
        /// queries from <paramref name="queries"/> to nr are 0.</summary>
        private void PackQueryPanel(float* q, float* qt, int queries, int nr)
        {
            if (queries == nr)
            {
                // Dimension d of a whole panel: gathers of 8 queries qRow apart.
                Vector256<int> rows = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * qRow;
                Vector256<float> vs = Vector256.Create(scale);
                for (int c = 0; c < nr; c += 8)
                {
                    float* src = q + (nint)c * qRow;
                    for (int d = 0; d < headDim; d++) (Avx2.GatherVector256(src + d, rows, 4) * vs).Store(qt + (nint)d * nr + c);
                }
                return;
            }
            for (int c = 0; c < nr; c++)
            {
                float* src = q + (nint)c * qRow;
                float* dst = qt + c;
                if (c < queries) for (int d = 0; d < headDim; d++) dst[(nint)d * nr] = scale * src[d];
                else for (int d = 0; d < headDim; d++) dst[(nint)d * nr] = 0;
            }
        }

        public void Run<TV>(ref float q, ref float k, ref float v, ref float mask, ref float y, ref float region)
            where TV : struct, IFloatVector<TV>
        {
            int p = PaddedKeys(seqK);
            ref float kt = ref region;
            ref float s = ref Unsafe.Add(ref region, (nint)headDim * p);
            TransposeKeys(ref k, ref kt, p);
            bool hasMask = maskRow >= 0;

            int i = 0;
            for (; i + AttentionRowBlock <= seqQ; i += AttentionRowBlock)
            {
                ref float q0 = ref Unsafe.Add(ref q, (nint)i * qRow);
                ref float q1 = ref Unsafe.Add(ref q0, qRow);
                ref float q2 = ref Unsafe.Add(ref q1, qRow);
                ref float q3 = ref Unsafe.Add(ref q2, qRow);
                Scores4<TV>(ref q0, ref q1, ref q2, ref q3, ref kt, p, headDim, ref s, scale);
                ref float m0 = ref hasMask ? ref Unsafe.Add(ref mask, (nint)i * maskRow) : ref mask;
                int mStep = hasMask ? maskRow : 0;
                float inv0 = SoftmaxNumerator<TV>(ref s, ref m0, hasMask, seqK);
                float inv1 = SoftmaxNumerator<TV>(ref Unsafe.Add(ref s, p), ref Unsafe.Add(ref m0, mStep), hasMask, seqK);
                float inv2 = SoftmaxNumerator<TV>(ref Unsafe.Add(ref s, 2 * p), ref Unsafe.Add(ref m0, 2 * mStep), hasMask, seqK);
                float inv3 = SoftmaxNumerator<TV>(ref Unsafe.Add(ref s, 3 * p), ref Unsafe.Add(ref m0, 3 * mStep), hasMask, seqK);
                ref float y0 = ref Unsafe.Add(ref y, (nint)i * yRow);
                Values(ref s, p, ref v, ref y0, inv0, inv1, inv2, inv3, rows: 4);
            }
            for (; i < seqQ; i++)
            {
                Scores1<TV>(ref Unsafe.Add(ref q, (nint)i * qRow), ref kt, p, headDim, ref s, scale);
                ref float mi = ref hasMask ? ref Unsafe.Add(ref mask, (nint)i * maskRow) : ref mask;
                float inv = SoftmaxNumerator<TV>(ref s, ref mi, hasMask, seqK);
                Values(ref s, p, ref v, ref Unsafe.Add(ref y, (nint)i * yRow), inv, 0, 0, 0, rows: 1);
            }
        }

        /// <summary><c>kt[d·p + j] = k[j·kRow + d]</c> for j &lt; seqK, 0 for the padding keys.</summary>
        private void TransposeKeys(ref float k, ref float kt, int p)
        {
            for (int j = 0; j < seqK; j++)
            {
                ref float kj = ref Unsafe.Add(ref k, (nint)j * kRow);
                ref float dst = ref Unsafe.Add(ref kt, j);
                for (int d = 0; d < headDim; d++)
                {
                    dst = Unsafe.Add(ref kj, d);
                    dst = ref Unsafe.Add(ref dst, p);
                }
            }
            if (p > seqK)
            {
                for (int d = 0; d < headDim; d++)
                    MemoryMarshal.CreateSpan(ref Unsafe.Add(ref kt, (nint)d * p + seqK), p - seqK).Clear();
            }
        }

        /// <summary>Picks the vector width for the P·V product: the widest that fits in valueDim.</summary>
        private void Values(ref float s, int p, ref float v, ref float y, float inv0, float inv1, float inv2, float inv3, int rows)
        {
            if (Vector512.IsHardwareAccelerated && valueDim >= Vector512<float>.Count)
                Values<FloatVector512>(ref s, p, ref v, ref y, inv0, inv1, inv2, inv3, rows);
            else if (Vector256.IsHardwareAccelerated && valueDim >= Vector256<float>.Count)
                Values<FloatVector256>(ref s, p, ref v, ref y, inv0, inv1, inv2, inv3, rows);
            else if (Vector128.IsHardwareAccelerated && valueDim >= Vector128<float>.Count)
                Values<FloatVector128>(ref s, p, ref v, ref y, inv0, inv1, inv2, inv3, rows);
            else
                Values<FloatVector1>(ref s, p, ref v, ref y, inv0, inv1, inv2, inv3, rows);
        }

        /// <summary>
        /// <c>y[r, :] = inv_r · Σ_j s[r·p + j]·v[j, :]</c> for 1 or 4 rows, in column chunks of 2 vectors, then 1 vector;
        /// a last partial vector is done as the vector that ends at valueDim (overlapping columns get the same values
        /// again; for 4 rows, a rest of more than one vector is one 2-vector chunk whose second vector ends at valueDim).
        /// Needs valueDim ≥ TV.Count.
        /// </summary>
        private void Values<TV>(ref float s, int p, ref float v, ref float y, float inv0, float inv1, float inv2, float inv3, int rows)
            where TV : struct, IFloatVector<TV>
        {
            int w = TV.Count, c = 0;
            if (rows == 4)
            {
                for (; c + 2 * w <= valueDim; c += 2 * w) Values4x2<TV>(ref s, p, ref v, ref y, c, c + w, inv0, inv1, inv2, inv3);
                // More than one vector left (e.g. 26 columns with 16 lanes): one 4×2 pass whose second vector ends at
                // valueDim, overlapping the first, instead of two 4×1 passes. A 4×1 pass has only 4 accumulator
                // chains, too few to hide the FMA latency, so it runs at about half the speed per column.
                if (valueDim - c > w) Values4x2<TV>(ref s, p, ref v, ref y, c, valueDim - w, inv0, inv1, inv2, inv3);
                else if (c < valueDim) Values4x1<TV>(ref s, p, ref v, ref y, valueDim - w, inv0, inv1, inv2, inv3);
            }
            else
            {
                for (; c + 2 * w <= valueDim; c += 2 * w) Values1x2<TV>(ref s, ref v, ref y, c, inv0);
                for (; c + w <= valueDim; c += w) Values1x1<TV>(ref s, ref v, ref y, c, inv0);
                if (c < valueDim) Values1x1<TV>(ref s, ref v, ref y, valueDim - w, inv0);
            }
        }

        /// <summary>4 rows × the two vectors of value columns that start at <c>c</c> and <c>c2</c> (c2 may overlap c's).</summary>
        private void Values4x2<TV>(ref float s, int p, ref float v, ref float y, int c, int c2, float inv0, float inv1, float inv2, float inv3)
            where TV : struct, IFloatVector<TV>
        {
            int w = c2 - c;
            TV a00 = TV.Zero, a01 = TV.Zero, a10 = TV.Zero, a11 = TV.Zero, a20 = TV.Zero, a21 = TV.Zero, a30 = TV.Zero, a31 = TV.Zero;
            ref float vj = ref Unsafe.Add(ref v, c);
            ref float s0 = ref s;
            ref float s1 = ref Unsafe.Add(ref s, p);
            ref float s2 = ref Unsafe.Add(ref s, 2 * p);
            ref float s3 = ref Unsafe.Add(ref s, 3 * p);
            for (int j = 0; j < seqK; j++)
            {
                TV v0 = TV.Load(ref vj), v1 = TV.Load(ref Unsafe.Add(ref vj, w));
                TV pj = TV.Create(Unsafe.Add(ref s0, j)); a00 = TV.MultiplyAdd(pj, v0, a00); a01 = TV.MultiplyAdd(pj, v1, a01);
                pj = TV.Create(Unsafe.Add(ref s1, j)); a10 = TV.MultiplyAdd(pj, v0, a10); a11 = TV.MultiplyAdd(pj, v1, a11);
                pj = TV.Create(Unsafe.Add(ref s2, j)); a20 = TV.MultiplyAdd(pj, v0, a20); a21 = TV.MultiplyAdd(pj, v1, a21);
                pj = TV.Create(Unsafe.Add(ref s3, j)); a30 = TV.MultiplyAdd(pj, v0, a30); a31 = TV.MultiplyAdd(pj, v1, a31);
                vj = ref Unsafe.Add(ref vj, vRow);
            }
            ref float y0 = ref Unsafe.Add(ref y, c);
            TV i0 = TV.Create(inv0);
            TV.Store(TV.Multiply(a00, i0), ref y0); TV.Store(TV.Multiply(a01, i0), ref Unsafe.Add(ref y0, w));
            ref float y1 = ref Unsafe.Add(ref y0, yRow);
            TV i1 = TV.Create(inv1);
            TV.Store(TV.Multiply(a10, i1), ref y1); TV.Store(TV.Multiply(a11, i1), ref Unsafe.Add(ref y1, w));
            ref float y2 = ref Unsafe.Add(ref y1, yRow);
            TV i2 = TV.Create(inv2);
            TV.Store(TV.Multiply(a20, i2), ref y2); TV.Store(TV.Multiply(a21, i2), ref Unsafe.Add(ref y2, w));
            ref float y3 = ref Unsafe.Add(ref y2, yRow);
            TV i3 = TV.Create(inv3);
            TV.Store(TV.Multiply(a30, i3), ref y3); TV.Store(TV.Multiply(a31, i3), ref Unsafe.Add(ref y3, w));
        }

        private void Values4x1<TV>(ref float s, int p, ref float v, ref float y, int c, float inv0, float inv1, float inv2, float inv3)
            where TV : struct, IFloatVector<TV>
        {
            TV a0 = TV.Zero, a1 = TV.Zero, a2 = TV.Zero, a3 = TV.Zero;
            ref float vj = ref Unsafe.Add(ref v, c);
            ref float s0 = ref s;
            ref float s1 = ref Unsafe.Add(ref s, p);
            ref float s2 = ref Unsafe.Add(ref s, 2 * p);
            ref float s3 = ref Unsafe.Add(ref s, 3 * p);
            for (int j = 0; j < seqK; j++)
            {
                TV v0 = TV.Load(ref vj);
                a0 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref s0, j)), v0, a0);
                a1 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref s1, j)), v0, a1);
                a2 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref s2, j)), v0, a2);
                a3 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref s3, j)), v0, a3);
                vj = ref Unsafe.Add(ref vj, vRow);
            }
            ref float y0 = ref Unsafe.Add(ref y, c);
            TV.Store(TV.Multiply(a0, TV.Create(inv0)), ref y0);
            ref float y1 = ref Unsafe.Add(ref y0, yRow);
            TV.Store(TV.Multiply(a1, TV.Create(inv1)), ref y1);
            ref float y2 = ref Unsafe.Add(ref y1, yRow);
            TV.Store(TV.Multiply(a2, TV.Create(inv2)), ref y2);
            TV.Store(TV.Multiply(a3, TV.Create(inv3)), ref Unsafe.Add(ref y2, yRow));
        }

        private void Values1x2<TV>(ref float s, ref float v, ref float y, int c, float inv)
            where TV : struct, IFloatVector<TV>
        {
            int w = TV.Count;
            TV a0 = TV.Zero, a1 = TV.Zero;
            ref float vj = ref Unsafe.Add(ref v, c);
            for (int j = 0; j < seqK; j++)
            {
                TV pj = TV.Create(Unsafe.Add(ref s, j));
                a0 = TV.MultiplyAdd(pj, TV.Load(ref vj), a0);
                a1 = TV.MultiplyAdd(pj, TV.Load(ref Unsafe.Add(ref vj, w)), a1);
                vj = ref Unsafe.Add(ref vj, vRow);
            }
            TV vi = TV.Create(inv);
            TV.Store(TV.Multiply(a0, vi), ref Unsafe.Add(ref y, c));
            TV.Store(TV.Multiply(a1, vi), ref Unsafe.Add(ref y, c + w));
        }

        private void Values1x1<TV>(ref float s, ref float v, ref float y, int c, float inv)
            where TV : struct, IFloatVector<TV>
        {
            TV a0 = TV.Zero;
            ref float vj = ref Unsafe.Add(ref v, c);
            for (int j = 0; j < seqK; j++)
            {
                a0 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref s, j)), TV.Load(ref vj), a0);
                vj = ref Unsafe.Add(ref vj, vRow);
            }
            TV.Store(TV.Multiply(a0, TV.Create(inv)), ref Unsafe.Add(ref y, c));
        }
    }

    /// <summary>
    /// <c>s[r·p + j] = scale·Σ_d q_r[d]·kt[d·p + j]</c> for 4 query rows and every j &lt; p (p a multiple of 16):
    /// blocks of 4 rows × 2 vectors (8 accumulators), then 4 × 1.
    /// </summary>
    private static void Scores4<TV>(ref float q0, ref float q1, ref float q2, ref float q3, ref float kt, int p, int headDim, ref float s, float scale)
        where TV : struct, IFloatVector<TV>
    {
        int w = TV.Count, c = 0;
        TV vs = TV.Create(scale);
        for (; c + 2 * w <= p; c += 2 * w)
        {
            TV a00 = TV.Zero, a01 = TV.Zero, a10 = TV.Zero, a11 = TV.Zero, a20 = TV.Zero, a21 = TV.Zero, a30 = TV.Zero, a31 = TV.Zero;
            ref float kd = ref Unsafe.Add(ref kt, c);
            for (int d = 0; d < headDim; d++)
            {
                TV k0 = TV.Load(ref kd), k1 = TV.Load(ref Unsafe.Add(ref kd, w));
                TV b = TV.Create(Unsafe.Add(ref q0, d)); a00 = TV.MultiplyAdd(b, k0, a00); a01 = TV.MultiplyAdd(b, k1, a01);
                b = TV.Create(Unsafe.Add(ref q1, d)); a10 = TV.MultiplyAdd(b, k0, a10); a11 = TV.MultiplyAdd(b, k1, a11);
                b = TV.Create(Unsafe.Add(ref q2, d)); a20 = TV.MultiplyAdd(b, k0, a20); a21 = TV.MultiplyAdd(b, k1, a21);
                b = TV.Create(Unsafe.Add(ref q3, d)); a30 = TV.MultiplyAdd(b, k0, a30); a31 = TV.MultiplyAdd(b, k1, a31);
                kd = ref Unsafe.Add(ref kd, p);
            }
            ref float s0 = ref Unsafe.Add(ref s, c);
            TV.Store(TV.Multiply(a00, vs), ref s0); TV.Store(TV.Multiply(a01, vs), ref Unsafe.Add(ref s0, w));
            ref float s1 = ref Unsafe.Add(ref s0, p);
            TV.Store(TV.Multiply(a10, vs), ref s1); TV.Store(TV.Multiply(a11, vs), ref Unsafe.Add(ref s1, w));
            ref float s2 = ref Unsafe.Add(ref s1, p);
            TV.Store(TV.Multiply(a20, vs), ref s2); TV.Store(TV.Multiply(a21, vs), ref Unsafe.Add(ref s2, w));
            ref float s3 = ref Unsafe.Add(ref s2, p);
            TV.Store(TV.Multiply(a30, vs), ref s3); TV.Store(TV.Multiply(a31, vs), ref Unsafe.Add(ref s3, w));
        }
        for (; c < p; c += w)
        {
            TV a0 = TV.Zero, a1 = TV.Zero, a2 = TV.Zero, a3 = TV.Zero;
            ref float kd = ref Unsafe.Add(ref kt, c);
            for (int d = 0; d < headDim; d++)
            {
                TV k0 = TV.Load(ref kd);
                a0 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref q0, d)), k0, a0);
                a1 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref q1, d)), k0, a1);
                a2 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref q2, d)), k0, a2);
                a3 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref q3, d)), k0, a3);
                kd = ref Unsafe.Add(ref kd, p);
            }
            ref float s0 = ref Unsafe.Add(ref s, c);
            TV.Store(TV.Multiply(a0, vs), ref s0);
            ref float s1 = ref Unsafe.Add(ref s0, p);
            TV.Store(TV.Multiply(a1, vs), ref s1);
            ref float s2 = ref Unsafe.Add(ref s1, p);
            TV.Store(TV.Multiply(a2, vs), ref s2);
            TV.Store(TV.Multiply(a3, vs), ref Unsafe.Add(ref s2, p));
        }
    }

    /// <summary>One query row of <see cref="Scores4{TV}"/>: 4 vectors of keys at a time (4 independent accumulators).</summary>
    private static void Scores1<TV>(ref float q0, ref float kt, int p, int headDim, ref float s, float scale)
        where TV : struct, IFloatVector<TV>
    {
        int w = TV.Count, c = 0;
        TV vs = TV.Create(scale);
        for (; c + 4 * w <= p; c += 4 * w)
        {
            TV a0 = TV.Zero, a1 = TV.Zero, a2 = TV.Zero, a3 = TV.Zero;
            ref float kd = ref Unsafe.Add(ref kt, c);
            for (int d = 0; d < headDim; d++)
            {
                TV b = TV.Create(Unsafe.Add(ref q0, d));
                a0 = TV.MultiplyAdd(b, TV.Load(ref kd), a0);
                a1 = TV.MultiplyAdd(b, TV.Load(ref Unsafe.Add(ref kd, w)), a1);
                a2 = TV.MultiplyAdd(b, TV.Load(ref Unsafe.Add(ref kd, 2 * w)), a2);
                a3 = TV.MultiplyAdd(b, TV.Load(ref Unsafe.Add(ref kd, 3 * w)), a3);
                kd = ref Unsafe.Add(ref kd, p);
            }
            ref float sc = ref Unsafe.Add(ref s, c);
            TV.Store(TV.Multiply(a0, vs), ref sc);
            TV.Store(TV.Multiply(a1, vs), ref Unsafe.Add(ref sc, w));
            TV.Store(TV.Multiply(a2, vs), ref Unsafe.Add(ref sc, 2 * w));
            TV.Store(TV.Multiply(a3, vs), ref Unsafe.Add(ref sc, 3 * w));
        }
        for (; c < p; c += w)
        {
            TV a0 = TV.Zero;
            ref float kd = ref Unsafe.Add(ref kt, c);
            for (int d = 0; d < headDim; d++)
            {
                a0 = TV.MultiplyAdd(TV.Create(Unsafe.Add(ref q0, d)), TV.Load(ref kd), a0);
                kd = ref Unsafe.Add(ref kd, p);
            }
            TV.Store(TV.Multiply(a0, vs), ref Unsafe.Add(ref s, c));
        }
    }

    /// <summary>
    /// In place over <c>s[0..n)</c>: adds the mask row (if any), subtracts the maximum, exponentiates; returns
    /// 1 / Σ (NaN when the maximum is ±∞ or NaN, as a max-subtracted softmax gives).
    /// </summary>
    private static float SoftmaxNumerator<TV>(ref float s, ref float mask, bool hasMask, int n)
        where TV : struct, IFloatVector<TV> => SoftmaxNumerator<TV>(ref s, ref mask, hasMask, ref s, n);

    /// <summary>
    /// <c>e[j] = exp(x[j] + mask[j] − max)</c> into <c>e[0..n)</c> (may be <c>x</c>); returns 1 / Σ e (NaN when the maximum
    /// is ±∞ or NaN, as a max-subtracted softmax gives).
    /// </summary>
    internal static float SoftmaxNumerator<TV>(ref float x, ref float mask, bool hasMask, ref float e, int n)
        where TV : struct, IFloatVector<TV>
    {
        int w = TV.Count, j = 0;
        TV vmax = TV.Create(float.NegativeInfinity);
        float max = float.NegativeInfinity;
        if (hasMask)
        {
            for (; j + w <= n; j += w)
            {
                TV t = TV.Add(TV.Load(ref Unsafe.Add(ref x, j)), TV.Load(ref Unsafe.Add(ref mask, j)));
                TV.Store(t, ref Unsafe.Add(ref e, j));
                vmax = TV.Max(vmax, t);
            }
            for (; j < n; j++)
            {
                float t = Unsafe.Add(ref x, j) + Unsafe.Add(ref mask, j);
                Unsafe.Add(ref e, j) = t;
                max = MathF.Max(max, t);
            }
        }
        else
        {
            for (; j + w <= n; j += w) vmax = TV.Max(vmax, TV.Load(ref Unsafe.Add(ref x, j)));
            for (; j < n; j++) max = MathF.Max(max, Unsafe.Add(ref x, j));
        }
        max = MathF.Max(max, TV.MaxAcross(vmax));

        ref float src = ref hasMask ? ref e : ref x;
        TV vm = TV.Create(max), sum0 = TV.Zero, sum1 = TV.Zero;
        for (j = 0; j + 2 * w <= n; j += 2 * w)
        {
            TV e0 = TV.Exp(TV.Subtract(TV.Load(ref Unsafe.Add(ref src, j)), vm));
            TV e1 = TV.Exp(TV.Subtract(TV.Load(ref Unsafe.Add(ref src, j + w)), vm));
            TV.Store(e0, ref Unsafe.Add(ref e, j));
            TV.Store(e1, ref Unsafe.Add(ref e, j + w));
            sum0 = TV.Add(sum0, e0);
            sum1 = TV.Add(sum1, e1);
        }
        for (; j + w <= n; j += w)
        {
            TV e0 = TV.Exp(TV.Subtract(TV.Load(ref Unsafe.Add(ref src, j)), vm));
            TV.Store(e0, ref Unsafe.Add(ref e, j));
            sum0 = TV.Add(sum0, e0);
        }
        float sum = 0;
        for (; j < n; j++)
        {
            float ej = FastMath.Exp(Unsafe.Add(ref src, j) - max);
            Unsafe.Add(ref e, j) = ej;
            sum += ej;
        }
        return 1f / (sum + TV.Sum(TV.Add(sum0, sum1)));
    }
}
