using System;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>Evaluates operators on build-time constants (constant folding).</summary>
public static class ConstEval
{
    public static ConstTensor Elementwise(ConstTensor a, ConstTensor b, ElementType resultType, Func<double, double, double> real, Func<long, long, long> integer)
    {
        var shape = Broadcasting.Shape(a.Shape, b.Shape);
        var sa = Broadcasting.Strides(a.Shape, shape);
        var sb = Broadcasting.Strides(b.Shape, shape);
        long n = ConstTensor.ElementCount(shape);
        bool useReal = a.Type.IsFloat() || b.Type.IsFloat();
        if (useReal)
        {
            var r = new double[n];
            for (long i = 0; i < n; i++) r[i] = real(a[(int)Broadcasting.Offset(i, shape, sa)], b[(int)Broadcasting.Offset(i, shape, sb)]);
            return resultType.IsFloat() ? ConstTensor.Floats(resultType, shape, r) : ConstTensor.Ints(resultType, shape, r.Select(v => (long)v).ToArray());
        }
        var x = new long[n];
        for (long i = 0; i < n; i++) x[i] = integer(a.IntAt((int)Broadcasting.Offset(i, shape, sa)), b.IntAt((int)Broadcasting.Offset(i, shape, sb)));
        return ConstTensor.Ints(resultType, shape, x);
    }

    public static ConstTensor Unary(ConstTensor a, Func<double, double> f) =>
        a.Type.IsFloat()
            ? ConstTensor.Floats(a.Type, a.Shape, a.Real!.Select(f).ToArray())
            : ConstTensor.Ints(a.Type, a.Shape, a.Integer!.Select(v => (long)f(v)).ToArray());

    public static ConstTensor Where(ConstTensor c, ConstTensor x, ConstTensor y)
    {
        var shape = Broadcasting.Shape(Broadcasting.Shape(c.Shape, x.Shape), y.Shape);
        var sc = Broadcasting.Strides(c.Shape, shape);
        var sx = Broadcasting.Strides(x.Shape, shape);
        var sy = Broadcasting.Strides(y.Shape, shape);
        long n = ConstTensor.ElementCount(shape);
        var pick = new int[n];
        var fromX = new bool[n];
        for (long i = 0; i < n; i++)
        {
            fromX[i] = c.IntAt((int)Broadcasting.Offset(i, shape, sc)) != 0;
            pick[i] = (int)Broadcasting.Offset(i, shape, fromX[i] ? sx : sy);
        }
        if (x.Type.IsFloat())
            return new ConstTensor(x.Type, shape, Enumerable.Range(0, (int)n).Select(i => fromX[i] ? x.Real![pick[i]] : y.Real![pick[i]]).ToArray(), null);
        return new ConstTensor(x.Type, shape, null, Enumerable.Range(0, (int)n).Select(i => fromX[i] ? x.Integer![pick[i]] : y.Integer![pick[i]]).ToArray());
    }

    /// <summary>General strided gather: output index i reads input at offset + Σ idx_k·stride_k.</summary>
    public static ConstTensor Strided(ConstTensor x, long[] outShape, long[] strides, long offset)
    {
        long n = ConstTensor.ElementCount(outShape);
        var src = new int[n];
        for (long i = 0; i < n; i++) src[i] = (int)(offset + Broadcasting.Offset(i, outShape, strides));
        return x.Real is not null
            ? new ConstTensor(x.Type, outShape, src.Select(i => x.Real[i]).ToArray(), null)
            : new ConstTensor(x.Type, outShape, null, src.Select(i => x.Integer![i]).ToArray());
    }

    public static long[] ContiguousStrides(long[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    public static ConstTensor Transpose(ConstTensor x, int[] perm)
    {
        var inStrides = ContiguousStrides(x.Shape);
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        var strides = perm.Select(p => inStrides[p]).ToArray();
        return Strided(x, outShape, strides, 0);
    }

    public static ConstTensor Concat(ConstTensor[] parts, int axis)
    {
        var shape = (long[])parts[0].Shape.Clone();
        shape[axis] = parts.Sum(p => p.Shape[axis]);
        long outer = shape.Take(axis).Aggregate(1L, (a, b) => a * b);
        long inner = shape.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var real = parts[0].Real is not null ? new System.Collections.Generic.List<double>() : null;
        var ints = real is null ? new System.Collections.Generic.List<long>() : null;
        for (long o = 0; o < outer; o++)
            foreach (var p in parts)
            {
                long block = p.Shape[axis] * inner;
                for (long j = 0; j < block; j++)
                {
                    int idx = (int)(o * block + j);
                    if (real is not null) real.Add(p.Real![idx]); else ints!.Add(p.IntAt(idx));
                }
            }
        return new ConstTensor(parts[0].Type, shape, real?.ToArray(), ints?.ToArray());
    }
}
