using System;
using System.Numerics.Tensors;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// Scaled dot-product attention. For batch b, head h, query row i:
    /// <c>s_j = scale·Σ_d q[b,i,h,d]·k[b,j,h,d] + mask[b,h,i,j]</c>, <c>p = softmax(s)</c> (max subtracted),
    /// <c>y[b,i,h,:] = Σ_j p_j·v[b,j,h,:]</c>. Element (b,i,h,d) of q is at
    /// <c>qOffset + b·qBatchStride + i·qRowStride + h·qHeadStride + d</c>; likewise k, v and y (no offset);
    /// the mask element at <c>b·maskBatchStride + h·maskHeadStride + i·maskRowStride + j</c>; an empty mask adds nothing.
    /// <c>scores</c> is scratch of at least <c>seqK</c> floats. <c>y</c> must not overlap q, k, v.
    /// </summary>
    public static void Attention(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> mask,
        Span<float> y, Span<float> scores,
        int batch, int heads, int seqQ, int seqK, int headDim, int valueDim, float scale,
        int qOffset, int qBatchStride, int qRowStride, int qHeadStride,
        int kOffset, int kBatchStride, int kRowStride, int kHeadStride,
        int vOffset, int vBatchStride, int vRowStride, int vHeadStride,
        int maskBatchStride, int maskHeadStride, int maskRowStride,
        int yBatchStride, int yRowStride, int yHeadStride)
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
        bool hasMask = !mask.IsEmpty;
        if (hasMask) CheckAttentionOperand(mask.Length, nameof(mask), 0, batch, maskBatchStride, heads, maskHeadStride, seqQ, maskRowStride, seqK);
        Guard.AtLeast(scores.Length, seqK, nameof(scores));

        Span<float> s = scores.Slice(0, seqK);
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int qBase = qOffset + b * qBatchStride + h * qHeadStride;
            int kBase = kOffset + b * kBatchStride + h * kHeadStride;
            int vBase = vOffset + b * vBatchStride + h * vHeadStride;
            int mBase = b * maskBatchStride + h * maskHeadStride;
            int yBase = b * yBatchStride + h * yHeadStride;
            for (int i = 0; i < seqQ; i++)
            {
                ReadOnlySpan<float> qRow = q.Slice(qBase + i * qRowStride, headDim);
                for (int j = 0; j < s.Length; j++)
                    s[j] = TensorPrimitives.Dot(qRow, k.Slice(kBase + j * kRowStride, headDim)) * scale;
                if (hasMask) TensorPrimitives.Add(s, mask.Slice(mBase + i * maskRowStride, seqK), s);
                SoftmaxRow(s, s);

                Span<float> yRow = y.Slice(yBase + i * yRowStride, valueDim);
                TensorPrimitives.Multiply(v.Slice(vBase, valueDim), s[0], yRow);
                for (int j = 1; j < s.Length; j++)
                    TensorPrimitives.MultiplyAdd(v.Slice(vBase + j * vRowStride, valueDim), s[j], yRow, yRow);
            }
        }
    }

    private static void CheckAttentionOperand(int length, string name, int offset,
        int n0, int s0, int n1, int s1, int n2, int s2, int inner)
    {
        if ((offset | s0 | s1 | s2) < 0) throw new ArgumentException($"Attention offset and strides of {name} must be non-negative.", name);
        long last = offset + (long)(n0 - 1) * s0 + (long)(n1 - 1) * s1 + (long)(n2 - 1) * s2 + inner;
        Guard.AtLeast(length, last, name);
    }
}
