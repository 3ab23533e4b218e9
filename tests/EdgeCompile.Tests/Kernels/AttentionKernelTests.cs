using EdgeCompile.Tests.Shared;
using System;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

public class AttentionKernelTests
{
    /// <summary>Layout of one operand: element (b, row, h, d) at offset + b·batch + row·row + h·head + d.</summary>
    private readonly record struct Layout(int Offset, int Batch, int Row, int Head)
    {
        public int At(int b, int r, int h, int d) => Offset + b * Batch + r * Row + h * Head + d;
    }

    private static double[] Reference(float[] q, float[] k, float[] v, float[] mask, int batch, int heads, int seqQ, int seqK, int headDim, int valueDim,
        float scale, Layout ql, Layout kl, Layout vl, (int B, int H, int R) ml, Layout yl, int yLength)
    {
        var y = new double[yLength];
        var s = new double[seqK];
        for (int b = 0; b < batch; b++) for (int h = 0; h < heads; h++) for (int i = 0; i < seqQ; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < seqK; j++)
            {
                double dot = 0;
                for (int d = 0; d < headDim; d++) dot += (double)q[ql.At(b, i, h, d)] * k[kl.At(b, j, h, d)];
                s[j] = scale * dot + (mask.Length == 0 ? 0 : mask[b * ml.B + h * ml.H + i * ml.R + j]);
                max = Math.Max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < seqK; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
            for (int d = 0; d < valueDim; d++)
            {
                double acc = 0;
                for (int j = 0; j < seqK; j++) acc += s[j] / sum * v[vl.At(b, j, h, d)];
                y[yl.At(b, i, h, d)] = acc;
            }
        }
        return y;
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 8, false)]
    [InlineData(2, 3, 7, 7, 16, false)]
    [InlineData(2, 3, 7, 9, 16, true)]
    [InlineData(1, 4, 33, 33, 31, true)]
    [InlineData(2, 2, 1, 31, 64, true)]
    public void SeparateTensorsBSHD(int batch, int heads, int seqQ, int seqK, int headDim, bool withMask)
    {
        // q, k, v, y in [batch, seq, heads, headDim]; mask [batch, 1, 1, seqK] (key padding, broadcast over heads and rows).
        float[] q = Random(batch * seqQ * heads * headDim, 1), k = Random(batch * seqK * heads * headDim, 2), v = Random(batch * seqK * heads * headDim, 3);
        var ql = new Layout(0, seqQ * heads * headDim, heads * headDim, headDim);
        var kl = new Layout(0, seqK * heads * headDim, heads * headDim, headDim);
        var yl = ql;
        float[] mask = Array.Empty<float>();
        (int B, int H, int R) ml = (0, 0, 0);
        if (withMask)
        {
            mask = new float[batch * seqK];
            for (int b = 0; b < batch; b++) for (int j = 0; j < seqK; j++) mask[b * seqK + j] = j >= seqK - b - 1 && j > 0 ? -3.4028235E+38f : 0f;
            ml = (seqK, 0, 0);
        }
        float scale = 1f / MathF.Sqrt(headDim);
        var y = new float[q.Length];
        var scores = new float[Kernels.AttentionScratchPerHead(seqK, headDim, headDim) + 3];
        Kernels.Attention(q, k, v, mask, y, scores, batch: batch, heads: heads, seqQ: seqQ, seqK: seqK, headDim: headDim, valueDim: headDim, scale: scale,
            qOffset: 0, qBatchStride: ql.Batch, qRowStride: ql.Row, qHeadStride: ql.Head,
            kOffset: 0, kBatchStride: kl.Batch, kRowStride: kl.Row, kHeadStride: kl.Head,
            vOffset: 0, vBatchStride: kl.Batch, vRowStride: kl.Row, vHeadStride: kl.Head,
            maskBatchStride: ml.B, maskHeadStride: ml.H, maskRowStride: ml.R,
            yBatchStride: yl.Batch, yRowStride: yl.Row, yHeadStride: yl.Head);
        Close(Reference(q, k, v, mask, batch, heads, seqQ, seqK, headDim, headDim, scale, ql, kl, kl, ml, yl, y.Length), y, atol: 2e-6, rtol: 1e-5, what: "Attention");
    }

    [Fact]
    public void PackedQkvWithFullMaskAndBhsdOutput()
    {
        // Packed projection [batch, seq, 3·hidden] (q | k | v), hidden = heads·headDim; mask [batch, heads, seq, seq];
        // output in [batch, heads, seq, valueDim] (head-major).
        int batch = 2, heads = 3, seq = 9, headDim = 8, hidden = heads * headDim;
        float[] qkv = Random(batch * seq * 3 * hidden, 7);
        var ql = new Layout(0, seq * 3 * hidden, 3 * hidden, headDim);
        var kl = ql with { Offset = hidden };
        var vl = ql with { Offset = 2 * hidden };
        float[] mask = Random(batch * heads * seq * seq, 8, -2, 2);
        (int B, int H, int R) ml = (heads * seq * seq, seq * seq, seq);
        var yl = new Layout(0, heads * seq * headDim, headDim, seq * headDim);
        var y = new float[batch * heads * seq * headDim];
        var scores = new float[Kernels.AttentionScratchPerHead(seq, headDim, headDim)];
        Kernels.Attention(qkv, qkv, qkv, mask, y, scores, batch, heads, seq, seq, headDim, headDim, 0.3f,
            ql.Offset, ql.Batch, ql.Row, ql.Head, kl.Offset, kl.Batch, kl.Row, kl.Head, vl.Offset, vl.Batch, vl.Row, vl.Head,
            ml.B, ml.H, ml.R, yl.Batch, yl.Row, yl.Head);
        Close(Reference(qkv, qkv, qkv, mask, batch, heads, seq, seq, headDim, headDim, 0.3f, ql, kl, vl, ml, yl, y.Length), y, atol: 2e-6, rtol: 1e-5, what: "Attention packed");
    }

    [Fact]
    public void ValueDimDiffersAndCausalMask()
    {
        int heads = 2, seq = 5, headDim = 4, valueDim = 6;
        float[] q = Random(seq * heads * headDim, 1), k = Random(seq * heads * headDim, 2), v = Random(seq * heads * valueDim, 3);
        var ql = new Layout(0, 0, heads * headDim, headDim);
        var vl = new Layout(0, 0, heads * valueDim, valueDim);
        var mask = new float[seq * seq];
        for (int i = 0; i < seq; i++) for (int j = i + 1; j < seq; j++) mask[i * seq + j] = float.NegativeInfinity;
        var y = new float[seq * heads * valueDim];
        Kernels.Attention(q, k, v, mask, y, new float[Kernels.AttentionScratchPerHead(seq, headDim, valueDim)], 1, heads, seq, seq, headDim, valueDim, 0.5f,
            0, 0, ql.Row, ql.Head, 0, 0, ql.Row, ql.Head, 0, 0, vl.Row, vl.Head, 0, 0, seq, 0, vl.Row, vl.Head);
        Close(Reference(q, k, v, mask, 1, heads, seq, seq, headDim, valueDim, 0.5f, ql, ql, vl, (0, 0, seq), vl, y.Length), y, atol: 2e-6, rtol: 1e-5, what: "Attention causal");
    }

    [Fact]
    public void ValidatesAndAllocatesNothing()
    {
        int heads = 4, seq = 16, headDim = 16, hidden = heads * headDim;
        float[] q = Random(seq * hidden, 1), k = Random(seq * hidden, 2), v = Random(seq * hidden, 3), mask = new float[seq];
        var y = new float[seq * hidden];
        var scores = new float[Kernels.AttentionScratchPerHead(seq, headDim, headDim)];
        void Run(Span<float> s) => Kernels.Attention(q, k, v, mask, y, s, 1, heads, seq, seq, headDim, headDim, 0.25f,
            0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, 0, 0, hidden, headDim);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() => Run(scores)));

        Assert.Throws<ArgumentException>(() => Run(new float[scores.Length - 1]));
        Assert.Throws<ArgumentException>(() => Kernels.Attention(q, k, v, mask, y, scores, 1, heads, seq, seq, headDim, headDim, 0.25f,
            1, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, 0, 0, hidden, headDim));   // q offset runs past the end
        Assert.Throws<ArgumentException>(() => Kernels.Attention(q, k, v, mask, y, scores, 1, heads, seq, seq, headDim, headDim, 0.25f,
            0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, 1, 0, hidden, headDim));   // mask rows run past the end
    }

    /// <summary>How the mask of <see cref="HeadDimsLayoutsMasksAndThreads"/> is laid out.</summary>
    public enum MaskKind { None, KeyPadding, FullStrided, CausalShared }

    public static TheoryData<int, int, int, int, MaskKind, int> AttentionCases()
    {
        var data = new TheoryData<int, int, int, int, MaskKind, int>();
        // headDim, valueDim, seqQ, seqK, mask, threads (0 = no pool)
        foreach (int headDim in new[] { 1, 7, 26, 32, 64 })
        foreach (int threads in new[] { 0, 1, 2, 3 })
        {
            data.Add(headDim, headDim, 37, 45, MaskKind.KeyPadding, threads);
            data.Add(headDim, headDim, 21, 70, MaskKind.FullStrided, threads);
            if (threads >= 2)
            {
                // Just above the kernel's parallel threshold (2^19 multiply-adds over the 6 pairs), so the pool is used.
                int seq = (int)Math.Ceiling(Math.Sqrt((1 << 19) / (6.0 * 2 * headDim))) + 1;
                data.Add(headDim, headDim, seq, seq + 3, MaskKind.FullStrided, threads);
            }
        }
        data.Add(26, 26, 128, 128, MaskKind.KeyPadding, 2);
        data.Add(26, 26, 16, 16, MaskKind.KeyPadding, 0);
        data.Add(64, 64, 197, 197, MaskKind.None, 2);
        data.Add(32, 32, 19, 17, MaskKind.CausalShared, 3);
        data.Add(26, 40, 9, 33, MaskKind.FullStrided, 2);   // valueDim ≠ headDim
        data.Add(64, 7, 5, 66, MaskKind.None, 0);
        data.Add(7, 1, 3, 2, MaskKind.KeyPadding, 2);
        data.Add(0, 8, 6, 5, MaskKind.KeyPadding, 0);       // no dot product: uniform weights
        data.Add(16, 16, 1, 1, MaskKind.None, 3);
        // Query counts below or just past a panel (x86: 32 lanes on AVX-512, 16 on AVX2): the rest after the last
        // whole panel goes to a wide panel, a narrow one or the 4-row kernel, with and without a mask row per query.
        foreach (int seqQ in new[] { 1, 5, 9, 16, 17, 33, 197 })
        foreach (MaskKind maskKind in new[] { MaskKind.None, MaskKind.KeyPadding, MaskKind.FullStrided, MaskKind.CausalShared })
            data.Add(64, 64, seqQ, seqQ, maskKind, 0);
        foreach (int seqQ in new[] { 2, 4, 5, 8, 9, 12, 16, 24 })
        {
            data.Add(26, 26, seqQ, seqQ, MaskKind.FullStrided, 2);
            data.Add(32, 32, seqQ, 197, MaskKind.KeyPadding, 0);
            data.Add(64, 7, seqQ + 32, seqQ + 32, MaskKind.CausalShared, 0);   // valueDim < 8: y written without gathers
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void HeadDimsLayoutsMasksAndThreads(int headDim, int valueDim, int seqQ, int seqK, MaskKind maskKind, int threads)
    {
        // q: [batch, seqQ, heads, headDim] with a row pad of 3; k and v packed in one [batch, seqK, heads·(headDim + valueDim) + 5]
        // tensor at an offset; y head-major [batch, heads, seqQ, valueDim] with a row pad of 2.
        int batch = 2, heads = 3;
        var ql = new Layout(4, seqQ * (heads * headDim + 3) + 1, heads * headDim + 3, headDim);
        int kvRow = heads * (headDim + valueDim) + 5;
        var kl = new Layout(2, seqK * kvRow, kvRow, headDim);
        var vl = new Layout(2 + heads * headDim, seqK * kvRow, kvRow, valueDim);
        var yl = new Layout(0, heads * seqQ * (valueDim + 2), valueDim + 2, seqQ * (valueDim + 2));
        float[] q = Random(ql.Offset + batch * ql.Batch, 11, -2, 2);
        float[] kv = Random(kl.Offset + batch * kl.Batch, 12, -2, 2);

        float[] mask = Array.Empty<float>();
        (int B, int H, int R) ml = (0, 0, 0);
        var rng = new Random(13);
        switch (maskKind)
        {
            case MaskKind.KeyPadding:   // [batch, 1, 1, seqK], the last b+1 keys of batch b padded (never all of them)
                ml = (seqK, 0, 0);
                mask = new float[batch * seqK];
                for (int b = 0; b < batch; b++) for (int j = 0; j < seqK; j++) mask[b * seqK + j] = j > 0 && j >= seqK - b - 1 ? -3.4028235E+38f : 0f;
                break;
            case MaskKind.FullStrided:  // [batch, heads, seqQ, seqK] with padding after every row, head and batch
                ml = (heads * (seqQ * (seqK + 3) + 5) + 7, seqQ * (seqK + 3) + 5, seqK + 3);
                mask = new float[batch * ml.B];
                for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextDouble() < 0.2 ? float.NegativeInfinity : (float)(rng.NextDouble() * 4 - 2);
                for (int b = 0; b < batch; b++) for (int h = 0; h < heads; h++) for (int i = 0; i < seqQ; i++) mask[b * ml.B + h * ml.H + i * ml.R] = 0.5f;   // key 0 always visible
                break;
            case MaskKind.CausalShared: // [1, 1, seqQ, seqK] shared by every batch and head
                ml = (0, 0, seqK);
                mask = new float[seqQ * seqK];
                for (int i = 0; i < seqQ; i++) for (int j = 0; j < seqK; j++) mask[i * seqK + j] = j > i ? float.NegativeInfinity : 0f;
                break;
        }

        float scale = headDim == 0 ? 1f : 1f / MathF.Sqrt(headDim);
        var expected = Reference(q, kv, kv, mask, batch, heads, seqQ, seqK, headDim, valueDim, scale, ql, kl, vl, ml, yl, batch * yl.Batch);
        using var pool = threads > 0 ? new WorkerPool(threads) : null;
        int full = Kernels.AttentionScratchLength(batch, heads, seqK, headDim, valueDim);
        Assert.Equal(batch * heads * (seqK + 44) * (headDim + valueDim + 44), full);
        // Scratch for every pair, for two pairs at a time, and for one (threads or not, the result is the same).
        foreach (int scratchLength in new[] { full, 2 * Kernels.AttentionScratchPerHead(seqK, headDim, valueDim) + 1, Kernels.AttentionScratchPerHead(seqK, headDim, valueDim) })
        {
            var y = new float[batch * yl.Batch];
            var scores = Random(scratchLength, 14);   // scratch content must not matter
            Kernels.Attention(q, kv, kv, mask, y, scores, batch, heads, seqQ, seqK, headDim, valueDim, scale,
                ql.Offset, ql.Batch, ql.Row, ql.Head, kl.Offset, kl.Batch, kl.Row, kl.Head, vl.Offset, vl.Batch, vl.Row, vl.Head,
                ml.B, ml.H, ml.R, yl.Batch, yl.Row, yl.Head, pool);
            // The row padding of y is left alone: only the elements of the reference are written.
            for (int b = 0; b < batch; b++) for (int h = 0; h < heads; h++) for (int i = 0; i < seqQ; i++)
            for (int d = valueDim; d < valueDim + 2 && yl.At(b, i, h, d) < y.Length; d++)
                Assert.Equal(0f, y[yl.At(b, i, h, d)]);
            Close(expected, y, atol: 3e-6, rtol: 2e-5, what: $"Attention d{headDim}/{valueDim} scratch {scratchLength}");
        }
    }

    [Theory]
    [InlineData(33, MaskKind.FullStrided)]
    [InlineData(197, MaskKind.KeyPadding)]
    [InlineData(197, MaskKind.CausalShared)]
    public void RestAfterPanelsOnTheRowKernel(int seq, MaskKind maskKind)
    {
        // The x86 kernel never gives a rest after whole panels to the 4-row kernel by default (measured slower), but
        // the benchmark's --attention-rest sweep does: that path, whose Kᵀ overwrites the packed K, must stay right.
        // (Other test classes may run attention meanwhile; both paths give the same result, so they are unaffected.)
        int saved = Kernels.AttentionRowKernelMaxRest;
        Kernels.AttentionRowKernelMaxRest = 16;
        try
        {
            HeadDimsLayoutsMasksAndThreads(64, 64, seq, seq, maskKind, 0);
            HeadDimsLayoutsMasksAndThreads(26, 26, seq, seq, maskKind, 2);
        }
        finally { Kernels.AttentionRowKernelMaxRest = saved; }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void FullyMaskedRows(int threads)
    {
        // Row 1 of every head has −∞ on every key: NaN, as the max-subtracted softmax of the unfused graph gives.
        // Row 2 has −3.4E+38 (a finite "minus infinity") on every key: the scores all round to −3.4E+38, so the
        // weights are uniform and the output is the mean of the values.
        int heads = 2, seqQ = 5, seqK = 11, headDim = 26, hidden = heads * headDim;
        float[] q = Random(seqQ * hidden, 21), k = Random(seqK * hidden, 22), v = Random(seqK * hidden, 23);
        var mask = new float[seqQ * seqK];
        for (int j = 0; j < seqK; j++) { mask[1 * seqK + j] = float.NegativeInfinity; mask[2 * seqK + j] = -3.4028235E+38f; }
        mask[3 * seqK + 4] = float.NegativeInfinity;
        var y = new float[seqQ * hidden];
        using var pool = threads > 0 ? new WorkerPool(threads) : null;
        Kernels.Attention(q, k, v, mask, y, new float[Kernels.AttentionScratchLength(1, heads, seqK, headDim, headDim)], 1, heads, seqQ, seqK, headDim, headDim, 0.2f,
            0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, seqK, 0, hidden, headDim, pool);
        var l = new Layout(0, 0, hidden, headDim);
        for (int h = 0; h < heads; h++)
        for (int d = 0; d < headDim; d++)
        {
            Assert.True(float.IsNaN(y[l.At(0, 1, h, d)]), $"head {h} column {d} of the −∞ row is {y[l.At(0, 1, h, d)]}");
            double mean = 0;
            for (int j = 0; j < seqK; j++) mean += v[l.At(0, j, h, d)] / (double)seqK;
            Assert.True(Math.Abs(mean - y[l.At(0, 2, h, d)]) < 1e-5, $"head {h} column {d}: {y[l.At(0, 2, h, d)]} is not the mean {mean}");
            foreach (int i in new[] { 0, 3, 4 }) Assert.False(float.IsNaN(y[l.At(0, i, h, d)]));
        }
    }

    [Fact]
    public void ThreadedAttentionAllocatesNothing()
    {
        int heads = 12, seq = 64, headDim = 26, hidden = heads * headDim;
        float[] q = Random(seq * hidden, 1), k = Random(seq * hidden, 2), v = Random(seq * hidden, 3), mask = new float[seq];
        var y = new float[seq * hidden];
        var scores = new float[Kernels.AttentionScratchLength(1, heads, seq, headDim, headDim)];
        using var pool = new WorkerPool(2);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() => Kernels.Attention(q, k, v, mask, y, scores, 1, heads, seq, seq, headDim, headDim, 0.2f,
            0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, seq, 0, 0, 0, hidden, headDim, pool)));
    }
}
