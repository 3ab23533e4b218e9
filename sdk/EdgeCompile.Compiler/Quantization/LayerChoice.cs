using System;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>The number format a quantizable layer (a constant-weight Dense, an embedding Gather) runs in.</summary>
public enum Precision { Fp32, Fp16, Int8, Int4 }

/// <summary>
/// What the build decided for one quantizable layer. Decisions are keyed by the plan op's <c>Node</c> (the name of
/// the fused ONNX node the op was lowered from), which is unique per quantizable op. See docs/quantization.md.
/// </summary>
public sealed record LayerChoice(Precision Precision)
{
    /// <summary>INT8 only: the static activation scale from calibration; 0 means dynamic per-row quantization.</summary>
    public float InputScale { get; init; }

    /// <summary>
    /// INT4 only, with error compensation: the chosen integers (<c>[K,N]</c> row-major, each in [-8,7]) and their
    /// block scales (<c>[⌈K/32⌉,N]</c> row-major). Null: plain round-to-nearest from the weights.
    /// </summary>
    public sbyte[]? Int4Values { get; init; }

    /// <inheritdoc cref="Int4Values"/>
    public Half[]? Int4Scales { get; init; }
}
