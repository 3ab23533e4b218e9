using System;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Compiler.Quantization;

namespace EdgeCompile.Compiler.Lowering;

/// <summary>
/// Quantized lowering (docs/quantization.md): each constant-weight Dense, Conv and constant embedding Gather asks the
/// policy for its precision and becomes the matching kernel; every such layer gets a row in the report.
/// </summary>
public sealed partial class Lowerer
{
    /// <summary>
    /// Emits a Dense with constant <c>[K,N]</c> weights in the precision the policy chooses. Returns false for FP32
    /// (or without quantization): the caller emits the FP32 Dense as always.
    /// </summary>
    private bool TryEmitQuantizedDense(PlanTensor x, ConstTensor w, PlanTensor? bias, PlanTensor y, DimExpr rows, string activation)
    {
        if (_quantization is null) return false;
        int k = checked((int)w.Shape[0]), n = checked((int)w.Shape[1]), panel = PanelPacking.PanelWidth(_plan.Profile);
        var layer = new LayerWeights(_node.Name, LayerKind.Dense, k, n, w);
        var choice = _quantization.Policy.Choose(layer);
        long before = (long)((n + panel - 1) / panel) * k * panel * sizeof(float);
        string shapeText = $"{k}×{n}";
        var epilogue = new[] { ("activation", "Activation." + activation), ("workers", "workers") };
        switch (choice.Precision)
        {
            case Precision.Fp16:
            {
                var half = Quantizer.ToHalf(w.Real!, _node.Name);
                var packed = Weight(KernelLayouts.HalfPanels(half, k, n, panel));
                EmitShaped("DenseHalf", DenseShape(k, n, panel), new[] { x, packed, bias }, new[] { y }, new[] { P("rows", rows) }.Concat(epilogue));
                Record(layer, Precision.Fp16, Quantizer.RelativeRmsError(w.Real!, Quantizer.Widen(half)), before, packed);
                AddDenseReference(k, n, at => DenseWeightReplacements.Half(at.Origin, at.FullRows, at.FullColumns, at.Matrix(half, k, n)));
                return true;
            }
            case Precision.Int8:
            {
                var q = Quantizer.Int8PerColumn(w.Real!, k, n);
                var packed = Weight(KernelLayouts.Int8QuadPanels(q.Values, k, n, panel));
                var scales = Weight(KernelLayouts.Vector(ElementType.Float32, q.Scales));
                // No stored column sums: only the AVX-VNNI path needs them and it computes them (docs/quantization.md).
                // Kernels.DenseInt8ScratchBytes(rows, K) = rows·(2·Kq + 16) + 64: the quantized rows and their scales.
                int kq = (k + 3) / 4 * 4;
                var scratch = Temp(ElementType.UInt8, new[] { rows * DimExpr.Const(2L * kq + 16) + DimExpr.Const(64) });
                EmitShaped("DenseInt8", DenseShape(k, n, panel), new[] { x, packed, scales, null, bias }, new[] { y, scratch },
                    new[] { P("rows", rows), PF("inputScale", choice.InputScale) }.Concat(epilogue));
                Record(layer, Precision.Int8, Quantizer.RelativeRmsError(w.Real!, Quantizer.DequantizeInt8PerColumn(q, k, n)), before, packed, scales);
                var inputQuantization = choice.InputScale > 0 ? ActivationQuantization.Static(choice.InputScale) : ActivationQuantization.Dynamic;
                AddDenseReference(k, n, at => DenseWeightReplacements.Int8(at.Origin, at.FullRows, at.FullColumns, at.Matrix(q.Values, k, n), at.PerColumn(q.Scales, 1f), inputQuantization));
                return true;
            }
            case Precision.Int4:
            {
                var q = choice.Int4Values is { } values && choice.Int4Scales is { } given
                    ? new Int4Blocks(values, given, Quantizer.Int4Block)
                    : Quantizer.Int4PerColumnBlocks(w.Real!, k, n);
                var (packedValues, packedScales) = KernelLayouts.Int4Panels(q.Values, q.Scales, k, n, panel, q.Block);
                var (packed, scales) = (Weight(packedValues), Weight(packedScales));
                EmitShaped("DenseInt4", DenseBlockShape(k, n, panel, Quantizer.Int4Block), new[] { x, packed, scales, bias }, new[] { y }, new[] { P("rows", rows) }.Concat(epilogue));
                Record(layer, Precision.Int4, Quantizer.RelativeRmsError(w.Real!, Quantizer.DequantizeInt4PerColumnBlocks(q, k, n)), before, packed, scales);
                AddDenseReference(k, n, at =>
                {
                    var (scales, block) = at.BlockScales(q.Scales, k, n, q.Block) ?? throw new CompilerException(Codes.PrunedInt4BlocksUnwritable,
                        $"reference ONNX file: the INT4 blocks of pruned layer '{_node.Name}' cannot be written at its ONNX weight's full size with the plan's own scales (no block size divides both the kept and the removed rows). Remove QuantizedOnnx, or quantize this layer INT8.", _node.Name);
                    return DenseWeightReplacements.Int4(at.Origin, at.FullRows, at.FullColumns, at.Matrix(q.Values, k, n), scales, block);
                });
                return true;
            }
            default:
                _quantization.Report.Layers.Add(new LayerReport(_node.Name, "Dense", shapeText, Precision.Fp32, 0, before, before));
                return false;
        }
    }

    /// <summary>
    /// Emits an embedding lookup (Gather on axis 0 of a constant rank-2 float table) in the precision the policy
    /// chooses. Returns false when the Gather is not such a lookup or stays FP32.
    /// </summary>
    private bool TryEmitQuantizedGather(Value data, int axis, PlanTensor indices, PlanTensor y)
    {
        if (_quantization is null || axis != 0 || data.Rank != 2 || data.Type != ElementType.Float32 || data.Const is not { Real: not null } table) return false;
        int rows = checked((int)table.Shape[0]), columns = checked((int)table.Shape[1]);
        var layer = new LayerWeights(_node.Name, LayerKind.Embedding, rows, columns, table);
        var choice = _quantization.Policy.Choose(layer);
        long before = (long)table.Count * sizeof(float);
        var shape = new[] { P("axisLength", rows), P("inner", columns) };
        switch (choice.Precision)
        {
            case Precision.Fp16:
            {
                var half = Quantizer.ToHalf(table.Real, _node.Name);
                var t = Weight(KernelLayouts.Vector(half).WithShape(new[] { (long)rows, columns }));
                Emit("GatherHalfRows", new[] { t, indices }, new[] { y }, shape);
                Record(layer, Precision.Fp16, Quantizer.RelativeRmsError(table.Real, Quantizer.Widen(half)), before, t);
                AddTableReference(data, name => new HalfWeightReplacement(name, half));
                return true;
            }
            case Precision.Int8:
            {
                var (q, data8, scales8) = Int8RowsWithHalfScales(table.Real, rows, columns);
                var (t, scales) = (Weight(data8), Weight(scales8));
                Emit("GatherInt8Rows", new[] { t, scales, indices }, new[] { y }, shape);
                Record(layer, Precision.Int8, Quantizer.RelativeRmsError(table.Real, Quantizer.DequantizeInt8PerRow(q, rows, columns)), before, t, scales);
                AddTableReference(data, name => new Int8WeightReplacement(name, q.Values, q.Scales, Axis: 0, Activation: null));
                return true;
            }
            case Precision.Int4:
            {
                var q = Quantizer.Int4PerRowBlocks(table.Real, rows, columns);
                var (data4, scales4) = KernelLayouts.Int4Rows(q.Values, q.Scales, rows, columns, q.Block);
                var (t, scales) = (Weight(data4), Weight(scales4));
                Emit("GatherInt4Rows", new[] { t, scales, indices }, new[] { y }, shape.Append(P("block", q.Block)));
                Record(layer, Precision.Int4, Quantizer.RelativeRmsError(table.Real, Quantizer.DequantizeInt4PerRowBlocks(q, rows, columns)), before, t, scales);
                AddTableReference(data, name => new Int4WeightReplacement(name, q.Values, Array.ConvertAll(q.Scales, h => (float)h), Axis: 1, BlockSize: q.Block));
                return true;
            }
            default:
                _quantization.Report.Layers.Add(new LayerReport(_node.Name, "Embedding", $"{rows}×{columns}", Precision.Fp32, 0, before, before));
                return false;
        }
    }

    /// <summary>
    /// The kernel, weight operands and extra parameters of a convolution (weight-only quantization: activations stay
    /// float). The policy sees the filters as <c>[O, C/groups·kh·kw]</c>, a row per output channel: INT8 is symmetric
    /// per output channel (<c>Conv2dInt8</c>), INT4 in blocks of <see cref="Quantizer.Int4Block"/> along each row with
    /// Half scales (<c>Conv2dInt4</c>, plain rounding: no error compensation for convolutions), FP16
    /// <c>Conv2dHalf</c>; FP32 (or no quantization) the plain <c>Conv2d</c>.
    /// </summary>
    private (string Kernel, PlanTensor[] Weights, (string, string)[] Parameters) ConvWeights(Value w)
    {
        var fp32 = ("Conv2d", new[] { Tensor(w) }, Array.Empty<(string, string)>());
        if (_quantization is null) return fp32;
        var c = w.Const!;
        int rows = checked((int)c.Shape[0]), columns = checked((int)(c.Count / rows));
        var layer = new LayerWeights(_node.Name, LayerKind.Conv, rows, columns, c);
        var choice = _quantization.Policy.Choose(layer);
        long before = (long)c.Count * sizeof(float);
        switch (choice.Precision)
        {
            case Precision.Fp16:
            {
                var half = Quantizer.ToHalf(c.Real!, _node.Name);
                var t = Weight(KernelLayouts.Vector(half));
                Record(layer, Precision.Fp16, Quantizer.RelativeRmsError(c.Real!, Quantizer.Widen(half)), before, t);
                AddTableReference(w, name => new HalfWeightReplacement(name, half));
                return ("Conv2dHalf", new[] { t }, Array.Empty<(string, string)>());
            }
            case Precision.Int8:
            {
                var (q, data8, scales8) = Int8RowsWithHalfScales(c.Real!, rows, columns);
                var (t, scales) = (Weight(data8), Weight(scales8));
                Record(layer, Precision.Int8, Quantizer.RelativeRmsError(c.Real!, Quantizer.DequantizeInt8PerRow(q, rows, columns)), before, t, scales);
                AddTableReference(w, name => new Int8WeightReplacement(name, q.Values, q.Scales, Axis: 0, Activation: null));
                return ("Conv2dInt8", new[] { t, scales }, Array.Empty<(string, string)>());
            }
            case Precision.Int4:
            {
                // The filters' layout is the embedding table's (GatherInt4Rows): row oc, blocks along C/groups·kh·kw.
                var q = Quantizer.Int4PerRowBlocks(c.Real!, rows, columns);
                var (data4, scales4) = KernelLayouts.Int4Rows(q.Values, q.Scales, rows, columns, q.Block);
                var (t, scales) = (Weight(data4), Weight(scales4));
                Record(layer, Precision.Int4, Quantizer.RelativeRmsError(c.Real!, Quantizer.DequantizeInt4PerRowBlocks(q, rows, columns)), before, t, scales);
                // The reference blocks the view [O, C/groups·kh·kw] along axis 1 and reshapes it back to the 4-D filter.
                AddTableReference(w, name => new Int4WeightReplacement(name, q.Values, Array.ConvertAll(q.Scales, h => (float)h), Axis: 1, BlockSize: q.Block,
                    Shape: new long[] { rows, columns }));
                return ("Conv2dInt4", new[] { t, scales }, new[] { P("block", q.Block) });
            }
            default:
                _quantization.Report.Layers.Add(new LayerReport(_node.Name, "Conv", $"{rows}×{columns}", Precision.Fp32, 0, before, before));
                return fp32;
        }
    }

    /// <summary>
    /// An embedding table or conv filters INT8 per row with Half scales when every row's scale is a normal Half (2
    /// bytes a row instead of 4: on a narrow table, such as MobileBERT's 32-wide word embeddings, the float scales are
    /// 1/8 of the INT8 bytes), else float scales. The values are rounded against the stored scale either way, and the
    /// reference ONNX file gets the same scales as floats.
    /// </summary>
    private static (Int8Groups Q, ConstTensor Data, ConstTensor Scales) Int8RowsWithHalfScales(double[] t, int rows, int columns)
    {
        var half = Quantizer.Int8PerRowHalfScales(t, rows, columns);
        var q = half ?? Quantizer.Int8PerRow(t, rows, columns);
        var (data, floatScales) = KernelLayouts.Int8Rows(q.Values, q.Scales, rows, columns);
        return (q, data, half is null ? floatScales : KernelLayouts.Vector(Array.ConvertAll(q.Scales, s => (Half)s)));
    }

    /// <summary>Fewest elements a constant table needs before it is worth quantizing (<see cref="TableTensor"/>).</summary>
    private const long TableMinimum = 256;

    /// <summary>
    /// A constant float table read whole by an elementwise op or as an attention bias (ViT's position embedding added
    /// to the tokens, EfficientFormer's attention bias): under <c>Int8</c>, <c>Mixed</c> and <c>Int4</c> it is stored
    /// INT8 symmetric per row of its last axis, as an embedding table, and <c>DequantizeInt8Rows</c> widens it into the
    /// arena before its first reader (later readers share that copy). Biases, norm parameters and other vectors (fewer
    /// than two axes longer than 1), tables under <see cref="TableMinimum"/> elements and tables with non-finite values
    /// stay FP32. Other values: <see cref="Tensor"/>.
    /// </summary>
    private PlanTensor TableTensor(Value v)
    {
        if (_quantization is null || _tensors.ContainsKey(v) || v.Type != ElementType.Float32 || v.Const is not { Real: not null } c
            || _quantization.Report.Mode is not (QuantizeMode.Int8 or QuantizeMode.Mixed or QuantizeMode.Int4)
            || c.Shape.Count(d => d > 1) < 2 || c.Count < TableMinimum || !c.Real.All(double.IsFinite))
            return Tensor(v);
        int inner = checked((int)c.Shape[^1]), rows = checked((int)(c.Count / inner));
        var q = Quantizer.Int8PerRow(c.Real, rows, inner);
        var (data8, scales8) = KernelLayouts.Int8Rows(q.Values, q.Scales, rows, inner);
        var (t, scales) = (Weight(data8), Weight(scales8));
        var y = Temp(ElementType.Float32, v.Shape!);
        Emit("DequantizeInt8Rows", new[] { t, scales }, new[] { y }, new[] { P("rows", rows), P("inner", inner) });
        double error = Quantizer.RelativeRmsError(c.Real, Quantizer.DequantizeInt8PerRow(q, rows, inner));
        _quantization.Report.Layers.Add(new LayerReport(_node.Name, "Table", $"{rows}×{inner}", Precision.Int8, error, c.Count * sizeof(float),
            (long)t.Data!.Count * t.Type.Size() + (long)scales.Data!.Count * scales.Type.Size(), Note: $"constant '{v.Name}'"));
        AddTableReference(v, name => new Int8WeightReplacement(name, q.Values, q.Scales, Axis: 0, Activation: null, Shape: new long[] { rows, inner }));
        return _tensors[v] = y;
    }

    private void Note(string note)
    {
        var layers = _quantization!.Report.Layers;
        layers[^1] = layers[^1] with { Note = layers[^1].Note is { } old ? old + "; " + note : note };
    }

    /// <summary>
    /// The reference ONNX file's replacement of this Dense's <c>[k,n]</c> weight, in its initializers' frame (when requested
    /// and traceable). A weight pruning cut out of a larger initializer (attention heads) is written back at full size.
    /// </summary>
    private void AddDenseReference(int k, int n, Func<WeightPlacement, System.Collections.Generic.List<WeightReplacement>> replacements)
    {
        if (_quantization?.ReferenceWeights is null) return;
        if (WeightOrigins.ForLayer(_node) is { } origin) AddReferences(replacements(WeightPlacement.Whole(origin, k, n)));
        else if (_node.Input(1)?.PrunedFrom is { } placement) AddReferences(replacements(placement));
        else NoteNotInReference();
    }

    /// <summary>The reference ONNX file's replacement of an embedding table, filter or constant table (when requested and it is an initializer or a Constant node's tensor).</summary>
    private void AddTableReference(Value table, Func<string, WeightReplacement> replacement)
    {
        if (_quantization?.ReferenceWeights is null) return;
        if ((table.SourceInitializer ?? table.SourceConstant) is { } name) AddReferences(new[] { replacement(name) });
        else NoteNotInReference();
    }

    private void AddReferences(System.Collections.Generic.IEnumerable<WeightReplacement> replacements)
    {
        var list = _quantization!.ReferenceWeights!;
        foreach (var r in replacements)
        {
            // An initializer shared by two layers is quantized the same way by both; the file replaces it once.
            if (list.Exists(e => e.Initializer == r.Initializer)) continue;
            list.Add(r);
        }
    }

    /// <summary>A weight the build computed (folded, scaled) has no initializer to replace: the report says it stays FP32 there.</summary>
    private void NoteNotInReference()
    {
        var layers = _quantization!.Report.Layers;
        Note("FP32 in the reference ONNX (computed weight, no initializer)");
    }

    private void Record(LayerWeights layer, Precision precision, double error, long before, params PlanTensor[] weights) =>
        _quantization!.Report.Layers.Add(new LayerReport(layer.Node, layer.Kind.ToString(), $"{layer.Rows}×{layer.Columns}", precision, error, before,
            weights.Sum(t => (long)t.Data!.Count * t.Type.Size())));

    private void EmitShaped(string kernel, string shape, PlanTensor?[] inputs, PlanTensor[] outputs, System.Collections.Generic.IEnumerable<(string, string)> parameters) =>
        _plan.Ops.Add(new PlanOp(kernel, inputs, outputs, parameters.ToList(), _node.Name) { TypeArguments = new[] { shape } });

    /// <summary>The <c>IDenseBlockShape</c> struct of a block-quantized K×N layer, declared once per distinct shape.</summary>
    private string DenseBlockShape(long k, long n, int panel, int block)
    {
        string name = $"Dense{k}x{n}Block{block}";
        if (!_plan.Shapes.Any(s => s.Name == name))
            _plan.Shapes.Add(new PlanShape(name, "IDenseBlockShape", new[] { ("K", k), ("N", n), ("Panel", (long)panel), ("Block", (long)block) }));
        return name;
    }
}
