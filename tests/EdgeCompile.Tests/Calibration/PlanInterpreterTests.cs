using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Tests.Calibration;

/// <summary>The interpreter on small hand-written plans: shape-generic kernels, parameter evaluation and its errors.</summary>
public sealed class PlanInterpreterTests
{
    private static readonly DimExpr Rows = DimExpr.Symbol("rows");

    /// <summary>A plan: x f32 [rows,k] → Dense (k×n, packed in panels) → y f32 [rows,n]; returns it and the unpacked weights.</summary>
    private static (Plan Plan, double[] W, double[] Bias) DensePlan(int k, int n, int panel, string activation = "None")
    {
        var random = new Random(k * 1000 + n);
        var w = Enumerable.Range(0, k * n).Select(_ => (double)(float)(random.NextDouble() * 2 - 1)).ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => (double)(float)(random.NextDouble() - 0.5)).ToArray();
        var plan = new Plan { ClassName = "T", Profile = panel == 32 ? "x64-avx512" : "portable" };
        plan.Dimensions.Add(("rows", 8));
        var x = new PlanTensor(0, ElementType.Float32, new[] { Rows, DimExpr.Const(k) }, StorageKind.Input) { Location = 0 };
        var packed = PanelPacking.Pack(ConstTensor.Floats(ElementType.Float32, new long[] { k, n }, w), panel);
        var wt = new PlanTensor(1, ElementType.Float32, new[] { DimExpr.Const(packed.Count) }, StorageKind.Weight) { Data = packed };
        var bt = new PlanTensor(2, ElementType.Float32, new[] { DimExpr.Const(n) }, StorageKind.Weight) { Data = ConstTensor.Floats(ElementType.Float32, new long[] { n }, bias) };
        var y = new PlanTensor(3, ElementType.Float32, new[] { Rows, DimExpr.Const(n) }, StorageKind.Output) { Location = 0 };
        plan.Tensors.AddRange(new[] { x, wt, bt, y });
        plan.Inputs.Add(("x", x));
        plan.Outputs.Add(("y", y));
        string shape = $"Dense{k}x{n}";
        plan.Shapes.Add(new PlanShape(shape, "IDenseShape", new[] { ("K", (long)k), ("N", (long)n), ("Panel", (long)panel) }));
        plan.Ops.Add(new PlanOp("Dense", new PlanTensor?[] { x, wt, bt }, new[] { y },
            new[] { ("rows", "rows"), ("activation", "Activation." + activation), ("workers", "workers") }, "dense") { TypeArguments = new[] { shape } });
        return (plan, w, bias);
    }

    /// <summary>y = relu?(x·W + b) in double, straight from the unpacked weights.</summary>
    private static double[] Reference(float[] x, double[] w, double[] bias, int rows, int k, int n, bool relu)
    {
        var y = new double[rows * n];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double s = bias[j];
                for (int i = 0; i < k; i++) s += x[r * k + i] * w[i * n + j];
                y[r * n + j] = relu ? Math.Max(0, s) : s;
            }
        return y;
    }

    [Fact]
    public void Shape_generic_dense_runs_each_plan_with_its_own_shape()
    {
        // Two shapes and both panel widths, interleaved many times: a shape bound for one call must not leak into
        // the next (nor be frozen by the JIT after tier-up).
        var layers = new[] { (K: 37, N: 20, Panel: 16, Act: "None"), (K: 20, N: 45, Panel: 32, Act: "Relu") }
            .Select(l => (l, DensePlan(l.K, l.N, l.Panel, l.Act))).Select(p => (p.l, p.Item2, Interpreter: new PlanInterpreter(p.Item2.Plan))).ToArray();
        var random = new Random(7);
        for (int iteration = 0; iteration < 40; iteration++)
            foreach (var (l, (_, w, bias), interpreter) in layers)
            {
                int rows = 1 + iteration % 5;
                var x = Enumerable.Range(0, rows * l.K).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                var y = (float[])interpreter.Run(new Array[] { x }, new Dictionary<string, long> { ["rows"] = rows })[0];
                var expected = Reference(x, w, bias, rows, l.K, l.N, l.Act == "Relu");
                Assert.Equal(expected.Length, y.Length);
                for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"{l}: y[{i}] = {y[i]}, expected {expected[i]}");
            }
    }

    [Fact]
    public void Unknown_kernel_is_EC2110_naming_it()
    {
        var (plan, _, _) = DensePlan(4, 4, 16);
        plan.Ops.Add(new PlanOp("Frobnicate", new[] { plan.Outputs[0].Tensor }, new[] { plan.Outputs[0].Tensor }, Array.Empty<(string, string)>(), "/weird/node"));
        var e = Assert.Throws<CompilerException>(() => new PlanInterpreter(plan));
        Assert.Equal(Codes.InterpreterUnsupportedKernel, e.Code);
        Assert.Equal("/weird/node", e.Node);
        Assert.Contains("'Frobnicate'", e.Message);
    }

    [Fact]
    public void A_parameter_the_handler_does_not_pass_is_an_error()
    {
        var (plan, _, _) = DensePlan(4, 4, 16);
        var dense = plan.Ops[0];
        plan.Ops[0] = dense with { Parameters = dense.Parameters.Append(("alpha", "1f")).ToList() };
        var e = Assert.Throws<InvalidOperationException>(() => new PlanInterpreter(plan).Run(new Array[] { new float[4] }, new Dictionary<string, long> { ["rows"] = 1 }));
        Assert.Contains("alpha", e.Message);
    }

    [Fact]
    public void A_parameter_naming_no_dimension_is_an_error_before_running()
    {
        var (plan, _, _) = DensePlan(4, 4, 16);
        var dense = plan.Ops[0];
        plan.Ops[0] = dense with { Parameters = new[] { ("rows", "batch*rows") }.Concat(dense.Parameters.Skip(1)).ToList() };
        var e = Assert.Throws<InvalidOperationException>(() => new PlanInterpreter(plan));
        Assert.Contains("'batch' is not a dimension", e.Message);
    }

    [Fact]
    public void Run_checks_dimensions_and_inputs()
    {
        var interpreter = new PlanInterpreter(DensePlan(4, 4, 16).Plan);
        Assert.Throws<ArgumentOutOfRangeException>(() => interpreter.Run(new Array[] { new float[36] }, new Dictionary<string, long> { ["rows"] = 9 }));
        Assert.Throws<ArgumentException>(() => interpreter.Run(new Array[] { new float[3] }, new Dictionary<string, long> { ["rows"] = 1 }));
        Assert.Throws<ArgumentException>(() => interpreter.Run(new Array[] { new long[4] }, new Dictionary<string, long> { ["rows"] = 1 }));
        Assert.Throws<ArgumentException>(() => interpreter.Run(new Array[] { new float[4] }, new Dictionary<string, long>()));
    }

    [Theory]
    [InlineData("64", 64)]
    [InlineData("batch*sequence", 3 * 7)]
    [InlineData("12*batch*sequence", 12 * 3 * 7)]
    [InlineData("(sequence-1)", 7 - 1)]
    [InlineData("(sequence-1)*12/5", (7 - 1) * 12 / 5)]
    [InlineData("-batch+10", -3 + 10)]
    [InlineData("batch*(sequence+15)*(8+4)", 3 * (7 + 15) * (8 + 4))]
    public void Integer_expressions_evaluate_as_csharp_int_arithmetic(string text, int expected)
    {
        var dims = new Dictionary<string, long> { ["batch"] = 3, ["sequence"] = 7 };
        Assert.Equal(expected, IntExpression.Parse(text, dims.Keys.ToHashSet()).Evaluate(dims));
    }

    [Theory]
    [InlineData("batch**2")]
    [InlineData("(batch")]
    [InlineData("seq")]
    [InlineData("")]
    public void Malformed_expressions_are_rejected(string text) =>
        Assert.Throws<FormatException>(() => IntExpression.Parse(text, new HashSet<string> { "batch" }));

    [Fact]
    public void An_expression_beyond_int_is_reported()
    {
        var dims = new Dictionary<string, long> { ["batch"] = 1 << 20 };
        Assert.Throws<OverflowException>(() => IntExpression.Parse("batch*batch", dims.Keys.ToHashSet()).Evaluate(dims));
    }

    [Fact]
    public void Literals_parse_to_the_values_csharp_gives_them()
    {
        var none = new HashSet<string>();
        Assert.Equal(1E-12f, PlanParameter.Parse("epsilon", "1E-12f", none).Float());
        Assert.Equal(-3.4028235E+38f, PlanParameter.Parse("min", "-3.4028235E+38f", none).Float());
        Assert.Equal(0.70710677f, PlanParameter.Parse("scale", "0.70710677f", none).Float());
        Assert.Equal(float.NegativeInfinity, PlanParameter.Parse("min", "float.NegativeInfinity", none).Float());
        Assert.True(float.IsNaN(PlanParameter.Parse("value", "float.NaN", none).Float()));
        Assert.Equal(-5L, PlanParameter.Parse("value", "-5L", none).Long(new Dictionary<string, long>()));
        Assert.Equal(EdgeCompile.Runtime.Activation.Gelu, PlanParameter.Parse("activation", "Activation.Gelu", none).Activation());
        Assert.True(PlanParameter.Parse("transposeB", "true", none).Bool());
        Assert.True(PlanParameter.Parse("workers", "workers", none).IsWorkers);
        Assert.Throws<FormatException>(() => PlanParameter.Parse("activation", "Activation.Swish", none));
        Assert.Throws<FormatException>(() => PlanParameter.Parse("alpha", "0.5f", none).Int(new Dictionary<string, long>()));
    }
}
