using System.Collections.Generic;
using System.Linq;

namespace EdgeCompile.Compiler.Ir;

/// <summary>How a Dense weight's columns sit in the ONNX initializer they were taken from.</summary>
public enum WeightFrame
{
    /// <summary>The initializer is the <c>[K,N]</c> matrix itself (MatMul, Gemm with transB=0).</summary>
    AsIs,
    /// <summary>The initializer is <c>[N,K]</c>: the Dense weight is its transpose (Gemm with transB=1).</summary>
    Transposed,
    /// <summary>
    /// The initializer is a Conv filter <c>[N,C,kh,kw]</c>: the Dense weight is the transpose of its <c>[N, C·kh·kw]</c>
    /// view (the patch embedding lowered to patchify + Dense).
    /// </summary>
    ConvFilter,
}

/// <summary>
/// Columns <c>[Offset, Offset+Count)</c> of a Dense weight are the whole of ONNX initializer <paramref name="Initializer"/>,
/// laid out as <paramref name="Frame"/> says. A merged projection (BERT's q|k|v) has one slice per original weight.
/// </summary>
public sealed record WeightSlice(string Initializer, long Offset, long Count, WeightFrame Frame);

/// <summary>
/// Where the <c>[K,N]</c> weight of a layer lowered to a Dense comes from in the ONNX file, so that a quantized weight
/// can be written back in the initializer's own frame (the reference ONNX file, docs/quantization.md). Null when the
/// weight is not a plain rearrangement of initializers (folded BatchNorm or affine, Gemm alpha ≠ 1, constant-folded
/// transposes): such a layer has no place in the reference file.
/// </summary>
public static class WeightOrigins
{
    /// <summary>The origin of the constant weight of a Dense, MatMul, Gemm or (patch) Conv node, or null.</summary>
    public static IReadOnlyList<WeightSlice>? ForLayer(Node layer)
    {
        if (layer.Input(1) is not { Const: not null } w) return null;
        switch (layer.OpType)
        {
            case Passes.FusedOps.Dense or "MatMul":
                return w.Rank == 2 ? Of(w) : null;
            case "Gemm":
                if (layer.Float("alpha", 1.0) != 1.0 || w.SourceInitializer is not { } gemm || w.Rank != 2) return null;
                bool transposed = layer.Int("transB", 0) != 0;
                return new[] { new WeightSlice(gemm, 0, w.Const.Shape[transposed ? 0 : 1], transposed ? WeightFrame.Transposed : WeightFrame.AsIs) };
            case "Conv":
                return w.SourceInitializer is { } filter ? new[] { new WeightSlice(filter, 0, w.Const.Shape[0], WeightFrame.ConvFilter) } : null;
            default:
                return null;
        }
    }

    /// <summary>The origin of a 2-D weight value read as <c>[K,N]</c>: set by the pass that built it, or the initializer itself.</summary>
    public static IReadOnlyList<WeightSlice>? Of(Value w) =>
        w.WeightOrigin ?? (w.SourceInitializer is { } name && w.Const is { Shape.Length: 2 } c ? new[] { new WeightSlice(name, 0, c.Shape[1], WeightFrame.AsIs) } : null);

    /// <summary>The origin of weights placed side by side along N, or null if any part has none.</summary>
    public static IReadOnlyList<WeightSlice>? Concatenated(IEnumerable<Value> parts)
    {
        var slices = new List<WeightSlice>();
        long offset = 0;
        foreach (var part in parts)
        {
            if (Of(part) is not { } origin) return null;
            slices.AddRange(origin.Select(s => s with { Offset = offset + s.Offset }));
            offset += part.Const!.Shape[1];
        }
        return slices;
    }
}
