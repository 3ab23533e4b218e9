using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace EdgeCompile.Generators
{
    /// <summary>Identifiers, name mangling and the translation of plan expressions to C#.</summary>
    internal static class CSharpNames
    {
        /// <summary>A C# identifier that is not a reserved keyword (a class or kernel name).</summary>
        public static bool IsIdentifier(string name) =>
            SyntaxFacts.IsValidIdentifier(name) && SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None;

        public static bool IsDottedName(string name)
        {
            foreach (var part in name.Split('.'))
            {
                if (!IsIdentifier(part)) return false;
            }
            return true;
        }

        /// <summary><c>[A-Za-z_][A-Za-z0-9_]*</c>: dim and parameter names.</summary>
        public static bool IsSimpleName(string name)
        {
            if (name.Length == 0 || !IsSimpleNameStart(name[0])) return false;
            foreach (char c in name)
            {
                if (!IsSimpleNamePart(c)) return false;
            }
            return true;
        }

        public static bool IsSimpleNameStart(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

        public static bool IsSimpleNamePart(char c) => IsSimpleNameStart(c) || (c >= '0' && c <= '9');

        /// <summary>
        /// camelCase of an ONNX name: split on every character that cannot be in an identifier (and
        /// on '_'), lower-case the first letter of the first word, upper-case the first letter of the
        /// others (<c>input_ids</c> → <c>inputIds</c>, <c>input.1</c> → <c>input1</c>). A name that
        /// would start with a digit gets a leading '_'; an empty result is <c>arg</c>; a keyword is
        /// escaped with '@'.
        /// </summary>
        public static string ToCamelCase(string name) => Join(name, pascal: false);

        /// <summary>PascalCase with the same word splitting (<c>batch_size</c> → <c>BatchSize</c>).</summary>
        public static string ToPascalCase(string name) => Join(name, pascal: true);

        private static string Join(string name, bool pascal)
        {
            var sb = new StringBuilder(name.Length);
            bool startOfWord = true;
            foreach (char c in name)
            {
                if (!IsWordChar(c))
                {
                    startOfWord = true;
                    continue;
                }
                if (startOfWord)
                {
                    string s = c.ToString();
                    sb.Append(sb.Length == 0 && !pascal ? s.ToLowerInvariant() : s.ToUpperInvariant());
                    startOfWord = false;
                }
                else
                {
                    sb.Append(c);
                }
            }
            if (sb.Length == 0) sb.Append(pascal ? "Arg" : "arg");
            if (char.IsDigit(sb[0])) sb.Insert(0, '_');
            string result = sb.ToString();
            if (!SyntaxFacts.IsValidIdentifier(result)) return pascal ? "Arg" : "arg"; // unreachable by construction
            return SyntaxFacts.GetKeywordKind(result) != SyntaxKind.None ? "@" + result : result;
        }

        private static bool IsWordChar(char c)
        {
            if (c == '_') return false;
            if (c < 128) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            switch (CharUnicodeInfo.GetUnicodeCategory(c))
            {
                case UnicodeCategory.UppercaseLetter:
                case UnicodeCategory.LowercaseLetter:
                case UnicodeCategory.TitlecaseLetter:
                case UnicodeCategory.ModifierLetter:
                case UnicodeCategory.OtherLetter:
                case UnicodeCategory.LetterNumber:
                case UnicodeCategory.DecimalDigitNumber:
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>
        /// Makes <paramref name="name"/> unique among <paramref name="used"/> by appending _2, _3, ...
        /// (deterministic: the first comer keeps its name), and records it. camelCase names never
        /// contain '_' after their first character, so a suffixed name cannot clash with another.
        /// </summary>
        public static string Unique(string name, HashSet<string> used)
        {
            string bare = name.StartsWith("@", System.StringComparison.Ordinal) ? name.Substring(1) : name;
            if (used.Add(bare)) return name;
            for (int i = 2; ; i++)
            {
                string candidate = bare + "_" + i.ToString(CultureInfo.InvariantCulture);
                if (used.Add(candidate)) return candidate;
            }
        }

        /// <summary>
        /// Translates a plan expression to C#: identifiers that are dim names become their parameter
        /// names; a two-part dotted name whose first part is not a keyword (<c>Activation.Gelu</c>) is
        /// qualified with <c>global::EdgeCompile.Runtime.</c>; everything else (numbers such as
        /// <c>1E-12f</c>, operators, <c>true</c>) is left verbatim.
        /// </summary>
        public static string Translate(string expression, IReadOnlyDictionary<string, string> dimParameters)
        {
            var sb = new StringBuilder(expression.Length + 8);
            int i = 0;
            while (i < expression.Length)
            {
                char c = expression[i];
                if ((c >= '0' && c <= '9') || (c == '.' && i + 1 < expression.Length && expression[i + 1] >= '0' && expression[i + 1] <= '9'))
                {
                    // A numeric literal, including exponents with a sign (1E-12f, 3.4E+38f).
                    int start = i;
                    while (i < expression.Length)
                    {
                        char d = expression[i];
                        if (IsSimpleNamePart(d) || d == '.') { i++; continue; }
                        if ((d == '+' || d == '-') && (expression[i - 1] == 'e' || expression[i - 1] == 'E') && !IsHex(expression, start)) { i++; continue; }
                        break;
                    }
                    sb.Append(expression, start, i - start);
                    continue;
                }
                if (IsSimpleNameStart(c))
                {
                    // An identifier, possibly dotted: Activation.Gelu, float.NaN, System.Single.NaN.
                    var parts = new List<string>();
                    while (true)
                    {
                        int start = i;
                        while (i < expression.Length && IsSimpleNamePart(expression[i])) i++;
                        parts.Add(expression.Substring(start, i - start));
                        if (i + 1 < expression.Length && expression[i] == '.' && IsSimpleNameStart(expression[i + 1])) { i++; continue; }
                        break;
                    }
                    if (parts.Count == 1)
                        sb.Append(dimParameters.TryGetValue(parts[0], out var parameter) ? parameter : parts[0]);
                    else if (parts.Count == 2 && SyntaxFacts.GetKeywordKind(parts[0]) == SyntaxKind.None && !dimParameters.ContainsKey(parts[0]))
                        sb.Append("global::EdgeCompile.Runtime.").Append(parts[0]).Append('.').Append(parts[1]);
                    else
                        sb.Append(string.Join(".", parts));
                    continue;
                }
                sb.Append(c);
                i++;
            }
            return sb.ToString();
        }

        private static bool IsHex(string expression, int start) =>
            start + 1 < expression.Length && expression[start] == '0' && (expression[start + 1] == 'x' || expression[start + 1] == 'X');

        /// <summary>Makes text safe inside a <c>//</c> comment (no line terminators).</summary>
        public static string CommentText(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (char c in text)
            {
                switch (c)
                {
                    case '\r': sb.Append("\\r"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\u0085': sb.Append("\\u0085"); break;
                    case '\u2028': sb.Append("\\u2028"); break;
                    case '\u2029': sb.Append("\\u2029"); break;
                    default: sb.Append(c); break;
                }
            }
            return sb.ToString();
        }

        /// <summary>A C# string literal (quoted, escaped).</summary>
        public static string Literal(string text) => SymbolDisplay.FormatLiteral(text, quote: true);

        public static string Long(long value) => value.ToString(CultureInfo.InvariantCulture) + "L";

        public static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
