using System;
using System.IO;
using System.Reflection;
using System.Reflection.Emit;
using EdgeCompile.Runtime;
using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Generator;

/// <summary>Arena, WeightBlob and ModelInfo: what generated code relies on.</summary>
public sealed class RuntimeInfrastructureTests
{
    [Fact]
    public unsafe void Arena_IsZeroedAlignedAndBoundsChecked()
    {
        using var arena = new Arena(256);
        var all = arena.Get<byte>(0, 256);
        Assert.True(all.ToArray().AsSpan().IndexOfAnyExcept((byte)0) < 0);
        fixed (byte* p = all) Assert.Equal(0, (long)p % 64);

        arena.Get<float>(64, 48).Fill(1f);
        Assert.Equal(1f, arena.Get<float>(64, 1)[0]);
        Assert.Equal(0, arena.Get<float>(256, 0).Length);
        Assert.Throws<InvalidOperationException>(() => arena.Get<float>(64, 49));
        Assert.Throws<InvalidOperationException>(() => arena.Get<float>(260, 0));
        Assert.Throws<InvalidOperationException>(() => arena.Get<float>(-4, 1));
        Assert.Throws<InvalidOperationException>(() => arena.Get<float>(0, -1));
    }

    [Fact]
    public void Arena_DisposeIsIdempotentAndGuardsAccess()
    {
        var arena = new Arena(0);
        Assert.Equal(0, arena.Get<float>(0, 0).Length);
        arena.Dispose();
        arena.Dispose();
        Assert.True(arena.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => arena.Get<float>(0, 0));
    }

    [Fact]
    public void WeightBlob_ReadsUnalignedLittleEndianValues()
    {
        var bytes = TestPlans.TinyMlpWeights();
        using var blob = WeightBlob.FromBytes(bytes);
        Assert.Equal(105, blob.Length);
        Assert.Equal(TestPlans.B2, blob.Get<float>(97, 2).ToArray());
        Assert.Equal(TestPlans.W1, blob.Get<float>(0, 12).ToArray());
        Assert.Throws<InvalidOperationException>(() => blob.Get<float>(97, 3));
        Assert.Throws<InvalidOperationException>(() => blob.Get<long>(100, 1));
    }

    [Fact]
    public void WeightBlob_MapsTheResourceOfALoadedAssemblyInPlace()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        using var blob = WeightBlob.FromResource(m.Assembly, "EdgeCompile.Tests.Models.TinyMlp.edgeweights", 105);
        Assert.True(blob.IsMappedInPlace);
        Assert.Equal(TestPlans.B2, blob.Get<float>(97, 2).ToArray());
    }

    [Fact]
    public void WeightBlob_CopiesAManagedResourceStream()
    {
        var assembly = new StreamAssembly("w", TestPlans.TinyMlpWeights());
        using var blob = WeightBlob.FromResource(assembly, "w", 105);
        Assert.False(blob.IsMappedInPlace);
        Assert.Equal(TestPlans.W2, blob.Get<float>(64, 8).ToArray());
    }

    [Fact]
    public void WeightBlob_MissingOrWrongSizedResource_Throws()
    {
        var assembly = new StreamAssembly("w", new byte[10]);
        var e = Assert.Throws<InvalidOperationException>(() => WeightBlob.FromResource(assembly, "missing", 10));
        Assert.Contains("'missing'", e.Message);
        Assert.Contains("StreamAssembly", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => WeightBlob.FromResource(assembly, "w", 12));
        Assert.Contains("10 bytes", e.Message);
        using var none = WeightBlob.FromResource(assembly, "missing", 0); // a model without weights needs none
        Assert.Equal(0, none.Length);
    }

    [Fact]
    public void ModelInfo_IsReadOnlyAndReadable()
    {
        var dims = new[] { new DimensionInfo("batch", 1), new DimensionInfo("sequence", 128) };
        var info = new ModelInfo("Spam", "models/spam.onnx", "portable", dims,
            new[] { new TensorInfo("input_ids", TensorElementType.Int64, new[] { "batch", "sequence" }) },
            new[] { new TensorInfo("logits", TensorElementType.Float32, new[] { "batch", "2" }) },
            308_000, 1_234_567, 65_536);
        dims[0] = new DimensionInfo("changed", 2);
        Assert.Equal("batch", info.Dimensions[0].Name);
        Assert.False(info.Dimensions is DimensionInfo[]);
        string text = info.ToString();
        Assert.Contains("Spam (from models/spam.onnx, profile portable): 308,000 parameters", text);
        Assert.Contains("batch <= 1, sequence <= 128", text);
        Assert.Contains("output logits: Float32 [batch,2]", text);
        Assert.Contains("64 KiB arena", text);
    }

    /// <summary>An assembly whose resources are managed streams (like a custom or dynamic assembly).</summary>
    private sealed class StreamAssembly(string name, byte[] data) : Assembly
    {
        public override string FullName => "StreamAssembly, Version=1.0.0.0";

        public override Stream? GetManifestResourceStream(string resourceName) =>
            resourceName == name ? new MemoryStream(data, writable: false) : null;
    }
}
