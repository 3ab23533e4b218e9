using System;
using System.Collections.Generic;
using System.Globalization;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// An integer expression of the plan (<c>64</c>, <c>batch*sequence</c>, <c>(sequence-1)</c>, <c>12*batch</c>): integer
/// literals and dimension names with <c>+ - * /</c>, unary minus and parentheses. The generator emits it as C#
/// <c>int</c> arithmetic, so it evaluates with C#'s rules (integer division truncates toward zero); a value outside
/// <c>int</c> is reported instead of wrapping, since it can only come from a planning bug.
/// </summary>
public sealed class IntExpression
{
    private readonly Func<IReadOnlyDictionary<string, long>, long> _evaluate;

    private IntExpression(string text, Func<IReadOnlyDictionary<string, long>, long> evaluate)
    {
        Text = text;
        _evaluate = evaluate;
    }

    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; every name must be one of <paramref name="dimensions"/>.</summary>
    public static IntExpression Parse(string text, IReadOnlySet<string> dimensions) =>
        new(text, new Parser(text, dimensions).ParseAll());

    public int Evaluate(IReadOnlyDictionary<string, long> dims)
    {
        long value = _evaluate(dims);
        if (value < int.MinValue || value > int.MaxValue)
            throw new OverflowException($"the plan expression '{Text}' evaluates to {value}, outside the range of int.");
        return (int)value;
    }

    /// <summary>Recursive descent: sum := product (('+'|'-') product)*; product := unary (('*'|'/') unary)*.</summary>
    private sealed class Parser(string text, IReadOnlySet<string> dimensions)
    {
        private int _pos;

        public Func<IReadOnlyDictionary<string, long>, long> ParseAll()
        {
            var e = Sum();
            if (_pos != text.Length) throw Error($"unexpected '{text[_pos]}'");
            return e;
        }

        private Func<IReadOnlyDictionary<string, long>, long> Sum()
        {
            var left = Product();
            while (_pos < text.Length && text[_pos] is '+' or '-')
            {
                char op = text[_pos++];
                var l = left;
                var r = Product();
                left = op == '+' ? d => l(d) + r(d) : d => l(d) - r(d);
            }
            return left;
        }

        private Func<IReadOnlyDictionary<string, long>, long> Product()
        {
            var left = Unary();
            while (_pos < text.Length && text[_pos] is '*' or '/')
            {
                char op = text[_pos++];
                var l = left;
                var r = Unary();
                left = op == '*' ? d => l(d) * r(d) : d => l(d) / r(d);
            }
            return left;
        }

        private Func<IReadOnlyDictionary<string, long>, long> Unary()
        {
            if (_pos >= text.Length) throw Error("unexpected end");
            char c = text[_pos];
            if (c == '-')
            {
                _pos++;
                var inner = Unary();
                return d => -inner(d);
            }
            if (c == '(')
            {
                _pos++;
                var inner = Sum();
                if (_pos >= text.Length || text[_pos] != ')') throw Error("missing ')'");
                _pos++;
                return inner;
            }
            int start = _pos;
            if (char.IsAsciiDigit(c))
            {
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                long value = long.Parse(text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture);
                return _ => value;
            }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                string name = text[start.._pos];
                if (!dimensions.Contains(name)) throw Error($"'{name}' is not a dimension of the plan");
                return d => d.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"no value for dimension '{name}'");
            }
            throw Error($"unexpected '{c}'");
        }

        private FormatException Error(string what) => new($"plan expression '{text}': {what} at position {_pos}.");
    }
}
