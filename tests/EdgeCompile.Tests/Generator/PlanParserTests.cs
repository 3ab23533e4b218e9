using System.Linq;
using EdgeCompile.Generators;

namespace EdgeCompile.Tests.Generator;

public sealed class PlanParserTests
{
    [Fact]
    public void ParsesEveryStatement()
    {
        var result = PlanParser.Parse("p.edgeplan", TestPlans.TinyMlp);
        Assert.Empty(result.Diagnostics);
        var plan = result.Plan!;
        Assert.Equal("TinyMlp", plan.ClassName);
        Assert.Equal("EdgeCompile.Tests.Models", plan.Namespace);
        Assert.Equal("fixtures/tiny_mlp.onnx", plan.Source);
        Assert.Equal(105, plan.WeightBytes);
        Assert.Equal(26, plan.ParameterCount);
        Assert.Equal(192, plan.ArenaBytes);
        Assert.Equal(new PlanDim("batch", 4), plan.Dims.Single());
        Assert.Equal(9, plan.Tensors.Count);
        Assert.Equal(PlanStorageKind.Weight, plan.FindTensor("t6")!.Storage);
        Assert.Equal(97, plan.FindTensor("t6")!.Location);
        var op = plan.Ops[0];
        Assert.Equal("Dense", op.Kernel);
        Assert.Equal(new[] { "t0", "t1", "t2" }, op.Inputs);
        Assert.Equal(new[] { "t3" }, op.Outputs);
        Assert.Equal(new[] { "rows=batch", "k=3", "n=4", "activation=Activation.None" }, op.Params.Select(p => p.Name + "=" + p.Value));
        Assert.Equal("/fc1/Gemm", op.Node);
    }

    [Fact]
    public void ParsedPlans_HaveValueEquality()
    {
        var a = PlanParser.Parse("p.edgeplan", TestPlans.TinyMlp);
        var b = PlanParser.Parse("p.edgeplan", TestPlans.TinyMlp + "\n# comment\n");
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        var c = PlanParser.Parse("p.edgeplan", TestPlans.TinyMlp.Replace("dim batch 4", "dim batch 5"));
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void NodeNamesRunToTheEndOfTheLine()
    {
        var plan = PlanParser.Parse("p.edgeplan", TestPlans.AwkwardNames).Plan!;
        Assert.StartsWith("odd node */ with \"quotes\" and ", plan.Ops.Single().Node);
        Assert.Equal("", plan.Namespace);
    }

    [Theory]
    [InlineData("dim batch 4", "dim batch four", "EC4001", 11)]
    [InlineData("dim batch 4", "dim workers 4", "EC4001", 11)]
    [InlineData("dim batch 4", "dim batch 0", "EC4001", 11)]
    [InlineData("tensor t3 f32 [batch,4] arena 0", "tensor t3 f32 [batch,4 arena 0", "EC4001", 17)]
    [InlineData("tensor t3 f32 [batch,4] arena 0", "tensor t3 f32 [sequence,4] arena 0", "EC4006", 17)]
    [InlineData("tensor t3 f32 [batch,4] arena 0", "tensor t3 f32 [batch,4] heap 0", "EC4001", 17)]
    [InlineData("tensor t3 f32 [batch,4] arena 0", "tensor t3 f32 [batch,4] arena 0 extra", "EC4001", 17)]
    [InlineData("op Relu in=t3 out=t4 node=/act/Relu", "op Relu in=t3 out=t99 node=/act/Relu", "EC4006", 24)]
    [InlineData("op Relu in=t3 out=t4 node=/act/Relu", "op Relu in=t3 out=t1 node=/act/Relu", "EC4008", 24)]
    [InlineData("op Relu in=t3 out=t4 node=/act/Relu", "op Relu in=t3 out=t4", "EC4001", 24)]
    [InlineData("op Relu in=t3 out=t4 node=/act/Relu", "op Relu in=t3 out=t4 alpha=1;x node=/act/Relu", "EC4001", 24)]
    [InlineData("op Relu in=t3 out=t4 node=/act/Relu", "opp Relu in=t3 out=t4 node=/act/Relu", "EC4005", 24)]
    [InlineData("class TinyMlp", "class Tiny-Mlp", "EC4001", 3)]
    [InlineData("class TinyMlp", "# no class", "EC4007", 1)]
    [InlineData("tensor t0 f32 [batch,3] input 0", "tensor t0 f32 [batch,3] input 1", "EC4008", 12)]
    [InlineData("tensor t0 f32 [batch,3] input 0", "tensor t0 i64 [batch,3] input 0", "EC4008", 12)]
    [InlineData("tensor t0 f32 [batch,3] input 0", "tensor t3 f32 [batch,3] input 0", "EC4008", 17)]
    [InlineData("tensor t7 f32 [batch,2] arena 128", "tensor t7 f32 [batch,2] arena 168", "EC4008", 21)]
    [InlineData("tensor t6 f32 [2] weight 97", "tensor t6 f32 [3] weight 97", "EC4008", 20)]
    public void BadStatements_AreReportedWithTheirLine(string original, string replacement, string id, int line)
    {
        Assert.Contains(original, TestPlans.TinyMlp);
        var result = PlanParser.Parse("bad.edgeplan", TestPlans.TinyMlp.Replace(original, replacement));
        Assert.Null(result.Plan);
        var d = result.Diagnostics.First();
        Assert.Equal(id, d.Id);
        Assert.Equal(line, d.Line);
        Assert.Equal("bad.edgeplan", d.Path);
        var diagnostic = Diagnostics.Create(d);
        Assert.Contains("bad.edgeplan", diagnostic.GetMessage());
        Assert.Contains($"line {line}", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("shape Dense3x4 IDenseShape K=3 N=4 Panel=16", "shape Dense3x4 IDenseShape", "EC4001", 22)]
    [InlineData("shape Dense3x4 IDenseShape K=3 N=4 Panel=16", "shape Dense3x4 IDenseShape K=three N=4 Panel=16", "EC4001", 22)]
    [InlineData("shape Dense3x4 IDenseShape K=3 N=4 Panel=16", "shape Dense3x4 IDenseShape K=3 K=4 Panel=16", "EC4001", 22)]
    [InlineData("shape Dense3x4 IDenseShape K=3 N=4 Panel=16", "shape Dense-3 IDenseShape K=3 N=4 Panel=16", "EC4001", 22)]
    [InlineData("shape Dense4x2 IDenseShape K=4 N=2 Panel=16", "shape Dense3x4 IDenseShape K=4 N=2 Panel=16", "EC4008", 23)]
    [InlineData("op Dense<Dense3x4> in=", "op Dense<Dense9x9> in=", "EC4006", 24)]
    [InlineData("op Dense<Dense3x4> in=", "op Dense<Dense3x4,> in=", "EC4001", 24)]
    public void BadShapeStatements_AreReportedWithTheirLine(string original, string replacement, string id, int line)
    {
        Assert.Contains(original, TestPlans.TinyMlpPacked);
        var result = PlanParser.Parse("bad.edgeplan", TestPlans.TinyMlpPacked.Replace(original, replacement));
        Assert.Null(result.Plan);
        var d = result.Diagnostics.First();
        Assert.Equal(id, d.Id);
        Assert.Equal(line, d.Line);
    }

    [Fact]
    public void ShapeStatements_AreParsed()
    {
        var plan = PlanParser.Parse("p.edgeplan", TestPlans.TinyMlpPacked).Plan!;
        Assert.Equal(new[] { "Dense3x4", "Dense4x2" }, plan.ShapeStructs.Select(s => s.Name));
        Assert.Equal(new[] { ("K", 3L), ("N", 4L), ("Panel", 16L) }, plan.ShapeStructs[0].Members.Select(m => (m.Name, m.Value)));
        Assert.Equal(new[] { "Dense3x4" }, plan.Ops[0].TypeArguments);
        Assert.Equal("Dense", plan.Ops[0].Kernel);
        Assert.Empty(plan.Ops[1].TypeArguments);
    }

    [Fact]
    public void EmptyOrForeignFiles_AreReported()
    {
        Assert.Equal("EC4007", PlanParser.Parse("e.edgeplan", "").Diagnostics.Single().Id);
        Assert.Equal("EC4002", PlanParser.Parse("e.edgeplan", "<Project>").Diagnostics.Single().Id);
    }

    [Theory]
    [InlineData("input_ids", "inputIds")]
    [InlineData("pixel_values", "pixelValues")]
    [InlineData("attention_mask", "attentionMask")]
    [InlineData("input.1", "input1")]
    [InlineData("InputIDs", "inputIDs")]
    [InlineData("1st", "_1st")]
    [InlineData("class", "@class")]
    [InlineData("::", "arg")]
    [InlineData("x", "x")]
    public void CamelCase(string name, string expected) => Assert.Equal(expected, CSharpNames.ToCamelCase(name));

    [Theory]
    [InlineData("batch*sequence", "batch*seq")]
    [InlineData("(batch+1)/2", "(batch+1)/2")]
    [InlineData("1E-12f", "1E-12f")]
    [InlineData("-3.4028235E+38f", "-3.4028235E+38f")]
    [InlineData("Activation.Gelu", "global::EdgeCompile.Runtime.Activation.Gelu")]
    [InlineData("float.NaN", "float.NaN")]
    [InlineData("true", "true")]
    [InlineData("sequence2", "sequence2")]
    public void Translate(string expression, string expected)
    {
        var map = new System.Collections.Generic.Dictionary<string, string> { ["batch"] = "batch", ["sequence"] = "seq" };
        Assert.Equal(expected, CSharpNames.Translate(expression, map));
    }
}
