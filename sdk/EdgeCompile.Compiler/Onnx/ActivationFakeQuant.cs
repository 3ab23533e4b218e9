using System.Collections.Generic;
using EdgeCompile.Compiler.Onnx.Proto;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// The INT8 activation quantization of docs/quantization.md written with standard ONNX ops, as a "fake quantization":
/// the output is <c>x̂ = q·s_x</c> in float, which the unchanged MatMul/Gemm then multiplies by the dequantized weight.
/// That computes Σ(q_x·s_x)(q_w·s_w) instead of the kernel's (Σ q_x·q_w)·(s_x·s_w): the same value up to float rounding
/// (about 1e-7 relative per term), while the integers q_x are exactly the kernel's.
/// <code>
/// dynamic: m = Max(ReduceMax(Abs(x), axes, keepdims=1), 1e-30); q = Clip(Round(x · Div(127, m)), -127, 127); x̂ = q · Div(m, 127)
/// static:  q = Clip(Round(x · (1/scale)), -127, 127); x̂ = q · scale
/// </code>
/// The reduction axes are the row of the kernel's [rows,K] input: the last axis in front of a MatMul/Gemm, and the
/// channel axis of the space-to-depth view of a patch Conv's input (one row = one patch, see <see cref="QuantizedOnnxWriter"/>).
/// </summary>
internal sealed class ActivationFakeQuant
{
    private readonly GraphProto _graph;
    private readonly UniqueNames _names;
    private readonly long _opset;
    private readonly Dictionary<string, string> _constants = new();

    public ActivationFakeQuant(GraphProto graph, UniqueNames names, long opset)
    {
        (_graph, _names, _opset) = (graph, names, opset);
    }

    /// <summary>Nodes computing x̂ from <paramref name="x"/>, appended to <paramref name="nodes"/>; returns x̂'s name.</summary>
    public string Dynamic(string x, long axis, List<NodeProto> nodes)
    {
        string p = $"{QuantizedOnnxWriter.Prefix}{x}/act_dynamic";
        string abs = Add(nodes, "Abs", p + "/abs", x);
        string max = _opset >= 18
            ? Add(nodes, "ReduceMax", p + "/row_max", new[] { abs, Int64Constant(axis) }, OnnxProtos.Int("keepdims", 1))
            : Add(nodes, "ReduceMax", p + "/row_max", new[] { abs }, OnnxProtos.Ints("axes", axis), OnnxProtos.Int("keepdims", 1));
        string m = Add(nodes, "Max", p + "/m", max, FloatConstant(1e-30f));
        string inv = Add(nodes, "Div", p + "/inv", FloatConstant(127f), m);
        string q = Quantize(nodes, p, x, inv);
        string s = Add(nodes, "Div", p + "/scale", m, FloatConstant(127f));
        return Add(nodes, "Mul", p + "/dequantized", q, s);
    }

    public string Static(string x, float scale, List<NodeProto> nodes)
    {
        string p = $"{QuantizedOnnxWriter.Prefix}{x}/act_static";
        string q = Quantize(nodes, p, x, FloatConstant(1f / scale));
        return Add(nodes, "Mul", p + "/dequantized", q, FloatConstant(scale));
    }

    private string Quantize(List<NodeProto> nodes, string p, string x, string inv)
    {
        string scaled = Add(nodes, "Mul", p + "/scaled", x, inv);
        string rounded = Add(nodes, "Round", p + "/rounded", scaled); // ONNX Round: half to even, as the contract
        return Add(nodes, "Clip", p + "/q", rounded, FloatConstant(-127f), FloatConstant(127f));
    }

    private string Add(List<NodeProto> nodes, string op, string hint, params string[] inputs) => Add(nodes, op, hint, inputs, System.Array.Empty<AttributeProto>());

    private string Add(List<NodeProto> nodes, string op, string hint, string[] inputs, params AttributeProto[] attributes)
    {
        string output = _names.Make(hint);
        nodes.Add(OnnxProtos.Node(op, output, inputs, new[] { output }, attributes));
        return output;
    }

    private string FloatConstant(float value)
    {
        string text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return Constant("f" + text, () => OnnxProtos.ScalarFloat(_names.Make($"{QuantizedOnnxWriter.Prefix}const/{text}"), value));
    }

    private string Int64Constant(long axis) =>
        Constant($"axes{axis}", () => OnnxProtos.Int64s(_names.Make($"{QuantizedOnnxWriter.Prefix}const/axes_{axis}"), new long[] { 1 }, new[] { axis }));

    /// <summary>Each constant is one shared initializer.</summary>
    private string Constant(string key, System.Func<TensorProto> make)
    {
        if (_constants.TryGetValue(key, out var name)) return name;
        var t = make();
        _graph.Initializer.Add(t);
        return _constants[key] = t.Name;
    }
}
