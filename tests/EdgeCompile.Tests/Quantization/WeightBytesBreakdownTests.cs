using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using EdgeCompile.Tests.Onnx;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Quantization;

/// <summary>
/// Where a quantized build's weight bytes go (issue 4's size targets): every weight tensor of the plan attributed to
/// the kernel that reads it and the operand position, plus the alignment padding of the blob. The printed
/// table is the measurement; the test checks that the tensors and their padding make up the whole blob.
/// </summary>
public sealed class WeightBytesBreakdownTests(ITestOutputHelper output)
{
    public static TheoryData<string, QuantizeMode> Cases
    {
        get
        {
            var data = new TheoryData<string, QuantizeMode>();
            foreach (var family in FixtureCompilerTests.FamilyNames)
                foreach (var mode in new[] { QuantizeMode.Int8, QuantizeMode.Int4 }) data.Add(family, mode);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_weight_byte_is_attributed(string family, QuantizeMode mode)
    {
        string model = Path.Combine(Repository.Fixture(family), "model.onnx");
        string shapes = family is "bert" or "distilbert" or "mobilebert" ? "batch=8;sequence=64" : "batch=8";
        using var dir = new TempDir();
        var request = new CompileRequest(model, "M", "N", shapes, "portable", dir.File("M.edgeplan"), dir.File("M.edgeweights"), "N.M.edgeweights",
            Quantize: new QuantizeOptions { Mode = mode, ReportPath = dir.File("report.md"), QuantizedOnnxPath = dir.File("reference.onnx") });
        var result = ModelCompiler.Compile(request);
        Assert.True(result.Success, string.Join("\n", result.Messages));
        var plan = result.Plan!;
        using var fp32Dir = new TempDir();
        var fp32 = ModelCompiler.Compile(new CompileRequest(model, "M", "N", shapes, "portable", fp32Dir.File("M.edgeplan"), fp32Dir.File("M.edgeweights"), "N.M.edgeweights"));

        // Each stored weight (a root tensor) under the first kernel that reads it (directly or through a view).
        var weights = plan.Tensors.Where(t => t.Storage == StorageKind.Weight && t.ViewOf is null).ToList();
        var category = new Dictionary<PlanTensor, string>();
        foreach (var op in plan.Ops)
            for (int i = 0; i < op.Inputs.Count; i++)
                if (op.Inputs[i] is { } input && input.Root.Storage == StorageKind.Weight && !category.ContainsKey(input.Root))
                    category[input.Root] = $"{op.Kernel} in{i} {input.Root.Type}";
        var bytes = new Dictionary<string, (long Bytes, int Count)>();
        long padding = plan.WeightBytes;
        foreach (var t in weights)
        {
            long size = t.Data!.ToBytes().Length;
            padding -= size;
            string key = category.TryGetValue(t, out var c) ? c : "(unread) " + t.Type;
            bytes[key] = bytes.TryGetValue(key, out var b) ? (b.Bytes + size, b.Count + 1) : (size, 1);
        }
        // The tensors tile the blob without overlap, each at its alignment (64 B, 16 B for sizes that are not whole lines):
        // what is left is padding, less than one alignment per tensor.
        long end = 0;
        foreach (var t in weights.OrderBy(t => t.Location))
        {
            long size = t.Data!.ToBytes().Length;
            Assert.Equal(0, t.Location % (size % 64 == 0 ? 64 : 16));
            Assert.True(t.Location >= end, $"{t.Name} overlaps the tensor before it");
            end = t.Location + size;
        }
        Assert.Equal(plan.WeightBytes, end);
        Assert.InRange(padding, 0, (long)weights.Count * 63);
        output.WriteLine($"{family} {mode}: {plan.WeightBytes:N0} B ({(double)fp32.Plan!.WeightBytes / plan.WeightBytes:F2}x smaller than FP32 {fp32.Plan.WeightBytes:N0} B)");
        foreach (var (key, (b, count)) in bytes.OrderByDescending(e => e.Value.Bytes))
            output.WriteLine($"  {key,-40} {b,9:N0} B {100.0 * b / plan.WeightBytes,5:F1} % ({count} tensors)");
        output.WriteLine($"  {"alignment padding",-40} {padding,9:N0} B {100.0 * padding / plan.WeightBytes,5:F1} %");
        // Constant tables stored INT8 per row, and quantized weights the reference ONNX file cannot carry (no initializer).
        foreach (var line in File.ReadAllLines(dir.File("report.md")).Where(l => l.Contains("| Table |") || l.Contains("no initializer")))
            output.WriteLine("  report: " + line);
    }
}
