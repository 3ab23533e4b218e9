using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Tests.Compiler;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Onnx;

/// <summary>
/// A pruned weight quantized in the plan's smaller frame and written back at its initializer's full size
/// (<see cref="WeightPlacement"/>): ONNX Runtime's DequantizeLinear of the written file gives the plan's q·s at the kept
/// rows and exactly 0 at the removed ones, also when a removed head sits inside an INT4 block of 32 of the full matrix.
/// </summary>
public sealed class WeightPlacementTests(ITestOutputHelper output)
{
    [Fact]
    public void Int4_blocks_straddling_removed_rows_are_written_with_the_plans_own_scales()
    {
        // bert's FFN down projection [128,64] read as 8 heads of 16 rows; keeping heads 0,2,3,5,6 makes 80 plan rows, whose
        // blocks of 32 are heads {0,2}, {3,5}, {6}. The full matrix's rows 32..63 (heads 2,3) straddle plan blocks 0 and 1,
        // so blocks of 32 cannot hold the plan's scales; blocks of 16 can.
        var path = Path.Combine(Repository.Fixture("bert"), "model.onnx");
        var (name, dims, _, _) = OnnxFiles.Weights(OnnxFiles.Load(path), "MatMul").First(w => w.Dims.SequenceEqual(new long[] { 128, 64 }));
        var full = OnnxFiles.Floats(OnnxFiles.Initializer(OnnxFiles.Load(path), name));
        int fullRows = 128, n = 64, headRows = 16;
        var keptRows = new[] { 0, 2, 3, 5, 6 }.SelectMany(h => Enumerable.Range(h * headRows, headRows)).ToArray();
        int k = keptRows.Length;
        var plan = new float[k * n];
        for (int i = 0; i < k; i++) Array.Copy(full, keptRows[i] * n, plan, i * n, n);
        var (q, scales) = TestQuantizer.Int4Blocked(plan, new long[] { k, n }, 0, 32);
        var dequantized = TestQuantizer.Dequantize(q, scales, TestQuantizer.BlockedIndex(new long[] { k, n }, 0, 32));

        var placement = new WeightPlacement(new[] { new WeightSlice(name, 0, n, WeightFrame.AsIs) }, fullRows, n, keptRows, null);
        var (fullScales, block) = placement.BlockScales(scales.Select(s => (Half)s).ToArray(), k, n, 32)!.Value;
        Assert.Equal(16, block);
        var replacements = DenseWeightReplacements.Int4(placement.Origin, fullRows, n, placement.Matrix(q, k, n), fullScales, block);

        using var dir = new TempDir();
        QuantizedOnnxWriter.Write(path, dir.File("quantized.onnx"), replacements);
        var probe = OnnxFiles.Load(dir.File("quantized.onnx"));
        OnnxFiles.AddFloatOutput(probe, name);
        OnnxFiles.Save(probe, dir.File("probe.onnx"));
        using var session = OnnxFiles.ReferenceSession(dir.File("probe.onnx"));
        var written = OnnxFiles.Run(session, FixtureTestSet.Load("bert").Batch(0, 1), name)[name];

        var planRow = Enumerable.Repeat(-1, fullRows).ToArray();
        for (int i = 0; i < k; i++) planRow[keptRows[i]] = i;
        for (int r = 0; r < fullRows; r++)
            for (int c = 0; c < n; c++)
            {
                float expected = planRow[r] < 0 ? 0f : dequantized[planRow[r] * n + c];
                if (written[r * n + c] != expected) Assert.Fail($"'{name}' [{r},{c}] is {written[r * n + c]}, expected {expected}");
            }
        output.WriteLine($"'{name}' [{fullRows},{n}], {k} kept rows in plan blocks of 32: written in blocks of {block}, equal to the plan's q·s, removed rows 0");
    }

    [Fact]
    public void Removed_columns_get_integer_zeros_and_kept_columns_keep_their_scales()
    {
        var origin = new[] { new WeightSlice("w", 0, 6, WeightFrame.AsIs) };
        var placement = new WeightPlacement(origin, 2, 6, null, new[] { 1, 4 });
        Assert.Equal(new sbyte[] { 0, 3, 0, 0, -2, 0, 0, 5, 0, 0, 7, 0 }, placement.Matrix(new sbyte[] { 3, -2, 5, 7 }, 2, 2));
        Assert.Equal(new[] { 1f, 0.5f, 1f, 1f, 0.25f, 1f }, placement.PerColumn(new[] { 0.5f, 0.25f }, 1f));
    }
}
