using EdgeCompile.Tests.Shared;
using System;
using System.Collections.Generic;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

public class GemmKernelTests
{
    private static double[] ReferenceMatMul(float[] a, float[] b, int batch, int m, int k, int n, int aStride, int bStride, bool transposeB)
    {
        var y = new double[batch * m * n];
        for (int t = 0; t < batch; t++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)a[t * aStride + i * k + p] * b[t * bStride + (transposeB ? j * k + p : p * n + j)];
                    y[(t * m + i) * n + j] = s;
                }
        return y;
    }

    public static IEnumerable<object[]> Shapes()
    {
        int[][] shapes =
        {
            new[] { 1, 1, 1 }, new[] { 1, 7, 9 }, new[] { 4, 8, 16 }, new[] { 5, 9, 17 }, new[] { 7, 31, 33 },
            new[] { 9, 33, 8 }, new[] { 3, 100, 31 }, new[] { 13, 300, 40 }, new[] { 8, 520, 24 }, new[] { 2, 0, 5 },
            new[] { 33, 64, 100 },
        };
        foreach (int[] s in shapes)
        {
            yield return new object[] { s[0], s[1], s[2], false };
            yield return new object[] { s[0], s[1], s[2], true };
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatMulMatchesReference(int m, int k, int n, bool transposeB)
    {
        const int batch = 3;
        float[] a = Random(batch * m * k, m * 1000 + k, -1, 1);
        float[] b = Random(batch * k * n, n * 1000 + k, -1, 1);
        var y = new float[batch * m * n];
        Kernels.MatMul(a, b, y, batch: batch, m: m, k: k, n: n, aBatchStride: m * k, bBatchStride: k * n, transposeB: transposeB);
        Close(ReferenceMatMul(a, b, batch, m, k, n, m * k, k * n, transposeB), y, atol: 2e-6 * Math.Sqrt(k + 1), rtol: 1e-5, what: "MatMul");

        // Broadcast b (stride 0), a per batch; and broadcast a.
        Array.Fill(y, float.NaN);
        Kernels.MatMul(a, b, y, batch: batch, m: m, k: k, n: n, aBatchStride: m * k, bBatchStride: 0, transposeB: transposeB);
        Close(ReferenceMatMul(a, b, batch, m, k, n, m * k, 0, transposeB), y, atol: 2e-6 * Math.Sqrt(k + 1), rtol: 1e-5, what: "MatMul b broadcast");
        Kernels.MatMul(a, b, y, batch: batch, m: m, k: k, n: n, aBatchStride: 0, bBatchStride: k * n, transposeB: transposeB);
        Close(ReferenceMatMul(a, b, batch, m, k, n, 0, k * n, transposeB), y, atol: 2e-6 * Math.Sqrt(k + 1), rtol: 1e-5, what: "MatMul a broadcast");
    }

    [Fact]
    public void MatMulValidatesLengths()
    {
        Assert.Throws<ArgumentException>(() => Kernels.MatMul(new float[5], new float[6], new float[4], 1, 2, 3, 2, 6, 6, false));
        Assert.Throws<ArgumentException>(() => Kernels.MatMul(new float[6], new float[5], new float[4], 1, 2, 3, 2, 6, 6, false));
        Assert.Throws<ArgumentException>(() => Kernels.MatMul(new float[6], new float[6], new float[5], 1, 2, 3, 2, 6, 6, false));
        Assert.Throws<ArgumentException>(() => Kernels.MatMul(new float[6], new float[6], new float[8], 2, 2, 3, 2, 6, 0, false));
    }

    private static double Act(double x, Activation act) => act switch
    {
        Activation.None => x,
        Activation.Relu => Math.Max(0, x),
        Activation.Gelu => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        Activation.Tanh => Math.Tanh(x),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        Activation.Silu => x / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    public static IEnumerable<object[]> DenseCases()
    {
        foreach (Activation act in Enum.GetValues<Activation>())
        {
            yield return new object[] { 5, 33, 17, act, true };
            yield return new object[] { 8, 64, 48, act, false };
        }
        yield return new object[] { 1, 1, 1, Activation.None, true };
        yield return new object[] { 9, 300, 100, Activation.Gelu, true };
        yield return new object[] { 4, 7, 31, Activation.Relu, true };
    }

    [Theory]
    [MemberData(nameof(DenseCases))]
    public void DenseMatchesReference(int rows, int k, int n, Activation activation, bool withBias)
    {
        float[] x = Random(rows * k, rows + k, -1, 1);
        float[] w = Random(k * n, k + n, -1, 1);
        float[] bias = withBias ? Random(n, n, -1, 1) : Array.Empty<float>();
        var y = new float[rows * n];
        Kernels.Dense(x, w, bias, y, rows: rows, k: k, n: n, activation: activation);
        double[] expected = ReferenceMatMul(x, w, 1, rows, k, n, 0, 0, false);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
                expected[r * n + j] = Act(expected[r * n + j] + (withBias ? bias[j] : 0), activation);
        Close(expected, y, atol: 2e-6 * Math.Sqrt(k + 1), rtol: 1e-5, what: $"Dense {activation}");
    }

    [Fact]
    public void DenseValidates()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Dense(new float[6], new float[6], new float[3], new float[4], 2, 3, 2, Activation.None));
        Assert.Throws<ArgumentException>(() => Kernels.Dense(new float[6], new float[5], default, new float[4], 2, 3, 2, Activation.None));
        Assert.Throws<ArgumentException>(() => Kernels.Dense(new float[6], new float[6], default, new float[5], 2, 3, 2, Activation.None));
    }

    [Fact]
    public void DenseAndMatMulAllocateNothing()
    {
        float[] x = Random(16 * 64, 1), w = Random(64 * 96, 2), bias = Random(96, 3);
        var y = new float[16 * 96];
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
        {
            Kernels.Dense(x, w, bias, y, 16, 64, 96, Activation.Gelu);
            Kernels.MatMul(x, w, y, 1, 16, 64, 96, 0, 0, false);
            Kernels.MatMul(x, w, y.AsSpan(0, 16 * 16), 1, 16, 64, 16, 0, 0, true);
        }));
    }
}
