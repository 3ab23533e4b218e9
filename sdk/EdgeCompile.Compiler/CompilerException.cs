using System;

namespace EdgeCompile.Compiler;

/// <summary>The stable diagnostic codes of the compiler (see the table in README.md).</summary>
public static class Codes
{
    /// <summary>The file is not a readable ONNX model.</summary>
    public const string UnreadableModel = "EC2001";
    /// <summary>External tensor data is missing or out of range.</summary>
    public const string ExternalData = "EC2002";
    /// <summary>The model's opset or operator domain is outside what EdgeCompile supports.</summary>
    public const string UnsupportedOpset = "EC2003";
    /// <summary>The graph is malformed (undefined input, wrong input count, bad attribute).</summary>
    public const string InvalidModel = "EC2004";
    /// <summary>An element type EdgeCompile cannot compile.</summary>
    public const string UnsupportedType = "EC2005";
    /// <summary>An operator EdgeCompile cannot compile.</summary>
    public const string UnsupportedOperator = "EC3001";
    /// <summary>An operator form (attribute value, input combination) EdgeCompile cannot compile.</summary>
    public const string UnsupportedOperatorForm = "EC3002";
    /// <summary>A shape cannot be determined at build time.</summary>
    public const string DynamicShape = "EC3003";
    /// <summary>MaxShapes names a dimension the model does not have.</summary>
    public const string UnknownDimension = "EC3004";
    /// <summary>A symbolic dimension has no maximum in MaxShapes; the stated default is used.</summary>
    public const string DefaultMaximum = "EC3005";
    /// <summary>Cannot write the plan or weights.</summary>
    public const string OutputFailure = "EC3006";
    /// <summary>A weight (or an INT4 block scale) is beyond the FP16 range ±65504.</summary>
    public const string HalfOutOfRange = "EC3007";
    /// <summary>(info) Mixed precision chose per layer from weight statistics only (no calibration set was used).</summary>
    public const string MixedWithoutCalibration = "EC3008";
    /// <summary>A quantization option that needs what the build does not have (static activation scales without a calibration set; a model without float outputs to measure).</summary>
    public const string QuantizationUnavailable = "EC3009";
    /// <summary>(info) Which Dense layers with zero weights run on the sparse kernel (DenseSparse) and which stay dense, and why.</summary>
    public const string SparseKernels = "EC3015";

    // ---- calibration (build-time quantization, docs/quantization.md): EC2101..EC2111 ----------------------------

    /// <summary>The calibration folder does not exist.</summary>
    public const string CalibrationFolderMissing = "EC2101";
    /// <summary>The calibration folder (and its subfolders) hold no .npy file.</summary>
    public const string CalibrationEmpty = "EC2102";
    /// <summary>A graph input has no .npy file in a calibration set.</summary>
    public const string CalibrationInputMissing = "EC2103";
    /// <summary>A calibration .npy file does not name a graph input.</summary>
    public const string CalibrationUnknownFile = "EC2104";
    /// <summary>A calibration array's element type does not fit its graph input.</summary>
    public const string CalibrationType = "EC2105";
    /// <summary>A calibration array's rank or a fixed dimension does not match its graph input, or two inputs disagree on a named dimension.</summary>
    public const string CalibrationShape = "EC2106";
    /// <summary>The arrays of one calibration set hold different numbers of samples (or none).</summary>
    public const string CalibrationSampleCount = "EC2107";
    /// <summary>A calibration array has a named dimension above its MaxShapes maximum.</summary>
    public const string CalibrationAboveMaximum = "EC2108";
    /// <summary>A calibration file is not a readable .npy array.</summary>
    public const string CalibrationUnreadable = "EC2109";
    /// <summary>The plan calls a kernel the build-time plan interpreter cannot run.</summary>
    public const string InterpreterUnsupportedKernel = "EC2110";
    /// <summary>A calibration array holds an index (token id) outside the range its input is checked against (the vocabulary).</summary>
    public const string CalibrationIndexOutOfRange = "EC2111";

    // ---- pruning (build-time, README "Pruning"): EC2201.. -------------------------------------------------------
    // EC2201 (PruneMode NM or Unstructured not available) is retired: both are.
    /// <summary>Prune is outside [0, 0.9].</summary>
    public const string PruneFractionOutOfRange = "EC2202";
    /// <summary>(warning) Prune is set but the model has no FFN block (Dense with activation feeding only a Dense) and no conv channel group to prune.</summary>
    public const string NothingToPrune = "EC2203";
    /// <summary>The pruned ONNX file cannot be written: a pruned weight is not an ONNX initializer of its own.</summary>
    public const string PrunedOnnxUnavailable = "EC2204";
    /// <summary>(info) An attention layer keeps all its heads under Structured pruning (its layout is not one heads can be removed from).</summary>
    public const string AttentionHeadsKept = "EC2205";
    /// <summary>
    /// The pruned ONNX file cannot be written for a conv channel group: a conv is missing from the file, or a filter, bias
    /// or BatchNormalization parameter is not a FLOAT initializer of its own.
    /// </summary>
    public const string PrunedConvOnnxUnavailable = "EC2210";
    /// <summary>(warning) PruneMode NM with a Prune that is not a multiple of 0.25: rounded to a whole number of every 4.</summary>
    public const string NmFractionRounded = "EC2215";
    /// <summary>PruneMode NM with a Prune that rounds to removing none or all of every 4 weights.</summary>
    public const string NmFractionUnusable = "EC2216";
    /// <summary>(warning) PruneMode NM or Unstructured, but the model has no prunable Dense layer.</summary>
    public const string NothingToSparsify = "EC2217";
    /// <summary>
    /// The quantized reference ONNX file cannot hold a head-pruned layer's INT4 weight exactly: no block size divides both its
    /// kept and its removed rows (odd head sizes).
    /// </summary>
    public const string PrunedInt4BlocksUnwritable = "EC2218";
    /// <summary>
    /// The pruned ONNX file cannot be written for a residual channel group (MobileBERT's intra-block stream): a member's
    /// weight, bias, γ or β is not an ONNX initializer the file can slice.
    /// </summary>
    public const string PrunedResidualOnnxUnavailable = "EC2219";
}

/// <summary>A compile error with its code and, where known, the ONNX node it concerns.</summary>
public sealed class CompilerException : Exception
{
    public CompilerException(string code, string message, string? node = null) : base(message)
    {
        Code = code;
        Node = node;
    }

    public string Code { get; }
    public string? Node { get; }
}
