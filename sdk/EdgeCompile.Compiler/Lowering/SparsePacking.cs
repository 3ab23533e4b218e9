using System;
using System.Collections.Generic;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// The weight layout of the runtime's <c>Kernels.DenseSparse</c> (docs/plan-format.md, "DenseSparse"): a row-major
/// <c>[K,N]</c> FP32 matrix by its nonzeros, output column by output column. Three weights: the nonzero values
/// (float32, column 0's first), their row indices (uint16 little-endian, two bytes each, stored as uint8 because the
/// plan has no 16-bit integer type) and the column starts (int32, N+1 entries).
/// </summary>
public static class SparsePacking
{
    /// <summary>Largest K the 16-bit row indices can address.</summary>
    public const int MaxK = ushort.MaxValue + 1;

    /// <summary>Nonzeros of a constant float matrix (exact zeros only: what pruning leaves).</summary>
    public static long CountNonzeros(ConstTensor w)
    {
        long count = 0;
        foreach (double v in w.Real!) count += v != 0 ? 1 : 0;
        return count;
    }

    /// <summary>Bytes <see cref="Pack"/> stores for a <c>[K,N]</c> matrix with <paramref name="nonzeros"/> nonzeros: 4 + 2 per nonzero, 4 per column + 4.</summary>
    public static long StoredBytes(long n, long nonzeros) => nonzeros * (sizeof(float) + sizeof(ushort)) + (n + 1) * sizeof(int);

    public static (ConstTensor Values, ConstTensor Indices, ConstTensor Starts) Pack(ConstTensor w)
    {
        if (w.Shape.Length != 2 || w.Real is null) throw new ArgumentException("a two-dimensional float matrix is needed", nameof(w));
        int k = checked((int)w.Shape[0]), n = checked((int)w.Shape[1]);
        if (k > MaxK) throw new ArgumentException($"K = {k} is beyond the {MaxK} rows 16-bit indices address", nameof(w));
        var values = new List<double>();
        var indices = new List<long>();
        var starts = new long[n + 1];
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < k; i++)
            {
                double v = w.Real[(long)i * n + j];
                if (v == 0) continue;
                values.Add(v);
                indices.Add(i & 0xFF);
                indices.Add(i >> 8);
            }
            starts[j + 1] = values.Count;
        }
        return (ConstTensor.Floats(ElementType.Float32, new[] { (long)values.Count }, values.ToArray()),
                ConstTensor.Ints(ElementType.UInt8, new[] { (long)indices.Count }, indices.ToArray()),
                ConstTensor.Ints(ElementType.Int32, new[] { (long)starts.Length }, starts));
    }
}
