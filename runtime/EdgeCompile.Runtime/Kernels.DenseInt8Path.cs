using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// The integer micro-kernel <see cref="DenseInt8{TShape}"/> runs in this process for panels of
    /// <paramref name="panel"/> columns: <c>AvxVnni</c>, <c>Avx512BW</c> (32-column panels only), <c>Avx2</c>,
    /// <c>Dp</c> (arm64 sdot), <c>AdvSimd</c> (arm64 widening), <c>Vector128</c> or <c>Scalar</c>. For diagnostics and
    /// tests (which path a DOTNET_Enable* setting or a CPU leaves); the same checks in the same order as
    /// <see cref="DenseInt8{TShape}"/> (keep the two in step).
    /// </summary>
    public static string DenseInt8Path(int panel) =>
        AvxVnni.IsSupported ? "AvxVnni"
        : panel == 32 && Avx512BW.IsSupported ? "Avx512BW"
        : Avx2.IsSupported ? "Avx2"
        : AdvSimd.Arm64.IsSupported && Dp.IsSupported ? "Dp"
        : AdvSimd.Arm64.IsSupported ? "AdvSimd"
        : Vector128.IsHardwareAccelerated ? "Vector128"
        : "Scalar";
}
