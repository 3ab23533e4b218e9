using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

// Normalisation, reductions and per-channel affine maps.
public sealed partial class KernelTable
{
    private delegate void ReduceKernel(System.ReadOnlySpan<float> x, System.Span<float> y, int outer, int length, int inner);

    private static void AddNormalization(KernelTable t)
    {
        t.Add("Softmax", Reduce(Kernels.Softmax));
        t.Add("ReduceMean", Reduce(Kernels.ReduceMean));
        t.Add("ReduceSum", Reduce(Kernels.ReduceSum));
        t.Add("ReduceMax", Reduce(Kernels.ReduceMax));
        t.Add("LayerNorm", c => Kernels.LayerNorm(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.Out<float>(0),
            c.Int("rows"), c.Int("length"), c.Float("epsilon")));
        t.Add("ScaleShift", c => Kernels.ScaleShift(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.In<float>(3), c.Out<float>(0),
            c.Int("rows"), c.Int("n")));
        t.Add("ChannelAffine", c => Kernels.ChannelAffine(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.Out<float>(0),
            c.Int("outer"), c.Int("channels"), c.Int("inner")));
    }

    private static KernelHandler Reduce(ReduceKernel kernel) =>
        c => kernel(c.In<float>(0), c.Out<float>(0), c.Int("outer"), c.Int("length"), c.Int("inner"));
}
