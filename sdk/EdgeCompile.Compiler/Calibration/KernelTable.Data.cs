using EdgeCompile.Compiler.Ir;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

// Data movement and creation: Copy, Fill, Range, Cast, Gather, StridedCopy.
public sealed partial class KernelTable
{
    private static void AddData(KernelTable t)
    {
        t.Add("Copy", c => TypeDispatch.Run<CopyHandler>(c.OutputType(0), c));
        t.Add("Fill", c => TypeDispatch.Run<FillHandler>(c.OutputType(0), c));
        t.Add("Range", c =>
        {
            switch (c.OutputType(0))
            {
                case ElementType.Float32: Kernels.Range(c.Out<float>(0), c.Literal<float>("start"), c.Literal<float>("delta")); break;
                case ElementType.Int64: Kernels.Range(c.Out<long>(0), c.Literal<long>("start"), c.Literal<long>("delta")); break;
                case ElementType.Int32: Kernels.Range(c.Out<int>(0), c.Literal<int>("start"), c.Literal<int>("delta")); break;
                default: throw c.Error($"Range has no {c.OutputType(0)} overload");
            }
        });
        t.Add("Cast", c => TypeDispatch.Run<CastFrom>(c.InputType(0), c));
        t.Add("Gather", c => TypeDispatch.Run<GatherHandler>(c.OutputType(0), c));
        t.Add("StridedCopy", c => TypeDispatch.Run<StridedCopyHandler>(c.OutputType(0), c));
    }

    private readonly struct CopyHandler : ITypedHandler
    {
        public void Run<T>(KernelCall c) where T : unmanaged => Kernels.Copy(c.In<T>(0), c.Out<T>(0));
    }

    private readonly struct FillHandler : ITypedHandler
    {
        public void Run<T>(KernelCall c) where T : unmanaged => Kernels.Fill(c.Out<T>(0), c.Literal<T>("value"));
    }

    private readonly struct GatherHandler : ITypedHandler
    {
        public void Run<T>(KernelCall c) where T : unmanaged
        {
            int outer = c.Int("outer"), axisLength = c.Int("axisLength"), inner = c.Int("inner");
            if (c.InputType(1) == ElementType.Int64) Kernels.Gather(c.In<T>(0), c.In<long>(1), c.Out<T>(0), outer, axisLength, inner);
            else Kernels.Gather(c.In<T>(0), c.In<int>(1), c.Out<T>(0), outer, axisLength, inner);
        }
    }

    private readonly struct StridedCopyHandler : ITypedHandler
    {
        public void Run<T>(KernelCall c) where T : unmanaged =>
            Kernels.StridedCopy(c.In<T>(0), c.Out<T>(0),
                c.Int("n0"), c.Int("n1"), c.Int("n2"), c.Int("n3"), c.Int("n4"), c.Int("n5"),
                c.Int("x0"), c.Int("x1"), c.Int("x2"), c.Int("x3"), c.Int("x4"), c.Int("x5"), c.Int("xOffset"),
                c.Int("y0"), c.Int("y1"), c.Int("y2"), c.Int("y3"), c.Int("y4"), c.Int("y5"), c.Int("yOffset"));
    }
}
