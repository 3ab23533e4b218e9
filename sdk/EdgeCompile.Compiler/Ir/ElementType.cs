using System;

namespace EdgeCompile.Compiler.Ir;

/// <summary>Tensor element types EdgeCompile handles; values are ONNX's TensorProto.DataType.</summary>
public enum ElementType
{
    Float32 = 1,
    UInt8 = 2,
    Int8 = 3,
    Int32 = 6,
    Int64 = 7,
    Bool = 9,
    Float16 = 10,
    Float64 = 11,
}

public static class ElementTypes
{
    public static bool IsSupported(int onnxType) => Enum.IsDefined(typeof(ElementType), onnxType);

    public static bool IsFloat(this ElementType t) => t is ElementType.Float32 or ElementType.Float16 or ElementType.Float64;

    public static int Size(this ElementType t) => t switch
    {
        ElementType.Float32 or ElementType.Int32 => 4,
        ElementType.Int64 or ElementType.Float64 => 8,
        ElementType.Float16 => 2,
        _ => 1,
    };

    /// <summary>The token the plan uses.</summary>
    public static string PlanName(this ElementType t) => t switch
    {
        ElementType.Float32 => "f32",
        ElementType.Float16 => "f16",
        ElementType.Float64 => "f64",
        ElementType.Int64 => "i64",
        ElementType.Int32 => "i32",
        ElementType.Int8 => "i8",
        ElementType.UInt8 => "u8",
        ElementType.Bool => "bool",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static string OnnxName(int onnxType) => onnxType switch
    {
        1 => "FLOAT", 2 => "UINT8", 3 => "INT8", 4 => "UINT16", 5 => "INT16", 6 => "INT32", 7 => "INT64",
        8 => "STRING", 9 => "BOOL", 10 => "FLOAT16", 11 => "DOUBLE", 12 => "UINT32", 13 => "UINT64",
        14 => "COMPLEX64", 15 => "COMPLEX128", 16 => "BFLOAT16", _ => $"type {onnxType}",
    };
}
