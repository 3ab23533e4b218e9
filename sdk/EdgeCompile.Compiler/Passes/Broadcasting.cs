using System;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>NumPy-style multidirectional broadcasting over symbolic shapes.</summary>
public static class Broadcasting
{
    public static DimExpr[] Shape(string node, params DimExpr[][] shapes)
    {
        int rank = shapes.Max(s => s.Length);
        var result = new DimExpr[rank];
        for (int i = 0; i < rank; i++)
        {
            DimExpr? d = null;
            foreach (var s in shapes)
            {
                int j = i - (rank - s.Length);
                if (j < 0) continue;
                var e = s[j];
                if (d is null || d == DimExpr.One) d = e;
                else if (e == DimExpr.One || e == d) { }
                else if (d.IsConstant != e.IsConstant) d = d.IsConstant ? d : e; // a named dimension must equal the fixed one at run time
                else throw new CompilerException(Codes.InvalidModel, $"shapes [{string.Join(",", shapes.Select(x => string.Join("x", x.Select(y => y.ToString()))))}] do not broadcast", node);
            }
            result[i] = d ?? DimExpr.One;
        }
        return result;
    }

    public static long[] Shape(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            long y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (x != y && x != 1 && y != 1) throw new CompilerException(Codes.InvalidModel, $"constant shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast");
            r[i] = x == 1 ? y : x;
        }
        return r;
    }

    /// <summary>Element strides of a tensor of <paramref name="shape"/> read as <paramref name="outShape"/> (0 on broadcast axes).</summary>
    public static long[] Strides(long[] shape, long[] outShape)
    {
        var strides = new long[outShape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            int o = i + outShape.Length - shape.Length;
            strides[o] = shape[i] == 1 && outShape[o] != 1 ? 0 : s;
            s *= shape[i];
        }
        return strides;
    }

    /// <summary>Row-major index of <paramref name="flat"/> in <paramref name="outShape"/> mapped through <paramref name="strides"/>.</summary>
    public static long Offset(long flat, long[] outShape, long[] strides)
    {
        long off = 0;
        for (int i = outShape.Length - 1; i >= 0; i--)
        {
            long idx = flat % outShape[i];
            flat /= outShape[i];
            off += idx * strides[i];
        }
        return off;
    }
}
