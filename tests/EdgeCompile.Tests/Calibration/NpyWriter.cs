using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeCompile.Tests.Calibration;

/// <summary>Writes NumPy .npy files (version 1, C order) for tests, the way numpy.save lays them out.</summary>
public static class NpyWriter
{
    public static void Write(string path, Array values, params long[] shape)
    {
        string descr = values switch
        {
            float[] => "<f4", double[] => "<f8", long[] => "<i8", int[] => "<i4", sbyte[] => "|i1", byte[] => "|u1", bool[] => "|b1",
            _ => throw new NotSupportedException(values.GetType().Name),
        };
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var file = File.Create(path);
        file.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        file.Write(BitConverter.GetBytes((ushort)header.Length));
        file.Write(Encoding.ASCII.GetBytes(header));
        file.Write(values switch
        {
            float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
            double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
            long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
            int[] i => MemoryMarshal.AsBytes(i.AsSpan()),
            sbyte[] s => MemoryMarshal.AsBytes(s.AsSpan()),
            byte[] b => b.AsSpan(),
            bool[] b => MemoryMarshal.AsBytes(b.AsSpan()),
            _ => throw new NotSupportedException(),
        });
    }
}
