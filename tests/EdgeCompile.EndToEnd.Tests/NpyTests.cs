using System;
using System.IO;
using System.Linq;
using System.Text;

namespace EdgeCompile.EndToEnd.Tests;

/// <summary>The test's own .npy reader (needs no model).</summary>
public sealed class NpyTests
{
    private static byte[] Build(int major, string header, byte[] data)
    {
        int prefix = major == 1 ? 10 : 12;
        int total = prefix + header.Length + 1;
        int pad = (64 - total % 64) % 64;
        string h = header + new string(' ', pad) + "\n";
        var ms = new MemoryStream();
        ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 });
        if (major == 1) ms.Write(BitConverter.GetBytes((ushort)h.Length));
        else ms.Write(BitConverter.GetBytes((uint)h.Length));
        ms.Write(Encoding.Latin1.GetBytes(h));
        ms.Write(data);
        return ms.ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ReadsFloat32AndInt64(int major)
    {
        float[] f = { 1.5f, -2f, 3.25f, 0f, 7f, 8f };
        var a = Npy.Parse(Build(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f.SelectMany(BitConverter.GetBytes).ToArray()));
        Assert.Equal(new[] { 2, 3 }, a.Shape);
        Assert.Equal(f, a.AsFloat32());

        long[] l = { 1, -2, long.MaxValue };
        var b = Npy.Parse(Build(major, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", l.SelectMany(BitConverter.GetBytes).ToArray()));
        Assert.Equal(new[] { 3 }, b.Shape);
        Assert.Equal(l, b.AsInt64());
    }

    [Fact]
    public void RejectsFortranOrder() =>
        Assert.Throws<InvalidDataException>(() => Npy.Parse(Build(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new byte[4])));

    [Fact]
    public void ReadsTheFixtureLabels()
    {
        foreach (var f in Family.All)
        {
            var labels = Npy.Read(Path.Combine(f.Directory, "test", "labels.npy"));
            Assert.Equal("<i8", labels.Descr);
            Assert.Single(labels.Shape);
        }
    }
}
