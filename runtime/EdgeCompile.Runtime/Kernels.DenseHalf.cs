using System;
using System.Runtime.CompilerServices;

namespace EdgeCompile.Runtime;

public static unsafe partial class Kernels
{
    /// <summary>
    /// Fully connected layer on FP16 weights (weight-only quantization, docs/quantization.md):
    /// <c>y[r,j] = act(Σ_i x[r,i]·(float)W[i,j] + bias[j])</c>, with <c>w</c> laid out exactly as
    /// <see cref="Dense{TShape}"/>'s float panels, as Half (length <c>⌈N/P⌉·K·P</c>). Each kc × NR slice of W is
    /// widened to float in L1 and the FP32 micro-kernels run over it, so the result is bit for bit that of
    /// <see cref="Dense{TShape}"/> on the widened weights, while half the weight bytes are read from memory.
    /// </summary>
    public static void DenseHalf<TShape>(ReadOnlySpan<float> x, ReadOnlySpan<Half> w, ReadOnlySpan<float> bias, Span<float> y,
        int rows, Activation activation, WorkerPool? workers) where TShape : struct, IDenseShape
    {
        CheckDense<TShape>(x.Length, w.Length, PackedDenseLength(TShape.K, TShape.N, TShape.Panel), bias.Length, y.Length, rows, activation);
        if (rows == 0 || TShape.N == 0) return;

        // Pinned for the whole call, including the time worker threads use the pointers (see Dense).
        fixed (float* px = x, pbias = bias, py = y)
        fixed (Half* pw = w)
        {
            var args = new DenseArgs(px, bias.IsEmpty ? null : pbias, py, rows, activation);
            DenseDispatch<TShape, HalfPanels<TShape>>(args, new HalfPanels<TShape>((ushort*)pw), workers);
        }
    }
}

/// <summary>Half panels (<see cref="Kernels.DenseHalf{TShape}"/>): each slice is widened into the buffer.</summary>
internal readonly unsafe struct HalfPanels<TShape>(ushort* w) : IPanelSource where TShape : struct, IDenseShape
{
    private readonly ushort* _w = w;

    public static bool Widens => true;
    public static int RowBytes => TShape.Panel * sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Row(int p, int k0) => (byte*)(_w + ((nint)p * TShape.K + k0) * TShape.Panel);

    public float* Slice(float* buffer, int p, int s, int k0, int kc, int nr)
    {
        nint panel = TShape.Panel;
        WeightWidening.HalfRowsToSingle(_w + ((nint)p * TShape.K + k0) * panel + s, panel, buffer, panel, kc, nr);
        return buffer;
    }
}
