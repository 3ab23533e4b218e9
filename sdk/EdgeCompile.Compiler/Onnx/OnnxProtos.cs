using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;
using Google.Protobuf;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>ONNX TensorProto.DataType numbers the writers use (onnx.proto).</summary>
internal static class OnnxDataType
{
    public const int Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Float16 = 10, Int4 = 22;
}

/// <summary>Builders for the protobuf messages the writers add: tensors (as raw little-endian data), nodes, attributes.</summary>
internal static class OnnxProtos
{
    public static TensorProto Floats(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        return Tensor(name, OnnxDataType.Float, dims, raw, values.Length);
    }

    public static TensorProto Halves(string name, long[] dims, ReadOnlySpan<Half> values)
    {
        var raw = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(raw.AsSpan(i * 2), values[i]);
        return Tensor(name, OnnxDataType.Float16, dims, raw, values.Length);
    }

    public static TensorProto Int8s(string name, long[] dims, ReadOnlySpan<sbyte> values) =>
        Tensor(name, OnnxDataType.Int8, dims, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray(), values.Length);

    public static TensorProto UInt8s(string name, long[] dims, ReadOnlySpan<byte> values) =>
        Tensor(name, OnnxDataType.UInt8, dims, values.ToArray(), values.Length);

    public static TensorProto Int64s(string name, long[] dims, ReadOnlySpan<long> values)
    {
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        return Tensor(name, OnnxDataType.Int64, dims, raw, values.Length);
    }

    /// <summary>
    /// INT4 in ONNX's packed layout: two values per byte, element 2i in the low nibble and 2i+1 in the high one
    /// (an odd count leaves the last high nibble 0), two's complement.
    /// </summary>
    public static TensorProto Int4s(string name, long[] dims, ReadOnlySpan<sbyte> values)
    {
        var raw = new byte[(values.Length + 1) / 2];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] is < -8 or > 7) throw new ArgumentOutOfRangeException(nameof(values), values[i], $"INT4 value {i} of '{name}' is outside [-8,7]");
            int nibble = values[i] & 0xF;
            raw[i / 2] |= (byte)((i & 1) == 0 ? nibble : nibble << 4);
        }
        var t = new TensorProto { Name = name, DataType = OnnxDataType.Int4, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        CheckCount(name, dims, values.Length);
        return t;
    }

    public static TensorProto ScalarFloat(string name, float value) => Floats(name, Array.Empty<long>(), new[] { value });

    private static TensorProto Tensor(string name, int dataType, long[] dims, byte[] raw, int count)
    {
        CheckCount(name, dims, count);
        var t = new TensorProto { Name = name, DataType = dataType, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static void CheckCount(string name, long[] dims, int count)
    {
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (expected != count) throw new ArgumentException($"tensor '{name}' has shape [{string.Join(",", dims)}] ({expected} elements) but {count} values");
    }

    public static NodeProto Node(string op, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>The values of a FLOAT initializer, from raw_data or float_data.</summary>
    public static float[] ReadFloats(TensorProto t)
    {
        if (t.DataType != OnnxDataType.Float) throw new ArgumentException($"tensor '{t.Name}' is not FLOAT");
        if (t.RawData.IsEmpty) return t.FloatData.ToArray();
        var raw = t.RawData.Span;
        var values = new float[raw.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
        return values;
    }
}
