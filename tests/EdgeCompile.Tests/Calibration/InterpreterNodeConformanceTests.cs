using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Tests.Conformance;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Calibration;

/// <summary>
/// ONNX's own per-operator conformance tests through the plan interpreter (compiler → plan → interpreter, no code
/// generation): every test the generated code passes (all supported ones not in Conformance/known-failures.txt)
/// must pass here too, against ONNX's expected outputs. This covers the kernels and overloads the six fixtures do
/// not call (MatMul, Softmax, the unary ops, Max/Min/Pow, comparisons, logical ops, pooling...).
/// </summary>
public sealed class InterpreterNodeConformanceTests(ITestOutputHelper output)
{
    [NodeTestsFact]
    public void Every_node_test_the_generated_code_passes_passes_in_the_interpreter()
    {
        var known = File.ReadAllLines(Path.Combine(Repository.Root, "tests", "EdgeCompile.Tests", "Conformance", "known-failures.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('\t', 2)[0]).ToHashSet();
        var cases = NodeTestCase.All(Repository.NodeTests!).Where(c => c.UsesOnlySupportedOperators && !known.Contains(c.Name)).ToList();
        var failures = new List<string>();
        var kernels = new HashSet<string>();
        foreach (var c in cases)
            if (Run(c, kernels) is { } why) failures.Add($"{c.Name}: {why}");
        output.WriteLine($"{cases.Count - failures.Count} of {cases.Count} node tests pass in the interpreter; kernels run: {string.Join(" ", kernels.Order())}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string? Run(NodeTestCase c, HashSet<string> kernels)
    {
        try
        {
            string data = Path.Combine(c.Directory, "test_data_set_0");
            var inputs = Files(data, "input").Select(OnnxImporter.ReadTensorFile).ToArray();
            var expected = Files(data, "output").Select(OnnxImporter.ReadTensorFile).ToArray();
            // Maxima of named dimensions are the actual sizes of this data set (as the generated-code test does).
            var graph = OnnxImporter.Import(Path.Combine(c.Directory, "model.onnx"));
            var dims = new Dictionary<string, long>();
            for (int i = 0; i < graph.Inputs.Count && i < inputs.Length; i++)
                for (int k = 0; k < graph.Inputs[i].Rank && k < inputs[i].Shape.Length; k++)
                    if (!graph.Inputs[i].Shape![k].IsConstant) dims.TryAdd(graph.Inputs[i].Shape![k].ToString(), inputs[i].Shape[k]);
            var request = new CompileRequest(Path.Combine(c.Directory, "model.onnx"), "NodeModel", "", string.Join(";", dims.Select(d => $"{d.Key}={d.Value}")),
                "portable", "unused", "unused", "unused");
            var plan = ModelCompiler.Build(request, new List<CompilerMessage>());
            foreach (var op in plan.Ops) kernels.Add(op.Kernel);
            var actual = new PlanInterpreter(plan).Run(inputs.Select(ToArray).ToArray(), plan.Dimensions.ToDictionary(d => d.Name, d => dims[d.Name]));
            if (actual.Length != expected.Length) return $"{actual.Length} outputs, expected {expected.Length}";
            for (int o = 0; o < expected.Length; o++)
                if (Compare(expected[o], actual[o]) is { } why) return $"output {o}: {why}";
            return null;
        }
        catch (Exception e)
        {
            return $"{(e is CompilerException ce ? ce.Code : e.GetType().Name)}: {e.Message.Split('\n')[0]}";
        }
    }

    private static IEnumerable<string> Files(string dir, string prefix) =>
        Directory.GetFiles(dir, prefix + "_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)[(prefix.Length + 1)..]));

    private static Array ToArray(ConstTensor c)
    {
        var a = Array.CreateInstance(PlanInterpreter.ClrType(c.Type), c.Count);
        for (int i = 0; i < c.Count; i++)
            a.SetValue(c.Type switch
            {
                ElementType.Float32 => (object)(float)c[i], ElementType.Float16 => (Half)c[i], ElementType.Float64 => c[i],
                ElementType.Int64 => c.IntAt(i), ElementType.Int32 => (int)c.IntAt(i), ElementType.Int8 => (sbyte)c.IntAt(i),
                ElementType.UInt8 => (byte)c.IntAt(i), _ => c.IntAt(i) != 0,
            }, i);
        return a;
    }

    /// <summary>ONNX's backend-test tolerance for floats (rtol 1e-3, atol 1e-6 here, as the generated-code test); exact for the rest.</summary>
    private static string? Compare(ConstTensor expected, Array actual)
    {
        if (actual.Length != expected.Count) return $"{actual.Length} elements, expected {expected.Count}";
        for (int i = 0; i < expected.Count; i++)
        {
            double e = expected[i];
            double a = Convert.ToDouble(actual.GetValue(i));
            bool ok = expected.Type.IsFloat()
                ? (double.IsNaN(e) && double.IsNaN(a)) || e == a || Math.Abs(a - e) <= 1e-6 + 1e-3 * Math.Abs(e)
                : a == e;
            if (!ok) return $"element {i} is {a}, expected {e}";
        }
        return null;
    }
}
