using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace EdgeCompile.Compiler.Ir;

/// <summary>
/// A dimension size known at build time up to symbolic dimensions: an integer polynomial in
/// the named dimensions (<c>12*batch*sequence</c>, <c>sequence-1</c>). Exported graphs multiply,
/// divide, slice and concatenate shape values, so sums and products are folded exactly;
/// division only when it is exact term by term. Anything else is reported as not static.
/// </summary>
public sealed class DimExpr : IEquatable<DimExpr>
{
    /// <summary>One monomial: coefficient · product of symbols (sorted, with repetition).</summary>
    private readonly record struct Term(long Coefficient, string Key, string[] Symbols);

    private readonly Term[] _terms; // canonical: sorted by key, no zero coefficients

    private DimExpr(IEnumerable<Term> terms)
    {
        _terms = terms.GroupBy(t => t.Key, StringComparer.Ordinal)
            .Select(g => new Term(g.Sum(t => t.Coefficient), g.Key, g.First().Symbols))
            .Where(t => t.Coefficient != 0)
            .OrderBy(t => -t.Symbols.Length).ThenBy(t => t.Key, StringComparer.Ordinal)
            .ToArray();
    }

    private static Term MakeTerm(long coefficient, IEnumerable<string> symbols)
    {
        var sorted = symbols.OrderBy(s => s, StringComparer.Ordinal).ToArray();
        return new Term(coefficient, string.Join("*", sorted), sorted);
    }

    public static DimExpr Const(long value) => new(new[] { MakeTerm(value, Array.Empty<string>()) });
    public static DimExpr Symbol(string name) => new(new[] { MakeTerm(1, new[] { name }) });
    public static readonly DimExpr One = Const(1);

    public bool IsConstant => _terms.All(t => t.Symbols.Length == 0);
    public long ConstValue => IsConstant ? (_terms.Length == 0 ? 0 : _terms[0].Coefficient) : throw new InvalidOperationException($"'{this}' is not a constant");

    public static DimExpr operator *(DimExpr a, DimExpr b) =>
        new(a._terms.SelectMany(x => b._terms.Select(y => MakeTerm(x.Coefficient * y.Coefficient, x.Symbols.Concat(y.Symbols)))));

    public static DimExpr operator +(DimExpr a, DimExpr b) => new(a._terms.Concat(b._terms));
    public static DimExpr operator -(DimExpr a, DimExpr b) => a + b.Negate();
    public DimExpr Negate() => new(_terms.Select(t => t with { Coefficient = -t.Coefficient }));

    /// <summary>Exact division by a monomial, or null when some term does not divide.</summary>
    public DimExpr? TryDivide(DimExpr divisor)
    {
        if (divisor._terms.Length != 1 || divisor._terms[0].Coefficient == 0) return null;
        var d = divisor._terms[0];
        var result = new List<Term>();
        foreach (var t in _terms)
        {
            if (t.Coefficient % d.Coefficient != 0) return null;
            var remaining = t.Symbols.ToList();
            foreach (var s in d.Symbols)
                if (!remaining.Remove(s)) return null;
            result.Add(MakeTerm(t.Coefficient / d.Coefficient, remaining));
        }
        return new DimExpr(result);
    }

    /// <summary>Value with every symbol replaced by its value in <paramref name="values"/>.</summary>
    public long Evaluate(IReadOnlyDictionary<string, long> values) =>
        _terms.Sum(t => t.Symbols.Aggregate(t.Coefficient, (acc, s) => acc * values[s]));

    public static DimExpr Product(IEnumerable<DimExpr> dims)
    {
        var p = One;
        foreach (var d in dims) p *= d;
        return p;
    }

    public bool Equals(DimExpr? other) =>
        other is not null && _terms.Length == other._terms.Length
        && _terms.Zip(other._terms).All(p => p.First.Coefficient == p.Second.Coefficient && p.First.Key == p.Second.Key);
    public override bool Equals(object? obj) => Equals(obj as DimExpr);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var t in _terms) { h.Add(t.Coefficient); h.Add(t.Key, StringComparer.Ordinal); }
        return h.ToHashCode();
    }
    public static bool operator ==(DimExpr? a, DimExpr? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(DimExpr? a, DimExpr? b) => !(a == b);

    /// <summary>
    /// Plan syntax, a C# integer expression over the dimension names: <c>64</c>, <c>sequence</c>,
    /// <c>12*batch*sequence</c>, and sums in parentheses so they multiply safely: <c>(sequence-1)</c>.
    /// </summary>
    public override string ToString()
    {
        if (_terms.Length == 0) return "0";
        var sb = new StringBuilder();
        foreach (var t in _terms)
        {
            long c = t.Coefficient;
            if (sb.Length > 0) sb.Append(c < 0 ? '-' : '+');
            else if (c < 0) sb.Append('-');
            long abs = Math.Abs(c);
            if (t.Symbols.Length == 0) sb.Append(abs.ToString(CultureInfo.InvariantCulture));
            else
            {
                if (abs != 1) sb.Append(abs.ToString(CultureInfo.InvariantCulture)).Append('*');
                sb.Append(t.Key);
            }
        }
        return _terms.Length > 1 || _terms[0].Coefficient < 0 ? "(" + sb + ")" : sb.ToString();
    }
}
