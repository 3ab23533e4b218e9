using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Conformance;

/// <summary>One ONNX backend node test: a single-operator model with its input and expected output tensors.</summary>
public sealed record NodeTestCase(string Name, string Directory, string[] OpTypes)
{
    public static IReadOnlyList<NodeTestCase> All(string root) =>
        File.ReadAllLines(Path.Combine(root, "INDEX.tsv")).Skip(1)
            .Select(line => line.Split('\t'))
            .Select(f => new NodeTestCase(f[0], Path.Combine(root, f[0]), f[1].Split(new[] { ',', ';', ' ' }, StringSplitOptions.RemoveEmptyEntries)))
            .ToList();

    public bool UsesOnlySupportedOperators => OpTypes.All(OperatorSupport.IsSupported);

    /// <summary>Compiles, runs and compares; returns null on success, else why it failed.</summary>
    public string? Run()
    {
        try { return RunOrThrow(); }
        catch (Exception e) { return $"{(e is CompilerException c ? c.Code : e.GetType().Name)}: {e.Message.Split('\n')[0]}"; }
    }

    private string? RunOrThrow()
    {
        string model = Path.Combine(Directory, "model.onnx");
        string data = Path.Combine(Directory, "test_data_set_0");
        var inputs = Files(data, "input").Select(OnnxImporter.ReadTensorFile).ToArray();
        var expected = Files(data, "output").Select(OnnxImporter.ReadTensorFile).ToArray();

        // Maxima of named dimensions are the actual sizes of this data set.
        Graph graph;
        try { graph = OnnxImporter.Import(model); }
        catch (CompilerException e) { return $"{e.Code}: {e.Message}"; }
        var dims = new Dictionary<string, long>();
        for (int i = 0; i < graph.Inputs.Count && i < inputs.Length; i++)
            for (int k = 0; k < graph.Inputs[i].Rank && k < inputs[i].Shape.Length; k++)
                if (!graph.Inputs[i].Shape![k].IsConstant) dims.TryAdd(graph.Inputs[i].Shape![k].ToString(), inputs[i].Shape[k]);
        if (inputs.Length != graph.Inputs.Count) return $"the data set has {inputs.Length} inputs for {graph.Inputs.Count} graph inputs";

        var dir = System.IO.Directory.CreateTempSubdirectory("edgecompile-node-").FullName;
        try
        {
            var request = new CompileRequest(model, "NodeModel", "EdgeCompile.Tests.Node", string.Join(";", dims.Select(d => $"{d.Key}={d.Value}")), "portable",
                Path.Combine(dir, "m.edgeplan"), Path.Combine(dir, "m.edgeweights"), "EdgeCompile.Tests.Node.NodeModel.edgeweights");
            var result = ModelCompiler.Compile(request);
            if (!result.Success) return string.Join("; ", result.Messages.Where(m => m.Severity == Severity.Error).Select(m => $"{m.Code}: {m.Message}"));
            using var generated = GeneratedModel.Compile(File.ReadAllText(request.PlanPath), File.ReadAllBytes(request.WeightsPath));
            var actual = expected.Select(e => Array.CreateInstance(ClrType(e.Type), e.Count)).ToArray();
            var outputs = generated.Info.Outputs;
            if (outputs.Count != expected.Length) return $"{outputs.Count} outputs, expected {expected.Length}";
            generated.Run(generated.Info.Dimensions.Select(d => (int)dims[d.Name]).ToArray(), inputs.Select(ToArray).ToArray(), actual);
            for (int o = 0; o < expected.Length; o++)
                if (Compare(expected[o], actual[o]) is { } why) return $"output {o}: {why}";
            return null;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message.Split('\n')[0]}";
        }
        finally
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<string> Files(string dir, string prefix) =>
        System.IO.Directory.GetFiles(dir, prefix + "_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)[(prefix.Length + 1)..]));

    private static Type ClrType(ElementType t) => t switch
    {
        ElementType.Float32 => typeof(float), ElementType.Float16 => typeof(Half), ElementType.Float64 => typeof(double),
        ElementType.Int64 => typeof(long), ElementType.Int32 => typeof(int), ElementType.Int8 => typeof(sbyte),
        ElementType.UInt8 => typeof(byte), _ => typeof(bool),
    };

    private static Array ToArray(ConstTensor c)
    {
        var a = Array.CreateInstance(ClrType(c.Type), c.Count);
        for (int i = 0; i < c.Count; i++)
            a.SetValue(c.Type switch
            {
                ElementType.Float32 => (object)(float)c[i], ElementType.Float16 => (Half)c[i], ElementType.Float64 => c[i],
                ElementType.Int64 => c.IntAt(i), ElementType.Int32 => (int)c.IntAt(i), ElementType.Int8 => (sbyte)c.IntAt(i),
                ElementType.UInt8 => (byte)c.IntAt(i), _ => c.IntAt(i) != 0,
            }, i);
        return a;
    }

    /// <summary>ONNX's backend-test tolerance for floats (rtol 1e-3, atol 1e-7, here 1e-6); exact for the rest.</summary>
    private static string? Compare(ConstTensor expected, Array actual)
    {
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
