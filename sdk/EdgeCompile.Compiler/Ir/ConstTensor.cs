using System;
using System.Linq;

namespace EdgeCompile.Compiler.Ir;

/// <summary>
/// A tensor whose values are known at build time. Floating-point values are held as doubles
/// that are exactly representable in the element type (every folding step rounds back to it,
/// which for +, -, ·, / and √ gives the same bits as evaluating in that type); integer and bool
/// values as longs.
/// </summary>
public sealed class ConstTensor
{
    public ConstTensor(ElementType type, long[] shape, double[]? real, long[]? integer)
    {
        Type = type;
        Shape = shape;
        Real = real;
        Integer = integer;
        if (type.IsFloat() ? real is null : integer is null)
            throw new ArgumentException("values do not match the element type");
        if (Count != ElementCount(shape))
            throw new ArgumentException($"{Count} values for shape [{string.Join(",", shape)}]");
    }

    public ElementType Type { get; }
    public long[] Shape { get; }
    public double[]? Real { get; }
    public long[]? Integer { get; }
    public int Count => Real?.Length ?? Integer!.Length;

    public static long ElementCount(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    public double this[int i] => Real is not null ? Real[i] : Integer![i];

    public long IntAt(int i) => Integer is not null ? Integer[i] : (long)Real![i];

    public static ConstTensor Floats(ElementType type, long[] shape, double[] values) =>
        new(type, shape, values.Select(v => RoundTo(type, v)).ToArray(), null);

    public static ConstTensor Ints(ElementType type, long[] shape, long[] values) =>
        new(type, shape, null, values.Select(v => WrapTo(type, v)).ToArray());

    public static ConstTensor Scalar(ElementType type, double value) =>
        type.IsFloat() ? Floats(type, Array.Empty<long>(), new[] { value }) : Ints(type, Array.Empty<long>(), new[] { (long)value });

    /// <summary>Values converted to <paramref name="type"/> with ONNX Cast semantics.</summary>
    public ConstTensor CastTo(ElementType type)
    {
        if (type.IsFloat())
            return Floats(type, Shape, Enumerable.Range(0, Count).Select(i => this[i]).ToArray());
        if (type == ElementType.Bool)
            return Ints(type, Shape, Enumerable.Range(0, Count).Select(i => this[i] != 0 ? 1L : 0L).ToArray());
        return Ints(type, Shape, Enumerable.Range(0, Count).Select(i => Integer is not null ? Integer[i] : (long)Math.Truncate(Real![i])).ToArray());
    }

    public ConstTensor WithShape(long[] shape) => new(Type, shape, Real, Integer);

    public static double RoundTo(ElementType type, double v) => type switch
    {
        ElementType.Float32 => (float)v,
        ElementType.Float16 => (double)(Half)v,
        _ => v,
    };

    public static long WrapTo(ElementType type, long v) => type switch
    {
        ElementType.Int32 => unchecked((int)v),
        ElementType.Int8 => unchecked((sbyte)v),
        ElementType.UInt8 => unchecked((byte)v),
        ElementType.Bool => v != 0 ? 1 : 0,
        _ => v,
    };

    /// <summary>Little-endian bytes in the element type, as the weights blob stores them.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Count * Type.Size()];
        var span = bytes.AsSpan();
        for (int i = 0; i < Count; i++)
        {
            switch (Type)
            {
                case ElementType.Float32: System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(span[(i * 4)..], (float)Real![i]); break;
                case ElementType.Float64: System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(span[(i * 8)..], Real![i]); break;
                case ElementType.Float16: System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(span[(i * 2)..], (Half)Real![i]); break;
                case ElementType.Int64: System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(span[(i * 8)..], Integer![i]); break;
                case ElementType.Int32: System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(span[(i * 4)..], (int)Integer![i]); break;
                default: span[i] = unchecked((byte)Integer![i]); break;
            }
        }
        return bytes;
    }
}
