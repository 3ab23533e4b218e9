using System;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// The weight layout the profiles' GEMM micro-kernels read (runtime <c>Kernels.Dense&lt;TShape&gt;</c>): a
/// <c>[K,N]</c> matrix cut into panels of <c>P</c> columns, each panel stored as <c>K</c> rows of <c>P</c>
/// consecutive floats, the last panel zero-padded. A micro-kernel then streams one panel with unit stride
/// and no edge cases, and nothing is re-laid-out per call.
/// </summary>
public static class PanelPacking
{
    /// <summary>
    /// Columns per panel for a profile: one 512-bit register on <c>x64-avx512</c>, two 256-bit or four 128-bit
    /// registers everywhere else.
    /// </summary>
    public static int PanelWidth(string profile) => profile == "x64-avx512" ? 32 : 16;

    /// <summary>Packs a row-major float <c>[K,N]</c> constant; the result is one-dimensional.</summary>
    public static ConstTensor Pack(ConstTensor w, int panel)
    {
        if (w.Shape.Length != 2 || w.Real is null) throw new ArgumentException("a two-dimensional float matrix is needed", nameof(w));
        int k = checked((int)w.Shape[0]), n = checked((int)w.Shape[1]);
        int panels = (n + panel - 1) / panel;
        var packed = new double[checked((long)panels * k * panel)];
        for (int p = 0; p < panels; p++)
        {
            int columns = Math.Min(panel, n - p * panel);
            for (int i = 0; i < k; i++)
                Array.Copy(w.Real, (long)i * n + p * panel, packed, ((long)p * k + i) * panel, columns);
        }
        return ConstTensor.Floats(w.Type, new[] { packed.LongLength }, packed);
    }
}
