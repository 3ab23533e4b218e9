using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// The initializers and nodes that compute one replaced weight under its original name: DequantizeLinear of the
/// integers (INT8 per axis, INT4 blocked) or Cast of the FP16 values. Checks that the replacement fits the weight.
/// </summary>
internal sealed class ReplacedWeightNodes(GraphProto graph, UniqueNames names, string weight, long[] dims, List<NodeProto> nodes)
{
    private readonly long _count = dims.Aggregate(1L, (a, b) => a * b);

    public void Int8(Int8WeightReplacement r)
    {
        var view = CheckView(r.Shape);
        CheckCount(r.Values.Length, view);
        int axis = CheckAxis(r.Axis, view);
        if (r.Scales.Length != view[axis]) throw Invalid($"has {r.Scales.Length} scales for the {view[axis]} indices of axis {axis}");
        string q = Initializer(OnnxProtos.Int8s(names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/int8"), view, r.Values));
        string s = Initializer(OnnxProtos.Floats(names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/scale"), new[] { view[axis] }, r.Scales));
        string dequantized = ViewOutput(view);
        nodes.Add(OnnxProtos.Node("DequantizeLinear", $"{QuantizedOnnxWriter.Prefix}{weight}/dequantize", new[] { q, s }, new[] { dequantized }, OnnxProtos.Int("axis", axis)));
        ReshapeBack(view, dequantized);
    }

    /// <summary>The shape the integers are stored in: the weight's own, or a view with its element count.</summary>
    private long[] CheckView(long[]? shape)
    {
        var view = shape ?? dims;
        if (view.Aggregate(1L, (a, b) => a * b) != _count) throw Invalid($"is viewed as [{string.Join(",", view)}], which does not have its {_count} elements");
        return view;
    }

    /// <summary>The dequantized tensor's name: the weight's when stored in its own shape, else a view reshaped by <see cref="ReshapeBack"/>.</summary>
    private string ViewOutput(long[] view) =>
        view.SequenceEqual(dims) ? weight : names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/dequantized_view");

    private void ReshapeBack(long[] view, string dequantized)
    {
        if (view.SequenceEqual(dims)) return;
        string shape = Initializer(OnnxProtos.Int64s(names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/shape"), new long[] { dims.Length }, dims));
        nodes.Add(OnnxProtos.Node("Reshape", $"{QuantizedOnnxWriter.Prefix}{weight}/reshape", new[] { dequantized, shape }, new[] { weight }));
    }

    public void Int4(Int4WeightReplacement r)
    {
        var view = CheckView(r.Shape);
        CheckCount(r.Values.Length, view);
        int axis = CheckAxis(r.Axis, view);
        if (r.BlockSize < 2) throw Invalid($"has block size {r.BlockSize}; DequantizeLinear needs at least 2");
        var scaleDims = view.ToArray();
        scaleDims[axis] = (view[axis] + r.BlockSize - 1) / r.BlockSize;
        CheckCount(r.Scales.Length, scaleDims, "scales");
        string q = Initializer(OnnxProtos.Int4s(names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/int4"), view, r.Values));
        // Float scales (Half widened exactly): DequantizeLinear's output type is its scale's, and a Half product q·s would round.
        string s = Initializer(OnnxProtos.Floats(names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/scale"), scaleDims, r.Scales));
        string dequantized = ViewOutput(view);
        nodes.Add(OnnxProtos.Node("DequantizeLinear", $"{QuantizedOnnxWriter.Prefix}{weight}/dequantize", new[] { q, s }, new[] { dequantized },
            OnnxProtos.Int("axis", axis), OnnxProtos.Int("block_size", r.BlockSize)));
        ReshapeBack(view, dequantized);
    }

    public void Half(HalfWeightReplacement r)
    {
        CheckCount(r.Values.Length, dims);
        string h = Initializer(OnnxProtos.Halves(names.Make($"{QuantizedOnnxWriter.Prefix}{weight}/fp16"), dims, r.Values));
        nodes.Add(OnnxProtos.Node("Cast", $"{QuantizedOnnxWriter.Prefix}{weight}/cast", new[] { h }, new[] { weight }, OnnxProtos.Int("to", OnnxDataType.Float)));
    }

    private string Initializer(TensorProto t)
    {
        graph.Initializer.Add(t);
        return t.Name;
    }

    private void CheckCount(int found, long[] shape, string what = "values")
    {
        long expected = shape.Aggregate(1L, (a, b) => a * b);
        if (found != expected) throw Invalid($"has {found} {what}; shape [{string.Join(",", shape)}] needs {expected}");
    }

    private int CheckAxis(int axis, long[] shape)
    {
        int a = axis < 0 ? axis + shape.Length : axis;
        if (a < 0 || a >= shape.Length) throw Invalid($"names axis {axis} of a rank-{shape.Length} tensor");
        return a;
    }

    private CompilerException Invalid(string what) =>
        new(Codes.InvalidModel, $"reference ONNX file: the replacement of initializer '{weight}' [{string.Join(",", dims)}] {what}.");
}
