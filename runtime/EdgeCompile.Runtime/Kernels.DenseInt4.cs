using System;
using System.Runtime.CompilerServices;

namespace EdgeCompile.Runtime;

/// <summary>
/// The build-time shape of a fully connected layer with block-quantized weights: <see cref="IDenseShape"/> plus the
/// number of consecutive k that share one scale within a column.
/// </summary>
public interface IDenseBlockShape : IDenseShape
{
    /// <summary>k values per scale block (32 for INT4); the last block of a column may be shorter.</summary>
    static abstract int Block { get; }
}

public static unsafe partial class Kernels
{
    /// <summary>
    /// Fully connected layer on INT4 weights with Half block scales (weight-only quantization,
    /// docs/quantization.md): <c>y[r,j] = act(Σ_i x[r,i]·(float)q[i,j]·(float)s[i/Block,j] + bias[j])</c>.
    /// Element <c>e = p·K·P + i·P + c</c> of <see cref="Dense{TShape}"/>'s float panel layout is nibble <c>e/2</c>
    /// of <paramref name="w"/> (the low nibble for even e), two's complement in [-8,7]: <c>⌈N/P⌉·K·P/2</c> bytes.
    /// The scale of block b of panel column c is <c>scales[p·nb·P + b·P + c]</c>, <c>nb = ⌈K/Block⌉</c>: length
    /// <c>⌈N/P⌉·nb·P</c>. Each kc × NR slice is unpacked and scaled to float in L1 and the FP32 micro-kernels run
    /// over it, so the result is bit for bit that of <see cref="Dense{TShape}"/> on the dequantized weights.
    /// </summary>
    public static void DenseInt4<TShape>(ReadOnlySpan<float> x, ReadOnlySpan<byte> w, ReadOnlySpan<Half> scales, ReadOnlySpan<float> bias,
        Span<float> y, int rows, Activation activation, WorkerPool? workers) where TShape : struct, IDenseBlockShape
    {
        int k = TShape.K, n = TShape.N, panel = TShape.Panel, block = TShape.Block;
        if (block <= 0) ThrowBadShape(typeof(TShape), "Block must be positive");
        // The panel length K·P is even (P is 16 or 32), so the nibbles fill whole bytes.
        CheckDense<TShape>(x.Length, w.Length, PackedDenseLength(k, n, panel) / 2, bias.Length, y.Length, rows, activation);
        Guard.Length(scales.Length, Int4ScaleLength(k, n, panel, block), nameof(scales));
        if (rows == 0 || n == 0) return;

        // Pinned for the whole call, including the time worker threads use the pointers (see Dense).
        fixed (float* px = x, pbias = bias, py = y)
        fixed (byte* pw = w)
        fixed (Half* ps = scales)
        {
            var args = new DenseArgs(px, bias.IsEmpty ? null : pbias, py, rows, activation);
            DenseDispatch<TShape, Int4Panels<TShape>>(args, new Int4Panels<TShape>(pw, (ushort*)ps), workers);
        }
    }

    /// <summary>Length of the Half block scales of <see cref="DenseInt4{TShape}"/>: <c>⌈N/P⌉·⌈K/Block⌉·P</c>.</summary>
    public static long Int4ScaleLength(int k, int n, int panel, int block)
    {
        Guard.Positive(panel, nameof(panel));
        Guard.Positive(block, nameof(block));
        return (long)((n + panel - 1) / panel) * ((k + block - 1) / block) * panel;
    }
}

/// <summary>INT4 panels with Half block scales (<see cref="Kernels.DenseInt4{TShape}"/>): each slice is unpacked,
/// scaled and widened into the buffer, one scale block at a time.</summary>
internal readonly unsafe struct Int4Panels<TShape>(byte* w, ushort* scales) : IPanelSource where TShape : struct, IDenseBlockShape
{
    private readonly byte* _w = w;
    private readonly ushort* _scales = scales;

    public static bool Widens => true;
    public static int RowBytes => TShape.Panel / 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Row(int p, int k0) => _w + ((nint)p * TShape.K + k0) * (TShape.Panel / 2);

    public float* Slice(float* buffer, int p, int s, int k0, int kc, int nr)
    {
        int block = TShape.Block, blocks = (TShape.K + block - 1) / block;
        nint panel = TShape.Panel;
        byte* rows = Row(p, k0) + s / 2;  // s is a multiple of the micro-kernel width, so even
        ushort* panelScales = _scales + (nint)p * blocks * panel + s;
        for (int i = 0; i < kc;)
        {
            // The rows of this slice that share scale block b.
            int b = (k0 + i) / block, end = Math.Min(kc, (b + 1) * block - k0);
            WeightWidening.Int4RowsToSingle(rows + i * (panel / 2), panel / 2, panelScales + b * panel, buffer + i * panel, panel, end - i, nr);
            i = end;
        }
        return buffer;
    }
}
