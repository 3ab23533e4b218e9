using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace EdgeCompile.Compiler.Ir;

/// <summary>
/// A dimension size known at build time up to symbolic dimensions: a monomial
/// <c>coefficient · sym1 · sym2 · ...</c> (e.g. <c>12·batch·sequence</c>). Exported transformer
/// graphs only ever multiply, divide and reorder shape values, so monomials are enough to fold
/// their Shape→Gather→Concat→Reshape chains; anything else is reported as not static.
/// </summary>
public sealed class DimExpr : IEquatable<DimExpr>
{
    private readonly string[] _symbols; // sorted, with repetition

    private DimExpr(long coefficient, string[] symbols)
    {
        Coefficient = coefficient;
        _symbols = symbols;
    }

    public long Coefficient { get; }
    public IReadOnlyList<string> Symbols => _symbols;
    public bool IsConstant => _symbols.Length == 0;

    public static DimExpr Const(long value) => new(value, Array.Empty<string>());
    public static DimExpr Symbol(string name) => new(1, new[] { name });
    public static readonly DimExpr One = Const(1);

    public long ConstValue => IsConstant ? Coefficient : throw new InvalidOperationException($"'{this}' is not a constant");

    public static DimExpr operator *(DimExpr a, DimExpr b)
    {
        if (a.Coefficient == 0 || b.Coefficient == 0) return Const(0);
        var symbols = a._symbols.Concat(b._symbols).OrderBy(s => s, StringComparer.Ordinal).ToArray();
        return new DimExpr(a.Coefficient * b.Coefficient, symbols);
    }

    /// <summary>Exact division, or null when the quotient is not a monomial.</summary>
    public DimExpr? TryDivide(DimExpr divisor)
    {
        if (divisor.Coefficient == 0 || Coefficient % divisor.Coefficient != 0) return null;
        var remaining = _symbols.ToList();
        foreach (var s in divisor._symbols)
            if (!remaining.Remove(s)) return null;
        return new DimExpr(Coefficient / divisor.Coefficient, remaining.ToArray());
    }

    /// <summary>Sum, or null unless both are constants or multiples of the same symbols.</summary>
    public DimExpr? TryAdd(DimExpr other)
    {
        if (Coefficient == 0) return other;
        if (other.Coefficient == 0) return this;
        if (!_symbols.SequenceEqual(other._symbols)) return null;
        var sum = Coefficient + other.Coefficient;
        return sum == 0 ? Const(0) : new DimExpr(sum, _symbols);
    }

    public DimExpr? TryNegate() => new DimExpr(-Coefficient, _symbols);

    /// <summary>Value with every symbol replaced by its value in <paramref name="values"/>.</summary>
    public long Evaluate(IReadOnlyDictionary<string, long> values)
    {
        long v = Coefficient;
        foreach (var s in _symbols) v *= values[s];
        return v;
    }

    public static DimExpr Product(IEnumerable<DimExpr> dims)
    {
        var p = One;
        foreach (var d in dims) p *= d;
        return p;
    }

    public bool Equals(DimExpr? other) =>
        other is not null && Coefficient == other.Coefficient && _symbols.SequenceEqual(other._symbols);
    public override bool Equals(object? obj) => Equals(obj as DimExpr);
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Coefficient);
        foreach (var s in _symbols) h.Add(s, StringComparer.Ordinal);
        return h.ToHashCode();
    }
    public static bool operator ==(DimExpr? a, DimExpr? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(DimExpr? a, DimExpr? b) => !(a == b);

    /// <summary>Plan syntax: <c>64</c>, <c>sequence</c>, <c>12*batch*sequence</c>.</summary>
    public override string ToString()
    {
        if (IsConstant) return Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        if (Coefficient != 1) sb.Append(Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('*');
        sb.Append(string.Join("*", _symbols));
        return sb.ToString();
    }
}
