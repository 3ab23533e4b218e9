namespace EdgeCompile.Compiler.Calibration;

// ============================================================================================================
// MERGE EXTENSION POINT (quantization, docs/quantization.md): the quantized kernels DenseInt8, DenseHalf,
// DenseInt4, GatherInt8Rows, GatherInt4Rows and GatherHalfRows are being written on other branches. Once they are
// in runtime/EdgeCompile.Runtime and the lowering emits them, add one handler each below. A plan that calls one of
// them before that stops with EC2110 naming the kernel (calibration itself only runs FP32 plans; these handlers
// are for measuring a quantized plan, e.g. the per-layer error of Mixed).
//
// Sketches, following the contract's signatures; the input/output order and parameter names must be those the
// lowering writes (check its Emit calls), and CheckAllParametersRead will say if one is missed:
//
//   t.Add("DenseInt8", c =>
//   {
//       int rows = c.Int("rows"); float inputScale = c.Float("inputScale");
//       var activation = c.Activation("activation"); var workers = c.Workers();
//       using (ShapeBinding.Bind(c.Shape(0), c))
//           Kernels.DenseInt8<BoundDenseShape>(c.In<float>(0), c.In<sbyte>(1), c.In<float>(2), c.In<int>(3), c.In<float>(4),
//               c.Out<float>(0), c.Out<byte>(1) /* scratch: wherever the lowering puts it */, rows, inputScale, activation, workers);
//   });
//   t.Add("DenseHalf", c => { ... Kernels.DenseHalf<BoundDenseShape>(c.In<float>(0), c.In<Half>(1), c.In<float>(2), c.Out<float>(0), rows, activation, workers); });
//   t.Add("DenseInt4", c => { ... Kernels.DenseInt4<BoundDenseShape>(c.In<float>(0), c.In<byte>(1), c.In<Half>(2), c.In<float>(3), c.Out<float>(0), rows, activation, workers); });
//       (BoundDenseShape must then implement IDenseBlockShape: see ShapeBinding.cs; Bind already reads Block.)
//   t.Add("GatherInt8Rows", c => { if (c.InputType(2) == ElementType.Int64) Kernels.GatherInt8Rows(c.In<sbyte>(0), c.In<float>(1), c.In<long>(2), c.Out<float>(0), c.Int("axisLength"), c.Int("inner")); else ...<int>... });
//   t.Add("GatherInt4Rows", c => { ... c.In<byte>(0), c.In<Half>(1), indices, c.Out<float>(0), c.Int("axisLength"), c.Int("inner"), c.Int("block") ... });
//   t.Add("GatherHalfRows", c => { ... c.In<Half>(0), indices, c.Out<float>(0), c.Int("axisLength"), c.Int("inner") ... });
// ============================================================================================================
public sealed partial class KernelTable
{
    private static void AddQuantized(KernelTable t)
    {
        // Intentionally empty until the quantized runtime kernels are merged (see above).
    }
}
