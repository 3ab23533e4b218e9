using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// What the pruned ONNX file changes for one conv channel group: the producer's (and depthwise conv's) filters,
/// biases and following BatchNormalization parameters are sliced to <paramref name="Kept"/> on axis 0, the depthwise
/// conv's <c>group</c> becomes the kept count, and the consumer's input channels are sliced to <paramref name="Kept"/>
/// on axis 1 or, when it was refitted, replaced by <paramref name="ConsumerWeights"/> (<c>[Cout, kept, 1, 1]</c>, with
/// any BatchNorm after it folded in, as the compiler holds them). Applied by <see cref="Onnx.PrunedConvOnnxWriter"/>.
/// </summary>
public sealed record ConvChannelCut(string Producer, string? Depthwise, string Consumer, int[] Kept, float[]? ConsumerWeights);

/// <summary>
/// Structured pruning of conv channels, a pass on the fused graph after FFN pruning and before lowering. For every
/// <see cref="ConvChannelGroup"/> it keeps the most important channels (<see cref="NeuronRanking"/>: E|a_c| of the
/// channel the 1×1 consumer reads times ‖W_consumer[:, c]‖₂, or without calibration the producer's (and depthwise)
/// filter norms in place of E|a_c|), slices the producer's and depthwise conv's filters and biases and the consumer's
/// input channels in place, and with a calibration set refits the consumer, a Dense over channels at every pixel, by
/// the same damped least squares as the FFN down projection (<see cref="DownProjectionRefit"/>). The Conv shapes in the
/// plan follow from the smaller constants.
/// </summary>
public static class ConvChannelPruner
{
    /// <summary>
    /// Kept channel counts are rounded to a multiple of 4: a 1×1 conv runs as a GEMM over <c>[Cout, Cin]</c> whose
    /// micro-kernel takes 4 output-channel rows at a time, so a producer that is itself 1×1 fills it; the depthwise
    /// and k×k kernels loop over channels one at a time and want nothing. (16, the FFN panel width, would leave a 24-
    /// or 32-channel block only 16 or 32 channels to choose from.)
    /// </summary>
    public const int ChannelMultiple = 4;

    /// <summary>
    /// Prunes the conv channel groups of a graph that FFN pruning has already seen, adding to its result: the report's
    /// channel groups, parameter count and FP32 bytes after, and the cuts the pruned ONNX file needs.
    /// </summary>
    /// <param name="lowerFp32">Lowers the graph as it is now to a fresh FP32 plan (run on the calibration set, and weighed).</param>
    public static PruningResult Run(Graph graph, PruneOptions options, Func<Plan> lowerFp32, PruningResult ffn)
    {
        var groups = ConvChannelGroup.Find(graph);
        if (groups.Count == 0) return ffn;
        var report = ffn.Report;

        Dictionary<string, NeuronStatistics>? stats = null;
        if (options.CalibrationDirectory is { } folder)
        {
            var fp32 = lowerFp32();
            var samples = CalibrationSet.Load(folder, fp32).Samples().ToList();
            report.CalibrationSamples = samples.Count;
            // What each consumer reads: its input 0, channels-first.
            var taps = groups.Select(g => new UnitTap(g.Consumer.Name, Input: true, 0, g.Channels, g.Plane)).ToList();
            stats = NeuronStatistics.Collect(fp32, taps, samples);
        }

        var cuts = new List<ConvChannelCut>();
        long removed = 0;
        foreach (var group in groups)
        {
            var (outcome, cut, parameters) = Prune(group, options.Fraction, stats?[group.Consumer.Name], options.Compensate);
            report.ConvGroups.Add(outcome);
            removed += parameters;
            if (cut is not null && options.WritesOnnx) cuts.Add(cut);
        }
        graph.ParameterCount -= removed;
        report.ParametersAfter = graph.ParameterCount;
        var pruned = lowerFp32();
        WeightPacker.Pack(pruned);
        report.Fp32BytesAfter = pruned.WeightBytes;
        return ffn with { ConvCuts = cuts };
    }

    private static (PrunedChannelGroup Report, ConvChannelCut? Cut, long RemovedParameters) Prune(ConvChannelGroup group, double fraction, NeuronStatistics? stats, bool compensate)
    {
        int channels = group.Channels, outputs = group.Outputs;
        int keptCount = NeuronRanking.KeptCount(channels, fraction, ChannelMultiple);
        var producer = group.Producer;
        var depthwise = group.Depthwise;
        var consumer = group.Consumer;
        if (keptCount >= channels)
            return (new PrunedChannelGroup(producer.Name, depthwise?.Name, consumer.Name, channels, channels, null, null, false), null, 0);

        var producerW = producer.In(1);
        var producerB = producer.Input(2);
        var depthwiseW = depthwise?.In(1);
        var depthwiseB = depthwise?.Input(2);
        var consumerW = consumer.In(1);
        int producerFilter = (int)(producerW.Const!.Count / channels);
        int depthwiseFilter = depthwiseW is null ? 0 : (int)(depthwiseW.Const!.Count / channels);

        // The consumer as the Dense it is at every pixel: down[c, o] = W[o, c] ([C, Cout], FFN's down-projection frame).
        var w = consumerW.Const!.Real!;
        var down = new double[(long)channels * outputs];
        for (int o = 0; o < outputs; o++)
            for (int c = 0; c < channels; c++) down[(long)c * outputs + o] = w[(long)o * channels + c];

        var size = new double[channels];
        var outgoing = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            outgoing[c] = PrunedMatrix.RowNorm(down, c, outputs);
            size[c] = stats is not null ? stats.MeanAbs(c)
                : PrunedMatrix.RowNorm(producerW.Const.Real!, c, producerFilter) * (depthwiseW is null ? 1 : PrunedMatrix.RowNorm(depthwiseW.Const!.Real!, c, depthwiseFilter));
        }
        var kept = NeuronRanking.Keep(NeuronRanking.Importance(size, outgoing), keptCount);

        var dropped = PrunedMatrix.Rows(down, outputs, kept);
        var newDown = dropped;
        double? errorDropped = null, errorCompensated = null;
        bool compensated = false;
        if (stats is not null)
        {
            var bias = consumer.Input(2)?.Const!.Real;
            errorDropped = DownProjectionRefit.RelativeError(stats, down, bias, outputs, kept, dropped);
            // Rounded to float, as the plan stores it, before its error is measured; kept only when it lowers the error.
            if (DownProjectionRefit.Refit(stats, down, outputs, kept) is { } refit)
            {
                var stored = Array.ConvertAll(refit, v => (double)(float)v);
                errorCompensated = DownProjectionRefit.RelativeError(stats, down, bias, outputs, kept, stored);
                if (compensate && errorCompensated < errorDropped) (newDown, compensated) = (stored, true);
            }
        }

        var producerShape = producerW.Const.Shape.ToArray();
        producerShape[0] = keptCount;
        PrunedMatrix.Replace(producerW, producerShape, PrunedMatrix.Rows(producerW.Const.Real!, producerFilter, kept));
        if (producerB is not null) PrunedMatrix.Replace(producerB, new long[] { keptCount }, PrunedMatrix.Rows(producerB.Const!.Real!, 1, kept));
        if (depthwise is not null)
        {
            var depthwiseShape = depthwiseW!.Const!.Shape.ToArray();
            depthwiseShape[0] = keptCount;
            PrunedMatrix.Replace(depthwiseW, depthwiseShape, PrunedMatrix.Rows(depthwiseW.Const.Real!, depthwiseFilter, kept));
            if (depthwiseB is not null) PrunedMatrix.Replace(depthwiseB, new long[] { keptCount }, PrunedMatrix.Rows(depthwiseB.Const!.Real!, 1, kept));
            depthwise.Attributes["group"] = new Attr(I: keptCount);
        }
        // Back to the conv frame [Cout, kept, 1, 1].
        var newW = new double[(long)outputs * keptCount];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < keptCount; i++) newW[(long)o * keptCount + i] = newDown[(long)i * outputs + o];
        PrunedMatrix.Replace(consumerW, new long[] { outputs, keptCount, 1, 1 }, newW);
        foreach (var activations in new[] { producer.Out, depthwise?.Out })
            if (activations is not null)
            {
                var shape = activations.Shape!.ToArray();
                shape[1] = DimExpr.Const(keptCount);
                activations.Shape = shape;
            }

        int gone = channels - keptCount;
        long removed = (long)gone * (producerFilter + (producerB is null ? 0 : 1) + outputs);
        if (depthwise is not null) removed += (long)gone * (depthwiseFilter + (depthwiseB is null ? 0 : 1));
        var report = new PrunedChannelGroup(producer.Name, depthwise?.Name, consumer.Name, channels, keptCount, errorDropped, errorCompensated, compensated);
        var cut = new ConvChannelCut(producer.Name, depthwise?.Name, consumer.Name, kept, compensated ? Array.ConvertAll(newW, v => (float)v) : null);
        return (report, cut, removed);
    }
}
