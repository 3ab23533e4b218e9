using EdgeCompile.Compiler.Ir;
using EdgeCompile.Runtime;

namespace EdgeCompile.Compiler.Calibration;

// The quantized kernels (docs/quantization.md), in the operand order the lowering writes (Lowerer.Quantization.cs):
// calibration runs FP32 plans, but measuring a quantized plan (the output error of Mixed, the accuracy of a build)
// runs these. Missing a parameter the lowering writes is caught by the interpreter's check that every one is read.
public sealed partial class KernelTable
{
    private static void AddQuantized(KernelTable t)
    {
        t.Add("DenseInt8", c =>
        {
            int rows = c.Int("rows");
            float inputScale = c.Float("inputScale");
            var activation = c.Activation("activation");
            var workers = c.Workers();
            using (ShapeBinding.Bind(c.Shape(0), c))
                Kernels.DenseInt8<BoundDenseShape>(c.In<float>(0), c.In<sbyte>(1), c.In<float>(2), c.In<int>(3), c.In<float>(4),
                    c.Out<float>(0), c.Out<byte>(1), rows, inputScale, activation, workers);
        });
        t.Add("DenseHalf", c =>
        {
            int rows = c.Int("rows");
            var activation = c.Activation("activation");
            var workers = c.Workers();
            using (ShapeBinding.Bind(c.Shape(0), c))
                Kernels.DenseHalf<BoundDenseShape>(c.In<float>(0), c.In<System.Half>(1), c.In<float>(2), c.Out<float>(0), rows, activation, workers);
        });
        t.Add("DenseInt4", c =>
        {
            int rows = c.Int("rows");
            var activation = c.Activation("activation");
            var workers = c.Workers();
            using (ShapeBinding.Bind(c.Shape(0), c))
                Kernels.DenseInt4<BoundDenseShape>(c.In<float>(0), c.In<byte>(1), c.In<System.Half>(2), c.In<float>(3), c.Out<float>(0), rows, activation, workers);
        });
        t.Add("Conv2dInt8", c =>
        {
            if (c.InputType(2) == ElementType.Float16)
                Kernels.Conv2dInt8(c.In<float>(0), c.In<sbyte>(1), c.In<System.Half>(2), c.In<float>(3), c.Out<float>(0),
                    c.Int("batch"), c.Int("inChannels"), c.Int("inHeight"), c.Int("inWidth"), c.Int("outChannels"), c.Int("outHeight"), c.Int("outWidth"),
                    c.Int("kernelHeight"), c.Int("kernelWidth"), c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft"),
                    c.Int("dilationHeight"), c.Int("dilationWidth"), c.Int("groups"), c.Activation("activation"));
            else
                Kernels.Conv2dInt8(c.In<float>(0), c.In<sbyte>(1), c.In<float>(2), c.In<float>(3), c.Out<float>(0),
                    c.Int("batch"), c.Int("inChannels"), c.Int("inHeight"), c.Int("inWidth"), c.Int("outChannels"), c.Int("outHeight"), c.Int("outWidth"),
                    c.Int("kernelHeight"), c.Int("kernelWidth"), c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft"),
                    c.Int("dilationHeight"), c.Int("dilationWidth"), c.Int("groups"), c.Activation("activation"));
        });
        t.Add("Conv2dInt4", c => Kernels.Conv2dInt4(c.In<float>(0), c.In<byte>(1), c.In<System.Half>(2), c.In<float>(3), c.Out<float>(0),
            c.Int("batch"), c.Int("inChannels"), c.Int("inHeight"), c.Int("inWidth"), c.Int("outChannels"), c.Int("outHeight"), c.Int("outWidth"),
            c.Int("kernelHeight"), c.Int("kernelWidth"), c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft"),
            c.Int("dilationHeight"), c.Int("dilationWidth"), c.Int("groups"), c.Int("block"), c.Activation("activation")));
        t.Add("DequantizeInt8Rows", c => Kernels.DequantizeInt8Rows(c.In<sbyte>(0), c.In<float>(1), c.Out<float>(0), c.Int("rows"), c.Int("inner")));
        t.Add("Conv2dHalf", c => Kernels.Conv2dHalf(c.In<float>(0), c.In<System.Half>(1), c.In<float>(2), c.Out<float>(0),
            c.Int("batch"), c.Int("inChannels"), c.Int("inHeight"), c.Int("inWidth"), c.Int("outChannels"), c.Int("outHeight"), c.Int("outWidth"),
            c.Int("kernelHeight"), c.Int("kernelWidth"), c.Int("strideHeight"), c.Int("strideWidth"), c.Int("padTop"), c.Int("padLeft"),
            c.Int("dilationHeight"), c.Int("dilationWidth"), c.Int("groups"), c.Activation("activation")));
        t.Add("GatherInt8Rows", c =>
        {
            int axisLength = c.Int("axisLength"), inner = c.Int("inner");
            bool halfScales = c.InputType(1) == ElementType.Float16, longIndices = c.InputType(2) == ElementType.Int64;
            if (halfScales && longIndices) Kernels.GatherInt8Rows(c.In<sbyte>(0), c.In<System.Half>(1), c.In<long>(2), c.Out<float>(0), axisLength, inner);
            else if (halfScales) Kernels.GatherInt8Rows(c.In<sbyte>(0), c.In<System.Half>(1), c.In<int>(2), c.Out<float>(0), axisLength, inner);
            else if (longIndices) Kernels.GatherInt8Rows(c.In<sbyte>(0), c.In<float>(1), c.In<long>(2), c.Out<float>(0), axisLength, inner);
            else Kernels.GatherInt8Rows(c.In<sbyte>(0), c.In<float>(1), c.In<int>(2), c.Out<float>(0), axisLength, inner);
        });
        t.Add("GatherInt4Rows", c =>
        {
            int axisLength = c.Int("axisLength"), inner = c.Int("inner"), block = c.Int("block");
            if (c.InputType(2) == ElementType.Int64)
                Kernels.GatherInt4Rows(c.In<byte>(0), c.In<System.Half>(1), c.In<long>(2), c.Out<float>(0), axisLength, inner, block);
            else
                Kernels.GatherInt4Rows(c.In<byte>(0), c.In<System.Half>(1), c.In<int>(2), c.Out<float>(0), axisLength, inner, block);
        });
        t.Add("GatherHalfRows", c =>
        {
            int axisLength = c.Int("axisLength"), inner = c.Int("inner");
            if (c.InputType(1) == ElementType.Int64)
                Kernels.GatherHalfRows(c.In<System.Half>(0), c.In<long>(1), c.Out<float>(0), axisLength, inner);
            else
                Kernels.GatherHalfRows(c.In<System.Half>(0), c.In<int>(1), c.Out<float>(0), axisLength, inner);
        });
    }
}
