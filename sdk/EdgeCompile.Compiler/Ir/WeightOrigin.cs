using System;
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

/// <summary>
/// Where a Dense's <c>[K,N]</c> weight sits in the <c>[FullRows, FullColumns]</c> weight that <paramref name="Origin"/> maps to
/// ONNX initializers: plan row i is row <c>Rows[i]</c> and plan column j is column <c>Columns[j]</c> (ascending; null: all of
/// them, in order). Attention head pruning shrinks the q/k/v projections' columns and the output projection's rows while the
/// pruned ONNX file keeps the full shapes (its Reshapes hard-code the head count), so the reference ONNX file writes a
/// quantized weight back at full size with the removed rows and columns exactly zero (<see cref="Matrix"/>).
/// </summary>
public sealed record WeightPlacement(IReadOnlyList<WeightSlice> Origin, int FullRows, int FullColumns, int[]? Rows, int[]? Columns)
{
    /// <summary>A weight that is the whole of its origin.</summary>
    public static WeightPlacement Whole(IReadOnlyList<WeightSlice> origin, int k, int n) => new(origin, k, n, null, null);

    /// <summary>The weight itself, or the full matrix with its values at their rows and columns and <c>default</c> (0) elsewhere.</summary>
    public T[] Matrix<T>(T[] m, int k, int n)
    {
        if (Rows is null && Columns is null) return m;
        var full = new T[(long)FullRows * FullColumns];
        for (int i = 0; i < k; i++)
        {
            long row = (long)Row(i) * FullColumns;
            for (int j = 0; j < n; j++) full[row + Column(j)] = m[(long)i * n + j];
        }
        return full;
    }

    /// <summary>
    /// Per-column values (INT8 scales) at full width; a removed column gets <paramref name="fill"/> (its integers are all 0,
    /// so any valid scale dequantizes them to exactly 0).
    /// </summary>
    public T[] PerColumn<T>(T[] values, T fill)
    {
        if (Columns is null) return values;
        var full = Enumerable.Repeat(fill, FullColumns).ToArray();
        for (int j = 0; j < values.Length; j++) full[Columns[j]] = values[j];
        return full;
    }

    /// <summary>
    /// INT4 scales <c>[⌈K/block⌉, N]</c> (blocks of <paramref name="block"/> consecutive plan rows) at full size, with the block
    /// size the full matrix needs: removed rows sit between kept ones, so a block of the full matrix may straddle two plan
    /// blocks with different scales. The largest divisor of <paramref name="block"/> (at least 2, DequantizeLinear's minimum)
    /// for which every full block's kept rows lie in one plan block reproduces the plan's integers and scales exactly (with
    /// heads of an even size d, gcd(block, d) always does). Blocks and columns with no kept value get scale 1. Null when no
    /// block size fits.
    /// </summary>
    public (Half[] Scales, int Block)? BlockScales(Half[] scales, int k, int n, int block)
    {
        if (Rows is null && Columns is null) return (scales, block);
        for (int b = block; b >= 2; b--)
        {
            if (block % b != 0) continue;
            var planBlock = PlanBlockOfFullBlocks(k, block, b);
            if (planBlock is null) continue;
            var full = Enumerable.Repeat(Half.One, planBlock.Length * FullColumns).ToArray();
            for (int f = 0; f < planBlock.Length; f++)
                if (planBlock[f] >= 0)
                    for (int j = 0; j < n; j++) full[(long)f * FullColumns + Column(j)] = scales[(long)planBlock[f] * n + j];
            return (full, b);
        }
        return null;
    }

    /// <summary>For each block of <paramref name="b"/> full rows, the one plan block its kept rows are in (-1: none kept); null if some straddle two.</summary>
    private int[]? PlanBlockOfFullBlocks(int k, int block, int b)
    {
        var result = Enumerable.Repeat(-1, (FullRows + b - 1) / b).ToArray();
        for (int i = 0; i < k; i++)
        {
            int f = Row(i) / b, p = i / block;
            if (result[f] >= 0 && result[f] != p) return null;
            result[f] = p;
        }
        return result;
    }

    private int Row(int i) => Rows is null ? i : Rows[i];
    private int Column(int j) => Columns is null ? j : Columns[j];
}
