using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Onnx.Proto;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>
/// The benchmark baseline "ONNX Runtime running a dynamically quantized version of the same model": rewrites a model the
/// way <c>onnxruntime.quantization.quantize_dynamic(model, out, weight_type=QInt8)</c> rewrites its MatMuls (Python's
/// onnxruntime is not available in the build, so the op pattern of its <c>MatMulInteger</c> quantizer is reproduced here).
/// This is ONNX Runtime's numerics, not EdgeCompile's: uint8 asymmetric per-tensor activations, int8 symmetric weights.
/// <code>
/// A ─ DynamicQuantizeLinear ─► A_quantized, A_scale, A_zero_point      (once per activation)
/// MatMulInteger(A_quantized, B_quantized, A_zero_point, B_zero_point) ─ Cast(FLOAT) ─ Mul(·, Mul(A_scale, B_scale)) ─► Y
/// </code>
/// ONNX Runtime fuses that into its DynamicQuantizeMatMul kernel when the session optimizes the graph.
/// <para>
/// Only MatMuls whose B is a 2-D FLOAT initializer are quantized (quantize_dynamic's default MatMulConstBOnly=True);
/// quantize_dynamic's other default op types (Gather, Conv, Attention, LSTM …) are left in float.
/// </para>
/// </summary>
public static class OrtDynamicQuantization
{
    /// <summary>Writes the rewritten model; <paramref name="perChannel"/> is quantize_dynamic's per_channel (one scale per column of B).</summary>
    public static void WriteOrtDynamicQuantized(string inputPath, string outputPath, bool perChannel = false)
    {
        var model = OnnxModelFile.Load(inputPath);
        Apply(model, perChannel);
        OnnxModelFile.Save(model, outputPath);
    }

    internal static void Apply(ModelProto model, bool perChannel)
    {
        OpsetUpgrade.Raise(model, 11); // DynamicQuantizeLinear
        var graph = model.Graph;
        var names = new UniqueNames(graph);
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var quantizedActivations = new Dictionary<string, (string Q, string Scale, string ZeroPoint)>();
        var quantizedWeights = new Dictionary<string, (string Q, string Scale, string ZeroPoint)>();
        var nodes = new List<NodeProto>();
        foreach (var n in graph.Node)
        {
            if (n.OpType != "MatMul" || n.Domain is not ("" or "ai.onnx") || n.Input.Count != 2
                || !initializers.TryGetValue(n.Input[1], out var b) || b.DataType != OnnxDataType.Float || b.Dims.Count != 2)
            {
                nodes.Add(n);
                continue;
            }
            string a = n.Input[0], y = n.Output[0], name = n.Name.Length > 0 ? n.Name : y;
            if (!quantizedActivations.TryGetValue(a, out var qa))
            {
                qa = (names.Make(a + "_quantized"), names.Make(a + "_scale"), names.Make(a + "_zero_point"));
                nodes.Add(OnnxProtos.Node("DynamicQuantizeLinear", names.Make(a + "_QuantizeLinear"), new[] { a }, new[] { qa.Q, qa.Scale, qa.ZeroPoint }));
                quantizedActivations[a] = qa;
            }
            if (!quantizedWeights.TryGetValue(b.Name, out var qb))
                quantizedWeights[b.Name] = qb = QuantizeWeight(graph, names, b, perChannel);

            string integer = names.Make(y + "_output_quantized");
            nodes.Add(OnnxProtos.Node("MatMulInteger", names.Make(name + "_quant"), new[] { qa.Q, qb.Q, qa.ZeroPoint, qb.ZeroPoint }, new[] { integer }));
            string asFloat = names.Make(integer + "_cast_output");
            nodes.Add(OnnxProtos.Node("Cast", names.Make(integer + "_cast"), new[] { integer }, new[] { asFloat }, OnnxProtos.Int("to", OnnxDataType.Float)));
            string scales = names.Make(name + "_quant_scales_mul:0");
            nodes.Add(OnnxProtos.Node("Mul", names.Make(name + "_quant_scales_mul"), new[] { qa.Scale, qb.Scale }, new[] { scales }));
            nodes.Add(OnnxProtos.Node("Mul", names.Make(name + "_quant_output_scale_mul"), new[] { asFloat, scales }, new[] { y }));
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        RemoveUnused(graph, quantizedWeights.Keys);
    }

    /// <summary>
    /// quantize_data(symmetric=True, INT8): range widened to include 0, scale = 2·absmax / 254 (1 for an all-zero
    /// range), zero point 0, q = clip(round_half_even(w / scale), -127, 127), all in float32 as numpy does it.
    /// </summary>
    internal static (sbyte[] Q, float[] Scales) QuantizeSymmetricInt8(float[] w, long rows, long columns, bool perColumn)
    {
        var absMax = new float[perColumn ? columns : 1];
        for (long i = 0; i < w.Length; i++)
        {
            long g = perColumn ? i % columns : 0;
            absMax[g] = MathF.Max(absMax[g], MathF.Abs(w[i]));
        }
        var scales = absMax.Select(m => m == 0 ? 1f : 2 * m / 254f).ToArray();
        var q = new sbyte[w.Length];
        for (long i = 0; i < w.Length; i++)
        {
            float s = scales[perColumn ? (int)(i % columns) : 0];
            q[i] = (sbyte)Math.Clamp(MathF.Round(w[i] / s, MidpointRounding.ToEven), -127f, 127f);
        }
        return (q, scales);
    }

    private static (string Q, string Scale, string ZeroPoint) QuantizeWeight(GraphProto graph, UniqueNames names, TensorProto b, bool perChannel)
    {
        long rows = b.Dims[0], columns = b.Dims[1];
        var (q, scales) = QuantizeSymmetricInt8(OnnxProtos.ReadFloats(b), rows, columns, perChannel);
        long[] scaleDims = perChannel ? new[] { columns } : Array.Empty<long>();
        var qt = OnnxProtos.Int8s(names.Make(b.Name + "_quantized"), new[] { rows, columns }, q);
        var st = OnnxProtos.Floats(names.Make(b.Name + "_scale"), scaleDims, scales);
        var zt = OnnxProtos.Int8s(names.Make(b.Name + "_zero_point"), scaleDims, new sbyte[scales.Length]);
        graph.Initializer.Add(qt);
        graph.Initializer.Add(st);
        graph.Initializer.Add(zt);
        return (qt.Name, st.Name, zt.Name);
    }

    /// <summary>Drops the float weights nothing reads any more (quantize_dynamic's remove_unused_constant).</summary>
    private static void RemoveUnused(GraphProto graph, IEnumerable<string> candidates)
    {
        var read = new HashSet<string>(graph.Output.Select(o => o.Name));
        void Collect(GraphProto g)
        {
            foreach (var n in g.Node)
            {
                foreach (var i in n.Input) read.Add(i);
                foreach (var a in n.Attribute)
                {
                    if (a.G is not null) Collect(a.G);
                    foreach (var sub in a.Graphs) Collect(sub);
                }
            }
        }
        Collect(graph);
        foreach (var name in candidates.Where(c => !read.Contains(c)))
        {
            graph.Initializer.Remove(graph.Initializer.First(t => t.Name == name));
            if (graph.Input.FirstOrDefault(i => i.Name == name) is { } listed) graph.Input.Remove(listed);
        }
    }
}
