using System;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>Where one of q, k, v lives: element (b, i, h, d) is at Offset + b·Batch + i·Row + h·Head + d.</summary>
public sealed record AttentionOperand(DimExpr Offset, DimExpr BatchStride, DimExpr RowStride, DimExpr HeadStride);

/// <summary>An additive mask or bias: element (b, h, i, j) is at b·Batch + h·Head + i·Row + j.</summary>
public sealed record AttentionMask(DimExpr BatchStride, DimExpr HeadStride, DimExpr RowStride);

public sealed record AttentionLayout(DimExpr Batch, DimExpr Heads, DimExpr SeqQ, DimExpr SeqK, DimExpr HeadDim, DimExpr ValueDim, double Scale,
    AttentionOperand Q, AttentionOperand K, AttentionOperand V, AttentionMask? Mask);

/// <summary>The operators that fusion passes create; they are not ONNX operators.</summary>
public static class FusedOps
{
    /// <summary>x·W + b with an optional activation; inputs (x, W [K,N], b?), attribute "activation".</summary>
    public const string Dense = "EdgeCompile.Dense";
    /// <summary>x · sigmoid(x) (SiLU, Swish), which ONNX has no operator for.</summary>
    public const string Silu = "EdgeCompile.Silu";
    /// <summary>
    /// Per-channel affine over the last axis, after an optional residual sum: y = (x [+ r])·scale + shift; inputs
    /// (x, r?, scale [N], shift [N]). MobileBERT's NoNorm after its residual Add.
    /// </summary>
    public const string ScaleShift = "EdgeCompile.ScaleShift";
    /// <summary>Scaled-dot-product attention; inputs (q, k, v, mask?), payload <see cref="AttentionLayout"/>.</summary>
    public const string Attention = "EdgeCompile.Attention";

    public static AttentionLayout ReadAttention(Node n) =>
        n.Payload as AttentionLayout ?? throw new InvalidOperationException($"attention node {n.Name} has no layout");

    /// <summary>BatchNormalization's per-channel y = x·scale + shift, from its (constant) statistics.</summary>
    public static (ConstTensor Scale, ConstTensor Shift) BatchNormAffine(Node n)
    {
        var consts = Enumerable.Range(1, 4).Select(i => n.In(i).Const
            ?? throw new CompilerException(Codes.UnsupportedOperatorForm, "BatchNormalization needs constant scale, bias, mean and variance.", n.Name)).ToArray();
        var (gamma, beta, mean, variance) = (consts[0], consts[1], consts[2], consts[3]);
        double eps = n.Float("epsilon", 1e-5);
        int c = gamma.Count;
        var scale = new double[c];
        var shift = new double[c];
        for (int i = 0; i < c; i++)
        {
            scale[i] = gamma[i] / Math.Sqrt(variance[i] + eps);
            shift[i] = beta[i] - mean[i] * scale[i];
        }
        return (ConstTensor.Floats(ElementType.Float32, new long[] { c }, scale), ConstTensor.Floats(ElementType.Float32, new long[] { c }, shift));
    }
}
