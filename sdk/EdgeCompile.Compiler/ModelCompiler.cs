using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Lowering;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;

namespace EdgeCompile.Compiler;

/// <summary>What one &lt;EdgeModel&gt; item asks the compiler to do.</summary>
/// <param name="ModelPath">The ONNX file.</param>
/// <param name="ClassName">The generated class name.</param>
/// <param name="Namespace">The generated class namespace.</param>
/// <param name="MaxShapes">Raw <c>MaxShapes</c> metadata (<c>name=value;...</c>), or null.</param>
/// <param name="Profile">Target profile name (<c>portable</c>, <c>x64-avx2</c>, ...).</param>
/// <param name="PlanPath">Where to write the plan (<c>.edgeplan</c>).</param>
/// <param name="WeightsPath">Where to write the packed weights blob.</param>
/// <param name="ResourceName">Manifest resource name the blob will have in the consuming assembly.</param>
/// <param name="SourceName">How the plan names the model (its <c>source</c> line, the generated class's
/// <c>Info.Source</c> and header comment), e.g. the project-relative <c>models/spam.onnx</c>, so that the
/// plan and the generated code do not depend on the folder the project is built in. Null: <paramref name="ModelPath"/>.
/// Messages always name <paramref name="ModelPath"/>, the real file.</param>
/// <param name="Quantize">Quantization of the weights (docs/quantization.md); null or <see cref="QuantizeOptions.None"/>: FP32.</param>
/// <param name="Prune">Pruning (structured FFN neurons, NM or unstructured), done before quantization (README, "Pruning"); null or
/// <see cref="PruneOptions.None"/>: none.</param>
/// <param name="SparseKernels">When a Dense with zero weights runs on <c>DenseSparse</c>: by the measured rule (the
/// default), never, or always at density ≤ 0.5 (tests and experiments).</param>
public sealed record CompileRequest(
    string ModelPath,
    string ClassName,
    string Namespace,
    string? MaxShapes,
    string Profile,
    string PlanPath,
    string WeightsPath,
    string ResourceName,
    string? SourceName = null,
    QuantizeOptions? Quantize = null,
    PruneOptions? Prune = null,
    SparseKernelMode SparseKernels = SparseKernelMode.Auto);

public enum Severity { Info, Warning, Error }

/// <summary>A message for the build log. Errors and warnings carry a stable EC code.</summary>
public sealed record CompilerMessage(Severity Severity, string Code, string Message, string File, string? Node = null)
{
    public override string ToString() =>
        $"{File}: {Severity.ToString().ToLowerInvariant()} {Code}: {Message}{(Node is null ? "" : $" (node '{Node}')")}";
}

public sealed class CompileResult
{
    public CompileResult(IReadOnlyList<CompilerMessage> messages, Plan? plan = null)
    {
        Messages = messages;
        Plan = plan;
    }

    public IReadOnlyList<CompilerMessage> Messages { get; }
    /// <summary>The schedule that was written (null when compilation failed).</summary>
    public Plan? Plan { get; }
    public bool Success => Messages.All(m => m.Severity != Severity.Error);
}

/// <summary>The compiler's one entry point: ONNX file in, plan and weights blob out.</summary>
public static class ModelCompiler
{
    /// <summary>Maximum of a symbolic dimension that MaxShapes does not name: 1 for batch-like names, else this.</summary>
    public const long DefaultMaximum = 128;

    public static CompileResult Compile(CompileRequest request)
    {
        var messages = new List<CompilerMessage>();
        try
        {
            var plan = Build(request, messages, out var quantization, out var pruning);
            var blob = WeightPacker.Pack(plan);
            Write(request.PlanPath, plan.Write());
            Write(request.WeightsPath, blob);
            messages.Add(new CompilerMessage(Severity.Info, "", Summary(plan), request.ModelPath));
            if (SparseReport.Summary(plan.ClassName, plan.SparseDecisions) is { } sparseLine)
                messages.Add(new CompilerMessage(Severity.Info, Codes.SparseKernels, sparseLine, request.ModelPath));
            var pruned = pruning?.Initializers ?? Array.Empty<PrunedInitializer>();
            var convCuts = pruning?.ConvCuts ?? Array.Empty<ConvChannelCut>();
            if (pruning is not null)
            {
                // The pruning section goes into the quantization report when there is one (one report per build), else its own file.
                if (quantization is null && request.Prune?.ReportPath is { } pruneReportPath)
                    Write(pruneReportPath, pruning.Report.ToDocument(plan.ClassName, plan.Source) + Section(SparseReport.ToMarkdown(plan.SparseDecisions)));
                if (request.Prune?.PrunedOnnxPath is { } prunedPath) WriteReferenceOnnx(request.ModelPath, prunedPath, pruned, convCuts, Array.Empty<WeightReplacement>());
                messages.Add(new CompilerMessage(Severity.Info, "", pruning.Report.Summary(plan.ClassName), request.ModelPath));
            }
            if (quantization is not null)
            {
                var report = quantization.Report;
                if (request.Quantize?.ReportPath is { } reportPath)
                    Write(reportPath, report.ToMarkdown(plan.ClassName, plan.Source) + (pruning is null ? "" : "\n" + pruning.Report.ToMarkdown())
                        + Section(SparseReport.ToMarkdown(plan.SparseDecisions)));
                // Pruning came first, so the quantized reference starts from the pruned model.
                if (request.Quantize?.QuantizedOnnxPath is { } onnxPath) WriteReferenceOnnx(request.ModelPath, onnxPath, pruned, convCuts, quantization.ReferenceWeights!);
                messages.Add(new CompilerMessage(Severity.Info, "", report.Summary(plan.ClassName), request.ModelPath));
            }
            return new CompileResult(messages, plan);
        }
        catch (CompilerException e)
        {
            messages.Add(new CompilerMessage(Severity.Error, e.Code, e.Message, request.ModelPath, e.Node));
            return new CompileResult(messages);
        }
    }

    /// <summary>Everything but writing files: import, infer, optimise, lower, plan memory.</summary>
    public static Plan Build(CompileRequest request, List<CompilerMessage> messages) => Build(request, messages, out _);

    /// <inheritdoc cref="Build(CompileRequest, List{CompilerMessage})"/>
    /// <param name="quantization">What quantization recorded (the report with its totals, the reference weights); null when the
    /// request does not quantize.</param>
    public static Plan Build(CompileRequest request, List<CompilerMessage> messages, out QuantizationContext? quantization) =>
        Build(request, messages, out quantization, out _);

    /// <inheritdoc cref="Build(CompileRequest, List{CompilerMessage}, out QuantizationContext?)"/>
    /// <param name="pruning">What pruning did (report, pruned initializers); null when the request does not prune.</param>
    public static Plan Build(CompileRequest request, List<CompilerMessage> messages, out QuantizationContext? quantization, out PruningResult? pruning)
    {
        var quantize = request.Quantize ?? QuantizeOptions.None;
        // The quantized reference starts from the pruned model, whether or not the pruned file is written too.
        var prune = (request.Prune ?? PruneOptions.None) with { QuantizedReference = quantize.QuantizedOnnxPath is not null };
        FfnPruner.Check(prune);
        var graph = OnnxImporter.Import(request.ModelPath);
        var maxima = ResolveMaxima(graph, request, messages);
        ShapeInference.Run(graph);
        DeadCode.Run(graph);
        // Quantizing or pruning keeps the model's own weights in each Dense (no affine folded in), so that the reference
        // ONNX files can put them back in their initializers.
        Fusion.Run(graph, foldAffineIntoDense: !quantize.Enabled && !prune.Enabled);
        DeadCode.Run(graph);

        // Lowering leaves the graph as it is, so the quantization setup may lower it as often as it needs to measure
        // candidate precisions on the calibration set before the final lowering below.
        Plan NewPlan()
        {
            var p = new Plan
            {
                ClassName = request.ClassName,
                Namespace = request.Namespace,
                Source = (string.IsNullOrEmpty(request.SourceName) ? request.ModelPath : request.SourceName).Replace('\\', '/'),
                Profile = request.Profile,
                Resource = request.ResourceName,
                SparseKernels = request.SparseKernels,
                Parameters = graph.ParameterCount,
            };
            foreach (var d in graph.Dimensions) p.Dimensions.Add((d, maxima[d]));
            return p;
        }
        Plan LowerWith(IPrecisionPolicy? policy)
        {
            var candidate = NewPlan();
            Lowerer.Lower(graph, candidate, policy is null ? null : new QuantizationContext(policy, new QuantizationReport(quantize.Mode)));
            return candidate;
        }

        // Pruning first: it changes the graph's constants, which everything below (quantization included) then sees.
        // Structured: heads, then FFN neurons, then conv channels, each measured on the calibration set with the previous cuts made.
        // NM and Unstructured: individual weights of the Dense layers (SparsityPruner).
        if (prune.Enabled && prune.Mode == PruneMode.Structured)
        {
            // With residual channel groups (MobileBERT) a matrix can lose rows and columns: every dimension then loses
            // the fraction that removes Prune of the prunable weights in all; other models get Prune itself.
            var perDimension = prune with { Fraction = ResidualChannelPruner.PerDimensionFraction(graph, prune.Fraction) };
            var heads = AttentionHeadPruner.Run(graph, perDimension, () => LowerWith(null), request.ModelPath, messages);
            pruning = FfnPruner.Run(graph, perDimension, () => LowerWith(null), request.ModelPath, messages, heads);
            pruning = ConvChannelPruner.Run(graph, perDimension, () => LowerWith(null), pruning);
            pruning = ResidualChannelPruner.Run(graph, perDimension, () => LowerWith(null), pruning);
            if (perDimension.Fraction != prune.Fraction)
            {
                pruning.Report.Fraction = prune.Fraction;
                pruning.Report.DimensionFraction = perDimension.Fraction;
            }
        }
        else pruning = prune.Enabled ? SparsityPruner.Run(graph, prune, () => LowerWith(null), request.ModelPath, messages) : null;
        quantization = quantize.Enabled ? QuantizationSetup.Create(quantize, request.ModelPath, messages, LowerWith) : null;
        var plan = NewPlan();
        Lowerer.Lower(graph, plan, quantization);
        plan.ArenaBytes = MemoryPlanner.Assign(plan, maxima);
        if (quantization is not null)
        {
            quantization.Report.Complete(plan);
            if (quantization.Calibrated is { } calibrated) quantization.Report.OutputError = calibrated.OutputError(plan);
        }
        return plan;
    }

    private static Dictionary<string, long> ResolveMaxima(Graph graph, CompileRequest request, List<CompilerMessage> messages)
    {
        var given = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var entry in (request.MaxShapes ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1 || value > int.MaxValue)
                throw new CompilerException(Codes.UnknownDimension, $"MaxShapes entry '{entry}' is not of the form name=positive-integer (e.g. MaxShapes=\"batch=1;sequence=128\").");
            if (!graph.Dimensions.Contains(parts[0]))
                throw new CompilerException(Codes.UnknownDimension,
                    $"MaxShapes names '{parts[0]}', but the model's named dimensions are: {(graph.Dimensions.Count == 0 ? "(none)" : string.Join(", ", graph.Dimensions))}. Fix the name in MaxShapes.");
            given[parts[0]] = value;
        }
        foreach (var d in graph.Dimensions)
        {
            if (given.ContainsKey(d)) continue;
            long fallback = d.Contains("batch", StringComparison.OrdinalIgnoreCase) ? 1 : DefaultMaximum;
            given[d] = fallback;
            messages.Add(new CompilerMessage(Severity.Info, Codes.DefaultMaximum,
                $"dimension '{d}' has no maximum in MaxShapes; using {fallback}. Set MaxShapes=\"{d}=N\" on the EdgeModel item to choose.", request.ModelPath));
        }
        return given;
    }

    private static string Section(string markdown) => markdown.Length == 0 ? "" : "\n" + markdown;

    private static string Summary(Plan plan) =>
        $"{plan.ClassName}: {plan.Ops.Count} kernel calls, {plan.Parameters:N0} parameters, weights {plan.WeightBytes:N0} bytes, arena {plan.ArenaBytes:N0} bytes, profile {plan.Profile}";

    /// <summary>
    /// The original model with the pruned and then the quantized weights in place (docs/quantization.md, "The reference
    /// ONNX file"; README, "Pruning").
    /// </summary>
    private static void WriteReferenceOnnx(string modelPath, string path, IReadOnlyList<PrunedInitializer> pruned, IReadOnlyList<ConvChannelCut> convCuts,
        IReadOnlyList<WeightReplacement> weights)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var model = OnnxModelFile.Load(modelPath);
            PrunedOnnxWriter.Apply(model, pruned);
            PrunedConvOnnxWriter.Apply(model, convCuts);
            if (weights.Count > 0) QuantizedOnnxWriter.Apply(model, weights);
            OnnxModelFile.Save(model, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompilerException(Codes.OutputFailure, $"cannot write '{path}': {e.Message}");
        }
    }

    private static void Write(string path, string text) => Write(path, System.Text.Encoding.UTF8.GetBytes(text));

    private static void Write(string path, byte[] bytes)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            // Leave an identical file untouched so that its timestamp does not trigger rebuilds.
            if (File.Exists(path) && new FileInfo(path).Length == bytes.Length && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return;
            File.WriteAllBytes(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompilerException(Codes.OutputFailure, $"cannot write '{path}': {e.Message}");
        }
    }
}
