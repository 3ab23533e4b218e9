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
        var scores = new float[seqK + 3];
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
        var scores = new float[seq];
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
        Kernels.Attention(q, k, v, mask, y, new float[seq], 1, heads, seq, seq, headDim, valueDim, 0.5f,
            0, 0, ql.Row, ql.Head, 0, 0, ql.Row, ql.Head, 0, 0, vl.Row, vl.Head, 0, 0, seq, 0, vl.Row, vl.Head);
        Close(Reference(q, k, v, mask, 1, heads, seq, seq, headDim, valueDim, 0.5f, ql, ql, vl, (0, 0, seq), vl, y.Length), y, atol: 2e-6, rtol: 1e-5, what: "Attention causal");
    }

    [Fact]
    public void ValidatesAndAllocatesNothing()
    {
        int heads = 4, seq = 16, headDim = 16, hidden = heads * headDim;
        float[] q = Random(seq * hidden, 1), k = Random(seq * hidden, 2), v = Random(seq * hidden, 3), mask = new float[seq];
        var y = new float[seq * hidden];
        var scores = new float[seq];
        void Run(Span<float> s) => Kernels.Attention(q, k, v, mask, y, s, 1, heads, seq, seq, headDim, headDim, 0.25f,
            0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, 0, 0, hidden, headDim);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() => Run(scores)));

        Assert.Throws<ArgumentException>(() => Run(new float[seq - 1]));
        Assert.Throws<ArgumentException>(() => Kernels.Attention(q, k, v, mask, y, scores, 1, heads, seq, seq, headDim, headDim, 0.25f,
            1, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, 0, 0, hidden, headDim));   // q offset runs past the end
        Assert.Throws<ArgumentException>(() => Kernels.Attention(q, k, v, mask, y, scores, 1, heads, seq, seq, headDim, headDim, 0.25f,
            0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, hidden, headDim, 0, 0, 1, 0, hidden, headDim));   // mask rows run past the end
    }
}
