using System;
using System.IO;
using System.Linq;
using System.Text;

using EdgeCompile.Compiler.Data;
using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Compiler;

/// <summary>The .npy reader (test sets now, calibration data later).</summary>
public sealed class NpyFileTests
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
        var a = NpyFile.Parse(Build(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f.SelectMany(BitConverter.GetBytes).ToArray()));
        Assert.Equal(new long[] { 2, 3 }, a.Shape);
        Assert.Equal(f, a.As<float>());

        long[] l = { 1, -2, long.MaxValue };
        var b = NpyFile.Parse(Build(major, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", l.SelectMany(BitConverter.GetBytes).ToArray()));
        Assert.Equal(new long[] { 3 }, b.Shape);
        Assert.Equal(l, b.As<long>());
    }

    [Fact]
    public void RejectsFortranOrder() =>
        Assert.Throws<InvalidDataException>(() => NpyFile.Parse(Build(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new byte[4])));

    [Fact]
    public void ReadsTheFixtureLabels()
    {
        foreach (var family in new[] { "bert", "distilbert", "mobilebert", "vit", "mobilevit", "efficientformer" })
        {
            var labels = NpyFile.Read(Path.Combine(Repository.Fixture(family), "test", "labels.npy"));
            Assert.Equal("<i8", labels.DType);
            Assert.Single(labels.Shape);
        }
    }
}
