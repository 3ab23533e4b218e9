using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeCompile.Tests.Calibration;

/// <summary>A fixture's FP32 plan as <see cref="ModelCompiler.Build"/> makes it (nothing written), and ONNX Runtime on the same file.</summary>
public static class FixturePlan
{
    public static string ModelPath(string family) => Path.Combine(Repository.Fixture(family), "model.onnx");

    public static Plan Build(string family, string maxShapes, string profile = "portable")
    {
        var request = new CompileRequest(ModelPath(family), "FixtureModel", "EdgeCompile.Tests.Generated", maxShapes, profile,
            "unused.edgeplan", "unused.edgeweights", "unused.edgeweights");
        return ModelCompiler.Build(request, new List<CompilerMessage>());
    }

    public static InferenceSession Session(string family) =>
        new(ModelPath(family), new SessionOptions { IntraOpNumThreads = 1 });

    public static NamedOnnxValue Value(string name, Array values, int[] shape) => values switch
    {
        long[] l => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(l, shape)),
        float[] f => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(f, shape)),
        int[] n => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(n, shape)),
        _ => throw new NotSupportedException(values.GetType().Name),
    };

    /// <summary>ONNX Runtime's values of <paramref name="outputs"/> for inputs given as (name, C-order values, shape).</summary>
    public static Dictionary<string, float[]> RunOnnxRuntime(InferenceSession session, IEnumerable<(string Name, Array Values, int[] Shape)> inputs, params string[] outputs)
    {
        using var results = session.Run(inputs.Select(i => Value(i.Name, i.Values, i.Shape)).ToList(), outputs);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }

    public static double MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
        return worst;
    }
}
