using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

// Linear algebra and convolution: Dense (plain, shape-specialised and sparse), MatMul, Attention, Conv2d, pooling.
public sealed partial class KernelTable
{
    private static void AddLinear(KernelTable t)
    {
        t.Add("Dense", c =>
        {
            if (c.Op.TypeArguments.Count == 0)
            {
                // Run-time weights: the unpacked [k,n] kernel.
                Kernels.Dense(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.Out<float>(0),
                    c.Int("rows"), c.Int("k"), c.Int("n"), c.Activation("activation"));
                return;
            }
            int rows = c.Int("rows");
            var activation = c.Activation("activation");
            var workers = c.Workers();
            using (ShapeBinding.Bind(c.Shape(0), c))
                Kernels.Dense<BoundDenseShape>(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.Out<float>(0), rows, activation, workers);
        });
        t.Add("DenseSparse", c => Kernels.DenseSparse(c.In<float>(0), c.In<float>(1), c.In<byte>(2), c.In<int>(3), c.In<float>(4),
            c.Out<float>(0), c.Out<float>(1), c.Int("rows"), c.Int("k"), c.Int("n"), c.Activation("activation"), c.Workers()));
        t.Add("MatMul", c => Kernels.MatMul(c.In<float>(0), c.In<float>(1), c.Out<float>(0),
            c.Int("batch"), c.Int("m"), c.Int("k"), c.Int("n"), c.Int("aBatchStride"), c.Int("bBatchStride"), c.Bool("transposeB")));
        t.Add("Attention", c => Kernels.Attention(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.In<float>(3),
            c.Out<float>(0), c.Out<float>(1),
            c.Int("batch"), c.Int("heads"), c.Int("seqQ"), c.Int("seqK"), c.Int("headDim"), c.Int("valueDim"), c.Float("scale"),
            c.Int("qOffset"), c.Int("qBatchStride"), c.Int("qRowStride"), c.Int("qHeadStride"),
            c.Int("kOffset"), c.Int("kBatchStride"), c.Int("kRowStride"), c.Int("kHeadStride"),
            c.Int("vOffset"), c.Int("vBatchStride"), c.Int("vRowStride"), c.Int("vHeadStride"),
            c.Int("maskBatchStride"), c.Int("maskHeadStride"), c.Int("maskRowStride"),
            c.Int("yBatchStride"), c.Int("yRowStride"), c.Int("yHeadStride"), c.Workers()));
        t.Add("Conv2d", c => Kernels.Conv2d(c.In<float>(0), c.In<float>(1), c.In<float>(2), c.Out<float>(0),
            c.Int("batch"), c.Int("inChannels"), c.Int("inHeight"), c.Int("inWidth"),
            c.Int("outChannels"), c.Int("outHeight"), c.Int("outWidth"), c.Int("kernelHeight"), c.Int("kernelWidth"),
            c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft"),
            c.Int("dilationHeight"), c.Int("dilationWidth"), c.Int("groups"), c.Activation("activation")));
        t.Add("AveragePool2d", c => Kernels.AveragePool2d(c.In<float>(0), c.Out<float>(0),
            c.Int("planes"), c.Int("inHeight"), c.Int("inWidth"), c.Int("outHeight"), c.Int("outWidth"),
            c.Int("kernelHeight"), c.Int("kernelWidth"), c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft"),
            c.Bool("countIncludePad")));
        t.Add("MaxPool2d", c => Kernels.MaxPool2d(c.In<float>(0), c.Out<float>(0),
            c.Int("planes"), c.Int("inHeight"), c.Int("inWidth"), c.Int("outHeight"), c.Int("outWidth"),
            c.Int("kernelHeight"), c.Int("kernelWidth"), c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft")));
    }
}
