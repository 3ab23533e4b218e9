using System;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Onnx;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// <c>QuantizedOnnx</c>: the build writes the model with its quantized weights as ONNX, and ONNX Runtime running that
/// file is the oracle for the quantized generated code (docs/quantization.md).
/// </summary>
public sealed class QuantizationReferenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecompile-qref-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Largest |logit difference| allowed between the generated code and ONNX Runtime on the reference file.</summary>
    /// <remarks>FP16 and INT4 are weight-only (float arithmetic on the same weights): measured ≤ 4e-6. INT8 quantizes
    /// activations, and an input an ulp away from a rounding boundary in one engine moves one quantum in the other:
    /// measured 2.1e-3 on bert and 5.5e-2 on vit (whose FP32-vs-INT8 difference is 1.2e-1), hence the room.</remarks>
    private static double Tolerance(QuantizeMode mode) => mode == QuantizeMode.Int8 ? 0.1 : 1e-4;

    [Theory]
    [InlineData("bert", QuantizeMode.Int8)]
    [InlineData("bert", QuantizeMode.Fp16)]
    [InlineData("bert", QuantizeMode.Int4)]
    [InlineData("vit", QuantizeMode.Int8)]
    [InlineData("vit", QuantizeMode.Int4)]
    [InlineData("mobilevit", QuantizeMode.Int4)]         // Conv2dInt4: blocked DequantizeLinear on the [O, C/g·kh·kw] view, reshaped
    [InlineData("efficientformer", QuantizeMode.Int4)]
    public void Generated_code_matches_onnx_runtime_on_the_reference_file(string family, QuantizeMode mode)
    {
        var set = FixtureTestSet.Load(family);
        string reference = Path.Combine(_dir, "reference.onnx"), model = Path.Combine(Repository.Fixture(family), "model.onnx");
        string shapes = set.IsText ? "batch=8;sequence=64" : "batch=8";
        var quantize = new QuantizeOptions { Mode = mode, QuantizedOnnxPath = reference };
        using var f = CompiledFixture.Compile(model, shapes, quantize: quantize);
        Assert.True(File.Exists(reference), "the reference ONNX file should be written");

        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        options.AddSessionConfigEntry(QuantizedOnnxWriter.OrtAccuracyLevelKey, QuantizedOnnxWriter.OrtAccuracyLevelValue);
        using var session = new InferenceSession(reference, options);

        int classes = session.OutputMetadata["logits"].Dimensions.Last(), count = Math.Min(set.Count, 64), agree = 0;
        double worst = 0;
        for (int start = 0; start < count; start += 8)
        {
            var inputs = set.Batch(start, 8);
            var values = inputs.Select(i => i.Values switch
            {
                long[] l => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<long>(l, i.Shape)),
                float[] x => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(x, i.Shape)),
                _ => throw new NotSupportedException(),
            }).ToList();
            using var results = session.Run(values);
            var expected = results.First(r => r.Name == "logits").AsEnumerable<float>().ToArray();
            Assert.Equal(8 * classes, expected.Length);
            var actual = new float[8 * classes];
            f.Model.Run(set.IsText ? new[] { 8, inputs[0].Shape[1] } : new[] { 8 }, inputs.Select(i => i.Values).ToArray(), new Array[] { actual });
            for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
            for (int b = 0; b < 8; b++) agree += ArgMax(actual, b, classes) == ArgMax(expected, b, classes) ? 1 : 0;
        }
        output.WriteLine($"{family} {mode}: max |logit − reference logit| {worst:E2}, top class agrees on {agree}/{count}");
        Assert.True(worst <= Tolerance(mode), $"max |logit diff| {worst:E3} > {Tolerance(mode)}");
        Assert.True(agree >= count - 1, $"top class agrees on only {agree}/{count}");
    }

    private static int ArgMax(float[] values, int row, int width)
    {
        int best = 0;
        for (int j = 1; j < width; j++) if (values[row * width + j] > values[row * width + best]) best = j;
        return best;
    }
}
