using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// Each fusion on a real exported graph: the fixtures' ONNX files as torch 1.13's exporter wrote
/// them. The fused schedules' numbers are checked against ONNX Runtime in FixtureCompilerTests.
/// </summary>
public sealed class FusionTests
{
    private static Plan Schedule(string family)
    {
        var request = new CompileRequest(Path.Combine(Repository.Fixture(family), "model.onnx"), "M", "N", null, "portable", "unused", "unused", "unused");
        return ModelCompiler.Build(request, new List<CompilerMessage>());
    }

    private static int Count(Plan plan, string kernel) => plan.Ops.Count(o => o.Kernel == kernel);

    private static int Count(Plan plan, string kernel, string activation) =>
        plan.Ops.Count(o => o.Kernel == kernel && o.Parameters.Contains(("activation", "Activation." + activation)));

    [Fact]
    public void Decomposed_layer_norm_becomes_one_kernel()
    {
        // opset 14 BERT: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add per LayerNorm.
        var plan = Schedule("bert");
        Assert.Equal(5, Count(plan, "LayerNorm")); // embeddings + 2 per layer
        Assert.DoesNotContain(plan.Ops, o => o.Kernel is "ReduceMean" or "Sqrt" or "Pow" or "PowBroadcast" or "DivBroadcast");
    }

    [Fact]
    public void Layer_normalization_op_is_kept_as_one_kernel()
    {
        // opset 17 DistilBERT: the exporter writes LayerNormalization itself.
        Assert.Equal(5, Count(Schedule("distilbert"), "LayerNorm"));
    }

    [Fact]
    public void Erf_gelu_folds_into_the_dense_epilogue()
    {
        // x * 0.5 * (1 + erf(x / sqrt 2)) after the intermediate projection of each layer.
        var plan = Schedule("bert");
        Assert.Equal(2, Count(plan, "Dense", "Gelu"));
        Assert.Equal(0, Count(plan, "Erf"));
        Assert.Equal(0, Count(plan, "Gelu"));
    }

    [Fact]
    public void Patch_embedding_conv_becomes_a_dense_over_patches()
    {
        // ViT's Conv with kernel = stride and no padding: patchify (strided copy), Dense, back to NCHW.
        var plan = Schedule("vit");
        Assert.Equal(0, Count(plan, "Conv2d"));
        var conv = plan.Ops.GroupBy(o => o.Node).Select(g => g.Select(o => o.Kernel).ToArray())
            .Where(kernels => kernels.Contains("Dense") && kernels.Contains("StridedCopy"));
        Assert.Equal(new[] { "StridedCopy", "Dense", "StridedCopy" }, Assert.Single(conv));
    }

    [Fact]
    public void Constant_dense_weights_are_packed_per_profile_and_specialised_per_shape()
    {
        var request = new CompileRequest(Path.Combine(Repository.Fixture("bert"), "model.onnx"), "M", "N", null, "x64-avx512", "unused", "unused", "unused");
        var plan = ModelCompiler.Build(request, new List<CompilerMessage>());
        var dense = plan.Ops.Where(o => o.Kernel == "Dense").ToArray();
        Assert.All(dense, o => Assert.Single(o.TypeArguments));
        Assert.All(plan.Shapes, s => Assert.Contains(("Panel", 32L), s.Members));
        // One struct per distinct shape, not per layer.
        Assert.Equal(dense.Select(o => o.TypeArguments[0]).Distinct().Count(), plan.Shapes.Count);
        Assert.True(plan.Shapes.Count < dense.Length);
        // Packed weights replace the originals: each weight is [⌈N/32⌉·K·32] floats, nothing unpacked left over.
        foreach (var o in dense)
        {
            var shape = plan.Shapes.Single(s => s.Name == o.TypeArguments[0]);
            long k = shape.Members.Single(m => m.Member == "K").Value, n = shape.Members.Single(m => m.Member == "N").Value;
            Assert.Equal((n + 31) / 32 * k * 32, o.Inputs[1]!.Data!.Count);
        }
    }

    [Fact]
    public void NoNorm_folds_into_the_dense_before_it_or_into_one_scale_shift_with_the_residual()
    {
        // MobileBERT's NoNorm is x·w + b; after a bottleneck Dense it disappears into the Dense, after a residual Add
        // the sum and the affine become one ScaleShift pass.
        var plan = Schedule("mobilebert");
        Assert.DoesNotContain(plan.Ops, o => o.Node.Contains("/encoder/") && o.Kernel is "MulBroadcast" or "Mul" or "AddBroadcast" or "Add");
        Assert.Contains(plan.Ops, o => o.Kernel == "ScaleShift" && o.Inputs[1] is not null);
    }

    [Fact]
    public void MatMul_and_bias_become_dense()
    {
        var plan = Schedule("bert");
        // Per layer: q|k|v (one merged Dense), attention output, intermediate, output; then pooler and classifier.
        Assert.Equal(2 * 4 + 2, Count(plan, "Dense"));
        Assert.Equal(0, Count(plan, "MatMul"));
        Assert.All(plan.Ops.Where(o => o.Kernel == "Dense" && o.Node.Contains("/encoder/")), o => Assert.NotNull(o.Inputs[2])); // bias fused
    }

    [Theory]
    [InlineData("bert", true)]        // additive mask (1 - m) * finfo.min
    [InlineData("distilbert", true)]  // masked_fill: Equal, Expand, Where
    [InlineData("mobilebert", true)]
    [InlineData("vit", false)]
    [InlineData("mobilevit", false)]  // attention inside the unfolded patches
    [InlineData("efficientformer", true)] // learned attention biases; q|k|v split per head from one projection
    public void Scaled_dot_product_attention_becomes_one_kernel(string family, bool masked)
    {
        var plan = Schedule(family);
        var attention = plan.Ops.Where(o => o.Kernel == "Attention").ToList();
        Assert.Equal(2, attention.Count);
        Assert.All(attention, a => Assert.Equal(masked, a.Inputs[3] is not null));
        Assert.Equal(0, Count(plan, "Softmax"));
        Assert.Equal(0, Count(plan, "MatMul"));
    }

    [Theory]
    [InlineData("bert", 3)]       // q, k and v all project the hidden state
    [InlineData("distilbert", 3)]
    [InlineData("vit", 3)]
    [InlineData("mobilebert", 2)] // q and k project the bottleneck, v the layer input
    public void Projections_reading_the_same_input_become_one_dense(string family, int merged)
    {
        var plan = Schedule(family);
        foreach (var a in plan.Ops.Where(o => o.Kernel == "Attention"))
        {
            var qkv = a.Inputs.Take(3).ToArray();
            Assert.Equal(merged, qkv.Count(t => t == qkv.GroupBy(x => x).OrderByDescending(g => g.Count()).First().Key));
            var producer = plan.Ops.Single(o => o.Outputs.Contains(qkv[0]));
            Assert.Equal("Dense", producer.Kernel);
            // K and V start at their column offsets inside the merged rows.
            Assert.NotEqual("0", a.Parameters.Single(p => p.Name == "kOffset").Value);
        }
    }

    [Fact]
    public void Masked_fill_mask_stays_one_value_per_token()
    {
        // DistilBERT: (mask == 0).view(b,1,1,s).expand_as(scores) feeds masked_fill. The attention
        // kernel broadcasts the [batch,1,1,sequence] mask itself; nothing is expanded to [b,h,s,s].
        var plan = Schedule("distilbert");
        Assert.All(plan.Ops.Where(o => o.Kernel == "Attention"), a => Assert.Equal("batch*sequence", a.Inputs[3]!.ElementCount.ToString()));
        Assert.DoesNotContain(plan.Ops, o => o.Kernel == "StridedCopy" && o.Outputs[0].Type == EdgeCompile.Compiler.Ir.ElementType.Bool);
    }

    [Fact]
    public void Silu_and_activations_fold_into_conv_and_dense()
    {
        var plan = Schedule("mobilevit");
        Assert.Equal(0, Count(plan, "Sigmoid"));
        Assert.Equal(11, Count(plan, "Conv2d", "Silu") + Count(plan, "Dense", "Silu"));
    }

    [Theory]
    [InlineData("bert", 1)]       // position ids sliced from a buffer to the sequence length
    [InlineData("distilbert", 2)] // position ids from Range(sequence), expanded to the batch
    [InlineData("mobilebert", 1)]
    [InlineData("vit", 0)]
    [InlineData("mobilevit", 0)]
    [InlineData("efficientformer", 0)]
    public void Shape_chains_leave_no_run_time_shape_work(string family, int positionIdOps)
    {
        // Shape→Gather→Unsqueeze→Concat→Reshape chains fold at build time; what is left of
        // integer work at run time is making position ids, nothing else.
        var plan = Schedule(family);
        var integerOps = plan.Ops.Where(o => o.Outputs[0].Type == EdgeCompile.Compiler.Ir.ElementType.Int64).Select(o => $"{o.Kernel} {o.Node}").ToList();
        Assert.True(integerOps.Count == positionIdOps, string.Join("; ", integerOps));
    }
}
