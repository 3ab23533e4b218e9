using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace EdgeCompile.Generators
{
    /// <summary>
    /// Turns every <c>*.edgeplan</c> additional file into a model class (<c>&lt;Class&gt;.g.cs</c>).
    /// Only plain, value-equatable data flows through the pipeline (the parsed plan, strings), so an
    /// edit elsewhere in the project does not re-parse or re-emit anything.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class EdgeModelGenerator : IIncrementalGenerator
    {
        /// <summary>Tracking names of the pipeline steps (for caching tests).</summary>
        public static class TrackingNames
        {
            /// <summary>The plan files (path and text).</summary>
            public const string PlanFiles = nameof(PlanFiles);
            /// <summary>The parsed plans with their diagnostics.</summary>
            public const string ParsedPlans = nameof(ParsedPlans);
            /// <summary>The class names generated more than once (EC4004).</summary>
            public const string ClassNameClashes = nameof(ClassNameClashes);
            /// <summary>Each plan paired with the clashes.</summary>
            public const string PlansToEmit = nameof(PlansToEmit);
        }

        /// <summary>Registers the pipeline.</summary>
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<PlanParseResult> parsed = context.AdditionalTextsProvider
                .Where(static file => file.Path.EndsWith(".edgeplan", StringComparison.OrdinalIgnoreCase))
                .Select(static (file, ct) => new PlanFile(file.Path, file.GetText(ct)?.ToString() ?? string.Empty))
                .WithTrackingName(TrackingNames.PlanFiles)
                .Select(static (file, _) => PlanParser.Parse(file.Path, file.Text))
                .WithTrackingName(TrackingNames.ParsedPlans);

            // Class names must be unique across the project (they are also the hint names).
            IncrementalValueProvider<EquatableArray<ClassClaim>> clashes = parsed
                .Where(static r => r.Plan is not null)
                .Select(static (r, _) => new ClassClaim(r.Plan!.ClassName, r.Path))
                .Collect()
                .Select(static (claims, _) => FindClashes(claims))
                .WithTrackingName(TrackingNames.ClassNameClashes);

            // Layer shape structs implement static abstract interface members (C# 11).
            IncrementalValueProvider<bool> hasStaticAbstracts = context.ParseOptionsProvider
                .Select(static (options, _) => options is not CSharpParseOptions cs || cs.LanguageVersion >= LanguageVersion.CSharp11);

            var toEmit = parsed.Combine(clashes).Combine(hasStaticAbstracts).WithTrackingName(TrackingNames.PlansToEmit);

            context.RegisterSourceOutput(toEmit, static (spc, pair) => Execute(spc, pair.Left.Left, pair.Left.Right, pair.Right));
        }

        private static void Execute(SourceProductionContext context, PlanParseResult result, EquatableArray<ClassClaim> clashes, bool hasStaticAbstracts)
        {
            foreach (var d in result.Diagnostics) context.ReportDiagnostic(Diagnostics.Create(d));
            var plan = result.Plan;
            if (plan is null) return;

            foreach (var claim in clashes)
            {
                if (claim.ClassName == plan.ClassName && claim.Path != result.Path)
                {
                    context.ReportDiagnostic(Diagnostics.Create(new PlanDiagnostic(
                        Diagnostics.DuplicateClassNameId, result.Path, plan.ClassLine, 0, 0, 0,
                        $"class '{plan.ClassName}' is also generated from plan '{claim.Path}'")));
                    return;
                }
            }

            if (plan.ShapeStructs.Count > 0 && !hasStaticAbstracts)
            {
                context.ReportDiagnostic(Diagnostics.Create(new PlanDiagnostic(
                    Diagnostics.LanguageVersionTooLowId, result.Path, plan.ClassLine, 0, 0, 0,
                    $"class '{plan.ClassName}' specialises its kernels per layer shape with static abstract interface members, which need C# 11")));
                return;
            }

            context.CancellationToken.ThrowIfCancellationRequested();
            string source = ModelEmitter.Emit(plan);
            context.AddSource(plan.ClassName + ".g.cs", SourceText.From(source, Encoding.UTF8));
        }

        private static EquatableArray<ClassClaim> FindClashes(ImmutableArray<ClassClaim> claims)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var c in claims) counts[c.ClassName] = counts.TryGetValue(c.ClassName, out int n) ? n + 1 : 1;
            var clashing = new List<ClassClaim>();
            foreach (var c in claims)
            {
                if (counts[c.ClassName] > 1) clashing.Add(c);
            }
            clashing.Sort(static (a, b) => string.CompareOrdinal(a.Path, b.Path));
            return new EquatableArray<ClassClaim>(clashing);
        }

        private sealed record PlanFile(string Path, string Text);

        private sealed record ClassClaim(string ClassName, string Path);
    }
}
