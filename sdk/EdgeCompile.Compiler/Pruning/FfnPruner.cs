using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>An ONNX initializer's pruned contents, in the initializer's own layout (for the pruned ONNX file).</summary>
public sealed record PrunedInitializer(string Name, long[] Dims, float[] Values);

/// <summary>What pruning did to the graph: the report, and the initializers the pruned ONNX file replaces.</summary>
public sealed record PruningResult(PruningReport Report, IReadOnlyList<PrunedInitializer> Initializers)
{
    /// <summary>The conv channel groups the pruned ONNX file slices (<see cref="ConvChannelPruner"/>).</summary>
    public IReadOnlyList<ConvChannelCut> ConvCuts { get; init; } = Array.Empty<ConvChannelCut>();
}

/// <summary>
/// Structured pruning of FFN neurons, a pass on the fused graph before lowering (so quantization, at lowering, sees
/// the pruned weights). For every <see cref="FfnBlock"/> it keeps the most important neurons
/// (<see cref="NeuronRanking"/>), shrinks the up projection's weight columns and bias and the down projection's weight
/// rows in place, and with a calibration set refits the down projection (<see cref="DownProjectionRefit"/>). The Dense
/// shapes in the plan follow from the smaller constants.
/// </summary>
public static class FfnPruner
{
    /// <summary>Refuses what the compiler cannot do, whether or not <see cref="PruneOptions.Fraction"/> asks for pruning.</summary>
    public static void Check(PruneOptions options)
    {
        if (!(options.Fraction >= 0 && options.Fraction <= PruneOptions.MaxFraction))
            throw new CompilerException(Codes.PruneFractionOutOfRange,
                $"Prune={options.Fraction.ToString("R", CultureInfo.InvariantCulture)} is outside [0, {PruneOptions.MaxFraction}]: it is the fraction of each FFN block's neurons (PruneMode Structured) or of the prunable weights (NM, Unstructured) to remove.");
    }

    /// <param name="lowerFp32">Lowers the graph as it is now to a fresh FP32 plan (run on the calibration set, and weighed).</param>
    /// <param name="heads">What <see cref="AttentionHeadPruner"/> did first, for the one report; null: heads were not pruned.</param>
    public static PruningResult Run(Graph graph, PruneOptions options, Func<Plan> lowerFp32, string modelPath, List<CompilerMessage> messages, AttentionPruning? heads = null)
    {
        Check(options);
        var report = new PruningReport(options.Fraction) { ParametersBefore = heads?.ParametersBefore ?? graph.ParameterCount };
        report.Attention.AddRange(heads?.Layers ?? Array.Empty<PrunedHeads>());
        report.CalibrationSamples = heads?.CalibrationSamples ?? 0;
        var blocks = FfnBlock.Find(graph);
        var fp32 = lowerFp32();
        WeightPacker.Pack(fp32);
        report.Fp32BytesBefore = heads?.Fp32BytesBefore ?? fp32.WeightBytes;
        var initializers = new List<PrunedInitializer>(heads?.Initializers ?? Array.Empty<PrunedInitializer>());
        if (blocks.Count == 0 && report.Attention.Any(a => a.Kept < a.Heads))
        {
            report.ParametersAfter = graph.ParameterCount;
            report.Fp32BytesAfter = fp32.WeightBytes;
            return new PruningResult(report, initializers);
        }
        if (blocks.Count == 0)
        {
            // A vision model may have conv channel groups and no FFN block: ConvChannelPruner prunes those.
            if (ConvChannelGroup.Find(graph).Count == 0)
                messages.Add(new CompilerMessage(Severity.Warning, Codes.NothingToPrune,
                    "Prune is set, but the model has no FFN block (a Dense with an activation feeding only another Dense) to remove neurons from, no attention layer to remove heads from, nor conv channel group (a Conv feeding only a 1×1 Conv, maybe through a depthwise Conv); it is built unpruned. Remove Prune.", modelPath));
            report.ParametersAfter = report.ParametersBefore;
            report.Fp32BytesAfter = report.Fp32BytesBefore;
            return new PruningResult(report, Array.Empty<PrunedInitializer>());
        }

        Dictionary<string, NeuronStatistics>? stats = null;
        if (options.CalibrationDirectory is { } folder)
        {
            var samples = CalibrationSet.Load(folder, fp32).Samples().ToList();
            report.CalibrationSamples = samples.Count;
            stats = NeuronStatistics.Collect(fp32, blocks, samples);
        }

        long removed = 0;
        foreach (var block in blocks)
        {
            var result = Prune(block, options.Fraction, stats?[block.Up.Name], options.Compensate);
            report.Blocks.Add(result.Report);
            removed += result.RemovedParameters;
            if (options.WritesOnnx) initializers.AddRange(result.Initializers());
        }
        graph.ParameterCount -= removed;
        report.ParametersAfter = graph.ParameterCount;
        var pruned = lowerFp32();
        WeightPacker.Pack(pruned);
        report.Fp32BytesAfter = pruned.WeightBytes;
        return new PruningResult(report, initializers);
    }

    private sealed record BlockOutcome(PrunedBlock Report, long RemovedParameters, Func<IEnumerable<PrunedInitializer>> Initializers);

    private static BlockOutcome Prune(FfnBlock block, double fraction, NeuronStatistics? stats, bool compensate)
    {
        int hidden = block.Hidden, f = block.Neurons, output = block.Output;
        var upW = block.Up.In(1);
        var upB = block.Up.Input(2);
        var downW = block.Down.In(1);
        var downB = block.Down.Input(2);
        // Where the weights live in the ONNX file, read before the values change shape.
        var upOrigin = WeightOrigins.Of(upW);
        var downOrigin = WeightOrigins.Of(downW);

        int keptCount = NeuronRanking.KeptCount(f, fraction);
        if (keptCount >= f)
            return new BlockOutcome(new PrunedBlock(block.Up.Name, block.Down.Name, f, f, null, null, false), 0, () => Array.Empty<PrunedInitializer>());

        var up = upW.Const!.Real!;
        var down = downW.Const!.Real!;
        var importance = NeuronRanking.Importance(up, down, hidden, f, output, stats is null ? null : stats.MeanAbs);
        var kept = NeuronRanking.Keep(importance, keptCount);

        var newUp = new double[(long)hidden * keptCount];
        for (int k = 0; k < hidden; k++)
            for (int i = 0; i < keptCount; i++) newUp[(long)k * keptCount + i] = up[(long)k * f + kept[i]];
        var newBias = upB is null ? null : kept.Select(j => upB.Const!.Real![j]).ToArray();
        var dropped = new double[(long)keptCount * output];
        for (int i = 0; i < keptCount; i++) Array.Copy(down, (long)kept[i] * output, dropped, (long)i * output, output);

        var newDown = dropped;
        double? errorDropped = null, errorCompensated = null;
        bool compensated = false;
        if (stats is not null)
        {
            var bias = downB?.Const!.Real;
            errorDropped = DownProjectionRefit.RelativeError(stats, down, bias, output, kept, dropped);
            // The refit is rounded to float, as the plan stores it, before its error is measured.
            if (DownProjectionRefit.Refit(stats, down, output, kept) is { } refit)
            {
                var stored = Array.ConvertAll(refit, v => (double)(float)v);
                errorCompensated = DownProjectionRefit.RelativeError(stats, down, bias, output, kept, stored);
                // Damping makes the refit a slightly different problem; keep it only when it lowers the calibration error.
                if (compensate && errorCompensated < errorDropped) (newDown, compensated) = (stored, true);
            }
        }

        PrunedMatrix.Replace(upW, new long[] { hidden, keptCount }, newUp);
        if (upB is not null) PrunedMatrix.Replace(upB, new long[] { keptCount }, newBias!);
        PrunedMatrix.Replace(downW, new long[] { keptCount, output }, newDown);
        var activations = block.Up.Out.Shape!.ToArray();
        activations[^1] = DimExpr.Const(keptCount);
        block.Up.Out.Shape = activations;

        long removed = (long)(f - keptCount) * (hidden + output + (upB is null ? 0 : 1));
        var report = new PrunedBlock(block.Up.Name, block.Down.Name, f, keptCount, errorDropped, errorCompensated, compensated);
        return new BlockOutcome(report, removed, () => OnnxInitializers(block, upW, upB, downW, upOrigin, downOrigin));
    }

    /// <summary>
    /// The pruned weights as the ONNX initializers they came from: both projections must each be one whole
    /// initializer in the MatMul <c>[K,N]</c> frame, and the bias an initializer of its own.
    /// </summary>
    private static IEnumerable<PrunedInitializer> OnnxInitializers(FfnBlock block, Value upW, Value? upB, Value downW,
        IReadOnlyList<WeightSlice>? upOrigin, IReadOnlyList<WeightSlice>? downOrigin)
    {
        string Whole(IReadOnlyList<WeightSlice>? origin, string what) =>
            origin is [{ Frame: WeightFrame.AsIs, Offset: 0 } slice] ? slice.Initializer
            : throw new CompilerException(Codes.PrunedOnnxUnavailable,
                $"the pruned ONNX file cannot be written: the {what} weight of FFN block '{block.Up.Name}' is not one ONNX initializer read as MatMul's [K,N] (it was rebuilt by a pass). Remove PrunedOnnx and QuantizedOnnx (both files are written from the pruned model).", block.Up.Name);
        yield return Initializer(Whole(upOrigin, "up projection"), upW);
        if (upB is not null)
            yield return Initializer(upB.SourceInitializer ?? throw new CompilerException(Codes.PrunedOnnxUnavailable,
                $"the pruned ONNX file cannot be written: the bias of FFN block '{block.Up.Name}' is not an ONNX initializer. Remove PrunedOnnx and QuantizedOnnx (both files are written from the pruned model).", block.Up.Name), upB);
        yield return Initializer(Whole(downOrigin, "down projection"), downW);
    }

    private static PrunedInitializer Initializer(string name, Value v) =>
        new(name, v.Const!.Shape.ToArray(), Array.ConvertAll(v.Const.Real!, x => (float)x));
}
