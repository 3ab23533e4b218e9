using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Data;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeCompile.Tests.Compiler;

/// <summary>An ONNX file compiled in process (compiler → plan → generator → Roslyn) next to an ONNX Runtime session on it.</summary>
public sealed class CompiledFixture : IDisposable
{
    private CompiledFixture(string modelPath, GeneratedModel model, InferenceSession session, CompileResult result)
    {
        ModelPath = modelPath;
        Model = model;
        Session = session;
        Result = result;
    }

    public string ModelPath { get; }
    public GeneratedModel Model { get; }
    public InferenceSession Session { get; }
    public CompileResult Result { get; }

    public static CompiledFixture Compile(string modelPath, string maxShapes, string className = "FixtureModel", string profile = "portable", int threads = 1,
        EdgeCompile.Compiler.Quantization.QuantizeOptions? quantize = null, EdgeCompile.Compiler.Lowering.SparseKernelMode sparseKernels = EdgeCompile.Compiler.Lowering.SparseKernelMode.Auto)
    {
        var dir = Directory.CreateTempSubdirectory("edgecompile-test-").FullName;
        var request = new CompileRequest(modelPath, className, "EdgeCompile.Tests.Generated", maxShapes, profile,
            Path.Combine(dir, className + ".edgeplan"), Path.Combine(dir, className + ".edgeweights"), "EdgeCompile.Tests.Generated." + className + ".edgeweights",
            Quantize: quantize, SparseKernels: sparseKernels);
        var result = ModelCompiler.Compile(request);
        if (!result.Success) throw new InvalidOperationException(string.Join(Environment.NewLine, result.Messages));
        var model = GeneratedModel.Compile(File.ReadAllText(request.PlanPath), File.ReadAllBytes(request.WeightsPath), new GeneratedModelOptions { Threads = threads });
        Directory.Delete(dir, recursive: true);
        var options = new SessionOptions { IntraOpNumThreads = 1 };
        return new CompiledFixture(modelPath, model, new InferenceSession(modelPath, options), result);
    }

    /// <summary>Runs ONNX Runtime; inputs as (name, C-order values, shape).</summary>
    public float[] RunOnnxRuntime(IReadOnlyList<(string Name, Array Values, int[] Shape)> inputs, string output = "logits")
    {
        var values = inputs.Select(i => i.Values switch
        {
            long[] l => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<long>(l, i.Shape)),
            float[] f => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(f, i.Shape)),
            int[] n => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<int>(n, i.Shape)),
            bool[] b => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<bool>(b, i.Shape)),
            _ => throw new NotSupportedException(i.Values.GetType().Name),
        }).ToList();
        using var results = Session.Run(values);
        return results.First(r => r.Name == output).AsEnumerable<float>().ToArray();
    }

    public void Dispose()
    {
        Model.Dispose();
        Session.Dispose();
    }
}

/// <summary>A fixture family's committed test set.</summary>
public sealed class FixtureTestSet
{
    public required string Family { get; init; }
    public required string[] InputNames { get; init; }
    public required NpyFile[] Inputs { get; init; }
    public required long[] Labels { get; init; }
    public bool IsText => InputNames.Contains("input_ids");
    public int Count => Labels.Length;

    public static FixtureTestSet Load(string family)
    {
        var dir = Path.Combine(Repository.Fixture(family), "test");
        using var meta = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Fixture(family), "meta.json")));
        var names = meta.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToArray();
        return new FixtureTestSet
        {
            Family = family,
            InputNames = names,
            Inputs = names.Select(n => NpyFile.Read(Path.Combine(dir, n + ".npy"))).ToArray(),
            Labels = NpyFile.Read(Path.Combine(dir, "labels.npy")).As<long>(),
        };
    }

    /// <summary>Samples [start, start+count) of every input, cut to <paramref name="sequence"/> tokens for text.</summary>
    public List<(string Name, Array Values, int[] Shape)> Batch(int start, int count, int? sequence = null)
    {
        var result = new List<(string, Array, int[])>();
        for (int i = 0; i < InputNames.Length; i++)
        {
            var npy = Inputs[i];
            var shape = npy.Shape.Select(d => (int)d).ToArray();
            int per = shape.Skip(1).Aggregate(1, (a, b) => a * b);
            shape[0] = count;
            if (sequence is int s && npy.Data is long[] ids)
            {
                int full = shape[1];
                var cut = new long[count * s];
                for (int b = 0; b < count; b++) Array.Copy(ids, (start + b) * full, cut, b * s, s);
                shape[1] = s;
                result.Add((InputNames[i], cut, shape));
                continue;
            }
            var values = Array.CreateInstance(npy.Data.GetType().GetElementType()!, count * per);
            Array.Copy(npy.Data, start * per, values, 0, count * per);
            result.Add((InputNames[i], values, shape));
        }
        return result;
    }

    /// <summary>Number of real (unpadded) tokens of a text sample.</summary>
    public int Length(int sample)
    {
        int mask = Array.IndexOf(InputNames, "attention_mask");
        var m = Inputs[mask].As<long>();
        int full = (int)Inputs[mask].Shape[1];
        int n = 0;
        for (int j = 0; j < full; j++) n += m[sample * full + j] != 0 ? 1 : 0;
        return n;
    }
}
