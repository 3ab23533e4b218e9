using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace EdgeCompile.Generators
{
    /// <summary>
    /// The diagnostics of the source generator. IDs are stable (EC4xxx: the generator's range).
    /// Every message names the plan file and the line, and what to do.
    /// </summary>
    internal static class Diagnostics
    {
        private const string Category = "EdgeCompile";
        private const string Rebuild = "Rebuild the project; if it persists, report a bug with the .edgeplan file.";

        public const string MalformedStatementId = "EC4001";
        public const string UnsupportedVersionId = "EC4002";
        public const string UnknownElementTypeId = "EC4003";
        public const string DuplicateClassNameId = "EC4004";
        public const string UnknownStatementId = "EC4005";
        public const string UndeclaredNameId = "EC4006";
        public const string MissingStatementId = "EC4007";
        public const string InconsistentPlanId = "EC4008";
        public const string LanguageVersionTooLowId = "EC4009";

        public static readonly DiagnosticDescriptor MalformedStatement = new DiagnosticDescriptor(
            MalformedStatementId,
            "Malformed plan statement",
            "Plan '{0}' line {1}: malformed statement: {2}. " + Rebuild,
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsupportedVersion = new DiagnosticDescriptor(
            UnsupportedVersionId,
            "Unsupported plan version",
            "Plan '{0}' line {1}: {2}. This generator reads plan version 1: use EdgeCompile SDK and generator packages of the same version, then rebuild.",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownElementType = new DiagnosticDescriptor(
            UnknownElementTypeId,
            "Unknown element type in plan",
            "Plan '{0}' line {1}: {2} (expected f32, f16, f64, i64, i32, i8, u8 or bool). " + Rebuild,
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor DuplicateClassName = new DiagnosticDescriptor(
            DuplicateClassNameId,
            "Two models generate the same class",
            "Plan '{0}' line {1}: {2}. Give each <EdgeModel> item a distinct ClassName (or Namespace).",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownStatement = new DiagnosticDescriptor(
            UnknownStatementId,
            "Unknown plan statement",
            "Plan '{0}' line {1}: {2}. " + Rebuild,
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UndeclaredName = new DiagnosticDescriptor(
            UndeclaredNameId,
            "Plan refers to an undeclared dimension or tensor",
            "Plan '{0}' line {1}: {2}. " + Rebuild,
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor MissingStatement = new DiagnosticDescriptor(
            MissingStatementId,
            "Plan misses a required statement",
            "Plan '{0}' line {1}: {2}. " + Rebuild,
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InconsistentPlan = new DiagnosticDescriptor(
            InconsistentPlanId,
            "Inconsistent plan",
            "Plan '{0}' line {1}: {2}. " + Rebuild,
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor LanguageVersionTooLow = new DiagnosticDescriptor(
            LanguageVersionTooLowId,
            "The model class needs C# 11 or later",
            "Plan '{0}' line {1}: {2}. Remove <LangVersion> from the project or set it to 11 or later.",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static DiagnosticDescriptor Descriptor(string id) => id switch
        {
            LanguageVersionTooLowId => LanguageVersionTooLow,
            MalformedStatementId => MalformedStatement,
            UnsupportedVersionId => UnsupportedVersion,
            UnknownElementTypeId => UnknownElementType,
            DuplicateClassNameId => DuplicateClassName,
            UnknownStatementId => UnknownStatement,
            UndeclaredNameId => UndeclaredName,
            MissingStatementId => MissingStatement,
            _ => InconsistentPlan,
        };

        /// <summary>Turns the pipeline's plain diagnostic data into a Roslyn diagnostic located in the plan file.</summary>
        public static Diagnostic Create(PlanDiagnostic d)
        {
            int line = d.Line < 1 ? 0 : d.Line - 1;
            var location = Location.Create(
                d.Path,
                new TextSpan(d.Start, d.Length),
                new LinePositionSpan(new LinePosition(line, 0), new LinePosition(line, d.LineLength)));
            return Diagnostic.Create(Descriptor(d.Id), location, d.Path, d.Line, d.Detail);
        }
    }
}
