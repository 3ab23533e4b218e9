using System;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>A handler generic in the element type, for the runtime's generic kernels (<c>Copy&lt;T&gt;</c>, <c>Gather&lt;T&gt;</c>...).</summary>
internal interface ITypedHandler
{
    void Run<T>(KernelCall call) where T : unmanaged;
}

internal static class TypeDispatch
{
    /// <summary>Runs <typeparamref name="THandler"/> with the CLR type of <paramref name="type"/>.</summary>
    public static void Run<THandler>(ElementType type, KernelCall call) where THandler : struct, ITypedHandler
    {
        var handler = default(THandler);
        switch (type)
        {
            case ElementType.Float32: handler.Run<float>(call); break;
            case ElementType.Float16: handler.Run<Half>(call); break;
            case ElementType.Float64: handler.Run<double>(call); break;
            case ElementType.Int64: handler.Run<long>(call); break;
            case ElementType.Int32: handler.Run<int>(call); break;
            case ElementType.Int8: handler.Run<sbyte>(call); break;
            case ElementType.UInt8: handler.Run<byte>(call); break;
            case ElementType.Bool: handler.Run<bool>(call); break;
            default: throw call.Error($"element type {type} is not supported");
        }
    }
}

/// <summary>
/// <c>Kernels.Cast</c> has one overload per (from, to) pair; C# cannot pick an overload from generic type parameters,
/// so the overload for each pair is bound once, by reflection, into a delegate (spans cannot go through
/// <c>MethodInfo.Invoke</c>, but a delegate bound to the method calls it directly).
/// </summary>
internal static class CastOverload<TIn, TOut> where TIn : unmanaged where TOut : unmanaged
{
    public delegate void Kernel(ReadOnlySpan<TIn> x, Span<TOut> y);

    public static readonly Kernel? Call = typeof(Kernels).GetMethod(nameof(Kernels.Cast), new[] { typeof(ReadOnlySpan<TIn>), typeof(Span<TOut>) }) is { } method
        ? method.CreateDelegate<Kernel>()
        : null;
}

internal readonly struct CastFrom : ITypedHandler
{
    public void Run<TIn>(KernelCall call) where TIn : unmanaged => TypeDispatch.Run<CastTo<TIn>>(call.OutputType(0), call);
}

internal readonly struct CastTo<TIn> : ITypedHandler where TIn : unmanaged
{
    public void Run<TOut>(KernelCall call) where TOut : unmanaged
    {
        var kernel = CastOverload<TIn, TOut>.Call ?? throw call.Error($"the runtime has no Cast from {typeof(TIn).Name} to {typeof(TOut).Name}");
        kernel(call.In<TIn>(0), call.Out<TOut>(0));
    }
}
