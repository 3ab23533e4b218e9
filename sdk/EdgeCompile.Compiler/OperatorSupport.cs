using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Passes;

namespace EdgeCompile.Compiler;

/// <summary>The ONNX operators (default domain, opsets 11-21) EdgeCompile compiles.</summary>
public static class OperatorSupport
{
    private static readonly string[] Structural =
    {
        "Constant", "Identity", "Dropout", "Cast", "Shape", "Gather", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Concat",
        "Slice", "Transpose", "Expand", "ConstantOfShape", "Range", "Where", "Split", "Pad",
        "MatMul", "Gemm", "Softmax", "LayerNormalization", "ReduceMean", "ReduceSum", "ReduceMax",
        "Conv", "BatchNormalization", "AveragePool", "MaxPool", "GlobalAveragePool", "GlobalMaxPool", "Sum", "Mean",
    };

    /// <summary>Every supported operator type, sorted.</summary>
    public static IReadOnlyList<string> Operators { get; } =
        Structural.Concat(ShapeInference.UnaryOps).Concat(ShapeInference.BinaryOps).Distinct().OrderBy(o => o, System.StringComparer.Ordinal).ToArray();

    public static bool IsSupported(string opType) => Operators.Contains(opType);
}
