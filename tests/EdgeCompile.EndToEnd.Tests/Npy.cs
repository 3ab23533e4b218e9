using System;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeCompile.EndToEnd.Tests;

/// <summary>A NumPy .npy array: little-endian <c>&lt;f4</c> or <c>&lt;i8</c>, C order, format v1/v2/v3.</summary>
public sealed class NpyArray
{
    public NpyArray(string descr, int[] shape, byte[] data)
    {
        Descr = descr;
        Shape = shape;
        Data = data;
    }

    public string Descr { get; }
    public int[] Shape { get; }
    public byte[] Data { get; }

    public long Count
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    public float[] AsFloat32()
    {
        if (Descr != "<f4") throw new InvalidDataException($"expected '<f4', the file holds '{Descr}'");
        var result = new float[Count];
        MemoryMarshal.Cast<byte, float>(Data).CopyTo(result);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < result.Length; i++)
                result[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReverseEndianness(BitConverter.SingleToInt32Bits(result[i])));
        return result;
    }

    public long[] AsInt64()
    {
        if (Descr != "<i8") throw new InvalidDataException($"expected '<i8', the file holds '{Descr}'");
        var result = new long[Count];
        MemoryMarshal.Cast<byte, long>(Data).CopyTo(result);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReverseEndianness(result[i]);
        return result;
    }
}

public static class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    public static NpyArray Read(string path) => Parse(File.ReadAllBytes(path), path);

    public static NpyArray Parse(byte[] bytes, string name = "<npy>")
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{name}: not a .npy file");
        int major = bytes[6];
        int headerLength, headerStart;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
                headerStart = 10;
                break;
            case 2:
            case 3:
                headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
                headerStart = 12;
                break;
            default:
                throw new InvalidDataException($"{name}: unsupported .npy version {major}");
        }
        var encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        string header = encoding.GetString(bytes, headerStart, headerLength);
        string descr = ReadString(header, "descr", name);
        string fortran = ReadRaw(header, "fortran_order", name);
        if (fortran.StartsWith("True", StringComparison.Ordinal))
            throw new InvalidDataException($"{name}: Fortran-order arrays are not supported");
        string shapeText = ReadRaw(header, "shape", name);
        int close = shapeText.IndexOf(')');
        if (!shapeText.StartsWith('(') || close < 0) throw new InvalidDataException($"{name}: bad shape in header '{header}'");
        var dims = shapeText.Substring(1, close - 1).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var shape = Array.ConvertAll(dims, d => int.Parse(d, NumberStyles.None, CultureInfo.InvariantCulture));

        int itemSize = descr switch
        {
            "<f4" or "<i4" => 4,
            "<i8" or "<f8" => 8,
            "|u1" or "|i1" or "|b1" => 1,
            _ => throw new InvalidDataException($"{name}: unsupported dtype '{descr}'"),
        };
        long count = 1;
        foreach (int d in shape) count *= d;
        int dataStart = headerStart + headerLength;
        long byteCount = count * itemSize;
        if (bytes.Length - dataStart < byteCount)
            throw new InvalidDataException($"{name}: {bytes.Length - dataStart} data bytes, the header needs {byteCount}");
        return new NpyArray(descr, shape, bytes.AsSpan(dataStart, checked((int)byteCount)).ToArray());
    }

    private static string ReadRaw(string header, string key, string name)
    {
        string k = "'" + key + "':";
        int i = header.IndexOf(k, StringComparison.Ordinal);
        if (i < 0) throw new InvalidDataException($"{name}: header has no '{key}': {header}");
        return header.Substring(i + k.Length).TrimStart();
    }

    private static string ReadString(string header, string key, string name)
    {
        string rest = ReadRaw(header, key, name);
        if (rest.Length == 0 || rest[0] != '\'') throw new InvalidDataException($"{name}: bad '{key}' in header: {header}");
        int end = rest.IndexOf('\'', 1);
        return rest.Substring(1, end - 1);
    }
}
