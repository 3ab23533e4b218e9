using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;
using System.Text;
using EdgeCompile.Generators;
using EdgeCompile.Runtime;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace EdgeCompile.Tests.Infrastructure;

/// <summary>
/// A model class generated from plan text, compiled with Roslyn against the real runtime, with the
/// weights embedded as the manifest resource the plan names, loaded into a collectible load context.
/// <code>
/// using var m = GeneratedModel.Compile(planText, weightsBytes);
/// m.Run([batch], [inputIds], [logits]);
/// </code>
/// </summary>
public sealed class GeneratedModel : IDisposable
{
    private readonly AssemblyLoadContext _context;
    private readonly Action<object, int[], Array[], Array[]> _runArrays;
    private readonly Func<object, int[], Array[], Array[], Action> _bind;
    private readonly Type[] _inputElementTypes;
    private readonly Type[] _outputElementTypes;
    private readonly int _dimCount;
    private bool _disposed;

    private GeneratedModel(string source, AssemblyLoadContext context, Assembly assembly, Type modelType, int threads)
    {
        Source = source;
        _context = context;
        Assembly = assembly;
        ModelType = modelType;
        Info = (ModelInfo)modelType.GetProperty("Info", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var adapter = assembly.GetType(AdapterTypeName, throwOnError: true)!;
        _runArrays = adapter.GetMethod("RunArrays")!.CreateDelegate<Action<object, int[], Array[], Array[]>>();
        _bind = adapter.GetMethod("Bind")!.CreateDelegate<Func<object, int[], Array[], Array[], Action>>();
        var create = adapter.GetMethod("Create")!.CreateDelegate<Func<object>>();
        var parameters = RunMethod.GetParameters();
        _dimCount = parameters.Count(p => p.ParameterType == typeof(int));
        _inputElementTypes = parameters.Where(p => p.ParameterType.IsGenericType && p.ParameterType.GetGenericTypeDefinition() == typeof(ReadOnlySpan<>))
            .Select(p => p.ParameterType.GetGenericArguments()[0]).ToArray();
        _outputElementTypes = parameters.Where(p => p.ParameterType.IsGenericType && p.ParameterType.GetGenericTypeDefinition() == typeof(Span<>))
            .Select(p => p.ParameterType.GetGenericArguments()[0]).ToArray();
        Instance = threads == 1 ? create() : Activator.CreateInstance(modelType, threads)!;
    }

    private const string AdapterTypeName = "EdgeCompile.Tests.GeneratedAdapter.ModelAdapter";

    /// <summary>The generated C# text of the model class.</summary>
    public string Source { get; }

    /// <summary>The generated class's <c>Info</c>.</summary>
    public ModelInfo Info { get; }

    /// <summary>The compiled assembly (collectible).</summary>
    public Assembly Assembly { get; }

    /// <summary>The generated class.</summary>
    public Type ModelType { get; }

    /// <summary>The generated class's <c>Run</c> method (for API-shape checks).</summary>
    public MethodInfo RunMethod => ModelType.GetMethod("Run", BindingFlags.Public | BindingFlags.Instance)!;

    /// <summary>The instance <see cref="Run"/> calls (an instance of <see cref="ModelType"/>).</summary>
    public object Instance { get; }

    /// <summary>
    /// Generates, compiles and loads the model of <paramref name="planText"/>, with
    /// <paramref name="weights"/> embedded as the resource the plan names.
    /// </summary>
    /// <exception cref="InvalidOperationException">The generator reported a diagnostic or the code did not compile (the message shows the diagnostics with the generated source lines).</exception>
    public static GeneratedModel Compile(string planText, byte[] weights, GeneratedModelOptions? options = null)
    {
        options ??= new GeneratedModelOptions();
        var parseOptions = GeneratorHarness.ParseOptions(options.LanguageVersion);
        var run = GeneratorHarness.RunGenerator(parseOptions, ("model.edgeplan", planText));
        if (run.GeneratorDiagnostics.Length > 0)
            throw new InvalidOperationException("The generator reported:\n" + string.Join("\n", run.GeneratorDiagnostics));
        var generated = run.GeneratedTrees.Single();
        string source = generated.GetText().ToString();

        // An adapter that turns arrays into spans: spans cannot go through reflection.
        var modelSymbol = FindModelClass(run.OutputCompilation, generated);
        var adapterTree = CSharpSyntaxTree.ParseText(AdapterSource(modelSymbol), parseOptions, path: "ModelAdapter.cs", encoding: Encoding.UTF8);
        var compilation = run.OutputCompilation.AddSyntaxTrees(adapterTree);
        GeneratorHarness.ThrowOnDiagnostics(compilation);

        var plan = PlanParser.Parse("model.edgeplan", planText).Plan!;
        var resources = options.EmbedWeights
            ? new[] { new ResourceDescription(options.ResourceNameOverride ?? plan.Resource, () => new MemoryStream(weights), isPublic: true) }
            : Array.Empty<ResourceDescription>();
        using var pe = new MemoryStream();
        var emit = compilation.Emit(pe, manifestResources: resources);
        if (!emit.Success)
            throw new InvalidOperationException("Emit failed:\n" + GeneratorHarness.Format(emit.Diagnostics, compilation));
        pe.Position = 0;

        var context = new AssemblyLoadContext("EdgeCompile.Tests." + plan.ClassName, isCollectible: true);
        try
        {
            var assembly = context.LoadFromStream(pe);
            var type = assembly.GetType(plan.FullName, throwOnError: true)!;
            return new GeneratedModel(source, context, assembly, type, options.Threads);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            context.Unload();
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    /// <summary>
    /// Calls <c>Run(dims..., inputs..., outputs...)</c> with the arrays as spans. Exceptions from
    /// <c>Run</c> propagate unwrapped.
    /// </summary>
    public void Run(int[] dims, Array[] inputs, Array[] outputs)
    {
        CheckArguments(dims, inputs, outputs);
        _runArrays(Instance, dims, inputs, outputs);
    }

    /// <summary>Calls <c>Run</c> on another instance of the model class (e.g. one made with a thread count).</summary>
    public void RunOn(object instance, int[] dims, Array[] inputs, Array[] outputs)
    {
        CheckArguments(dims, inputs, outputs);
        _runArrays(instance, dims, inputs, outputs);
    }

    /// <summary>
    /// A delegate that calls <c>Run</c> with these arrays and allocates nothing per call
    /// (for allocation tests and benchmarks).
    /// </summary>
    public Action Bind(int[] dims, Array[] inputs, Array[] outputs)
    {
        CheckArguments(dims, inputs, outputs);
        return _bind(Instance, dims, inputs, outputs);
    }

    /// <summary>Creates another instance of the model class (its own arena).</summary>
    public object CreateInstance()
    {
        try
        {
            return Activator.CreateInstance(ModelType)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    /// <summary>Disposes the instance and unloads the assembly.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ((IDisposable)Instance).Dispose();
        _context.Unload();
    }

    private void CheckArguments(int[] dims, Array[] inputs, Array[] outputs)
    {
        ArgumentNullException.ThrowIfNull(dims);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        if (dims.Length != _dimCount || inputs.Length != _inputElementTypes.Length || outputs.Length != _outputElementTypes.Length)
            throw new ArgumentException($"{ModelType.Name}.Run takes {_dimCount} dims, {_inputElementTypes.Length} inputs and {_outputElementTypes.Length} outputs; " +
                                        $"got {dims.Length}, {inputs.Length} and {outputs.Length}.");
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i]?.GetType().GetElementType() != _inputElementTypes[i] || inputs[i].Rank != 1)
                throw new ArgumentException($"Input {i} must be a {_inputElementTypes[i].Name}[], got {inputs[i]?.GetType().Name ?? "null"}.", nameof(inputs));
        }
        for (int i = 0; i < outputs.Length; i++)
        {
            if (outputs[i]?.GetType().GetElementType() != _outputElementTypes[i] || outputs[i].Rank != 1)
                throw new ArgumentException($"Output {i} must be a {_outputElementTypes[i].Name}[], got {outputs[i]?.GetType().Name ?? "null"}.", nameof(outputs));
        }
    }

    private static INamedTypeSymbol FindModelClass(Compilation compilation, SyntaxTree generated)
    {
        var model = compilation.GetSemanticModel(generated);
        var declaration = generated.GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>().First();
        return model.GetDeclaredSymbol(declaration)!;
    }

    private static string AdapterSource(INamedTypeSymbol model)
    {
        var run = model.GetMembers("Run").OfType<IMethodSymbol>().Single();
        string type = model.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        var locals = new StringBuilder();
        var args = new List<string>();
        int d = 0, i = 0, o = 0;
        foreach (var p in run.Parameters)
        {
            if (p.Type.SpecialType == SpecialType.System_Int32)
            {
                locals.Append($"        int d{d} = dims[{d}];\n");
                args.Add($"d{d++}");
                continue;
            }
            var named = (INamedTypeSymbol)p.Type;
            string element = named.TypeArguments[0].ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
            if (named.Name == "ReadOnlySpan")
            {
                locals.Append($"        var i{i} = ({element}[])inputs[{i}];\n");
                args.Add($"i{i++}");
            }
            else
            {
                locals.Append($"        var o{o} = ({element}[])outputs[{o}];\n");
                args.Add($"o{o++}");
            }
        }
        string call = $"m.Run({string.Join(", ", args)})";
        return $$"""
            // Test adapter: arrays in, spans to Run.
            #nullable enable
            namespace EdgeCompile.Tests.GeneratedAdapter
            {
                /// <summary>Calls the generated model with arrays.</summary>
                public static class ModelAdapter
                {
                    /// <summary>A new instance.</summary>
                    public static object Create() => new {{type}}();

                    /// <summary>Run with arrays as spans.</summary>
                    public static void RunArrays(object model, int[] dims, global::System.Array[] inputs, global::System.Array[] outputs)
                    {
                        var m = ({{type}})model;
            {{locals}}        {{call}};
                    }

                    /// <summary>A delegate that runs with these arrays.</summary>
                    public static global::System.Action Bind(object model, int[] dims, global::System.Array[] inputs, global::System.Array[] outputs)
                    {
                        var m = ({{type}})model;
            {{locals}}        return () => {{call}};
                    }
                }
            }
            """;
    }
}

/// <summary>Options of <see cref="GeneratedModel.Compile"/>.</summary>
public sealed class GeneratedModelOptions
{
    /// <summary>The C# version the generated code is compiled with.</summary>
    public LanguageVersion LanguageVersion { get; init; } = LanguageVersion.Latest;

    /// <summary>False leaves the weights resource out (to test the error).</summary>
    public bool EmbedWeights { get; init; } = true;

    /// <summary>Embeds the weights under another name (to test the error).</summary>
    public string? ResourceNameOverride { get; init; }

    /// <summary>The <c>threads</c> constructor argument of <see cref="GeneratedModel.Instance"/>.</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>What one generator run produced.</summary>
public sealed record GeneratorRun(
    GeneratorDriver Driver,
    Compilation OutputCompilation,
    ImmutableArray<Diagnostic> GeneratorDiagnostics,
    ImmutableArray<SyntaxTree> GeneratedTrees);

/// <summary>Runs <see cref="EdgeModelGenerator"/> the way the compiler does, and compiles strictly.</summary>
public static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(LoadReferences);

    /// <summary>The trusted platform assemblies plus the EdgeCompile runtime.</summary>
    public static ImmutableArray<MetadataReference> References => s_references.Value;

    /// <summary>Parse options like a consuming project's: documentation comments diagnosed.</summary>
    public static CSharpParseOptions ParseOptions(LanguageVersion version = LanguageVersion.Latest) =>
        new(version, DocumentationMode.Diagnose);

    /// <summary>Warnings as errors, nullable enabled, no unsafe code, release.</summary>
    public static CSharpCompilationOptions CompilationOptions { get; } =
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                optimizationLevel: OptimizationLevel.Release,
                allowUnsafe: false,
                deterministic: true,
                generalDiagnosticOption: ReportDiagnostic.Error,
                warningLevel: 9999)
            .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
            {
                // Assembly-version unification notes, off by default in the SDK too.
                ["CS1701"] = ReportDiagnostic.Suppress,
                ["CS1702"] = ReportDiagnostic.Suppress,
            });

    /// <summary>An empty consuming compilation (plus optional user sources).</summary>
    public static CSharpCompilation CreateCompilation(CSharpParseOptions parseOptions, params string[] sources) =>
        CSharpCompilation.Create("EdgeCompile.Tests.Generated" + Guid.NewGuid().ToString("N"),
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, parseOptions, path: $"User{i}.cs", encoding: Encoding.UTF8)),
            References, CompilationOptions);

    /// <summary>A driver with step tracking on (for caching tests).</summary>
    public static GeneratorDriver CreateDriver(CSharpParseOptions parseOptions, params (string Path, string Text)[] plans) =>
        CSharpGeneratorDriver.Create(
            new[] { new EdgeModelGenerator().AsSourceGenerator() },
            plans.Select(p => (AdditionalText)new InMemoryAdditionalText(p.Path, p.Text)),
            parseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator over the plans in an otherwise empty project.</summary>
    public static GeneratorRun RunGenerator(CSharpParseOptions parseOptions, params (string Path, string Text)[] plans)
    {
        var compilation = CreateCompilation(parseOptions);
        var driver = CreateDriver(parseOptions, plans).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var result = driver.GetRunResult();
        return new GeneratorRun(driver, output, diagnostics, result.GeneratedTrees);
    }

    /// <summary>Throws with every warning or error of <paramref name="compilation"/>, with the source line.</summary>
    public static void ThrowOnDiagnostics(Compilation compilation)
    {
        var problems = compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        if (problems.Count > 0)
            throw new InvalidOperationException("The generated code does not compile cleanly:\n" + Format(problems, compilation));
    }

    /// <summary>Diagnostics with the source line each points at.</summary>
    public static string Format(IEnumerable<Diagnostic> diagnostics, Compilation compilation)
    {
        var sb = new StringBuilder();
        foreach (var d in diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Take(50))
        {
            sb.AppendLine(d.ToString());
            if (d.Location.IsInSource)
            {
                var span = d.Location.GetLineSpan();
                var text = d.Location.SourceTree!.GetText();
                int line = span.StartLinePosition.Line;
                if (line < text.Lines.Count) sb.AppendLine($"    {span.Path}:{line + 1}: {text.Lines[line].ToString().Trim()}");
            }
        }
        return sb.ToString();
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => p.Length > 0)
            .ToList();
        paths.Add(typeof(ModelInfo).Assembly.Location);
        return paths
            .GroupBy(p => Path.GetFileName(p), StringComparer.OrdinalIgnoreCase)
            .Select(g => g.First())
            .Where(p => !string.Equals(Path.GetFileName(p), "EdgeCompile.Tests.dll", StringComparison.OrdinalIgnoreCase))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }

    private sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text, Encoding.UTF8);

        public override string Path { get; } = path;

        public override SourceText GetText(System.Threading.CancellationToken cancellationToken = default) => _text;
    }
}
