using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeCompile.Compiler.Data;

/// <summary>
/// A NumPy <c>.npy</c> array (format versions 1-3, little-endian, C order): what calibration
/// folders and test sets hold. Element types: float32, float64, int64, int32, int8, uint8, bool.
/// </summary>
public sealed partial class NpyFile
{
    private NpyFile(string dtype, long[] shape, Array data)
    {
        DType = dtype;
        Shape = shape;
        Data = data;
    }

    /// <summary>NumPy dtype string, e.g. <c>&lt;f4</c>.</summary>
    public string DType { get; }
    public long[] Shape { get; }
    /// <summary>The values in C order: float[], double[], long[], int[], sbyte[], byte[] or bool[].</summary>
    public Array Data { get; }

    public T[] As<T>() => Data as T[] ?? throw new InvalidDataException($"array holds {DType}, not {typeof(T).Name}");

    public static NpyFile Read(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Parses .npy bytes; <paramref name="path"/> names them in errors.</summary>
    public static NpyFile Parse(byte[] bytes, string path = "<npy>")
    {
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"'{path}' is not a .npy file");
        int major = bytes[6];
        int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int headerStart = major == 1 ? 10 : 12;
        var header = Encoding.UTF8.GetString(bytes, headerStart, headerLength);
        var descr = DescrPattern().Match(header);
        var order = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !shape.Success || (order.Success && order.Groups[1].Value == "True"))
            throw new InvalidDataException($"'{path}' has an unsupported header: {header.Trim()}");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var payload = bytes.AsSpan(headerStart + headerLength);
        string dtype = descr.Groups[1].Value;
        Array data = dtype switch
        {
            "<f4" => Copy<float>(payload, count, path),
            "<f8" => Copy<double>(payload, count, path),
            "<i8" => Copy<long>(payload, count, path),
            "<i4" => Copy<int>(payload, count, path),
            "|i1" => Copy<sbyte>(payload, count, path),
            "|u1" => Copy<byte>(payload, count, path),
            "|b1" => Copy<bool>(payload, count, path),
            _ => throw new InvalidDataException($"'{path}' holds dtype {dtype}; supported: <f4 <f8 <i8 <i4 |i1 |u1 |b1"),
        };
        return new NpyFile(dtype, dims, data);
    }

    private static T[] Copy<T>(ReadOnlySpan<byte> payload, long count, string path) where T : unmanaged
    {
        var values = new T[count];
        var source = payload[..(int)Math.Min(payload.Length, count * Marshal.SizeOf<T>())];
        if (source.Length != count * Marshal.SizeOf<T>()) throw new InvalidDataException($"'{path}' is truncated");
        source.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
