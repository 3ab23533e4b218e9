using System;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// The matrix arithmetic the structured pruners share (heads, FFN neurons, conv channels, residual channels): norms of
/// rows, the kept rows or columns of a row-major matrix, and giving a constant its pruned values.
/// </summary>
internal static class PrunedMatrix
{
    /// <summary>Gives a constant its pruned values and shape (the value keeps its name and initializer: see PrunedOnnxWriter).</summary>
    public static void Replace(Value v, long[] shape, double[] values)
    {
        v.Const = ConstTensor.Floats(ElementType.Float32, shape, values);
        v.Shape = shape.Select(DimExpr.Const).ToArray();
    }

    /// <summary>The Euclidean norm of row <paramref name="row"/> of a row-major matrix with rows <paramref name="width"/> long.</summary>
    public static double RowNorm(double[] m, int row, int width)
    {
        double sum = 0;
        for (int i = 0; i < width; i++) sum += m[(long)row * width + i] * m[(long)row * width + i];
        return Math.Sqrt(sum);
    }

    /// <summary>The rows <paramref name="kept"/> of a row-major matrix with rows <paramref name="width"/> long.</summary>
    public static double[] Rows(double[] m, int width, int[] kept)
    {
        var result = new double[(long)kept.Length * width];
        for (int i = 0; i < kept.Length; i++) Array.Copy(m, (long)kept[i] * width, result, (long)i * width, width);
        return result;
    }

    /// <summary>The columns <paramref name="kept"/> of a row-major matrix with rows <paramref name="width"/> long.</summary>
    public static double[] Columns(double[] m, int width, int[] kept)
    {
        int rows = m.Length / width;
        var result = new double[(long)rows * kept.Length];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < kept.Length; i++) result[(long)r * kept.Length + i] = m[(long)r * width + kept[i]];
        return result;
    }
}
