using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// <c>Quantize</c> through the compiler: the plan each calibration-free mode writes (kernels, weight types, scratch)
/// and the build report's numbers, read back from the plan text rather than from the code that made them.
/// </summary>
public sealed class QuantizationTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecompile-quant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed record Compiled(CompileResult Result, string PlanText, string? Report, PlanText Plan);

    private Compiled Compile(string model, QuantizeOptions? options, string maxShapes, string name = "M")
    {
        string report = Path.Combine(_dir, name + ".quantization.md");
        var request = new CompileRequest(model, name, "N", maxShapes, "portable",
            Path.Combine(_dir, name + ".edgeplan"), Path.Combine(_dir, name + ".edgeweights"), "N." + name + ".edgeweights",
            Quantize: options is null ? null : options with { ReportPath = report });
        var result = ModelCompiler.Compile(request);
        Assert.True(result.Success, string.Join("\n", result.Messages));
        string text = File.ReadAllText(request.PlanPath);
        return new Compiled(result, text, File.Exists(report) ? File.ReadAllText(report) : null, new PlanText(text));
    }

    private Compiled Fixture(string family, QuantizeMode mode, string name = "M") =>
        Compile(Path.Combine(Repository.Fixture(family), "model.onnx"), mode == QuantizeMode.None ? null : new QuantizeOptions { Mode = mode },
            family is "bert" or "distilbert" or "mobilebert" ? "batch=8;sequence=64" : "batch=8", name);

    [Fact]
    public void Int8_turns_every_constant_dense_and_embedding_into_int8_kernels()
    {
        var fp32 = Fixture("bert", QuantizeMode.None, "F");
        var int8 = Fixture("bert", QuantizeMode.Int8);
        int dense = fp32.Plan.Calls("Dense").Count, gathers = fp32.Plan.Calls("Gather").Count;
        Assert.True(dense >= 10 && gathers >= 2, $"bert should have Dense layers and embeddings ({dense}, {gathers})");
        Assert.Equal(dense, int8.Plan.Calls("DenseInt8").Count);
        Assert.Empty(int8.Plan.Calls("Dense"));
        Assert.Equal(gathers, int8.Plan.Calls("GatherInt8Rows").Count);
        Assert.Empty(int8.Plan.Calls("Gather"));
        foreach (var op in int8.Plan.Calls("DenseInt8"))
        {
            // op DenseInt8<Dense{K}x{N}> in=x,w,wScale,-,bias out=y,scratch rows=... inputScale=0f activation=... workers=workers
            var (k, n) = op.DenseShape(int8.Plan);
            int kq = (k + 3) / 4 * 4, panels = (n + 15) / 16;
            Assert.Equal(("i8", $"[{panels * kq * 16}]", "weight"), int8.Plan.Tensor(op.In[1]));
            Assert.Equal(("f32", $"[{n}]", "weight"), int8.Plan.Tensor(op.In[2]));
            Assert.Equal("-", op.In[3]);  // no stored column sums: the kernel computes them where it needs them
            // scratch: DenseInt8ScratchBytes(rows, K) = rows·(2·Kq + 16) + 64 (rows is batch·sequence, or batch for the pooler)
            Assert.Equal(("u8", $"[({2 * kq + 16}*{op.Params["rows"]}+64)]", "arena"), int8.Plan.Tensor(op.Out[1]));
            Assert.Equal("0f", op.Params["inputScale"]);
            Assert.Equal("workers", op.Params["workers"]);
        }
        foreach (var op in int8.Plan.Calls("GatherInt8Rows"))
        {
            var (type, shape, storage) = int8.Plan.Tensor(op.In[0]);
            Assert.Equal(("i8", "weight"), (type, storage));
            Assert.Equal($"[{long.Parse(op.Params["axisLength"]) * long.Parse(op.Params["inner"])}]", shape);
            // Row scales as Half (bert's rows all have scales in the normal Half range).
            Assert.Equal(("f16", $"[{op.Params["axisLength"]}]", "weight"), int8.Plan.Tensor(op.In[1]));
        }
    }

    [Fact]
    public void Fp16_stores_half_panels_and_half_embeddings()
    {
        var fp32 = Fixture("bert", QuantizeMode.None, "F");
        var half = Fixture("bert", QuantizeMode.Fp16);
        Assert.Equal(fp32.Plan.Calls("Dense").Count, half.Plan.Calls("DenseHalf").Count);
        Assert.Equal(fp32.Plan.Calls("Gather").Count, half.Plan.Calls("GatherHalfRows").Count);
        foreach (var op in half.Plan.Calls("DenseHalf"))
        {
            var (k, n) = op.DenseShape(half.Plan);
            Assert.Equal(("f16", $"[{(n + 15) / 16 * 16 * k}]", "weight"), half.Plan.Tensor(op.In[1]));
        }
        Assert.All(half.Plan.Calls("GatherHalfRows"), op => Assert.Equal("f16", half.Plan.Tensor(op.In[0]).Type));
    }

    [Fact]
    public void Int4_declares_block_shapes_and_packs_nibbles_with_half_scales()
    {
        var int4 = Fixture("bert", QuantizeMode.Int4);
        Assert.NotEmpty(int4.Plan.Calls("DenseInt4"));
        Assert.Empty(int4.Plan.Calls("Dense"));
        Assert.Contains("shape Dense64x64Block32 IDenseBlockShape K=64 N=64 Panel=16 Block=32\n", int4.PlanText);
        foreach (var op in int4.Plan.Calls("DenseInt4"))
        {
            var (k, n) = op.DenseShape(int4.Plan);
            int panels = (n + 15) / 16, blocks = (k + 31) / 32;
            Assert.Equal(("u8", $"[{(panels * k * 16 + 1) / 2}]", "weight"), int4.Plan.Tensor(op.In[1]));
            Assert.Equal(("f16", $"[{panels * blocks * 16}]", "weight"), int4.Plan.Tensor(op.In[2]));
        }
        var gathers = int4.Plan.Calls("GatherInt4Rows");
        Assert.NotEmpty(gathers);
        foreach (var op in gathers)
        {
            long v = long.Parse(op.Params["axisLength"]), d = long.Parse(op.Params["inner"]);
            Assert.Equal("32", op.Params["block"]);
            Assert.Equal(("u8", $"[{(v * d + 1) / 2}]", "weight"), int4.Plan.Tensor(op.In[0]));
            Assert.Equal(("f16", $"[{v * ((d + 31) / 32)}]", "weight"), int4.Plan.Tensor(op.In[1]));
        }
    }

    [Theory]
    [InlineData(QuantizeMode.Int8, 3.5)]
    [InlineData(QuantizeMode.Int4, 6.0)]
    [InlineData(QuantizeMode.Fp16, 1.9)]
    public void Report_totals_are_the_plans_weight_bytes_before_and_after(QuantizeMode mode, double minimumRatio)
    {
        var fp32 = Fixture("bert", QuantizeMode.None, "F");
        var q = Fixture("bert", mode);
        Assert.NotNull(q.Report);
        Assert.Null(fp32.Report);
        long before = fp32.Plan.WeightBytes(), after = q.Plan.WeightBytes();
        var totals = Totals(q.Report!);
        output.WriteLine($"bert {mode}: weights {before:N0} → {after:N0} bytes ({(double)before / after:0.00}x)");
        Assert.Equal(before, totals.Before);
        Assert.Equal(after, totals.After);
        Assert.True((double)before / after >= minimumRatio, $"{mode}: {(double)before / after:0.00}x < {minimumRatio}x");

        // Per layer: one row per quantized op, and its bytes after are the op's weight tensors (bias excluded).
        var rows = LayerRows(q.Report!);
        var quantized = q.Plan.Ops.Where(o => o.Kernel.StartsWith("Dense", StringComparison.Ordinal) && o.Kernel != "Dense" || o.Kernel.StartsWith("Gather", StringComparison.Ordinal) && o.Kernel != "Gather" || o.Kernel == "DequantizeInt8Rows").ToList();
        Assert.Equal(quantized.Count, rows.Count);
        foreach (var op in quantized)
        {
            // The weight inputs of each kernel (docs/quantization.md): values, then scales and column sums.
            var weights = op.Kernel switch
            {
                "DenseInt8" => op.In[1..3],
                "DenseInt4" => op.In[1..3],
                "DenseHalf" => op.In[1..2],
                "GatherHalfRows" => op.In[0..1],
                _ => op.In[0..2],
            };
            Assert.Contains(rows, r => r.Node == op.Node && r.After == weights.Sum(q.Plan.Bytes));
        }
        var summary = Assert.Single(q.Result.Messages, m => m.Message.StartsWith($"M: {mode},", StringComparison.Ordinal));
        Assert.Matches(new Regex($@"^M: {mode}, {rows.Count} layers \(\d+ (INT8|INT4|FP16)\), weights {before:N0} → {after:N0} bytes \(\d+\.\d\dx smaller\)$"), summary.Message);
    }

    [Fact]
    public void Convolutions_are_int8_per_output_channel_and_reported()
    {
        var q = Fixture("mobilevit", QuantizeMode.Int8);
        Assert.Empty(q.Plan.Calls("Conv2d"));
        Assert.NotEmpty(q.Plan.Calls("Conv2dInt8"));
        Assert.All(q.Plan.Calls("Conv2dInt8"), op => Assert.Equal(("i8", "f16"), (q.Plan.Tensor(op.In[1]).Type, q.Plan.Tensor(op.In[2]).Type)));
        var convRows = LayerRows(q.Report!).Where(r => r.Kind == "Conv").ToList();
        Assert.Equal(q.Plan.Calls("Conv2dInt8").Count, convRows.Count);
        Assert.All(convRows, r => Assert.Equal("INT8", r.Precision));
        Assert.All(convRows, r => Assert.True(r.After < r.Before));
    }

    [Fact]
    public void Mixed_without_calibration_says_it_chose_from_weights_and_picks_int8_or_fp16()
    {
        var q = Fixture("bert", QuantizeMode.Mixed);
        var info = Assert.Single(q.Result.Messages, m => m.Code == "EC3008");
        Assert.Equal(Severity.Info, info.Severity);
        Assert.Contains("weights only", info.Message);
        var rows = LayerRows(q.Report!);
        Assert.All(rows, r => Assert.Contains(r.Precision, new[] { "INT8", "FP16" }));
        // The rule, checked from the report's own error column: INT8 exactly when the INT8 weight error ≤ 0.01.
        var int8 = Fixture("bert", QuantizeMode.Int8, "I");
        var errors = LayerRows(int8.Report!).ToDictionary(r => r.Node, r => r.Error);
        // (The report rounds errors to 5 decimals: a layer within 1e-5 of the limit could go either way.)
        Assert.All(rows.Where(r => Math.Abs(errors[r.Node] - 0.01) > 1e-5), r => Assert.Equal(errors[r.Node] <= 0.01 ? "INT8" : "FP16", r.Precision));
        output.WriteLine(string.Join("\n", rows.Select(r => $"{r.Node}: {r.Precision} (INT8 weight error {errors[r.Node]:0.00000})")));
    }

    [Fact]
    public void A_weight_beyond_the_half_range_is_EC3007_for_Fp16_and_stays_fp32_under_Mixed()
    {
        var w = Enumerable.Range(0, 12).Select(i => i == 5 ? 70000f : i * 0.25f).ToArray();
        var model = new OnnxModelBuilder()
            .Input("x", "batch", 4).Output("y", "batch", 3)
            .TypedInitializer("W", new long[] { 4, 3 }, w)
            .Node("MatMul", "big/MatMul", new[] { "x", "W" }, new[] { "y" })
            .Save(Path.Combine(_dir, "big.onnx"));
        var result = ModelCompiler.Compile(new CompileRequest(model, "M", "N", "batch=2", "portable",
            Path.Combine(_dir, "big.edgeplan"), Path.Combine(_dir, "big.edgeweights"), "N.M.edgeweights", Quantize: new QuantizeOptions { Mode = QuantizeMode.Fp16 }));
        var error = Assert.Single(result.Messages, m => m.Severity == Severity.Error);
        Assert.Equal(("EC3007", "big/MatMul"), (error.Code, error.Node));
        Assert.Contains("70000", error.Message);

        var mixed = Compile(model, new QuantizeOptions { Mode = QuantizeMode.Mixed, MaxOutputError = 1e-9 }, "batch=2");
        Assert.Single(mixed.Plan.Calls("Dense"));
        Assert.Equal("FP32", Assert.Single(LayerRows(mixed.Report!)).Precision);
    }

    [Fact]
    public void Static_activation_scales_need_a_calibration_set_with_samples()
    {
        CompileResult Compile(string? calibration) => ModelCompiler.Compile(new CompileRequest(Path.Combine(Repository.Fixture("vit"), "model.onnx"), "M", "N", "batch=1", "portable",
            Path.Combine(_dir, "m.edgeplan"), Path.Combine(_dir, "m.edgeweights"), "N.M.edgeweights",
            Quantize: new QuantizeOptions { Mode = QuantizeMode.Int8, ActivationScales = ActivationScaleMode.MinMax, CalibrationDirectory = calibration }));
        Assert.Equal("EC3009", Assert.Single(Compile(null).Messages, m => m.Severity == Severity.Error).Code);
        Assert.Equal("EC2102", Assert.Single(Compile(_dir).Messages, m => m.Severity == Severity.Error).Code); // a folder without .npy files
        Assert.False(File.Exists(Path.Combine(_dir, "m.edgeplan")));
    }

    [Fact]
    public void Quantize_None_compiles_exactly_as_without_options_and_writes_no_report()
    {
        var plain = Fixture("mobilebert", QuantizeMode.None);
        var none = Compile(Path.Combine(Repository.Fixture("mobilebert"), "model.onnx"), QuantizeOptions.None, "batch=8;sequence=64");
        Assert.Equal(plain.PlanText, none.PlanText);
        Assert.Null(none.Report);
    }

    // ---- reading the report back ---------------------------------------------------------------

    private sealed record Row(string Node, string Kind, string Precision, double Error, long Before, long After, string Note);

    private static List<Row> LayerRows(string report) =>
        report.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).Select(l =>
        {
            var c = l.Split(" | ");
            return new Row(c[0][3..^1], c[1], c[3], c[4] == "—" ? double.NaN : double.Parse(c[4], CultureInfo.InvariantCulture),
                long.Parse(c[5], NumberStyles.AllowThousands, CultureInfo.InvariantCulture), long.Parse(c[6], NumberStyles.AllowThousands, CultureInfo.InvariantCulture),
                c[7].TrimEnd('|', ' '));
        }).ToList();

    private static (long Before, long After) Totals(string report)
    {
        long Read(string label) => long.Parse(Regex.Match(report, $@"- weights {label}: ([\d,]+) bytes").Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        return (Read("before"), Read("after"));
    }
}

/// <summary>A plan file read back just far enough to check it: tensors and op lines.</summary>
internal sealed class PlanText
{
    public sealed record Op(string Kernel, string? Shape, string[] In, string[] Out, Dictionary<string, string> Params, string Node)
    {
        public (int K, int N) DenseShape(PlanText plan)
        {
            var m = Regex.Match(plan.Text, $@"^shape {Regex.Escape(Shape!)} \w+ K=(\d+) N=(\d+)", RegexOptions.Multiline);
            return (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value));
        }
    }

    private readonly Dictionary<string, (string Type, string Shape, string Storage)> _tensors = new();

    public PlanText(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n'))
        {
            var t = line.Split(' ');
            if (t[0] == "tensor") _tensors[t[1]] = (t[2], t[3], t[4]);
            if (t[0] != "op") continue;
            var m = Regex.Match(t[1], @"^(\w+)(?:<(\w+)>)?$");
            var p = t.Skip(2).TakeWhile(x => !x.StartsWith("node=", StringComparison.Ordinal)).Select(x => x.Split('=', 2)).ToDictionary(x => x[0], x => x[1]);
            string node = line[(line.IndexOf(" node=", StringComparison.Ordinal) + 6)..];
            Ops.Add(new Op(m.Groups[1].Value, m.Groups[2].Success ? m.Groups[2].Value : null,
                p["in"].Split(','), p["out"].Split(','), p, node));
        }
    }

    public string Text { get; }
    public List<Op> Ops { get; } = new();

    public List<Op> Calls(string kernel) => Ops.Where(o => o.Kernel == kernel).ToList();

    public (string Type, string Shape, string Storage) Tensor(string id) => _tensors[id];

    /// <summary>Bytes of a weight tensor (constant shape).</summary>
    public long Bytes(string id)
    {
        var (type, shape, _) = _tensors[id];
        long count = shape.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries).Aggregate(1L, (a, d) => a * long.Parse(d));
        return count * type switch { "f32" or "i32" => 4, "f16" => 2, "i64" or "f64" => 8, _ => 1 };
    }

    /// <summary>Σ bytes of every tensor stored as a weight (views excepted: they share their root's bytes).</summary>
    public long WeightBytes() =>
        // A view's tensor line repeats its root's offset: count each offset once, at its largest extent.
        Text.Split('\n').Select(l => l.Split(' ')).Where(t => t[0] == "tensor" && t[4] == "weight")
            .GroupBy(t => t[5]).Sum(g => g.Max(t => Bytes(t[1])));
}
