using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// An n-D iteration space with one stride vector per operand (in elements), simplified by
/// dropping unit dimensions and merging neighbours that every operand walks contiguously.
/// Broadcasting, Transpose, Slice, Concat and Expand all become one of these.
/// </summary>
public sealed class StridedSpace
{
    public StridedSpace(DimExpr[] dims, DimExpr[][] strides)
    {
        Dims = dims;
        Strides = strides;
    }

    public DimExpr[] Dims { get; private set; }
    public DimExpr[][] Strides { get; private set; }

    public static DimExpr[] Contiguous(DimExpr[] shape)
    {
        var s = new DimExpr[shape.Length];
        var acc = DimExpr.One;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>Strides of <paramref name="shape"/> read as the (broadcast) <paramref name="outShape"/>.</summary>
    public static DimExpr[] BroadcastStrides(DimExpr[] shape, DimExpr[] outShape)
    {
        var own = Contiguous(shape);
        var s = new DimExpr[outShape.Length];
        for (int o = 0; o < outShape.Length; o++)
        {
            int i = o - (outShape.Length - shape.Length);
            s[o] = i < 0 || (shape[i] == DimExpr.One && outShape[o] != DimExpr.One) ? DimExpr.Const(0) : own[i];
        }
        return s;
    }

    public StridedSpace Simplify()
    {
        var dims = new List<DimExpr>();
        var strides = Strides.Select(_ => new List<DimExpr>()).ToArray();
        for (int i = 0; i < Dims.Length; i++)
        {
            if (Dims[i] == DimExpr.One) continue;
            // The previous kept dimension and this one are one walk for every operand when the
            // previous stride is this stride times this size.
            bool merge = dims.Count > 0 && Enumerable.Range(0, Strides.Length).All(k => strides[k][^1] == Strides[k][i] * Dims[i]);
            if (merge)
            {
                dims[^1] *= Dims[i];
                for (int k = 0; k < Strides.Length; k++) strides[k][^1] = Strides[k][i];
                continue;
            }
            dims.Add(Dims[i]);
            for (int k = 0; k < Strides.Length; k++) strides[k].Add(Strides[k][i]);
        }
        return new StridedSpace(dims.ToArray(), strides.Select(s => s.ToArray()).ToArray());
    }

    /// <summary>Pads with leading unit dimensions (stride 0) to exactly <paramref name="rank"/>.</summary>
    public StridedSpace PadTo(int rank, string node)
    {
        if (Dims.Length > rank)
            throw new CompilerException(Codes.UnsupportedOperatorForm, $"the operation needs {Dims.Length} dimensions after simplification; EdgeCompile's kernels take at most {rank}.", node);
        int pad = rank - Dims.Length;
        return new StridedSpace(
            Enumerable.Repeat(DimExpr.One, pad).Concat(Dims).ToArray(),
            Strides.Select(s => Enumerable.Repeat(DimExpr.Const(0), pad).Concat(s).ToArray()).ToArray());
    }
}
