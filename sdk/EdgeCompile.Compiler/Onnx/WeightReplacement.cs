using System;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// What one float initializer of the original ONNX file becomes in the reference file
/// (docs/quantization.md, "The reference ONNX file"). Every replacement is in the initializer's own
/// frame: values in the initializer's row-major order and axes numbered in its own shape, not in the
/// kernel's [K,N] frame (the caller undoes a Gemm transB or a patch-Conv reshape before handing it over;
/// see <see cref="Ir.WeightOrigin"/>).
/// </summary>
public abstract record WeightReplacement(string Initializer);

/// <summary>How the activation entering an INT8 layer is quantized (the data input of each MatMul/Gemm reading the weight).</summary>
public sealed record ActivationQuantization
{
    private ActivationQuantization(float scale) => Scale = scale;

    /// <summary>The static scale from calibration; 0 for dynamic per-row quantization.</summary>
    public float Scale { get; }

    public bool IsDynamic => Scale == 0;

    /// <summary>Per row of the [rows,K] input: m = max(|x|, 1e-30), q = clamp(round(x·(127/m)), ±127), s = m/127.</summary>
    public static ActivationQuantization Dynamic { get; } = new(0);

    /// <summary>One calibrated scale for every row: q = clamp(round(x·(1/scale)), ±127).</summary>
    public static ActivationQuantization Static(float scale) =>
        scale > 0 && float.IsFinite(scale) ? new(scale) : throw new ArgumentOutOfRangeException(nameof(scale), scale, "a static activation scale is positive and finite");
}

/// <summary>
/// INT8, symmetric per axis: the weight becomes <c>DequantizeLinear(values, scales, axis)</c> (scale per index of
/// <paramref name="Axis"/>, zero point 0), and each MatMul/Gemm/Conv reading it as its weight gets <paramref name="Activation"/>
/// in front of its data input. Null <paramref name="Activation"/>: weight only (an embedding table read by Gather).
/// <paramref name="Shape"/>, when given, is a view of the initializer with the same element count (a constant table
/// quantized per row of its last axis is the view [rows, D]); the dequantized view is reshaped back.
/// </summary>
public sealed record Int8WeightReplacement(string Initializer, sbyte[] Values, float[] Scales, int Axis, ActivationQuantization? Activation, long[]? Shape = null)
    : WeightReplacement(Initializer);

/// <summary>
/// INT4 weight-only, symmetric in blocks of <paramref name="BlockSize"/> consecutive elements along <paramref name="Axis"/>:
/// the weight becomes <c>DequantizeLinear(values, scales, axis, block_size)</c> (opset 21). <paramref name="Values"/> lie in
/// [-8,7]; <paramref name="Scales"/> has the weight's shape with the axis dimension cut to ⌈d/BlockSize⌉ (Half scales are
/// widened exactly to float, so the dequantized value is the contract's <c>(float)q·(float)s</c> with no Half rounding).
/// <paramref name="Shape"/>, when given, is a view of the initializer with the same element count (a patch Conv's
/// [O,C,kh,kw] filter blocked along C·kh·kw is the view [O,C·kh·kw]); the dequantized view is reshaped back.
/// </summary>
public sealed record Int4WeightReplacement(string Initializer, sbyte[] Values, float[] Scales, int Axis, int BlockSize, long[]? Shape = null)
    : WeightReplacement(Initializer);

/// <summary>FP16: the weight becomes a FLOAT16 initializer and <c>Cast(to=FLOAT)</c>.</summary>
public sealed record HalfWeightReplacement(string Initializer, Half[] Values) : WeightReplacement(Initializer);
