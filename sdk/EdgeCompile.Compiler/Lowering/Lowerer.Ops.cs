using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Passes;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Lowering;

public sealed partial class Lowerer
{
    private static readonly (string, string)[] None = Array.Empty<(string, string)>();

    // ---- elementwise --------------------------------------------------------------------------

    private void LowerUnary(Node n)
    {
        var x = n.In(0);
        if (n.OpType == "Not")
        {
            Emit("Not", new[] { Tensor(x) }, new[] { Define(n.Out) }, None);
            return;
        }
        RequireFloat(x);
        if (n.OpType == "Clip" && (n.Input(1) is { Const: null } || n.Input(2) is { Const: null }))
        {
            // Bounds computed at run time: max(x, min) then min(·, max), each a scalar broadcast.
            var clipped = Tensor(x);
            var bounds = new[] { ("Max", n.Input(1)), ("Min", n.Input(2)) }.Where(b => b.Item2 is not null).ToArray();
            for (int i = 0; i < bounds.Length; i++)
            {
                var next = i == bounds.Length - 1 ? Define(n.Out) : Temp(x.Type, x.Shape!);
                EmitBinary(bounds[i].Item1, clipped, Tensor(bounds[i].Item2!), next);
                clipped = next;
            }
            return;
        }
        var (kernel, parameters) = n.OpType switch
        {
            "Gelu" => (n.Str("approximate", "none") == "tanh" ? "GeluTanh" : "Gelu", None),
            "LeakyRelu" => ("LeakyRelu", new[] { PF("alpha", n.Float("alpha", 0.01)) }),
            "Elu" => ("Elu", new[] { PF("alpha", n.Float("alpha", 1.0)) }),
            "HardSigmoid" => ("HardSigmoid", new[] { PF("alpha", n.Float("alpha", 0.2)), PF("beta", n.Float("beta", 0.5)) }),
            "Clip" => ("Clip", new[]
            {
                PF("min", n.Input(1) is { } lo ? ScalarOf(lo) : n.Float("min", double.NegativeInfinity)),
                PF("max", n.Input(2) is { } hi ? ScalarOf(hi) : n.Float("max", double.PositiveInfinity)),
            }),
            _ => (n.OpType, None),
        };
        Emit(kernel, new[] { Tensor(x) }, new[] { Define(n.Out) }, parameters);
    }

    private static readonly HashSet<string> IntegerArithmetic = new() { "Add", "Sub", "Mul", "Div", "Max", "Min" };

    private void LowerBinary(string op, Value a, Value b, Value result) =>
        EmitBinary(op, TableTensor(a), TableTensor(b), Define(result));

    private void EmitBinary(string op, PlanTensor a, PlanTensor b, PlanTensor y)
    {
        bool logical = op is "And" or "Or";
        bool valid = logical ? a.Type == ElementType.Bool
            : a.Type == ElementType.Float32 || (a.Type is ElementType.Int64 or ElementType.Int32 && (IntegerArithmetic.Contains(op) || op is "Equal" or "Greater" or "Less"));
        if (!valid || a.Type != b.Type)
            throw new CompilerException(Codes.UnsupportedType, $"{op} on {a.Type} and {b.Type} tensors is not supported.", _node.Name);
        if (a.Shape.SequenceEqual(y.Shape) && b.Shape.SequenceEqual(y.Shape))
        {
            Emit(op, new[] { a, b }, new[] { y }, None);
            return;
        }
        var space = new StridedSpace(y.Shape, new[]
        {
            StridedSpace.BroadcastStrides(a.Shape, y.Shape),
            StridedSpace.BroadcastStrides(b.Shape, y.Shape),
            StridedSpace.Contiguous(y.Shape),
        }).Simplify().PadTo(4, _node.Name);
        var p = new List<(string, string)>();
        for (int i = 0; i < 4; i++) p.Add(P($"n{i}", space.Dims[i]));
        for (int i = 0; i < 4; i++) p.Add(P($"a{i}", space.Strides[0][i]));
        for (int i = 0; i < 4; i++) p.Add(P($"b{i}", space.Strides[1][i]));
        Emit(op + "Broadcast", new[] { a, b }, new[] { y }, p);
    }

    private void LowerWhere(Node n)
    {
        var (c, x, yv) = (n.In(0), n.In(1), n.In(2));
        var outShape = n.Out.Shape!;
        var space = new StridedSpace(outShape, new[]
        {
            StridedSpace.BroadcastStrides(c.Shape!, outShape),
            StridedSpace.BroadcastStrides(x.Shape!, outShape),
            StridedSpace.BroadcastStrides(yv.Shape!, outShape),
            StridedSpace.Contiguous(outShape),
        }).Simplify().PadTo(4, n.Name);
        var p = new List<(string, string)>();
        for (int i = 0; i < 4; i++) p.Add(P($"n{i}", space.Dims[i]));
        string[] names = { "c", "x", "y" };
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 4; i++) p.Add(P($"{names[k]}{i}", space.Strides[k][i]));
        Emit("Where", new[] { Tensor(c), Tensor(x), Tensor(yv) }, new[] { Define(n.Out) }, p);
    }

    private void LowerVariadic(Node n)
    {
        var inputs = n.Inputs.Select(i => i!).ToList();
        string op = n.OpType switch { "Sum" or "Mean" => "Add", _ => n.OpType };
        var acc = Tensor(inputs[0]);
        if (inputs.Count == 1 && n.OpType != "Mean")
        {
            Emit("Copy", new[] { acc }, new[] { Define(n.Out) }, None);
            return;
        }
        for (int i = 1; i < inputs.Count; i++)
        {
            bool last = i == inputs.Count - 1 && n.OpType != "Mean";
            var shape = Broadcasting.Shape(n.Name, acc.Shape, inputs[i].Shape!);
            var next = last ? Define(n.Out) : Temp(acc.Type, shape);
            EmitBinary(op, acc, Tensor(inputs[i]), next);
            acc = next;
        }
        if (n.OpType == "Mean")
            EmitBinary("Div", acc, Weight(ConstTensor.Scalar(acc.Type, inputs.Count)), Define(n.Out));
    }

    // ---- data movement -----------------------------------------------------------------------

    /// <summary>Emits StridedCopy over a space whose strides are [source, destination].</summary>
    private void EmitStridedCopy(PlanTensor x, PlanTensor y, StridedSpace space, DimExpr xOffset, DimExpr yOffset)
    {
        var s = space.Simplify().PadTo(6, _node.Name);
        var p = new List<(string, string)>();
        for (int i = 0; i < 6; i++) p.Add(P($"n{i}", s.Dims[i]));
        for (int i = 0; i < 6; i++) p.Add(P($"x{i}", s.Strides[0][i]));
        p.Add(P("xOffset", xOffset));
        for (int i = 0; i < 6; i++) p.Add(P($"y{i}", s.Strides[1][i]));
        p.Add(P("yOffset", yOffset));
        Emit("StridedCopy", new[] { x }, new[] { y }, p);
    }

    private static DimExpr Sum(IEnumerable<DimExpr> terms) => terms.Aggregate(DimExpr.Const(0), (acc, t) => acc + t);

    private void LowerTranspose(Node n)
    {
        var x = n.In(0);
        var perm = ShapeInference.Perm(n, x.Rank);
        var inStrides = StridedSpace.Contiguous(x.Shape!);
        var outShape = n.Out.Shape!;
        var space = new StridedSpace(outShape, new[] { perm.Select(p => inStrides[p]).ToArray(), StridedSpace.Contiguous(outShape) });
        EmitStridedCopy(Tensor(x), Define(n.Out), space, DimExpr.Const(0), DimExpr.Const(0));
    }

    private void LowerSlice(Node n)
    {
        var x = n.In(0);
        var g = SliceGeometry.From(n, x.Shape!);
        var inStrides = StridedSpace.Contiguous(x.Shape!);
        var xs = inStrides.Select((s, i) => s * DimExpr.Const(g.Steps[i])).ToArray();
        var offset = Sum(inStrides.Select((s, i) => g.Starts[i] * s));
        var space = new StridedSpace(n.Out.Shape!, new[] { xs, StridedSpace.Contiguous(n.Out.Shape!) });
        EmitStridedCopy(Tensor(x), Define(n.Out), space, offset, DimExpr.Const(0));
    }

    private void LowerConcat(Node n)
    {
        var y = Define(n.Out);
        int axis = ShapeInference.Axis(n, n.Int("axis", 0), n.Out.Rank);
        var yStrides = StridedSpace.Contiguous(n.Out.Shape!);
        var along = DimExpr.Const(0);
        foreach (var part in n.Inputs.Select(i => i!))
        {
            var space = new StridedSpace(part.Shape!, new[] { StridedSpace.Contiguous(part.Shape!), yStrides });
            EmitStridedCopy(Tensor(part), y, space, DimExpr.Const(0), along * yStrides[axis]);
            along += part.Shape![axis];
        }
    }

    private void LowerSplit(Node n)
    {
        var x = n.In(0);
        int axis = ShapeInference.Axis(n, n.Int("axis", 0), x.Rank);
        var xStrides = StridedSpace.Contiguous(x.Shape!);
        var along = DimExpr.Const(0);
        foreach (var part in n.Outputs)
        {
            var space = new StridedSpace(part.Shape!, new[] { xStrides, StridedSpace.Contiguous(part.Shape!) });
            EmitStridedCopy(Tensor(x), Define(part), space, along * xStrides[axis], DimExpr.Const(0));
            along += part.Shape![axis];
        }
    }

    private void LowerExpand(Node n)
    {
        var x = n.In(0);
        var outShape = n.Out.Shape!;
        var space = new StridedSpace(outShape, new[] { StridedSpace.BroadcastStrides(x.Shape!, outShape), StridedSpace.Contiguous(outShape) });
        EmitStridedCopy(Tensor(x), Define(n.Out), space, DimExpr.Const(0), DimExpr.Const(0));
    }

    private void LowerPad(Node n)
    {
        var x = n.In(0);
        var (begin, _) = ShapeInference.PadAmounts(n, x.Rank);
        var y = Define(n.Out);
        double value = n.Input(2) is { } v ? ScalarOf(v) : 0;
        Emit("Fill", Array.Empty<PlanTensor>(), new[] { y }, new[] { ("value", Plan.Literal(x.Type, value)) });
        var yStrides = StridedSpace.Contiguous(n.Out.Shape!);
        var offset = Sum(yStrides.Select((s, i) => s * DimExpr.Const(begin[i])));
        EmitStridedCopy(Tensor(x), y, new StridedSpace(x.Shape!, new[] { StridedSpace.Contiguous(x.Shape!), yStrides }), DimExpr.Const(0), offset);
    }

    private void LowerGather(Node n)
    {
        var (data, indices) = (n.In(0), n.In(1));
        int axis = ShapeInference.Axis(n, n.Int("axis", 0), data.Rank);
        if (indices.Const is { } idx && indices.Rank == 0)
        {
            // x[:, 0] and friends: a strided copy of one slab.
            long k = idx.IntAt(0);
            if (data.Shape![axis].IsConstant)
            {
                long len = data.Shape![axis].ConstValue;
                if (k < 0) k += len;
                if (k < 0 || k >= len) throw new CompilerException(Codes.InvalidModel, $"Gather index {idx.IntAt(0)} is out of range [0,{len}).", n.Name);
            }
            else if (k < 0) throw Unsupported("a negative constant index into a named dimension (its position is not known at build time)");
            var strides = StridedSpace.Contiguous(data.Shape!);
            var space = new StridedSpace(n.Out.Shape!, new[] { strides.Where((_, i) => i != axis).ToArray(), StridedSpace.Contiguous(n.Out.Shape!) });
            EmitStridedCopy(Tensor(data), Define(n.Out), space, strides[axis] * DimExpr.Const(k), DimExpr.Const(0));
            return;
        }
        var indexTensor = Tensor(indices);
        var dataTensor = Tensor(data);
        var axisLength = data.Shape![axis];
        if (indexTensor.Root.Storage == StorageKind.Input && axisLength.IsConstant)
        {
            // Token ids come from the caller: check them all before any work.
            int existing = _plan.IndexChecks.FindIndex(c => c.Tensor.Root == indexTensor.Root);
            if (existing < 0) _plan.IndexChecks.Add((indexTensor.Root, axisLength.ConstValue));
            else if (_plan.IndexChecks[existing].Limit > axisLength.ConstValue) _plan.IndexChecks[existing] = (indexTensor.Root, axisLength.ConstValue);
        }
        if (TryEmitQuantizedGather(data, axis, indexTensor, Define(n.Out))) return;
        Emit("Gather", new[] { dataTensor, indexTensor }, new[] { Define(n.Out) }, new[]
        {
            P("outer", DimExpr.Product(data.Shape!.Take(axis))),
            P("axisLength", axisLength),
            P("inner", DimExpr.Product(data.Shape!.Skip(axis + 1))),
        });
    }

    // ---- linear algebra ----------------------------------------------------------------------

    private void EmitDense(PlanTensor x, PlanTensor w, PlanTensor? bias, PlanTensor y, DimExpr k, DimExpr nOut, string activation)
    {
        var rows = x.ElementCount.TryDivide(k) ?? throw Unsupported("rows are not a whole multiple of K");
        if (w.Root.Data is { Real: not null } data && w.Type == ElementType.Float32 && data.Shape.Length == 2)
        {
            int panel = PanelPacking.PanelWidth(_plan.Profile);
            long kc = data.Shape[0], nc = data.Shape[1];
            long denseBytes = Runtime.Kernels.PackedDenseLength(checked((int)kc), checked((int)nc), panel) * sizeof(float);
            var sparse = SparseRule.Decide(_node.Name, _plan.Profile, kc, nc, RowsAtMaxima(rows), SparsePacking.CountNonzeros(data), denseBytes, _plan.SparseKernels);
            if (TryEmitQuantizedDense(x, data, bias, y, rows, activation))
            {
                // The quantized kernels are dense; DenseSparse is FP32 only.
                _plan.SparseDecisions.Add(sparse with { Sparse = false, Reason = "dense kept: quantized (the sparse kernel is FP32 only)" });
                return;
            }
            _plan.SparseDecisions.Add(sparse);
            if (sparse.Sparse)
            {
                EmitSparseDense(x, data, bias, y, rows, activation);
                // A quantized build's report has just listed this layer as FP32 at its dense size: give it what it stores.
                if (_quantization?.Report.Layers is { Count: > 0 } layers && layers[^1].Node == _node.Name && layers[^1].Precision == Quantization.Precision.Fp32)
                    layers[^1] = layers[^1] with { BytesAfter = sparse.SparseBytes, Note = (layers[^1].Note is { } note ? note + "; " : "") + "runs on DenseSparse (zero weights)" };
                return;
            }
            // Constant weights: packed into the profile's panel layout now, and the kernel specialised on the shape.
            var packed = Weight(PanelPacking.Pack(data, panel));
            var shape = DenseShape(data.Shape[0], data.Shape[1], panel);
            _plan.Ops.Add(new PlanOp("Dense", new[] { x, packed, bias }, new[] { y },
                new[] { P("rows", rows), ("activation", "Activation." + activation), ("workers", "workers") }, _node.Name)
            { TypeArguments = new[] { shape } });
            return;
        }
        Emit("Dense", new[] { x, w, bias }, new[] { y }, new[] { P("rows", rows), P("k", k), P("n", nOut), ("activation", "Activation." + activation) });
    }

    /// <summary>
    /// A Dense whose weights are mostly zero, on the column-compressed sparse kernel. Its scratch is x transposed
    /// (<c>Kernels.DenseSparseScratchLength</c> = K·⌈rows/8⌉·8 floats, here K·(rows + 7) to stay a DimExpr).
    /// </summary>
    private void EmitSparseDense(PlanTensor x, ConstTensor w, PlanTensor? bias, PlanTensor y, DimExpr rows, string activation)
    {
        var (values, indices, starts) = SparsePacking.Pack(w);
        long k = w.Shape[0], n = w.Shape[1];
        var scratch = Temp(ElementType.Float32, new[] { (rows + DimExpr.Const(7)) * DimExpr.Const(k) });
        Emit("DenseSparse", new[] { x, Weight(values), Weight(indices), Weight(starts), bias }, new[] { y, scratch }, new[]
        {
            P("rows", rows), P("k", k), P("n", n), ("activation", "Activation." + activation), ("workers", "workers"),
        });
    }

    /// <summary>The rows of a Dense at the MaxShapes maxima (the size its buffers are planned for): the rule's shape class.</summary>
    private long RowsAtMaxima(DimExpr rows)
    {
        var maxima = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, max) in _plan.Dimensions) maxima[name] = max;
        return rows.Evaluate(maxima);
    }

    /// <summary>The name of the <c>IDenseShape</c> struct for a K×N layer, declared once per distinct shape.</summary>
    private string DenseShape(long k, long n, int panel)
    {
        string name = $"Dense{k}x{n}";
        if (!_plan.Shapes.Any(s => s.Name == name))
            _plan.Shapes.Add(new PlanShape(name, "IDenseShape", new[] { ("K", k), ("N", n), ("Panel", (long)panel) }));
        return name;
    }

    private void LowerMatMul(Node n)
    {
        var (a, b) = (n.In(0), n.In(1));
        RequireFloat(a);
        if (b.Const is not null && b.Rank == 2 && a.Rank >= 2)
        {
            EmitDense(Tensor(a), Tensor(b), null, Define(n.Out), b.Shape![0], b.Shape![1], "None");
            return;
        }
        var am = a.Rank == 1 ? new[] { DimExpr.One, a.Shape![0] } : a.Shape!;
        var bm = b.Rank == 1 ? new[] { b.Shape![0], DimExpr.One } : b.Shape!;
        EmitBatchedMatMul(Tensor(a), am, Tensor(b), bm, Define(n.Out), transposeB: false);
    }

    private void EmitBatchedMatMul(PlanTensor a, DimExpr[] am, PlanTensor b, DimExpr[] bm, PlanTensor y, bool transposeB)
    {
        var batchShape = Broadcasting.Shape(_node.Name, am[..^2], bm[..^2]);
        var batch = DimExpr.Product(batchShape);
        DimExpr m = am[^2], k = am[^1], nOut = transposeB ? bm[^2] : bm[^1];
        DimExpr BatchStride(DimExpr[] shape, DimExpr matrix)
        {
            var own = DimExpr.Product(shape[..^2]);
            if (own == DimExpr.One) return DimExpr.Const(0);
            if (own == batch && shape[..^2].Length >= 1) return matrix;
            throw Unsupported("batch dimensions that broadcast partially");
        }
        Emit("MatMul", new[] { a, b }, new[] { y }, new[]
        {
            P("batch", batch), P("m", m), P("k", k), P("n", nOut),
            P("aBatchStride", BatchStride(am, m * k)), P("bBatchStride", BatchStride(bm, k * nOut)), PB("transposeB", transposeB),
        });
    }

    private void LowerGemm(Node n)
    {
        var (a, b, c) = (n.In(0), n.In(1), n.Input(2));
        RequireFloat(a);
        double alpha = n.Float("alpha", 1.0), beta = n.Float("beta", 1.0);
        var x = Tensor(a);
        if (n.Int("transA", 0) != 0)
        {
            var t = Temp(a.Type, new[] { a.Shape![1], a.Shape![0] });
            EmitStridedCopy(x, t, new StridedSpace(t.Shape, new[] { new[] { DimExpr.One, a.Shape![1] }, StridedSpace.Contiguous(t.Shape) }), DimExpr.Const(0), DimExpr.Const(0));
            x = t;
        }
        if (b.Const is null)
        {
            // General form: alpha·(A·B) + beta·C with B computed at run time.
            var y0 = Define(n.Out);
            bool scaled = alpha != 1, biased = c is not null;
            var product = scaled || biased ? Temp(ElementType.Float32, y0.Shape) : y0;
            EmitBatchedMatMul(x, x.Shape, Tensor(b), b.Shape!, product, transposeB: n.Int("transB", 0) != 0);
            if (scaled)
            {
                var scaledProduct = biased ? Temp(ElementType.Float32, y0.Shape) : y0;
                EmitBinary("Mul", product, Weight(ConstTensor.Scalar(ElementType.Float32, alpha)), scaledProduct);
                product = scaledProduct;
            }
            if (biased)
            {
                var cTensor = Tensor(c!);
                if (beta != 1)
                {
                    var scaledC = Temp(ElementType.Float32, c!.Shape!);
                    EmitBinary("Mul", cTensor, Weight(ConstTensor.Scalar(ElementType.Float32, beta)), scaledC);
                    cTensor = scaledC;
                }
                EmitBinary("Add", product, cTensor, y0);
            }
            return;
        }
        var w = b.Const;
        if (n.Int("transB", 0) != 0) w = ConstEval.Transpose(w, new[] { 1, 0 });
        if (alpha != 1) w = ConstEval.Unary(w, v => v * alpha);
        long nOut = w.Shape[1];
        PlanTensor? bias = null;
        bool addLater = false;
        if (c is not null)
        {
            if (c.Const is { } cc && cc.Count == nOut && (cc.Shape.Length <= 1 || cc.Shape[0] == 1))
                bias = Weight(ConstEval.Unary(cc, v => v * beta).WithShape(new[] { nOut }));
            else if (c.Const is { } one && one.Count == 1)
                bias = Weight(ConstTensor.Floats(ElementType.Float32, new[] { nOut }, Enumerable.Repeat(one[0] * beta, (int)nOut).ToArray()));
            else if (beta == 1) addLater = true;
            else throw Unsupported("a run-time C with beta != 1");
        }
        var y = Define(n.Out);
        if (!addLater)
        {
            EmitDense(x, Weight(w), bias, y, DimExpr.Const(w.Shape[0]), DimExpr.Const(nOut), "None");
            return;
        }
        var dense = Temp(ElementType.Float32, y.Shape);
        EmitDense(x, Weight(w), null, dense, DimExpr.Const(w.Shape[0]), DimExpr.Const(nOut), "None");
        EmitBinary("Add", dense, Tensor(c!), y);
    }

    private void LowerScaleShift(Node n)
    {
        var (x, residual, scale, shift) = (n.In(0), n.Input(1), n.In(2), n.In(3));
        var width = x.Shape![^1];
        Emit("ScaleShift", new[] { Tensor(x), Optional(residual), Tensor(scale), Tensor(shift) }, new[] { Define(n.Out) },
            new[] { P("rows", DimExpr.Product(x.Shape![..^1])), P("n", width) });
    }

    private void LowerDense(Node n)
    {
        var (x, w, bias) = (n.In(0), n.In(1), n.Input(2));
        EmitDense(Tensor(x), Tensor(w), Optional(bias), Define(n.Out), w.Shape![0], w.Shape![1], n.Str("activation", "None"));
    }

    // ---- normalisation and reductions -------------------------------------------------------

    private void LowerSoftmax(Node n)
    {
        var x = n.In(0);
        RequireFloat(x);
        int rank = x.Rank;
        DimExpr outer, length, inner;
        if (_graph.Opset >= 13)
        {
            int axis = ShapeInference.Axis(n, n.Int("axis", -1), rank);
            (outer, length, inner) = (DimExpr.Product(x.Shape!.Take(axis)), x.Shape![axis], DimExpr.Product(x.Shape!.Skip(axis + 1)));
        }
        else
        {
            int axis = ShapeInference.Axis(n, n.Int("axis", 1), rank);
            (outer, length, inner) = (DimExpr.Product(x.Shape!.Take(axis)), DimExpr.Product(x.Shape!.Skip(axis)), DimExpr.One);
        }
        Emit("Softmax", new[] { Tensor(x) }, new[] { Define(n.Out) }, new[] { P("outer", outer), P("length", length), P("inner", inner) });
    }

    private void LowerLayerNorm(Node n)
    {
        var (x, scale, bias) = (n.In(0), n.In(1), n.Input(2));
        RequireFloat(x);
        int axis = ShapeInference.Axis(n, n.Int("axis", -1), x.Rank);
        var length = DimExpr.Product(x.Shape!.Skip(axis));
        if (n.Outputs.Skip(1).Any(_read.Contains))
        {
            LowerLayerNormWithStatistics(n, axis);
            return;
        }
        if (scale.ElementCount != length || (bias is not null && bias.ElementCount != length))
            throw Unsupported("scale and bias must have the normalised shape");
        Emit("LayerNorm", new[] { Tensor(x), Tensor(scale), Optional(bias) }, new[] { Define(n.Out) },
            new[] { P("rows", DimExpr.Product(x.Shape!.Take(axis))), P("length", length), PF("epsilon", n.Float("epsilon", 1e-5)) });
    }

    /// <summary>
    /// LayerNormalization whose Mean and InvStdDev outputs are read: computed step by step,
    /// as the operator's definition does, so that both statistics exist as tensors.
    /// </summary>
    private void LowerLayerNormWithStatistics(Node n, int axis)
    {
        var (x, scale, bias) = (n.In(0), n.In(1), n.Input(2));
        var shape = x.Shape!;
        var rows = DimExpr.Product(shape.Take(axis));
        var length = DimExpr.Product(shape.Skip(axis));
        var statistics = shape.Select((d, i) => i < axis ? d : DimExpr.One).ToArray();
        PlanTensor Stat(int output) => n.Outputs.Count > output && _read.Contains(n.Outputs[output]) ? Define(n.Outputs[output]) : Temp(ElementType.Float32, statistics);
        var reduce = new[] { P("outer", rows), P("length", length), P("inner", DimExpr.One) };

        var mean = Stat(1);
        Emit("ReduceMean", new[] { Tensor(x) }, new[] { mean }, reduce);
        var centred = Temp(ElementType.Float32, shape);
        EmitBinary("Sub", Tensor(x), mean, centred);
        var squared = Temp(ElementType.Float32, shape);
        EmitBinary("Mul", centred, centred, squared);
        var variance = Temp(ElementType.Float32, statistics);
        Emit("ReduceMean", new[] { squared }, new[] { variance }, reduce);
        var shifted = Temp(ElementType.Float32, statistics);
        EmitBinary("Add", variance, Weight(ConstTensor.Scalar(ElementType.Float32, n.Float("epsilon", 1e-5))), shifted);
        var deviation = Temp(ElementType.Float32, statistics);
        Emit("Sqrt", new[] { shifted }, new[] { deviation }, None);
        var inverse = Stat(2);
        Emit("Reciprocal", new[] { deviation }, new[] { inverse }, None);
        var normalised = Temp(ElementType.Float32, shape);
        EmitBinary("Mul", centred, inverse, normalised);
        var y = Define(n.Out);
        var scaled = bias is null ? y : Temp(ElementType.Float32, shape);
        EmitBinary("Mul", normalised, Tensor(scale), scaled);
        if (bias is not null) EmitBinary("Add", scaled, Tensor(bias), y);
    }

    private void LowerReduce(Node n)
    {
        var x = n.In(0);
        RequireFloat(x);
        var (axes, _) = ShapeInference.ReduceAxes(n, x.Rank);
        if (axes.Length == 0) { View(x, n.Out); return; }
        // Reduce runs of adjacent axes in one call each, last run first, keeping reduced axes as 1.
        var runs = new List<(int First, int Last)>();
        foreach (var a in axes)
            if (runs.Count > 0 && runs[^1].Last == a - 1) runs[^1] = (runs[^1].First, a);
            else runs.Add((a, a));
        var current = Tensor(x);
        var shape = x.Shape!;
        for (int r = runs.Count - 1; r >= 0; r--)
        {
            var (first, last) = runs[r];
            var reduced = shape.Select((d, i) => i >= first && i <= last ? DimExpr.One : d).ToArray();
            var next = r == 0 ? Define(n.Out) : Temp(x.Type, reduced);
            Emit(n.OpType, new[] { current }, new[] { next }, new[]
            {
                P("outer", DimExpr.Product(shape.Take(first))),
                P("length", DimExpr.Product(shape.Skip(first).Take(last - first + 1))),
                P("inner", DimExpr.Product(shape.Skip(last + 1))),
            });
            current = next;
            shape = reduced;
        }
    }

    private void LowerGlobalPool(Node n)
    {
        var x = n.In(0);
        RequireFloat(x);
        Emit(n.OpType == "GlobalAveragePool" ? "ReduceMean" : "ReduceMax", new[] { Tensor(x) }, new[] { Define(n.Out) }, new[]
        {
            P("outer", x.Shape![0] * x.Shape![1]), P("length", DimExpr.Product(x.Shape!.Skip(2))), P("inner", DimExpr.One),
        });
    }

    private void LowerBatchNorm(Node n)
    {
        var x = n.In(0);
        RequireFloat(x);
        var (scale, shift) = FusedOps.BatchNormAffine(n);
        Emit("ChannelAffine", new[] { Tensor(x), Weight(scale), Weight(shift) }, new[] { Define(n.Out) }, new[]
        {
            P("outer", x.Shape![0]), P("channels", x.Shape![1]), P("inner", DimExpr.Product(x.Shape!.Skip(2))),
        });
    }

    // ---- convolution and pooling --------------------------------------------------------------

    private void LowerConv(Node n)
    {
        var (x, w, b) = (n.In(0), n.In(1), n.Input(2));
        RequireFloat(x);
        if (w.Const is null || (b is not null && b.Const is null)) throw Unsupported("Conv weights and bias must be constants");
        var g = ConvGeometry.From(n, x.Shape!, w.Shape!);
        var win = g.Window;
        if (x.Rank == 4 && IsPatchEmbedding(g))
        {
            LowerPatchConv(n, g);
            return;
        }
        var (kernel, weights, extra) = ConvWeights(w);
        Emit(kernel, new PlanTensor?[] { Tensor(x) }.Concat(weights).Append(Optional(b)).ToArray(), new[] { Define(n.Out) }, new[]
        {
            P("batch", x.Shape![0]), P("inChannels", x.Shape![1]), P("inHeight", win.InHeight), P("inWidth", win.InWidth),
            P("outChannels", w.Shape![0]), P("outHeight", win.OutHeight), P("outWidth", win.OutWidth),
            P("kernelHeight", win.KernelHeight), P("kernelWidth", win.KernelWidth),
            P("strideHeight", win.StrideHeight), P("strideWidth", win.StrideWidth), P("padTop", win.PadTop), P("padLeft", win.PadLeft),
            P("dilationHeight", win.DilationHeight), P("dilationWidth", win.DilationWidth), P("groups", g.Groups),
        }.Concat(extra).Append(("activation", "Activation." + n.Str("activation", "None"))).ToArray());
    }

    /// <summary>
    /// A convolution whose windows tile the image without overlap or padding (ViT's patch embedding: kernel =
    /// stride): every output pixel is one dot product of a patch with a filter, so it is a GEMM over the patches.
    /// </summary>
    private static bool IsPatchEmbedding(ConvGeometry g)
    {
        var w = g.Window;
        return g.Groups == 1 && w.KernelHeight == w.StrideHeight && w.KernelWidth == w.StrideWidth
            && w.PadTop == 0 && w.PadLeft == 0 && w.DilationHeight == 1 && w.DilationWidth == 1
            && w.OutHeight * w.KernelHeight <= w.InHeight && w.OutWidth * w.KernelWidth <= w.InWidth
            && w.KernelHeight * w.KernelWidth > 1;
    }

    /// <summary>
    /// Patch convolution as patchify (a strided copy to <c>[B·Ho·Wo, C·kh·kw]</c>), a Dense with the filters as
    /// a <c>[C·kh·kw, O]</c> matrix (packed and shape-specialised like every Dense), and a transpose back to NCHW.
    /// </summary>
    private void LowerPatchConv(Node n, ConvGeometry g)
    {
        var (x, w, b) = (n.In(0), n.In(1), n.Input(2));
        var win = g.Window;
        DimExpr batch = x.Shape![0], channels = x.Shape![1];
        long kh = win.KernelHeight, kw = win.KernelWidth, oh = win.OutHeight, ow = win.OutWidth, outChannels = w.Shape![0].ConstValue;
        DimExpr C(long v) => DimExpr.Const(v);

        var patches = Temp(ElementType.Float32, new[] { batch, C(oh), C(ow), channels, C(kh), C(kw) });
        var image = new[] { channels * C(win.InHeight * win.InWidth), C(kh * win.InWidth), C(kw), C(win.InHeight * win.InWidth), C(win.InWidth), DimExpr.One };
        EmitStridedCopy(Tensor(x), patches, new StridedSpace(patches.Shape, new[] { image, StridedSpace.Contiguous(patches.Shape) }), C(0), C(0));

        long features = w.Const!.Count / outChannels;
        var filters = ConstEval.Transpose(w.Const.WithShape(new[] { outChannels, features }), new[] { 1, 0 });
        var dense = Temp(ElementType.Float32, new[] { batch, C(oh * ow), C(outChannels) });
        EmitDense(patches, Weight(filters), Optional(b), dense, C(features), C(outChannels), n.Str("activation", "None"));

        var y = Define(n.Out);
        var toNchw = new StridedSpace(new[] { batch, C(outChannels), C(oh * ow) },
            new[] { new[] { C(oh * ow * outChannels), DimExpr.One, C(outChannels) }, new[] { C(outChannels * oh * ow), C(oh * ow), DimExpr.One } });
        EmitStridedCopy(dense, y, toNchw, C(0), C(0));
    }

    private void LowerPool(Node n)
    {
        var x = n.In(0);
        RequireFloat(x);
        var win = PoolGeometry.From(n, x.Shape!).Window;
        var p = new List<(string, string)>
        {
            P("planes", x.Shape![0] * x.Shape![1]), P("inHeight", win.InHeight), P("inWidth", win.InWidth),
            P("outHeight", win.OutHeight), P("outWidth", win.OutWidth), P("kernelHeight", win.KernelHeight), P("kernelWidth", win.KernelWidth),
            P("strideHeight", win.StrideHeight), P("strideWidth", win.StrideWidth), P("padTop", win.PadTop), P("padLeft", win.PadLeft),
        };
        if (n.OpType == "MaxPool" && (win.DilationHeight != 1 || win.DilationWidth != 1)) throw Unsupported("MaxPool with dilations");
        if (n.OpType == "AveragePool") p.Add(PB("countIncludePad", n.Int("count_include_pad", 0) != 0));
        Emit(n.OpType == "AveragePool" ? "AveragePool2d" : "MaxPool2d", new[] { Tensor(x) }, new[] { Define(n.Out) }, p);
    }

    // ---- attention -----------------------------------------------------------------------------

    private void LowerAttention(Node n)
    {
        var a = FusedOps.ReadAttention(n);
        // Kernels.AttentionScratchLength: batch·heads·(seqK + 44)·(headDim + valueDim + 44) floats, every (batch, head)
        // pair its own region so the pairs can run on any number of threads.
        var perHead = (a.SeqK + DimExpr.Const(44)) * (a.HeadDim + a.ValueDim + DimExpr.Const(44));
        var scores = Temp(ElementType.Float32, new[] { a.Batch * a.Heads * perHead });
        var p = new List<(string, string)>
        {
            P("batch", a.Batch), P("heads", a.Heads), P("seqQ", a.SeqQ), P("seqK", a.SeqK), P("headDim", a.HeadDim), P("valueDim", a.ValueDim), PF("scale", a.Scale),
        };
        foreach (var (name, layout) in new[] { ("q", a.Q), ("k", a.K), ("v", a.V) })
        {
            p.Add(P($"{name}Offset", layout.Offset));
            p.Add(P($"{name}BatchStride", layout.BatchStride));
            p.Add(P($"{name}RowStride", layout.RowStride));
            p.Add(P($"{name}HeadStride", layout.HeadStride));
        }
        p.Add(P("maskBatchStride", a.Mask?.BatchStride ?? DimExpr.Const(0)));
        p.Add(P("maskHeadStride", a.Mask?.HeadStride ?? DimExpr.Const(0)));
        p.Add(P("maskRowStride", a.Mask?.RowStride ?? DimExpr.Const(0)));
        p.Add(P("yBatchStride", a.SeqQ * a.Heads * a.ValueDim));
        p.Add(P("yRowStride", a.Heads * a.ValueDim));
        p.Add(P("yHeadStride", a.ValueDim));
        p.Add(("workers", "workers"));   // the model's WorkerPool: (batch, head) pairs split across its threads
        Emit("Attention", new[] { Tensor(n.In(0)), Tensor(n.In(1)), Tensor(n.In(2)), n.Input(3) is { } bias ? TableTensor(bias) : null }, new[] { Define(n.Out), scores }, p);
    }
}
