using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Compiler;

/// <summary>How the compiler reads unusual but valid files, and what it says about bad ones.</summary>
public sealed class CompilerInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecompile-input-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Ramp(int n, float scale) => Enumerable.Range(0, n).Select(i => (i % 7 - 3) * scale).ToArray();

    /// <summary>x[batch,4] · W[4,3] + b[3], with W from an external data file and b from typed float_data.</summary>
    private string DenseModel(string weightsFile = "weights.bin", long offset = 16)
    {
        var w = Ramp(12, 0.25f);
        var bytes = new byte[offset + w.Length * 4];
        Buffer.BlockCopy(w, 0, bytes, (int)offset, w.Length * 4);
        File.WriteAllBytes(Path.Combine(_dir, "weights.bin"), bytes);
        return new OnnxModelBuilder()
            .Input("x", "batch", 4).Output("y", "batch", 3)
            .ExternalInitializer("W", new long[] { 4, 3 }, weightsFile, offset, w.Length * 4)
            .TypedInitializer("b", new long[] { 3 }, new[] { 0.5f, -1f, 2f })
            .Node("MatMul", "mm", new[] { "x", "W" }, new[] { "xw" })
            .Node("Add", "bias", new[] { "xw", "b" }, new[] { "y" })
            .Save(Path.Combine(_dir, "dense.onnx"));
    }

    [Fact]
    public void External_data_and_typed_fields_match_onnx_runtime()
    {
        using var f = CompiledFixture.Compile(DenseModel(), "batch=4");
        var x = Ramp(8, 0.5f);
        var expected = f.RunOnnxRuntime(new List<(string, Array, int[])> { ("x", x, new[] { 2, 4 }) }, "y");
        var actual = new float[6];
        f.Model.Run(new[] { 2 }, new Array[] { x }, new Array[] { actual });
        Assert.Equal(expected, actual);
    }

    private CompilerMessage SingleError(string model, string? maxShapes = null)
    {
        var result = ModelCompiler.Compile(new CompileRequest(model, "M", "N", maxShapes, "portable",
            Path.Combine(_dir, "m.edgeplan"), Path.Combine(_dir, "m.edgeweights"), "N.M.edgeweights"));
        Assert.False(result.Success);
        Assert.False(File.Exists(Path.Combine(_dir, "m.edgeplan")), "a failed compile must not leave a plan behind");
        return Assert.Single(result.Messages, m => m.Severity == Severity.Error);
    }

    [Fact]
    public void Missing_external_data_is_EC2002_naming_the_tensor_and_file()
    {
        var e = SingleError(DenseModel(weightsFile: "nowhere.bin"));
        Assert.Equal("EC2002", e.Code);
        Assert.Contains("'W'", e.Message);
        Assert.Contains("nowhere.bin", e.Message);
    }

    [Fact]
    public void External_data_outside_the_model_folder_is_refused()
    {
        var e = SingleError(DenseModel(weightsFile: "../../etc/passwd"));
        Assert.Equal("EC2002", e.Code);
    }

    [Fact]
    public void Corrupt_file_is_EC2001()
    {
        var path = Path.Combine(_dir, "corrupt.onnx");
        File.WriteAllBytes(path, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 % 251)).ToArray());
        var e = SingleError(path);
        Assert.Equal("EC2001", e.Code);
        Assert.Equal(path, e.File);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(22)]
    public void Opset_outside_11_to_21_is_EC2003(long opset)
    {
        var model = new OnnxModelBuilder(opset).Input("x", 2).Output("y", 2).Node("Relu", "r", new[] { "x" }, new[] { "y" }).Save(Path.Combine(_dir, "opset.onnx"));
        var e = SingleError(model);
        Assert.Equal("EC2003", e.Code);
        Assert.Contains($"opset {opset}", e.Message);
    }

    [Fact]
    public void Unsupported_operator_is_EC3001_naming_op_node_and_file()
    {
        var model = new OnnxModelBuilder().Input("x", 4).Output("y", 4).Node("Trilu", "/block/Trilu_7", new[] { "x" }, new[] { "y" }).Save(Path.Combine(_dir, "trilu.onnx"));
        var e = SingleError(model);
        Assert.Equal("EC3001", e.Code);
        Assert.Contains("Trilu", e.Message);
        Assert.Equal("/block/Trilu_7", e.Node);
        Assert.EndsWith("trilu.onnx", e.File);
        Assert.Contains("(node '/block/Trilu_7')", e.ToString());
    }

    [Fact]
    public void Contrib_domain_is_EC2003()
    {
        var model = new OnnxModelBuilder().Input("x", 4).Output("y", 4).Node("FastGelu", "fg", new[] { "x" }, new[] { "y" }, domain: "com.microsoft").Save(Path.Combine(_dir, "contrib.onnx"));
        Assert.Equal("EC2003", SingleError(model).Code);
    }

    [Fact]
    public void MaxShapes_naming_an_unknown_dimension_is_EC3004_listing_the_real_ones()
    {
        var e = SingleError(DenseModel(), "batch=2;seq=9");
        Assert.Equal("EC3004", e.Code);
        Assert.Contains("'seq'", e.Message);
        Assert.Contains("batch", e.Message);
    }

    [Fact]
    public void A_dimension_without_maximum_gets_a_stated_default()
    {
        var result = ModelCompiler.Compile(new CompileRequest(DenseModel(), "M", "N", null, "portable",
            Path.Combine(_dir, "m.edgeplan"), Path.Combine(_dir, "m.edgeweights"), "N.M.edgeweights"));
        Assert.True(result.Success);
        var info = Assert.Single(result.Messages, m => m.Code == "EC3005");
        Assert.Equal(Severity.Info, info.Severity);
        Assert.Contains("'batch'", info.Message);
        Assert.Equal(("batch", 1L), result.Plan!.Dimensions.Single());
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("mobilebert")]
    [InlineData("efficientformer")]
    public void Arena_offsets_never_overlap_for_tensors_alive_together(string family)
    {
        var plan = ModelCompiler.Build(new CompileRequest(Path.Combine(Repository.Fixture(family), "model.onnx"), "M", "N", family == "efficientformer" ? "batch=4" : "batch=4;sequence=64", "portable", "", "", ""), new List<CompilerMessage>());
        var maxima = plan.Dimensions.ToDictionary(d => d.Name, d => d.Max);
        var life = new Dictionary<PlanTensor, (int First, int Last)>();
        for (int i = 0; i < plan.Ops.Count; i++)
            foreach (var t in plan.Ops[i].Inputs.Concat(plan.Ops[i].Outputs))
                if (t?.Root is { Storage: StorageKind.Arena } root)
                    life[root] = life.TryGetValue(root, out var l) ? (l.First, i) : (i, i);
        var tensors = life.Keys.ToList();
        long total = 0;
        foreach (var a in tensors)
        {
            long aEnd = a.Location + MemoryPlanner.Bytes(a, maxima);
            Assert.True(aEnd <= plan.ArenaBytes, $"{a.Name} ends at {aEnd}, past the arena ({plan.ArenaBytes})");
            Assert.Equal(0, a.Location % MemoryPlanner.Alignment);
            total += MemoryPlanner.Bytes(a, maxima);
            foreach (var b in tensors.Where(b => b.Id > a.Id))
            {
                bool together = life[a].First <= life[b].Last && life[b].First <= life[a].Last;
                bool overlap = a.Location < b.Location + MemoryPlanner.Bytes(b, maxima) && b.Location < aEnd;
                Assert.False(together && overlap, $"{a.Name} and {b.Name} are alive together and share memory");
            }
        }
        Assert.True(plan.ArenaBytes < total, $"no reuse: arena {plan.ArenaBytes} bytes for {total} bytes of tensors");
    }
}
