using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// One <c>name=value</c> of a plan op, parsed once into what the generated C# would pass: an integer expression over
/// the dimensions, a float literal (<c>1E-12f</c>, <c>float.NaN</c>), a <c>long</c> literal (<c>5L</c>),
/// <c>true</c>/<c>false</c>, a runtime enum member (<c>Activation.Gelu</c>) or the model's <c>workers</c>.
/// </summary>
public sealed partial class PlanParameter
{
    private enum Kind { Integer, Float, Long, Bool, Activation, Workers }

    private readonly Kind _kind;
    private readonly IntExpression? _integer;
    private readonly float _float;
    private readonly long _long;
    private readonly bool _bool;
    private readonly Activation _activation;

    private PlanParameter(string name, string text, Kind kind, IntExpression? integer = null, float f = 0, long l = 0, bool b = false, Activation a = default)
    {
        Name = name;
        Text = text;
        _kind = kind;
        _integer = integer;
        _float = f;
        _long = l;
        _bool = b;
        _activation = a;
    }

    public string Name { get; }
    public string Text { get; }

    public static PlanParameter Parse(string name, string text, IReadOnlySet<string> dimensions)
    {
        switch (text)
        {
            case "workers": return new(name, text, Kind.Workers);
            case "true": return new(name, text, Kind.Bool, b: true);
            case "false": return new(name, text, Kind.Bool, b: false);
            case "float.NaN": return new(name, text, Kind.Float, f: float.NaN);
            case "float.PositiveInfinity": return new(name, text, Kind.Float, f: float.PositiveInfinity);
            case "float.NegativeInfinity": return new(name, text, Kind.Float, f: float.NegativeInfinity);
        }
        if (FloatLiteral().IsMatch(text))
            return new(name, text, Kind.Float, f: float.Parse(text.AsSpan(0, text.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture));
        if (LongLiteral().IsMatch(text))
            return new(name, text, Kind.Long, l: long.Parse(text.AsSpan(0, text.Length - 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        if (text.StartsWith("Activation.", StringComparison.Ordinal))
            return Enum.TryParse<Activation>(text["Activation.".Length..], ignoreCase: false, out var a) && Enum.IsDefined(a)
                ? new(name, text, Kind.Activation, a: a)
                : throw new FormatException($"parameter {name}={text}: no such member of EdgeCompile.Runtime.Activation.");
        return new(name, text, Kind.Integer, integer: IntExpression.Parse(text, dimensions));
    }

    public int Int(IReadOnlyDictionary<string, long> dims) => _kind == Kind.Integer ? _integer!.Evaluate(dims) : throw Mismatch("an integer expression");
    public float Float() => _kind == Kind.Float ? _float : throw Mismatch("a float literal");
    public long Long(IReadOnlyDictionary<string, long> dims) => _kind switch
    {
        Kind.Long => _long,
        Kind.Integer => _integer!.Evaluate(dims),
        _ => throw Mismatch("an integer literal"),
    };
    public bool Bool() => _kind == Kind.Bool ? _bool : throw Mismatch("true or false");
    public Activation Activation() => _kind == Kind.Activation ? _activation : throw Mismatch("an Activation member");
    public bool IsWorkers => _kind == Kind.Workers;

    private FormatException Mismatch(string expected) => new($"parameter {Name}={Text}: the kernel takes {expected} here.");

    [GeneratedRegex(@"^-?[0-9]+(\.[0-9]+)?([Ee][+-]?[0-9]+)?f$")]
    private static partial Regex FloatLiteral();
    [GeneratedRegex(@"^-?[0-9]+L$")]
    private static partial Regex LongLiteral();
}
