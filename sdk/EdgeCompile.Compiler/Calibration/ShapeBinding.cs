using System;
using System.Linq;
using System.Threading;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// Lets the interpreter call shape-generic kernels (<c>Kernels.Dense&lt;TShape&gt;</c>, where <c>TShape</c> has
/// static abstract <c>K</c>, <c>N</c>, <c>Panel</c>). The generated code declares one struct per layer shape with
/// those numbers as constants, but that struct only exists when the <em>consumer's</em> project is compiled; the
/// interpreter runs inside the compiler, before. So it calls the kernels through <see cref="BoundDenseShape"/>, whose
/// static members read static fields that <see cref="Bind"/> sets just before the call. A lock held from
/// <see cref="Bind"/> until the scope is disposed keeps two interpreters (parallel model builds in one MSBuild
/// node) from seeing each other's shapes. The fields must stay non-readonly: the JIT folds <c>static readonly</c>
/// fields into constants once initialised, which would freeze the first shape.
/// </summary>
internal static class ShapeBinding
{
    private static readonly object Gate = new();

    internal static int K, N, Panel, Block;

    public static Scope Bind(PlanShape shape, KernelCall call)
    {
        Monitor.Enter(Gate);
        try
        {
            K = Member(shape, "K", call);
            N = Member(shape, "N", call);
            Panel = Member(shape, "Panel", call);
            Block = shape.Members.Any(m => m.Member == "Block") ? Member(shape, "Block", call) : 0;
            return new Scope();
        }
        catch
        {
            Monitor.Exit(Gate);
            throw;
        }
    }

    private static int Member(PlanShape shape, string name, KernelCall call)
    {
        foreach (var (member, value) in shape.Members)
            if (member == name) return checked((int)value);
        throw call.Error($"shape {shape.Name} ({shape.Interface}) has no member {name}");
    }

    /// <summary>Releases the lock: dispose right after the kernel call.</summary>
    public readonly struct Scope : IDisposable
    {
        public void Dispose() => Monitor.Exit(Gate);
    }
}

/// <summary>The dense layer shape of the kernel call in progress (see <see cref="ShapeBinding"/>); <c>Block</c> is 0 for a shape without one.</summary>
internal readonly struct BoundDenseShape : IDenseBlockShape
{
    public static int K => ShapeBinding.K;
    public static int N => ShapeBinding.N;
    public static int Panel => ShapeBinding.Panel;
    public static int Block => ShapeBinding.Block;
}
