using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>What head pruning did, handed to <see cref="FfnPruner.Run"/>, which prunes the FFN blocks next and writes one report.</summary>
public sealed record AttentionPruning(IReadOnlyList<PrunedHeads> Layers, IReadOnlyList<PrunedInitializer> Initializers, int CalibrationSamples,
    long ParametersBefore, long Fp32BytesBefore);

/// <summary>
/// Structured pruning of attention heads, a pass on the fused graph before FFN pruning (<see cref="FfnPruner"/>) and
/// lowering. For every <see cref="AttentionBlock"/> it keeps the most important heads (<see cref="HeadRanking"/>),
/// removes the other heads' columns from the q/k/v projections (weights and biases), rewrites the attention's layout
/// (head count, offsets and strides into the narrower projections) and drops their rows from the output projection;
/// with a calibration set it refits the output projection's kept rows (<see cref="DownProjectionRefit"/>, the same
/// least squares as the FFN down projection, on the attention outputs instead of the neurons).
/// </summary>
public static class AttentionHeadPruner
{
    /// <param name="lowerFp32">Lowers the graph as it is now to a fresh FP32 plan (run on the calibration set, and weighed).</param>
    public static AttentionPruning Run(Graph graph, PruneOptions options, Func<Plan> lowerFp32, string modelPath, List<CompilerMessage> messages)
    {
        FfnPruner.Check(options);
        long parametersBefore = graph.ParameterCount;
        var fp32 = lowerFp32();
        WeightPacker.Pack(fp32);
        var (blocks, skipped) = AttentionBlock.Find(graph);
        foreach (var (attention, reason) in skipped)
            messages.Add(new CompilerMessage(Severity.Info, Codes.AttentionHeadsKept,
                $"attention '{attention.Name}' keeps all its heads: {reason}. Only FFN neurons are pruned around it; nothing to do.", modelPath, attention.Name));

        Dictionary<string, NeuronStatistics>? stats = null;
        int samplesSeen = 0;
        if (options.CalibrationDirectory is { } folder && blocks.Count > 0)
        {
            var samples = CalibrationSet.Load(folder, fp32).Samples().ToList();
            samplesSeen = samples.Count;
            stats = NeuronStatistics.CollectInputs(fp32, blocks.Select(b => (b.Output.Name, b.Heads * b.ValueDim)), samples);
        }

        var layers = new List<PrunedHeads>();
        var initializers = new List<PrunedInitializer>();
        foreach (var block in blocks)
        {
            var outcome = Prune(block, options, stats?[block.Output.Name]);
            layers.Add(outcome.Report);
            graph.ParameterCount -= outcome.RemovedParameters;
            if (options.WritesOnnx) initializers.AddRange(outcome.Initializers);
        }
        return new AttentionPruning(layers, initializers, samplesSeen, parametersBefore, fp32.WeightBytes);
    }

    private sealed record Outcome(PrunedHeads Report, long RemovedParameters, IReadOnlyList<PrunedInitializer> Initializers);

    private static Outcome Prune(AttentionBlock block, PruneOptions options, NeuronStatistics? stats)
    {
        int heads = block.Heads, valueDim = block.ValueDim, output = block.OutputWidth;
        int keptCount = HeadRanking.KeptCount(heads, options.Fraction);
        var outW = block.Output.In(1);
        var outB = block.Output.Input(2);
        if (keptCount >= heads)
            return new Outcome(new PrunedHeads(block.Attention.Name, block.Output.Name, heads, heads, Array.Empty<int>(), null, null, false), 0, Array.Empty<PrunedInitializer>());

        var wo = outW.Const!.Real!;
        double[] importance = stats is not null
            ? HeadRanking.Contribution(stats, wo, heads, valueDim, output)
            : HeadRanking.WeightNorms(block, wo, output);
        var kept = NeuronRanking.Keep(importance, keptCount);
        // Every layout fusion makes keeps evenly spaced heads evenly spaced; if one ever did not, the attention stays whole.
        if (HeadLayout.Plan(block, kept) is not { } layout)
            return new Outcome(new PrunedHeads(block.Attention.Name, block.Output.Name, heads, heads, Array.Empty<int>(), null, null, false), 0, Array.Empty<PrunedInitializer>());
        var keptRows = kept.SelectMany(h => Enumerable.Range(h * valueDim, valueDim)).ToArray();
        // Where the output projection lives in the ONNX file, read before its values change shape.
        var outOrigin = WeightOrigins.Of(outW);

        var dropped = new double[(long)keptRows.Length * output];
        for (int i = 0; i < keptRows.Length; i++) Array.Copy(wo, (long)keptRows[i] * output, dropped, (long)i * output, output);
        var newOut = dropped;
        double? errorDropped = null, errorCompensated = null;
        bool compensated = false;
        if (stats is not null)
        {
            var bias = outB?.Const!.Real;
            errorDropped = DownProjectionRefit.RelativeError(stats, wo, bias, output, keptRows, dropped);
            if (DownProjectionRefit.Refit(stats, wo, output, keptRows) is { } refit)
            {
                var stored = Array.ConvertAll(refit, v => (double)(float)v);
                errorCompensated = DownProjectionRefit.RelativeError(stats, wo, bias, output, keptRows, stored);
                if (options.Compensate && errorCompensated < errorDropped) (newOut, compensated) = (stored, true);
            }
        }

        // The ONNX file keeps every head (its Reshapes hard-code the count) with the removed heads' output-projection
        // rows zero: a head whose rows are zero adds exactly 0, whatever its q, k, v, so ONNX Runtime computes the pruned
        // function. Their q/k/v columns and biases are zeroed too, so that the removed heads' outputs are exactly 0 and the
        // quantized reference's per-row activation quantization of the output projection's input sees the plan's rows.
        var initializers = new List<PrunedInitializer>();
        if (options.WritesOnnx)
        {
            initializers.AddRange(layout.ZeroedInitializers());
            if (outOrigin is not [{ Frame: WeightFrame.AsIs, Offset: 0 } slice])
                throw new CompilerException(Codes.PrunedOnnxUnavailable,
                    $"the pruned ONNX file cannot be written: the output projection of attention '{block.Attention.Name}' is not one ONNX initializer read as MatMul's [K,N]. Remove PrunedOnnx and QuantizedOnnx (both files are written from the pruned model).", block.Output.Name);
            var full = new float[(long)heads * valueDim * output];
            for (int i = 0; i < keptRows.Length; i++)
                for (int c = 0; c < output; c++) full[(long)keptRows[i] * output + c] = (float)newOut[(long)i * output + c];
            initializers.Add(new PrunedInitializer(slice.Initializer, new long[] { heads * valueDim, output }, full));
        }

        long removed = layout.Apply(block);
        PrunedMatrix.Replace(outW, new long[] { keptRows.Length, output }, newOut);
        removed += (long)(heads - keptCount) * valueDim * output;
        // The shrunk weight is no longer its ONNX initializer: the quantized reference writes it back at full size, the
        // removed heads' rows zero (WeightPlacement).
        outW.SourceInitializer = null;
        outW.WeightOrigin = null;
        outW.PrunedFrom = outOrigin is null ? null : new WeightPlacement(outOrigin, heads * valueDim, output, keptRows, null);

        var report = new PrunedHeads(block.Attention.Name, block.Output.Name, heads, keptCount, kept, errorDropped, errorCompensated, compensated);
        return new Outcome(report, removed, initializers);
    }
}

/// <summary>
/// How many heads stay and which: the heads are ranked by what they add to the attention's output projection.
/// <list type="bullet">
/// <item>With calibration: <c>sqrt(E‖o_h·W_o[rows of h]‖²)</c>, o_h head h's output on a calibration token, read from
/// the Gram matrix of the output projection's input (<c>tr(W_hᵀ G_hh W_h) / tokens</c>).</item>
/// <item>Without: <c>‖W_v[:, columns of h]‖_F · ‖W_o[rows of h]‖_F</c>, the value weights standing in for the size of
/// the head's output (the FFN's calibration-free rule, per head).</item>
/// </list>
/// </summary>
public static class HeadRanking
{
    /// <summary>
    /// Heads kept out of <paramref name="heads"/> when <paramref name="fraction"/> is removed: <c>H·(1−fraction)</c> rounded
    /// to the nearest whole head (halves up), at least 1. Prune=0.5 on 4 heads keeps 2; Prune=0.4 keeps 2 (2.4); 0.25 keeps 3.
    /// </summary>
    public static int KeptCount(int heads, double fraction) =>
        Math.Min(heads, Math.Max(1, (int)Math.Floor(heads * (1 - fraction) + 0.5 + 1e-9)));

    public static double[] Contribution(NeuronStatistics stats, double[] wo, int heads, int valueDim, int output)
    {
        int f = stats.Neurons;
        var score = new double[heads];
        var gw = new double[output];
        for (int h = 0; h < heads; h++)
        {
            double total = 0;
            for (int i = h * valueDim; i < (h + 1) * valueDim; i++)
            {
                Array.Clear(gw);
                for (int r = h * valueDim; r < (h + 1) * valueDim; r++)
                {
                    double g = stats.Gram[(long)i * f + r];
                    for (int c = 0; c < output; c++) gw[c] += g * wo[(long)r * output + c];
                }
                for (int c = 0; c < output; c++) total += wo[(long)i * output + c] * gw[c];
            }
            score[h] = stats.Rows == 0 ? 0 : Math.Sqrt(Math.Max(total, 0) / stats.Rows);
        }
        return score;
    }

    public static double[] WeightNorms(AttentionBlock block, double[] wo, int output)
    {
        int valueDim = block.ValueDim;
        var v = block.Operands[2];
        var wv = v.Projection.In(1).Const!;
        int k = (int)wv.Shape[0], n = (int)wv.Shape[1];
        var score = new double[block.Heads];
        for (int h = 0; h < block.Heads; h++)
        {
            double value = 0, outRows = 0;
            foreach (int column in v.Of(h))
                for (int r = 0; r < k; r++) value += wv.Real![(long)r * n + column] * wv.Real![(long)r * n + column];
            for (long i = (long)h * valueDim * output; i < (long)(h + 1) * valueDim * output; i++) outRows += wo[i] * wo[i];
            score[h] = Math.Sqrt(value) * Math.Sqrt(outRows);
        }
        return score;
    }
}

/// <summary>
/// The narrower q/k/v projections once some heads are gone: each projection keeps the columns some kept head reads
/// (in their order), and each operand's kept heads must then again sit at <c>Offset' + i·HeadStride' + d</c>, which
/// holds for every layout fusion makes (q|k|v side by side, or packed per head).
/// </summary>
internal sealed class HeadLayout
{
    private readonly Dictionary<Node, int[]> _keptColumns;
    private readonly (int Offset, int HeadStride)[] _operands;
    private readonly int _heads;

    private HeadLayout(Dictionary<Node, int[]> keptColumns, (int, int)[] operands, int heads) =>
        (_keptColumns, _operands, _heads) = (keptColumns, operands, heads);

    /// <summary>
    /// The q/k/v weights and biases as the ONNX initializers they came from, at full size with the removed heads' columns
    /// (entries) zero; read before <see cref="Apply"/>. A weight or bias that is not a plain rearrangement of initializers
    /// is left out: the file then keeps its values, which the zero output-projection rows still cancel.
    /// </summary>
    public IEnumerable<PrunedInitializer> ZeroedInitializers()
    {
        foreach (var (projection, columns) in _keptColumns)
        {
            var w = projection.In(1).Const!;
            int k = (int)w.Shape[0], n = (int)w.Shape[1];
            var kept = new bool[n];
            foreach (int c in columns) kept[c] = true;
            if (WeightOrigins.Of(projection.In(1)) is { } origin && origin.All(s => s.Frame is WeightFrame.AsIs or WeightFrame.Transposed))
                foreach (var s in origin)
                {
                    int count = (int)s.Count;
                    var values = new float[(long)k * count];
                    bool asIs = s.Frame == WeightFrame.AsIs;
                    for (int r = 0; r < k; r++)
                        for (int j = 0; j < count; j++)
                            if (kept[s.Offset + j]) values[asIs ? (long)r * count + j : (long)j * k + r] = (float)w.Real![(long)r * n + s.Offset + j];
                    yield return new PrunedInitializer(s.Initializer, asIs ? new long[] { k, count } : new long[] { count, k }, values);
                }
            if (projection.Input(2) is { Const: { } b } bias && (bias.WeightOrigin ?? (bias.SourceInitializer is { } name ? new[] { new WeightSlice(name, 0, n, WeightFrame.AsIs) } : null)) is { } biasOrigin)
                foreach (var s in biasOrigin)
                {
                    var values = new float[s.Count];
                    for (int j = 0; j < s.Count; j++)
                        if (kept[s.Offset + j]) values[j] = (float)b.Real![s.Offset + j];
                    yield return new PrunedInitializer(s.Initializer, new[] { s.Count }, values);
                }
        }
    }

    public static HeadLayout? Plan(AttentionBlock block, int[] kept)
    {
        var keptColumns = new Dictionary<Node, int[]>();
        foreach (var projection in block.Projections)
        {
            int n = (int)projection.In(1).Const!.Shape[1];
            var readers = block.Operands.Where(o => o.Projection == projection).ToList();
            var removed = readers.SelectMany(o => Enumerable.Range(0, block.Heads).Except(kept).SelectMany(o.Of)).ToHashSet();
            keptColumns[projection] = Enumerable.Range(0, n).Where(c => !removed.Contains(c)).ToArray();
        }
        var operands = new (int, int)[3];
        foreach (var o in block.Operands)
        {
            var newIndex = new Dictionary<int, int>();
            var columns = keptColumns[o.Projection];
            for (int i = 0; i < columns.Length; i++) newIndex[columns[i]] = i;
            int offset = newIndex[o.Offset + kept[0] * o.HeadStride];
            int stride = kept.Length > 1 ? newIndex[o.Offset + kept[1] * o.HeadStride] - offset : o.Width;
            for (int i = 0; i < kept.Length; i++)
                for (int d = 0; d < o.Width; d++)
                    if (!newIndex.TryGetValue(o.Offset + kept[i] * o.HeadStride + d, out int at) || at != offset + i * stride + d) return null;
            operands[o.Slot] = (offset, stride);
        }
        return new HeadLayout(keptColumns, operands, kept.Length);
    }

    /// <summary>Shrinks the projections and rewrites the attention's layout and output shapes; returns the parameters removed.</summary>
    public long Apply(AttentionBlock block)
    {
        long removed = 0;
        var widths = new Dictionary<Node, long>();
        foreach (var (projection, columns) in _keptColumns)
        {
            var w = projection.In(1);
            var b = projection.Input(2);
            var old = w.Const!;
            int k = (int)old.Shape[0], n = (int)old.Shape[1], m = columns.Length;
            var values = new double[(long)k * m];
            for (int r = 0; r < k; r++)
                for (int i = 0; i < m; i++) values[(long)r * m + i] = old.Real![(long)r * n + columns[i]];
            var origin = WeightOrigins.Of(w);
            PrunedMatrix.Replace(w, new long[] { k, m }, values);
            // No longer its initializers: the quantized reference writes it back at full size, removed heads' columns zero.
            w.SourceInitializer = null;
            w.WeightOrigin = null;
            w.PrunedFrom = origin is null ? null : new WeightPlacement(origin, k, n, null, columns);
            removed += (long)(n - m) * k;
            if (b is not null)
            {
                var bias = b.Const!.Real!;
                PrunedMatrix.Replace(b, new long[] { m }, columns.Select(c => bias[c]).ToArray());
                b.SourceInitializer = null;
                b.WeightOrigin = null;
                removed += n - m;
            }
            var shape = projection.Out.Shape!.ToArray();
            shape[^1] = DimExpr.Const(m);
            projection.Out.Shape = shape;
            widths[projection] = m;
        }

        var a = block.Layout;
        var operands = new[] { a.Q, a.K, a.V };
        foreach (var o in block.Operands)
        {
            var source = block.Attention.In(o.Slot);
            var width = DimExpr.Const(widths[o.Projection]);
            var (offset, stride) = _operands[o.Slot];
            operands[o.Slot] = new AttentionOperand(DimExpr.Const(offset), source.Shape![1] * width, width, DimExpr.Const(stride));
        }
        block.Attention.Payload = a with { Heads = DimExpr.Const(_heads), Q = operands[0], K = operands[1], V = operands[2] };
        var outShape = block.Attention.Out.Shape!.ToArray();
        outShape[2] = DimExpr.Const(_heads);
        block.Attention.Out.Shape = outShape;
        foreach (var view in block.Views)
        {
            var shape = view.Shape!.ToArray();
            shape[^1] = DimExpr.Const((long)_heads * block.ValueDim);
            view.Shape = shape;
        }
        return removed;
    }
}
