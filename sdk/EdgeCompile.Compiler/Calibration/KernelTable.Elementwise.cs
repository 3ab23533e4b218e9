using System;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

// Elementwise kernels: unary (float), binary and comparisons (float/long/int overloads), logical (bool), Where<T>.
public sealed partial class KernelTable
{
    private delegate void UnaryKernel(ReadOnlySpan<float> x, Span<float> y);
    private delegate void BinaryKernel<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y);
    private delegate void CompareKernel<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<bool> y);
    private delegate void BroadcastKernel<T, TOut>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<TOut> y,
        int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3);

    private static void AddElementwise(KernelTable t)
    {
        UnaryKernel[] unary =
        {
            Kernels.Relu, Kernels.Sigmoid, Kernels.Tanh, Kernels.Erf, Kernels.Gelu, Kernels.GeluTanh, Kernels.Silu, Kernels.Sqrt,
            Kernels.Exp, Kernels.Log, Kernels.Neg, Kernels.Abs, Kernels.Reciprocal, Kernels.Floor, Kernels.Ceil, Kernels.Sin,
            Kernels.Cos, Kernels.Softplus, Kernels.Sign, Kernels.HardSwish,
        };
        foreach (var kernel in unary)
            t.Add(kernel.Method.Name, c => kernel(c.In<float>(0), c.Out<float>(0)));
        t.Add("LeakyRelu", c => Kernels.LeakyRelu(c.In<float>(0), c.Out<float>(0), c.Float("alpha")));
        t.Add("Elu", c => Kernels.Elu(c.In<float>(0), c.Out<float>(0), c.Float("alpha")));
        t.Add("HardSigmoid", c => Kernels.HardSigmoid(c.In<float>(0), c.Out<float>(0), c.Float("alpha"), c.Float("beta")));
        t.Add("Clip", c => Kernels.Clip(c.In<float>(0), c.Out<float>(0), c.Float("min"), c.Float("max")));
        t.Add("Not", c => Kernels.Not(c.In<bool>(0), c.Out<bool>(0)));

        Arithmetic(t, "Add", Kernels.Add, Kernels.Add, Kernels.Add, Kernels.AddBroadcast, Kernels.AddBroadcast, Kernels.AddBroadcast);
        Arithmetic(t, "Sub", Kernels.Sub, Kernels.Sub, Kernels.Sub, Kernels.SubBroadcast, Kernels.SubBroadcast, Kernels.SubBroadcast);
        Arithmetic(t, "Mul", Kernels.Mul, Kernels.Mul, Kernels.Mul, Kernels.MulBroadcast, Kernels.MulBroadcast, Kernels.MulBroadcast);
        Arithmetic(t, "Div", Kernels.Div, Kernels.Div, Kernels.Div, Kernels.DivBroadcast, Kernels.DivBroadcast, Kernels.DivBroadcast);
        Arithmetic(t, "Max", Kernels.Max, Kernels.Max, Kernels.Max, Kernels.MaxBroadcast, Kernels.MaxBroadcast, Kernels.MaxBroadcast);
        Arithmetic(t, "Min", Kernels.Min, Kernels.Min, Kernels.Min, Kernels.MinBroadcast, Kernels.MinBroadcast, Kernels.MinBroadcast);
        t.Add("Pow", c => Kernels.Pow(c.In<float>(0), c.In<float>(1), c.Out<float>(0)));
        t.Add("PowBroadcast", c => Broadcast<float, float>(c, Kernels.PowBroadcast));

        Comparison(t, "Equal", Kernels.Equal, Kernels.Equal, Kernels.Equal, Kernels.EqualBroadcast, Kernels.EqualBroadcast, Kernels.EqualBroadcast);
        Comparison(t, "Greater", Kernels.Greater, Kernels.Greater, Kernels.Greater, Kernels.GreaterBroadcast, Kernels.GreaterBroadcast, Kernels.GreaterBroadcast);
        Comparison(t, "Less", Kernels.Less, Kernels.Less, Kernels.Less, Kernels.LessBroadcast, Kernels.LessBroadcast, Kernels.LessBroadcast);
        t.Add("And", c => Kernels.And(c.In<bool>(0), c.In<bool>(1), c.Out<bool>(0)));
        t.Add("Or", c => Kernels.Or(c.In<bool>(0), c.In<bool>(1), c.Out<bool>(0)));
        t.Add("AndBroadcast", c => Broadcast<bool, bool>(c, Kernels.AndBroadcast));
        t.Add("OrBroadcast", c => Broadcast<bool, bool>(c, Kernels.OrBroadcast));

        t.Add("Where", c => TypeDispatch.Run<WhereHandler>(c.OutputType(0), c));
    }

    /// <summary>A float/long/int arithmetic kernel and its ...Broadcast form, the overload chosen by the inputs' type.</summary>
    private static void Arithmetic(KernelTable t, string name,
        BinaryKernel<float> f, BinaryKernel<long> l, BinaryKernel<int> i,
        BroadcastKernel<float, float> bf, BroadcastKernel<long, long> bl, BroadcastKernel<int, int> bi)
    {
        t.Add(name, c =>
        {
            switch (c.InputType(0))
            {
                case ElementType.Float32: f(c.In<float>(0), c.In<float>(1), c.Out<float>(0)); break;
                case ElementType.Int64: l(c.In<long>(0), c.In<long>(1), c.Out<long>(0)); break;
                case ElementType.Int32: i(c.In<int>(0), c.In<int>(1), c.Out<int>(0)); break;
                default: throw c.Error($"{name} has no {c.InputType(0)} overload");
            }
        });
        t.Add(name + "Broadcast", c =>
        {
            switch (c.InputType(0))
            {
                case ElementType.Float32: Broadcast(c, bf); break;
                case ElementType.Int64: Broadcast(c, bl); break;
                case ElementType.Int32: Broadcast(c, bi); break;
                default: throw c.Error($"{name}Broadcast has no {c.InputType(0)} overload");
            }
        });
    }

    /// <summary>A float/long/int comparison (bool result) and its ...Broadcast form.</summary>
    private static void Comparison(KernelTable t, string name,
        CompareKernel<float> f, CompareKernel<long> l, CompareKernel<int> i,
        BroadcastKernel<float, bool> bf, BroadcastKernel<long, bool> bl, BroadcastKernel<int, bool> bi)
    {
        t.Add(name, c =>
        {
            switch (c.InputType(0))
            {
                case ElementType.Float32: f(c.In<float>(0), c.In<float>(1), c.Out<bool>(0)); break;
                case ElementType.Int64: l(c.In<long>(0), c.In<long>(1), c.Out<bool>(0)); break;
                case ElementType.Int32: i(c.In<int>(0), c.In<int>(1), c.Out<bool>(0)); break;
                default: throw c.Error($"{name} has no {c.InputType(0)} overload");
            }
        });
        t.Add(name + "Broadcast", c =>
        {
            switch (c.InputType(0))
            {
                case ElementType.Float32: Broadcast(c, bf); break;
                case ElementType.Int64: Broadcast(c, bl); break;
                case ElementType.Int32: Broadcast(c, bi); break;
                default: throw c.Error($"{name}Broadcast has no {c.InputType(0)} overload");
            }
        });
    }

    private static void Broadcast<T, TOut>(KernelCall c, BroadcastKernel<T, TOut> kernel) where T : unmanaged where TOut : unmanaged =>
        kernel(c.In<T>(0), c.In<T>(1), c.Out<TOut>(0),
            c.Int("n0"), c.Int("n1"), c.Int("n2"), c.Int("n3"),
            c.Int("a0"), c.Int("a1"), c.Int("a2"), c.Int("a3"),
            c.Int("b0"), c.Int("b1"), c.Int("b2"), c.Int("b3"));

    private readonly struct WhereHandler : ITypedHandler
    {
        public void Run<T>(KernelCall c) where T : unmanaged =>
            Kernels.Where(c.In<bool>(0), c.In<T>(1), c.In<T>(2), c.Out<T>(0),
                c.Int("n0"), c.Int("n1"), c.Int("n2"), c.Int("n3"),
                c.Int("c0"), c.Int("c1"), c.Int("c2"), c.Int("c3"),
                c.Int("x0"), c.Int("x1"), c.Int("x2"), c.Int("x3"),
                c.Int("y0"), c.Int("y1"), c.Int("y2"), c.Int("y3"));
    }
}
