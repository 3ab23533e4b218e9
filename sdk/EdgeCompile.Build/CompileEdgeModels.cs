using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using EdgeCompile.Compiler;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EdgeCompile.Build;

/// <summary>
/// Compiles every <c>&lt;EdgeModel&gt;</c> item of a project into a plan (<c>.edgeplan</c>, read by the
/// source generator) and a packed weights blob (<c>.edgeweights</c>, embedded in the assembly).
/// The task is thin on purpose: it validates item metadata (EC1xxx), then hands each model to
/// <see cref="ModelCompiler.Compile"/> and forwards its messages to the build log.
/// </summary>
/// <remarks>
/// Two modes, so that the targets can populate items even when the compile step is skipped as
/// up to date: with <see cref="ComputeOnly"/> the task only validates and returns the items it
/// would produce; without it the task also runs the compiler.
/// </remarks>
public sealed class CompileEdgeModels : Microsoft.Build.Utilities.Task
{
    /// <summary>The <c>EdgeModel</c> items.</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Default namespace of the generated classes when an item has no <c>Namespace</c>.</summary>
    public string? RootNamespace { get; set; }

    /// <summary>Target profile (already resolved by the targets; validated here).</summary>
    public string? Profile { get; set; }

    /// <summary>Folder for plans and weights, normally <c>$(IntermediateOutputPath)edgecompile/</c>.</summary>
    [Required]
    public string IntermediateDirectory { get; set; } = "";

    /// <summary>The consuming project's folder; relative item paths are resolved against it.</summary>
    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>Validate and compute outputs only; do not run the compiler.</summary>
    public bool ComputeOnly { get; set; }

    /// <summary>One item per valid model: the plan file, for <c>AdditionalFiles</c>.</summary>
    [Output]
    public ITaskItem[] Plans { get; private set; } = Array.Empty<ITaskItem>();

    /// <summary>One item per valid model: the weights blob, for <c>EmbeddedResource</c> (carries <c>LogicalName</c>).</summary>
    [Output]
    public ITaskItem[] WeightBlobs { get; private set; } = Array.Empty<ITaskItem>();

    /// <summary>The models with every metadata resolved (<c>ClassName</c>, <c>Namespace</c>, <c>PlanPath</c>, ...),
    /// plus <c>StampPath</c> and <c>InputsKey</c>: the targets write <c>InputsKey</c> (everything besides the ONNX
    /// file that decides this model's outputs: profile, resolved and custom metadata) to <c>StampPath</c> when it
    /// changed, and that file is an input of this model's batch of <c>EdgeCompileModels</c>.</summary>
    [Output]
    public ITaskItem[] ResolvedModels { get; private set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        try
        {
            return ExecuteCore();
        }
        catch (Exception ex)
        {
            Log.LogError(null, Diagnostics.Unexpected, null, null, 0, 0, 0, 0,
                "EdgeCompile failed unexpectedly: {0}: {1} — please report this at the EdgeCompile issue tracker with the model and the build log.",
                ex.GetType().FullName, ex.Message);
            Log.LogMessage(MessageImportance.Low, ex.ToString());
            return false;
        }
    }

    private bool ExecuteCore()
    {
        string profile = string.IsNullOrWhiteSpace(Profile) ? "portable" : Profile!.Trim();
        if (Array.IndexOf(ModelItem.KnownProfiles, profile) < 0)
        {
            Log.LogError(null, Diagnostics.UnknownProfile, null, null, 0, 0, 0, 0,
                "Unknown EdgeCompile target profile '{0}'. Set the EdgeTargetProfile property to one of: {1} (or remove it to follow the RuntimeIdentifier).",
                profile, string.Join(", ", ModelItem.KnownProfiles));
            // keep going: report the item metadata errors of the same build too
        }
        if (!ComputeOnly)
            Log.LogMessage(MessageImportance.Normal, "EdgeCompile: target profile '{0}', {1} model(s).", profile, Models.Length);

        string intermediate = Path.GetFullPath(Path.Combine(ProjectDirectory, IntermediateDirectory));
        var models = new List<ModelItem>();
        var seen = new Dictionary<string, ModelItem>(StringComparer.Ordinal);
        foreach (var item in Models)
        {
            var model = ModelItem.Validate(item, ProjectDirectory, RootNamespace, intermediate, profile, out var errors);
            foreach (var e in errors)
            {
                // Warnings are said once per build, by the validation pass that runs on every build.
                if (!e.IsWarning) Log.LogError(null, e.Code, null, e.File, 0, 0, 0, 0, e.Message);
                else if (ComputeOnly) Log.LogWarning(null, e.Code, null, e.File, 0, 0, 0, 0, e.Message);
            }
            if (model is null) continue;
            string full = model.Namespace + "." + model.ClassName;
            if (seen.TryGetValue(full, out var other))
            {
                Log.LogError(null, Diagnostics.DuplicateClass, null, model.ProjectFile, 0, 0, 0, 0,
                    "EdgeModel '{0}' and EdgeModel '{1}' both generate class '{2}'. Give one of them a different ClassName or Namespace metadata.",
                    other.ItemSpec, model.ItemSpec, full);
                continue;
            }
            seen.Add(full, model);
            models.Add(model);
        }

        if (Log.HasLoggedErrors) return false;

        var plans = new List<ITaskItem>();
        var blobs = new List<ITaskItem>();
        var resolved = new List<ITaskItem>();
        foreach (var m in models)
        {
            var plan = new TaskItem(m.PlanPath);
            plan.SetMetadata("EdgeModel", m.ItemSpec);
            plan.SetMetadata("ClassName", m.ClassName);
            plan.SetMetadata("Namespace", m.Namespace);
            plans.Add(plan);

            var blob = new TaskItem(m.WeightsPath);
            blob.SetMetadata("LogicalName", m.ResourceName);
            blob.SetMetadata("WithCulture", "false");
            blob.SetMetadata("Type", "Non-Resx");
            blob.SetMetadata("EdgeModel", m.ItemSpec);
            blobs.Add(blob);

            var r = new TaskItem(m.Source);
            r.SetMetadata("ClassName", m.ClassName);
            r.SetMetadata("Namespace", m.Namespace);
            r.SetMetadata("MaxShapes", m.MaxShapes ?? "");
            r.SetMetadata("PlanPath", m.PlanPath);
            r.SetMetadata("WeightsPath", m.WeightsPath);
            r.SetMetadata("ResourceName", m.ResourceName);
            r.SetMetadata("ModelPath", m.ModelPath);
            r.SetMetadata("SourceName", m.SourceName);
            r.SetMetadata("StampPath", m.StampPath);
            // The compile pass validates these items again: they carry the quantization metadata as written.
            foreach (var name in QuantizeSettings.MetadataNames.Concat(PruneSettings.MetadataNames).Append(SparseKernelSettings.MetadataName)) r.SetMetadata(name, m.Item.GetMetadata(name));
            r.SetMetadata("CalibrationFiles", string.Join(";", m.Quantize.CalibrationFiles));
            r.SetMetadata("QuantizationReportPath", m.Quantize.Options.ReportPath ?? "");
            r.SetMetadata("QuantizedOnnxPath", m.Quantize.Options.QuantizedOnnxPath ?? "");
            r.SetMetadata("PruningReportPath", m.Prune.Enabled && !m.Quantize.Options.Enabled ? m.Prune.ReportPath ?? "" : "");
            r.SetMetadata("PrunedOnnxPath", m.Prune.PrunedOnnxPath ?? "");
            r.SetMetadata("InputsKey", InputsKey(m, profile));
            resolved.Add(r);
        }
        Plans = plans.ToArray();
        WeightBlobs = blobs.ToArray();
        ResolvedModels = resolved.ToArray();

        if (ComputeOnly) return true;

        Directory.CreateDirectory(intermediate);
        foreach (var m in models)
            CompileOne(m, profile);
        return !Log.HasLoggedErrors;
    }

    /// <summary>One line that changes exactly when this model's outputs may change for a reason other than
    /// the ONNX file's content: the profile, the file the item points at, every resolved value, and every
    /// custom metadata of the item (so <c>Quantize</c>, <c>Prune</c> or any later metadata count too).</summary>
    internal static string InputsKey(ModelItem m, string profile)
    {
        var parts = new List<string>
        {
            "edgecompile-inputs-v1",
            "profile=" + profile,
            "model=" + m.ModelPath,
            "source=" + m.SourceName,
            "class=" + m.Namespace + "." + m.ClassName,
            "maxShapes=" + (m.MaxShapes ?? ""),
            "resource=" + m.ResourceName,
            m.Quantize.InputsKey(m.ProjectDirectory),
        };
        var custom = new List<string>();
        foreach (System.Collections.DictionaryEntry e in m.Item.CloneCustomMetadata())
            custom.Add("meta:" + e.Key + "=" + e.Value);
        custom.Sort(StringComparer.Ordinal);
        parts.AddRange(custom);
        return string.Join("|", parts).Replace('\r', ' ').Replace('\n', ' ');
    }

    private void CompileOne(ModelItem m, string profile)
    {
        // SourceName (project-relative) goes into the plan and the generated code, so they do not depend on
        // the folder the project is built in; ModelPath (absolute) is what is read and what messages name.
        var request = new CompileRequest(m.ModelPath, m.ClassName, m.Namespace, m.MaxShapes, profile,
            m.PlanPath, m.WeightsPath, m.ResourceName, m.SourceName, m.Quantize.Options, m.Prune, m.SparseKernels);
        // A report or reference file left by an earlier quantized build would describe weights this build no longer has.
        if (m.Quantize.Options.ReportPath is null) DeleteFile(ReportPath(m));
        if (m.Quantize.Options.QuantizedOnnxPath is null) DeleteFile(QuantizedOnnxPath(m));
        // The pruning section is in the quantization report when the model is quantized: no own file then.
        if (!m.Prune.Enabled || m.Quantize.Options.Enabled) DeleteFile(PruningReportPath(m));
        if (m.Prune.PrunedOnnxPath is null) DeleteFile(PrunedOnnxPath(m));
        var watch = Stopwatch.StartNew();
        CompileResult result;
        try
        {
            result = ModelCompiler.Compile(request);
        }
        catch (Exception ex)
        {
            DeleteOutputs(m);
            Log.LogError(null, Diagnostics.Unexpected, null, m.ModelPath, 0, 0, 0, 0,
                "EdgeCompile failed unexpectedly while compiling EdgeModel '{0}': {1}: {2} — please report this at the EdgeCompile issue tracker with the model and the build log.",
                m.ItemSpec, ex.GetType().FullName, ex.Message);
            Log.LogMessage(MessageImportance.Low, ex.ToString());
            return;
        }
        watch.Stop();

        int errors = 0, warnings = 0;
        foreach (var msg in result.Messages)
        {
            string file = string.IsNullOrEmpty(msg.File) ? m.ModelPath : msg.File;
            string text = msg.Node is null ? msg.Message : $"{msg.Message} (node '{msg.Node}')";
            switch (msg.Severity)
            {
                case Severity.Error:
                    errors++;
                    Log.LogError(null, msg.Code, null, file, 0, 0, 0, 0, text);
                    break;
                case Severity.Warning:
                    warnings++;
                    Log.LogWarning(null, msg.Code, null, file, 0, 0, 0, 0, text);
                    break;
                default:
                    Log.LogMessage(null, msg.Code, null, file, 0, 0, 0, 0, MessageImportance.Normal, text);
                    break;
            }
        }

        bool ok = errors == 0 && result.Success;
        if (ok && (!File.Exists(m.PlanPath) || !File.Exists(m.WeightsPath)))
        {
            Log.LogError(null, Diagnostics.MissingOutputs, null, m.ModelPath, 0, 0, 0, 0,
                "The compiler reported success for EdgeModel '{0}' but did not write '{1}' and '{2}' — please report this at the EdgeCompile issue tracker.",
                m.ItemSpec, m.PlanPath, m.WeightsPath);
            ok = false;
        }
        else if (!ok && errors == 0)
        {
            Log.LogError(null, Diagnostics.Unexpected, null, m.ModelPath, 0, 0, 0, 0,
                "The compiler failed on EdgeModel '{0}' without an error message — please report this at the EdgeCompile issue tracker.", m.ItemSpec);
        }

        if (!ok)
        {
            // Never leave half-written outputs behind: the next build must retry, not skip.
            DeleteOutputs(m);
            return;
        }
        // The compiler may skip rewriting an unchanged file; the outputs must still be newer than
        // the inputs, or MSBuild would rerun EdgeCompileModels on every build.
        var now = DateTime.UtcNow;
        File.SetLastWriteTimeUtc(m.PlanPath, now);
        File.SetLastWriteTimeUtc(m.WeightsPath, now);
        // Tests assert on this line (one per compiled model) to prove which models a build recompiled.
        Log.LogMessage(MessageImportance.Normal,
            "EdgeCompile: compiled {0} -> {1}.{2} (profile {3}, {4:N0} bytes of weights, {5} warning(s), {6} ms)",
            m.ItemSpec, m.Namespace, m.ClassName, profile, new FileInfo(m.WeightsPath).Length, warnings, watch.ElapsedMilliseconds);
    }

    private static void DeleteOutputs(ModelItem m)
    {
        foreach (var path in new[] { m.PlanPath, m.WeightsPath, ReportPath(m), QuantizedOnnxPath(m), PruningReportPath(m), PrunedOnnxPath(m) })
            DeleteFile(path);
    }

    private static string ReportPath(ModelItem m) => Path.ChangeExtension(m.PlanPath, ".quantization.md");

    private static string QuantizedOnnxPath(ModelItem m) => Path.ChangeExtension(m.PlanPath, ".quantized.onnx");

    private static string PruningReportPath(ModelItem m) => Path.ChangeExtension(m.PlanPath, ".pruning.md");

    private static string PrunedOnnxPath(ModelItem m) => Path.ChangeExtension(m.PlanPath, ".pruned.onnx");

    private static void DeleteFile(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Stable diagnostic codes of the build integration (EC1xxx). Never renumber.</summary>
public static class Diagnostics
{
    public const string ModelFileNotFound = "EC1001";
    public const string InvalidClassName = "EC1002";
    public const string InvalidNamespace = "EC1003";
    public const string InvalidMaxShapesSyntax = "EC1004";
    public const string InvalidMaxShapesValue = "EC1005";
    public const string DuplicateMaxShapesDimension = "EC1006";
    public const string DuplicateClass = "EC1007";
    public const string UnknownProfile = "EC1008";
    public const string MissingOutputs = "EC1009";
    // EC1010 is raised by the targets (task dll not found).
    public const string InvalidQuantize = "EC1011";
    public const string CalibrationNotFound = "EC1012";
    public const string InvalidMaxOutputError = "EC1013";
    public const string InvalidActivationScales = "EC1014";
    public const string ActivationScalesNeedCalibration = "EC1015";
    public const string InvalidQuantizedOnnx = "EC1016";
    /// <summary>Warning: quantization metadata that the item's Quantize value ignores.</summary>
    public const string IgnoredQuantizeMetadata = "EC1017";
    public const string InvalidPrune = "EC1018";
    public const string InvalidPruneMode = "EC1019";
    /// <summary>PruneMode NM with a Prune that removes none or all of every 4 weights (was: NM/Unstructured not available yet).</summary>
    public const string NmPruneUnusable = "EC1020";
    public const string InvalidPrunedOnnx = "EC1021";
    /// <summary>Warning: PruneMode or PrunedOnnx without Prune.</summary>
    public const string IgnoredPruneMetadata = "EC1022";
    public const string InvalidSparseKernels = "EC1023";
    public const string Unexpected = "EC1999";
}

internal sealed record ItemError(string Code, string File, string Message, bool IsWarning = false);

/// <summary>One validated <c>EdgeModel</c> item with every default applied.</summary>
internal sealed class ModelItem
{
    public static readonly string[] KnownProfiles = { "portable", "x64-avx2", "x64-avx512", "arm64-neon" };

    public required ITaskItem Item { get; init; }
    public required string ItemSpec { get; init; }
    public required string Source { get; init; }
    public required string ProjectFile { get; init; }
    public required string ModelPath { get; init; }
    /// <summary>The ONNX file relative to the project folder, with '/': what the plan and generated code name.</summary>
    public required string SourceName { get; init; }
    /// <summary>Per-model stamp of the inputs other than the ONNX file (see <see cref="CompileEdgeModels.InputsKey"/>).</summary>
    public required string StampPath { get; init; }
    public required string ClassName { get; init; }
    public required string Namespace { get; init; }
    public required string? MaxShapes { get; init; }
    public required string PlanPath { get; init; }
    public required string WeightsPath { get; init; }
    public required string ResourceName { get; init; }
    public required string ProjectDirectory { get; init; }
    public required QuantizeSettings Quantize { get; init; }
    public required EdgeCompile.Compiler.Pruning.PruneOptions Prune { get; init; }
    /// <summary>When FP32 Dense layers with zeros run on DenseSparse (<c>SparseKernels</c> metadata; default Auto).</summary>
    public EdgeCompile.Compiler.Lowering.SparseKernelMode SparseKernels { get; init; }

    public static ModelItem? Validate(ITaskItem item, string projectDirectory, string? rootNamespace,
        string intermediate, string profile, out List<ItemError> errors)
    {
        errors = new List<ItemError>();
        string spec = item.ItemSpec;
        string projectFile = item.GetMetadata("DefiningProjectFullPath");
        if (string.IsNullOrEmpty(projectFile)) projectFile = projectDirectory;
        string modelPath = Path.GetFullPath(Path.Combine(projectDirectory, spec));

        if (!File.Exists(modelPath))
            errors.Add(new ItemError(Diagnostics.ModelFileNotFound, projectFile,
                $"EdgeModel '{spec}': the ONNX file '{modelPath}' does not exist. Fix the Include path (it is relative to the project folder) or add the file."));

        // ClassName: metadata, else the file name in PascalCase (models/spam-filter.onnx -> SpamFilter).
        string className = item.GetMetadata("ClassName").Trim();
        if (className.Length == 0)
        {
            className = ToPascalCase(Path.GetFileNameWithoutExtension(modelPath));
        }
        else if (!IsIdentifier(className))
        {
            errors.Add(new ItemError(Diagnostics.InvalidClassName, projectFile,
                $"EdgeModel '{spec}': ClassName '{className}' is not a valid C# identifier. Use letters, digits and '_', starting with a letter or '_', and not a C# keyword (e.g. ClassName=\"SpamClassifier\")."));
        }

        string ns = item.GetMetadata("Namespace").Trim();
        if (ns.Length == 0) ns = (rootNamespace ?? "").Trim();
        if (ns.Length == 0)
        {
            errors.Add(new ItemError(Diagnostics.InvalidNamespace, projectFile,
                $"EdgeModel '{spec}': no namespace for the generated class. Set Namespace metadata on the item or the RootNamespace property of the project."));
        }
        else if (!IsDottedName(ns))
        {
            errors.Add(new ItemError(Diagnostics.InvalidNamespace, projectFile,
                $"EdgeModel '{spec}': Namespace '{ns}' is not a valid C# namespace. Use dot-separated C# identifiers (e.g. Namespace=\"My.App.Models\"), or set a valid RootNamespace."));
        }

        string? maxShapes = item.GetMetadata("MaxShapes").Trim();
        if (maxShapes.Length == 0) maxShapes = null;
        else maxShapes = NormalizeMaxShapes(spec, maxShapes, projectFile, errors);

        var warnings = new List<ItemError>();
        var quantize = QuantizeSettings.Read(item, spec, projectDirectory, intermediate, className, projectFile, errors, warnings);
        var prune = PruneSettings.Read(item, spec, quantize?.CalibrationFolder, intermediate, className, projectFile, errors, warnings);
        var sparseKernels = SparseKernelSettings.Read(item, spec, projectFile, errors);
        errors.AddRange(warnings.Select(w => w with { IsWarning = true }));

        if (errors.Any(e => !e.IsWarning)) return null;
        return new ModelItem
        {
            Item = item,
            ItemSpec = spec,
            Source = item.ItemSpec,
            ProjectFile = projectFile,
            ModelPath = modelPath,
            SourceName = Path.GetRelativePath(projectDirectory, modelPath).Replace('\\', '/'),
            StampPath = Path.Combine(intermediate, className + ".edgeinputs"),
            ClassName = className,
            Namespace = ns,
            MaxShapes = maxShapes,
            PlanPath = Path.Combine(intermediate, className + ".edgeplan"),
            WeightsPath = Path.Combine(intermediate, className + ".edgeweights"),
            ResourceName = ns + "." + className + ".edgeweights",
            ProjectDirectory = projectDirectory,
            Quantize = quantize!,
            Prune = prune!,
            SparseKernels = sparseKernels,
        };
    }

    /// <summary>Checks <c>name=value;...</c> and returns it normalised (no spaces, no empty entries), or null on error.</summary>
    internal static string? NormalizeMaxShapes(string spec, string raw, string projectFile, List<ItemError> errors)
    {
        var parts = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        int before = errors.Count;
        foreach (var entry in raw.Split(';'))
        {
            string e = entry.Trim();
            if (e.Length == 0) continue;
            int eq = e.IndexOf('=');
            string name = eq < 0 ? "" : e.Substring(0, eq).Trim();
            string value = eq < 0 ? "" : e.Substring(eq + 1).Trim();
            if (eq < 0 || name.Length == 0 || value.Length == 0 || !IsDimName(name))
            {
                errors.Add(new ItemError(Diagnostics.InvalidMaxShapesSyntax, projectFile,
                    $"EdgeModel '{spec}': MaxShapes entry '{e}' is not 'name=value'. Write MaxShapes as 'name=value;name=value' with the ONNX dimension names, e.g. MaxShapes=\"batch=1;sequence=128\"."));
                continue;
            }
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n <= 0)
            {
                errors.Add(new ItemError(Diagnostics.InvalidMaxShapesValue, projectFile,
                    $"EdgeModel '{spec}': MaxShapes value '{value}' for dimension '{name}' is not a positive integer. Give the largest size the app will pass, e.g. '{name}=1'."));
                continue;
            }
            if (!names.Add(name))
            {
                errors.Add(new ItemError(Diagnostics.DuplicateMaxShapesDimension, projectFile,
                    $"EdgeModel '{spec}': MaxShapes gives dimension '{name}' more than once. Keep one '{name}=value' entry."));
                continue;
            }
            parts.Add(name + "=" + n.ToString(CultureInfo.InvariantCulture));
        }
        if (errors.Count > before) return null;
        return parts.Count == 0 ? null : string.Join(";", parts);
    }

    internal static string ToPascalCase(string fileName)
    {
        var sb = new StringBuilder();
        bool upper = true;
        foreach (char c in fileName)
        {
            if (char.IsLetterOrDigit(c) && c < 128)
            {
                sb.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            else upper = true;
        }
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, "Model");
        return sb.ToString();
    }

    // Dimension names come from ONNX dim_param strings; we accept identifier-like names with '.', '-' too.
    private static bool IsDimName(string s)
    {
        foreach (char c in s)
            if (!(char.IsLetterOrDigit(c) || c == '_' || c == '.' || c == '-' || c == ':')) return false;
        return s.Length > 0;
    }

    private static bool IsDottedName(string s)
    {
        foreach (var part in s.Split('.'))
            if (!IsIdentifier(part)) return false;
        return true;
    }

    internal static bool IsIdentifier(string s)
    {
        if (s.Length == 0) return false;
        if (!(char.IsLetter(s[0]) || s[0] == '_')) return false;
        for (int i = 1; i < s.Length; i++)
            if (!(char.IsLetterOrDigit(s[i]) || s[i] == '_')) return false;
        return !Keywords.Contains(s);
    }

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    };
}
