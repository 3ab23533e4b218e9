using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// <c>PruneMode="NM"</c> and <c>"Unstructured"</c>, a pass on the fused graph before lowering (README, "Pruning"):
/// zeros weights of every prunable Dense in place. The layers keep their shapes and stay dense in the plan, with the
/// zeros stored exactly (a sparse kernel may pick them up from the constant). Without a calibration set the smallest
/// weights go (<see cref="SparsityPattern.MagnitudeMask"/>); with one, <see cref="SparseGpt"/> chooses and compensates,
/// and is kept for a layer only when its output error on the calibration set is lower than magnitude pruning's.
/// </summary>
public static class SparsityPruner
{
    /// <summary>The pattern <paramref name="options"/> asks for; refuses an NM fraction that removes none or all of a group.</summary>
    public static SparsityPattern Pattern(PruneOptions options, string modelPath, List<CompilerMessage> messages)
    {
        if (options.Mode == PruneMode.Unstructured) return SparsityPattern.Unstructured(options.Fraction);
        double perGroup = options.Fraction * SparsityPattern.NmGroup;
        int removed = SparsityPattern.NmRemovedPerGroup(options.Fraction);
        string fraction = options.Fraction.ToString("R", CultureInfo.InvariantCulture);
        if (!SparsityPattern.IsUsableNm(options.Fraction))
            throw new CompilerException(Codes.NmFractionUnusable,
                $"PruneMode=\"NM\" with Prune={fraction} would remove {removed} of every {SparsityPattern.NmGroup} weights. Use Prune=\"0.25\", \"0.5\" (2:4) or \"0.75\".");
        if (Math.Abs(perGroup - removed) > 1e-9)
            messages.Add(new CompilerMessage(Severity.Warning, Codes.NmFractionRounded,
                $"PruneMode=\"NM\" removes a whole number of every {SparsityPattern.NmGroup} weights: Prune={fraction} is rounded to {removed}:{SparsityPattern.NmGroup} (fraction {removed / (double)SparsityPattern.NmGroup:0.##}). Set Prune to a multiple of 0.25 to say so.", modelPath));
        return SparsityPattern.NM(removed);
    }

    /// <param name="lowerFp32">Lowers the graph as it is now to a fresh FP32 plan (run on the calibration set).</param>
    public static PruningResult Run(Graph graph, PruneOptions options, Func<Plan> lowerFp32, string modelPath, List<CompilerMessage> messages)
    {
        FfnPruner.Check(options);
        var pattern = Pattern(options, modelPath, messages);
        var report = new PruningReport(options.Fraction) { Mode = options.Mode, Pattern = pattern, ParametersBefore = graph.ParameterCount, ParametersAfter = graph.ParameterCount };
        var layers = PrunableLayers(graph);
        if (layers.Count == 0)
        {
            messages.Add(new CompilerMessage(Severity.Warning, Codes.NothingToSparsify,
                $"Prune is set with PruneMode=\"{options.Mode}\", but the model has no prunable Dense layer (a constant-weight MatMul/Gemm that is not the classifier head); it is built unpruned. Remove Prune.", modelPath));
            return new PruningResult(report, Array.Empty<PrunedInitializer>());
        }

        Dictionary<string, (int K, double[] H)>? moments = null;
        List<CalibrationSample>? samples = null;
        if (options.CalibrationDirectory is { } folder)
        {
            var fp32 = lowerFp32();
            samples = CalibrationSet.Load(folder, fp32).Samples().ToList();
            report.CalibrationSamples = samples.Count;
            moments = DenseInputMoments.Collect(fp32, samples);
        }

        var initializers = new List<PrunedInitializer>();
        for (int l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            // Sequential: layer l's H measured on the model with the layers before it already pruned (and compensated).
            if (options.SequentialMoments && samples is not null && l > 0) moments = DenseInputMoments.Collect(lowerFp32(), samples);
            var w = layer.In(1);
            var origin = WeightOrigins.Of(w);
            var (pruned, row) = Prune(layer, pattern, moments, options.Compensate);
            report.Layers.Add(row);
            w.Const = ConstTensor.Floats(ElementType.Float32, w.Const!.Shape.ToArray(), pruned);
            if (options.WritesOnnx) initializers.AddRange(OnnxInitializers(layer, w, origin));
        }
        return new PruningResult(report, initializers);
    }

    /// <summary>
    /// The Dense layers NM/Unstructured prune: every fused Dense (MatMul with a constant weight, with or without its
    /// bias Add) with its own constant 2-D float weight, except the classifier heads, the last linear layer on the way
    /// back from each graph output (see README, "Pruning", for why). Gemm nodes (BERT's pooler) are not fused Dense and
    /// are left alone.
    /// </summary>
    public static List<Node> PrunableLayers(Graph graph)
    {
        var consumers = graph.Consumers();
        var heads = new HashSet<Node>();
        var seen = new HashSet<Value>();
        var pending = new Stack<Value>(graph.Outputs);
        while (pending.Count > 0)
        {
            var v = pending.Pop();
            if (!seen.Add(v) || v.Producer is not { } producer) continue;
            // The head may also be a Gemm or MatMul the fusion left alone (BERT's classifier is a Gemm): the walk stops there too.
            if (producer.OpType is FusedOps.Dense or "Gemm" or "MatMul" or "Conv") { heads.Add(producer); continue; }
            foreach (var input in producer.Inputs)
                if (input is { Const: null }) pending.Push(input);
        }
        return graph.Nodes.Where(n => n.OpType == FusedOps.Dense && !heads.Contains(n) && FfnBlock.IsOwnConstantWeight(n, consumers)).ToList();
    }

    private static (double[] Weights, SparseLayer Report) Prune(Node layer, SparsityPattern pattern, Dictionary<string, (int K, double[] H)>? moments, bool compensate)
    {
        var shape = layer.In(1).Const!.Shape;
        int k = checked((int)shape[0]), n = checked((int)shape[1]);
        var w = layer.In(1).Const!.Real!;
        var mask = pattern.MagnitudeMask(w, k, n);
        var magnitude = (double[])w.Clone();
        for (int i = 0; i < mask.Length; i++)
            if (mask[i]) magnitude[i] = 0;
        if (moments is null || !moments.TryGetValue(layer.Name, out var m) || m.K != k)
            return (magnitude, Row(layer, k, n, magnitude, null, null, false));

        double errorMagnitude = SparseGpt.RelativeError(m.H, w, magnitude, k, n);
        if (SparseGpt.Prune(w, k, n, m.H, pattern) is not { } compensated)
            return (magnitude, Row(layer, k, n, magnitude, errorMagnitude, null, false));
        // Rounded to float, as the plan stores it, before its error is measured.
        var stored = Array.ConvertAll(compensated, v => (double)(float)v);
        double errorCompensated = SparseGpt.RelativeError(m.H, w, stored, k, n);
        // Damping makes the update a slightly different problem; keep it only when it lowers the calibration error.
        bool use = compensate && errorCompensated < errorMagnitude;
        var chosen = use ? stored : magnitude;
        return (chosen, Row(layer, k, n, chosen, errorMagnitude, errorCompensated, use));
    }

    private static SparseLayer Row(Node layer, int k, int n, double[] weights, double? errorMagnitude, double? errorCompensated, bool compensated) =>
        new(layer.Name, k, n, weights.LongCount(v => v == 0), errorMagnitude, errorCompensated, compensated);

    /// <summary>The pruned weight written back into the ONNX initializers it came from, in each one's own layout.</summary>
    private static IEnumerable<PrunedInitializer> OnnxInitializers(Node layer, Value w, IReadOnlyList<WeightSlice>? origin)
    {
        if (origin is null || origin.Any(s => s.Frame == WeightFrame.ConvFilter))
            throw new CompilerException(Codes.PrunedOnnxUnavailable,
                $"the pruned ONNX file cannot be written: the weight of Dense '{layer.Name}' is not a rearrangement of ONNX initializers (it was rebuilt by a pass). Remove PrunedOnnx and QuantizedOnnx (both files are written from the pruned model).", layer.Name);
        var values = w.Const!.Real!;
        int k = (int)w.Const.Shape[0], n = (int)w.Const.Shape[1];
        foreach (var s in origin)
        {
            int offset = (int)s.Offset, count = (int)s.Count;
            bool asIs = s.Frame == WeightFrame.AsIs;
            var slice = new float[(long)k * count];
            for (int i = 0; i < k; i++)
                for (int j = 0; j < count; j++)
                    slice[asIs ? i * count + j : j * k + i] = (float)values[i * n + offset + j];
            yield return new PrunedInitializer(s.Initializer, asIs ? new long[] { k, count } : new long[] { count, k }, slice);
        }
    }
}
