using System;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>The kinds of layer whose weights quantization may change.</summary>
public enum LayerKind
{
    /// <summary>A constant-weight <c>Dense</c> (after fusion): <c>Weight</c> is its <c>[K,N]</c> matrix.</summary>
    Dense,
    /// <summary>A <c>Gather</c> on axis 0 of a constant rank-2 float table: <c>Weight</c> is the <c>[V,D]</c> table.</summary>
    Embedding,
    /// <summary>A <c>Conv</c> with constant weights (weight-only): <c>Weight</c> is its <c>[O, C/groups·kh·kw]</c> filters, one row per output channel.</summary>
    Conv,
}

/// <summary>A layer the lowering asks a policy about: its plan op's node name, kind and FP32 weights.</summary>
/// <param name="Node">The node name the plan op gets (the key of decisions).</param>
/// <param name="Rows">K of a Dense, V of an embedding, output channels of a Conv.</param>
/// <param name="Columns">N of a Dense, D of an embedding, C/groups·kh·kw of a Conv.</param>
public sealed record LayerWeights(string Node, LayerKind Kind, int Rows, int Columns, ConstTensor Weight);

/// <summary>
/// Chooses the precision of each quantizable layer. The calibration-free policy is <see cref="CalibrationFreePolicy"/>;
/// a calibrated one (Mixed under an output-error budget, static INT8 scales, error-compensated INT4) answers from
/// what the calibration run measured, keyed by <see cref="LayerWeights.Node"/>.
/// </summary>
public interface IPrecisionPolicy
{
    LayerChoice Choose(LayerWeights layer);
}

/// <summary>
/// The choices that need no calibration set: <c>Fp16</c>, <c>Int8</c> (dynamic activation scales) and <c>Int4</c>
/// (plain rounding) give every layer that format; <c>Mixed</c> decides from the weights alone: a layer whose
/// INT8 weight error (relative RMS of the dequantized weights) is at most <see cref="WeightErrorLimit"/> goes INT8,
/// any other FP16, or FP32 if its weights do not fit FP16.
/// </summary>
public sealed class CalibrationFreePolicy : IPrecisionPolicy
{
    public CalibrationFreePolicy(QuantizeMode mode, double weightErrorLimit = QuantizeOptions.DefaultMaxOutputError)
    {
        if (mode == QuantizeMode.None) throw new ArgumentException("no policy is needed without quantization", nameof(mode));
        Mode = mode;
        WeightErrorLimit = weightErrorLimit;
    }

    public QuantizeMode Mode { get; }

    /// <summary>Mixed only: the largest relative INT8 weight error a layer may have and still be INT8.</summary>
    public double WeightErrorLimit { get; }

    public LayerChoice Choose(LayerWeights layer) => Mode switch
    {
        QuantizeMode.Fp16 => new LayerChoice(Precision.Fp16),
        QuantizeMode.Int8 => new LayerChoice(Precision.Int8),
        QuantizeMode.Int4 => new LayerChoice(Precision.Int4),
        QuantizeMode.Mixed => ChooseMixed(layer),
        _ => new LayerChoice(Precision.Fp32),
    };

    /// <summary>The INT8 weight error of a layer as this policy measures it (per column for Dense, per row for embeddings and Conv output channels).</summary>
    public static double Int8WeightError(LayerWeights layer)
    {
        var w = layer.Weight.Real!;
        return layer.Kind == LayerKind.Dense
            ? Quantizer.RelativeRmsError(w, Quantizer.DequantizeInt8PerColumn(Quantizer.Int8PerColumn(w, layer.Rows, layer.Columns), layer.Rows, layer.Columns))
            : Quantizer.RelativeRmsError(w, Quantizer.DequantizeInt8PerRow(Quantizer.Int8PerRow(w, layer.Rows, layer.Columns), layer.Rows, layer.Columns));
    }

    private LayerChoice ChooseMixed(LayerWeights layer)
    {
        if (Int8WeightError(layer) <= WeightErrorLimit) return new LayerChoice(Precision.Int8);
        return new LayerChoice(Quantizer.FitsHalf(layer.Weight.Real!) ? Precision.Fp16 : Precision.Fp32);
    }
}
