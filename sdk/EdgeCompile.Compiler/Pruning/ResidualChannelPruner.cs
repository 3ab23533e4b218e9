using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Structured pruning of the channels of <see cref="ResidualChannelGroup"/>s (MobileBERT's intra-block stream and
/// shared q/k bottleneck), a pass on the fused graph after heads, FFN neurons and conv channels. For every group it
/// keeps the most important channels and shrinks every member in place: the producers' columns and biases, the
/// ScaleShifts' γ and β, the stream's shapes and the consumers' rows; with a calibration set it refits each consumer on
/// the kept channels by the same damped least squares as the FFN down projection (<see cref="DownProjectionRefit"/>).
/// <para>
/// Ranking: with calibration, <c>Σ_consumers E|a_c|·‖W_consumer[c,:]‖₂</c>, a_c channel c as that consumer reads it
/// (after every NoNorm and residual sum before it); without, <c>‖W_producers[:,c]‖₂ · rms(γ_c) · ‖W_consumers[c,:]‖₂</c>
/// (all producers' columns and all consumers' rows of the channel as one vector each), the weights standing in for the
/// activation's size.
/// </para>
/// <para>
/// The pruned ONNX file gets every member's initializer sliced to the kept channels (the stream has no Reshape that
/// names its width), so ONNX Runtime computes exactly the pruned plan and the quantized reference sees the same
/// activations the plan quantizes; the quantized weights are placed through <see cref="Value.PrunedFrom"/>.
/// </para>
/// </summary>
public static class ResidualChannelPruner
{
    /// <summary>
    /// Kept channels are rounded to a multiple of 8: producers write them as the N of a Dense (panels of 16 columns, so
    /// 8 leaves at most one half-filled panel) and consumers read them as K (INT8 rounds K up to 4). 16 would leave the
    /// fixtures' 32-wide streams only 16 or 32.
    /// </summary>
    public const int ChannelMultiple = 8;

    /// <summary>
    /// The fraction of each prunable dimension (heads, FFN neurons, channels of these groups) that removes
    /// <paramref name="fraction"/> of the prunable weights: with channel groups, a matrix can lose rows and columns (an FFN
    /// projection loses neurons on one side and intra-block channels on the other), so one per-dimension fraction p
    /// removes more than p of it. The weights counted are the matrices of the Dense layers that some dimension shrinks;
    /// p is the one on a 0.001 grid whose removed fraction, with every rounding of kept counts, is nearest
    /// <paramref name="fraction"/> (the smallest p on a tie). A graph without channel groups gets <paramref name="fraction"/>
    /// back unchanged, so those models prune exactly as before.
    /// </summary>
    public static double PerDimensionFraction(Graph graph, double fraction)
    {
        var groups = ResidualChannelGroup.Find(graph);
        if (groups.Count == 0 || fraction <= 0) return fraction;
        // Per Dense: what shrinks its rows and its columns (units, and how a kept count is rounded).
        var rows = new Dictionary<Node, Func<double, double>>();
        var columns = new Dictionary<Node, Func<double, double>>();
        foreach (var block in AttentionBlock.Find(graph).Blocks)
        {
            int heads = block.Heads;
            double Kept(double p) => (double)HeadRanking.KeptCount(heads, p) / heads;
            foreach (var projection in block.Projections) columns[projection] = Kept;
            rows[block.Output] = Kept;
        }
        foreach (var block in FfnBlock.Find(graph))
        {
            int neurons = block.Neurons;
            double Kept(double p) => (double)NeuronRanking.KeptCount(neurons, p) / neurons;
            columns[block.Up] = Kept;
            rows[block.Down] = Kept;
        }
        foreach (var group in groups)
        {
            int channels = group.Channels;
            double Kept(double p) => (double)NeuronRanking.KeptCount(channels, p, ChannelMultiple) / channels;
            foreach (var producer in group.Producers) columns[producer] = Kept;
            foreach (var consumer in group.Consumers) rows[consumer] = Kept;
        }
        var layers = rows.Keys.Union(columns.Keys).Select(n => (Size: (double)n.In(1).Const!.Count, Rows: rows.GetValueOrDefault(n), Columns: columns.GetValueOrDefault(n))).ToList();
        double total = layers.Sum(l => l.Size);
        double RemovedFraction(double p) => layers.Sum(l => l.Size * (1 - (l.Rows?.Invoke(p) ?? 1) * (l.Columns?.Invoke(p) ?? 1))) / total;
        double best = fraction, bestGap = double.MaxValue;
        for (int step = 0; step <= (int)(PruneOptions.MaxFraction * 1000); step++)
        {
            double p = step / 1000.0, gap = Math.Abs(RemovedFraction(p) - fraction);
            if (gap < bestGap - 1e-12) (best, bestGap) = (p, gap);
        }
        return best;
    }

    /// <summary>
    /// Prunes the channel groups of a graph whose heads, FFN blocks and conv channels are already pruned, adding to
    /// their result: the report's groups, parameter count and FP32 bytes after, and the pruned ONNX initializers.
    /// </summary>
    /// <param name="options">With <see cref="PruneOptions.Fraction"/> the per-dimension fraction (<see cref="PerDimensionFraction"/>).</param>
    /// <param name="lowerFp32">Lowers the graph as it is now to a fresh FP32 plan (run on the calibration set, and weighed).</param>
    public static PruningResult Run(Graph graph, PruneOptions options, Func<Plan> lowerFp32, PruningResult earlier)
    {
        var groups = ResidualChannelGroup.Find(graph);
        if (groups.Count == 0) return earlier;
        var report = earlier.Report;

        Dictionary<string, NeuronStatistics>? stats = null;
        if (options.CalibrationDirectory is { } folder)
        {
            var fp32 = lowerFp32();
            var samples = CalibrationSet.Load(folder, fp32).Samples().ToList();
            report.CalibrationSamples = samples.Count;
            stats = NeuronStatistics.CollectInputs(fp32, groups.SelectMany(g => g.Consumers.Select(c => (c.Name, g.Channels))), samples);
        }

        var initializers = new List<PrunedInitializer>(earlier.Initializers);
        long removed = 0;
        foreach (var group in groups)
        {
            var (outcome, parameters, written) = Prune(group, options, stats);
            report.ResidualGroups.Add(outcome);
            removed += parameters;
            if (options.WritesOnnx) initializers.AddRange(written);
        }
        graph.ParameterCount -= removed;
        report.ParametersAfter = graph.ParameterCount;
        var pruned = lowerFp32();
        WeightPacker.Pack(pruned);
        report.Fp32BytesAfter = pruned.WeightBytes;
        return earlier with { Initializers = initializers };
    }

    private static (PrunedResidualGroup Report, long RemovedParameters, List<PrunedInitializer> Initializers) Prune(
        ResidualChannelGroup group, PruneOptions options, Dictionary<string, NeuronStatistics>? stats)
    {
        int channels = group.Channels;
        int keptCount = NeuronRanking.KeptCount(channels, options.Fraction, ChannelMultiple);
        string name = group.Producers[0].Name;
        if (keptCount >= channels)
            return (new PrunedResidualGroup(name, group.Producers.Count, group.ScaleShifts.Count, group.Consumers.Count, channels, channels, null, null, false), 0, new());

        // Ranking.
        var size = new double[channels];
        var outgoing = new double[channels];
        var importance = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            foreach (var consumer in group.Consumers)
            {
                var w = consumer.In(1).Const!;
                double row = PrunedMatrix.RowNorm(w.Real!, c, (int)w.Shape[1]);
                if (stats is not null) importance[c] += stats[consumer.Name].MeanAbs(c) * row;
                else outgoing[c] += row * row;
            }
            if (stats is not null) continue;
            foreach (var producer in group.Producers)
            {
                var w = producer.In(1).Const!;
                int k = (int)w.Shape[0];
                for (int r = 0; r < k; r++) size[c] += w.Real![(long)r * channels + c] * w.Real![(long)r * channels + c];
            }
            double gamma = group.ScaleShifts.Average(s => s.In(2).Const!.Real![c] * s.In(2).Const!.Real![c]);
            importance[c] = Math.Sqrt(size[c]) * Math.Sqrt(gamma) * Math.Sqrt(outgoing[c]);
        }
        var kept = NeuronRanking.Keep(importance, keptCount);

        // Each consumer's kept rows, refitted when the calibration set says that lowers its error.
        var newRows = new Dictionary<Node, double[]>();
        double? worstDropped = null, worstCompensated = null;
        bool anyCompensated = false;
        foreach (var consumer in group.Consumers)
        {
            var w = consumer.In(1).Const!;
            int n = (int)w.Shape[1];
            var dropped = PrunedMatrix.Rows(w.Real!, n, kept);
            newRows[consumer] = dropped;
            if (stats is null) continue;
            var s = stats[consumer.Name];
            var bias = consumer.Input(2)?.Const!.Real;
            double errorDropped = DownProjectionRefit.RelativeError(s, w.Real!, bias, n, kept, dropped);
            double chosen = errorDropped;
            if (DownProjectionRefit.Refit(s, w.Real!, n, kept) is { } refit)
            {
                var stored = Array.ConvertAll(refit, v => (double)(float)v);
                double errorCompensated = DownProjectionRefit.RelativeError(s, w.Real!, bias, n, kept, stored);
                if (options.Compensate && errorCompensated < errorDropped) (newRows[consumer], chosen, anyCompensated) = (stored, errorCompensated, true);
            }
            worstDropped = Math.Max(worstDropped ?? 0, errorDropped);
            worstCompensated = Math.Max(worstCompensated ?? 0, chosen);
        }

        var written = new List<PrunedInitializer>();
        long removedParameters = 0;
        int gone = channels - keptCount;
        foreach (var producer in group.Producers)
        {
            var w = producer.In(1);
            int k = (int)w.Const!.Shape[0];
            var values = PrunedMatrix.Columns(w.Const.Real!, channels, kept);
            var placement = Placement(w, group, options.WritesOnnx);
            PrunedMatrix.Replace(w, new long[] { k, keptCount }, values);
            removedParameters += (long)gone * k;
            if (placement is not null)
            {
                if (placement.Columns is not null || placement.Origin is not [{ Offset: 0 } slice] || slice.Count != channels)
                    throw Unavailable(group, $"the weight of producer '{producer.Name}' is not one whole ONNX initializer");
                var shrunk = placement with { Origin = new[] { slice with { Count = keptCount } }, FullColumns = keptCount };
                Place(w, shrunk, values, k, keptCount, written, group);
            }
            if (producer.Input(2) is { } b)
            {
                ShrinkVector(b, kept, options.WritesOnnx, written, group);
                removedParameters += gone;
            }
            ShrinkLastAxis(producer.Out, keptCount);
        }
        foreach (var scaleShift in group.ScaleShifts)
        {
            ShrinkVector(scaleShift.In(2), kept, options.WritesOnnx, written, group);
            ShrinkVector(scaleShift.In(3), kept, options.WritesOnnx, written, group);
            removedParameters += 2L * gone;
            ShrinkLastAxis(scaleShift.Out, keptCount);
        }
        foreach (var consumer in group.Consumers)
        {
            var w = consumer.In(1);
            int n = (int)w.Const!.Shape[1];
            var placement = Placement(w, group, options.WritesOnnx);
            PrunedMatrix.Replace(w, new long[] { keptCount, n }, newRows[consumer]);
            removedParameters += (long)gone * n;
            if (placement is not null)
            {
                if (placement.Rows is not null || placement.FullRows != channels)
                    throw Unavailable(group, $"the rows of consumer '{consumer.Name}' are not all of its ONNX initializer's");
                Place(w, placement with { FullRows = keptCount }, newRows[consumer], keptCount, n, written, group);
            }
        }
        foreach (var v in group.Stream) ShrinkLastAxis(v, keptCount);

        var report = new PrunedResidualGroup(name, group.Producers.Count, group.ScaleShifts.Count, group.Consumers.Count, channels, keptCount,
            worstDropped, worstCompensated, anyCompensated);
        return (report, removedParameters, written);
    }

    /// <summary>
    /// Where a weight sits in the ONNX file before this pass: what head pruning recorded, or its initializer(s) whole;
    /// null when no file is written.
    /// </summary>
    private static WeightPlacement? Placement(Value w, ResidualChannelGroup group, bool writesOnnx)
    {
        if (!writesOnnx) return null;
        int k = (int)w.Const!.Shape[0], n = (int)w.Const.Shape[1];
        return w.PrunedFrom ?? (WeightOrigins.Of(w) is { } origin ? WeightPlacement.Whole(origin, k, n)
            : throw Unavailable(group, $"weight '{w.Name}' is not a plain arrangement of ONNX initializers"));
    }

    /// <summary>
    /// Records a shrunk weight's placement for the quantized reference (which then writes its quantized values at the
    /// pruned file's shapes) and writes its initializers, removed heads' rows or columns zero as before.
    /// </summary>
    private static void Place(Value w, WeightPlacement placement, double[] values, int k, int n, List<PrunedInitializer> written, ResidualChannelGroup group)
    {
        w.SourceInitializer = null;
        w.WeightOrigin = null;
        w.PrunedFrom = placement;
        var full = placement.Matrix(Array.ConvertAll(values, v => (float)v), k, n);
        int fullRows = placement.FullRows, fullColumns = placement.FullColumns;
        foreach (var s in placement.Origin)
        {
            int count = (int)s.Count;
            var part = new float[(long)fullRows * count];
            bool asIs = s.Frame == WeightFrame.AsIs;
            if (!asIs && s.Frame != WeightFrame.Transposed) throw Unavailable(group, $"initializer '{s.Initializer}' is not read as a MatMul or Gemm weight");
            for (int r = 0; r < fullRows; r++)
                for (int j = 0; j < count; j++)
                    part[asIs ? (long)r * count + j : (long)j * fullRows + r] = full[(long)r * fullColumns + s.Offset + j];
            written.Add(new PrunedInitializer(s.Initializer, asIs ? new long[] { fullRows, count } : new long[] { count, fullRows }, part));
        }
    }

    /// <summary>Slices a per-channel constant (bias, γ, β) on its last axis; its initializer gets the same values.</summary>
    private static void ShrinkVector(Value v, int[] kept, bool writesOnnx, List<PrunedInitializer> written, ResidualChannelGroup group)
    {
        var c = v.Const!;
        var shape = c.Shape.ToArray();
        shape[^1] = kept.Length;
        var values = kept.Select(i => c.Real![i]).ToArray();
        PrunedMatrix.Replace(v, shape, values);
        if (!writesOnnx) return;
        // A constant without an initializer of its own may still be the output of an Identity of a shared initializer
        // under its own name (PrunedOnnxWriter writes it as an initializer then; anything else is EC2204 there).
        var initializer = v.SourceInitializer ?? (v.WeightOrigin is [{ Offset: 0 } slice] ? slice.Initializer : v.Name);
        written.Add(new PrunedInitializer(initializer, shape, Array.ConvertAll(values, x => (float)x)));
    }

    private static void ShrinkLastAxis(Value v, int kept)
    {
        var shape = v.Shape!.ToArray();
        shape[^1] = DimExpr.Const(kept);
        v.Shape = shape;
    }

    private static CompilerException Unavailable(ResidualChannelGroup group, string why) =>
        new(Codes.PrunedResidualOnnxUnavailable,
            $"the pruned ONNX file cannot be written for the channel group written by '{group.Producers[0].Name}': {why}. Remove PrunedOnnx and QuantizedOnnx (both files are written from the pruned model).",
            group.Producers[0].Name);
}
