using EdgeCompile.Tests.Shared;
using System;
using System.Linq;
using System.Reflection;
using Xunit.Abstractions;

namespace EdgeCompile.EndToEnd.Tests;

/// <summary>
/// Every fixture family: the class EdgeCompile generated at build time (EdgeCompile.Fixtures.Models)
/// against ONNX Runtime on the same model.onnx and the same inputs.
/// </summary>
public sealed class EndToEndTests
{
    private const float Tolerance = 1e-4f;
    private readonly ITestOutputHelper _output;

    public EndToEndTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [MemberData(nameof(Family.Names), MemberType = typeof(Family))]
    public void MatchesOnnxRuntimeOnEveryTestSample(string name)
    {
        var f = Family.Get(name);
        var d = f.Test;
        using var model = f.Create();
        int correct = 0, oracleCorrect = 0;
        float worst = 0;
        for (int start = 0; start < d.Samples; start += Family.MaxBatch)
        {
            int batch = Math.Min(Family.MaxBatch, d.Samples - start);
            var logits = new float[batch * d.Classes];
            float[] expected;
            if (f.IsText)
            {
                var ids = TestData.Rows(d.InputIds!, start, batch, Family.MaxSequence);
                var mask = TestData.Rows(d.AttentionMask!, start, batch, Family.MaxSequence);
                var types = d.TokenTypeIds is null ? Array.Empty<long>() : TestData.Rows(d.TokenTypeIds, start, batch, Family.MaxSequence);
                f.RunText!(model, batch, Family.MaxSequence, ids, mask, types, logits);
                expected = Oracle.RunText(f, batch, Family.MaxSequence, ids, mask, d.TokenTypeIds is null ? null : types);
            }
            else
            {
                var px = d.Pixels(start, batch);
                f.RunVision!(model, batch, px, logits);
                expected = Oracle.RunVision(f, batch, px, d.ImageShape!);
            }
            for (int b = 0; b < batch; b++)
            {
                int sample = start + b;
                var got = logits.AsSpan(b * d.Classes, d.Classes);
                var want = expected.AsSpan(b * d.Classes, d.Classes);
                float diff = MaxAbsDiff(got, want);
                worst = Math.Max(worst, diff);
                Assert.True(diff <= Tolerance,
                    $"{name} sample {sample}: max |logit diff| {diff:E3} > {Tolerance:E0}; generated [{string.Join(", ", got.ToArray())}] vs ORT [{string.Join(", ", want.ToArray())}]");
                int label = ArgMax(got);
                Assert.True(label == ArgMax(want), $"{name} sample {sample}: generated label {label}, ORT label {ArgMax(want)}");
                if (label == d.Labels[sample]) correct++;
                if (ArgMax(want) == d.Labels[sample]) oracleCorrect++;
            }
        }
        double accuracy = (double)correct / d.Samples;
        _output.WriteLine($"{name}: accuracy {accuracy:P2} ({correct}/{d.Samples}), ONNX Runtime {(double)oracleCorrect / d.Samples:P2}, meta.json {d.MetaAccuracy:P2}; max |logit diff| {worst:E2}");
        Console.WriteLine($"[EdgeCompile e2e] {name}: accuracy {accuracy:P2} ({correct}/{d.Samples}), max |logit diff| vs ONNX Runtime {worst:E2}");
        Assert.Equal(oracleCorrect, correct);
    }

    [Theory]
    [MemberData(nameof(Family.TextNames), MemberType = typeof(Family))]
    public void MatchesOnnxRuntimeAtTheTrueSequenceLength(string name)
    {
        var f = Family.Get(name);
        var d = f.Test;
        using var model = f.Create();
        var logits = new float[d.Classes];
        float worst = 0;
        for (int sample = 0; sample < d.Samples; sample++)
        {
            int length = d.Length(sample);
            Assert.InRange(length, 1, Family.MaxSequence);
            var ids = TestData.Rows(d.InputIds!, sample, 1, length);
            var mask = TestData.Rows(d.AttentionMask!, sample, 1, length);
            var types = d.TokenTypeIds is null ? Array.Empty<long>() : TestData.Rows(d.TokenTypeIds, sample, 1, length);
            f.RunText!(model, 1, length, ids, mask, types, logits);
            var expected = Oracle.RunText(f, 1, length, ids, mask, d.TokenTypeIds is null ? null : types);
            float diff = MaxAbsDiff(logits, expected);
            worst = Math.Max(worst, diff);
            Assert.True(diff <= Tolerance, $"{name} sample {sample} at sequence={length}: max |logit diff| {diff:E3} > {Tolerance:E0}");
            Assert.Equal(ArgMax(expected), ArgMax(logits));
        }
        _output.WriteLine($"{name}: unpadded runs match ONNX Runtime, max |logit diff| {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Family.Names), MemberType = typeof(Family))]
    public void RunAllocatesNothing(string name)
    {
        var f = Family.Get(name);
        var d = f.Test;
        using var model = f.Create();
        const int batch = 2;
        var logits = new float[batch * d.Classes];
        var ids = f.IsText ? TestData.Rows(d.InputIds!, 0, batch, Family.MaxSequence) : Array.Empty<long>();
        var mask = f.IsText ? TestData.Rows(d.AttentionMask!, 0, batch, Family.MaxSequence) : Array.Empty<long>();
        var types = d.TokenTypeIds is null ? Array.Empty<long>() : TestData.Rows(d.TokenTypeIds, 0, batch, Family.MaxSequence);
        var px = f.IsText ? Array.Empty<float>() : d.Pixels(0, batch);

        void RunOnce()
        {
            if (f.IsText) f.RunText!(model, batch, Family.MaxSequence, ids, mask, types, logits);
            else f.RunVision!(model, batch, px, logits);
        }

        long allocated = SteadyStateAllocations.Bytes(RunOnce);
        Assert.True(allocated == 0, $"{name}: 50 warm Run calls allocated {allocated} bytes");
    }

    [Theory]
    [MemberData(nameof(Family.Names), MemberType = typeof(Family))]
    public void WrongSpanLengthThrowsArgumentException(string name)
    {
        var f = Family.Get(name);
        var d = f.Test;
        using var model = f.Create();
        var logits = new float[d.Classes];
        if (f.IsText)
        {
            var ids = TestData.Rows(d.InputIds!, 0, 1, 16);
            var mask = TestData.Rows(d.AttentionMask!, 0, 1, 16);
            var types = new long[16];
            var ex = Assert.Throws<ArgumentException>(() => f.RunText!(model, 1, 16, ids.AsSpan(0, 15), mask, types, logits));
            Assert.Equal("inputIds", ex.ParamName);
            ex = Assert.Throws<ArgumentException>(() => f.RunText!(model, 1, 16, ids, mask.AsSpan(0, 15), types, logits));
            Assert.Equal("attentionMask", ex.ParamName);
            if (f.HasTokenTypeIds)
            {
                ex = Assert.Throws<ArgumentException>(() => f.RunText!(model, 1, 16, ids, mask, types.AsSpan(0, 15), logits));
                Assert.Equal("tokenTypeIds", ex.ParamName);
            }
            ex = Assert.Throws<ArgumentException>(() => f.RunText!(model, 1, 16, ids, mask, types, new float[d.Classes + 1]));
            Assert.Equal("logits", ex.ParamName);
            // the lengths are those of batch x sequence, not of the maxima
            ex = Assert.Throws<ArgumentException>(() => f.RunText!(model, 2, 16, ids, mask, types, new float[2 * d.Classes]));
            Assert.Equal("inputIds", ex.ParamName);
        }
        else
        {
            var px = d.Pixels(0, 1);
            var ex = Assert.Throws<ArgumentException>(() => f.RunVision!(model, 1, px.AsSpan(1), logits));
            Assert.Equal("pixelValues", ex.ParamName);
            ex = Assert.Throws<ArgumentException>(() => f.RunVision!(model, 1, px, new float[d.Classes - 1]));
            Assert.Equal("logits", ex.ParamName);
            ex = Assert.Throws<ArgumentException>(() => f.RunVision!(model, 2, px, new float[2 * d.Classes]));
            Assert.Equal("pixelValues", ex.ParamName);
        }
    }

    [Theory]
    [MemberData(nameof(Family.Names), MemberType = typeof(Family))]
    public void DimensionOutsideOneToMaxThrowsArgumentOutOfRange(string name)
    {
        var f = Family.Get(name);
        using var model = f.Create();
        int classes = f.Test.Classes;
        foreach (int batch in new[] { 0, -1, Family.MaxBatch + 1 })
        {
            int b = batch;
            var ex = f.IsText
                ? Assert.Throws<ArgumentOutOfRangeException>(() => f.RunText!(model, b, 8, new long[Math.Max(b, 0) * 8], new long[Math.Max(b, 0) * 8], new long[Math.Max(b, 0) * 8], new float[Math.Max(b, 0) * classes]))
                : Assert.Throws<ArgumentOutOfRangeException>(() => f.RunVision!(model, b, new float[Math.Max(b, 0) * f.Test.SampleElements], new float[Math.Max(b, 0) * classes]));
            Assert.Equal("batch", ex.ParamName);
        }
        if (f.IsText)
        {
            foreach (int sequence in new[] { 0, Family.MaxSequence + 1 })
            {
                int s = sequence;
                var ex = Assert.Throws<ArgumentOutOfRangeException>(() => f.RunText!(model, 1, s, new long[s], new long[s], new long[s], new float[classes]));
                Assert.Equal("sequence", ex.ParamName);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Family.TextNames), MemberType = typeof(Family))]
    public void TokenIdOutsideTheVocabularyThrowsArgumentOutOfRange(string name)
    {
        var f = Family.Get(name);
        var d = f.Test;
        using var model = f.Create();
        var logits = new float[d.Classes];
        foreach (long bad in new long[] { d.VocabSize, d.VocabSize + 1000L, -d.VocabSize - 1L })
        {
            var ids = TestData.Rows(d.InputIds!, 0, 1, Family.MaxSequence);
            var mask = TestData.Rows(d.AttentionMask!, 0, 1, Family.MaxSequence);
            ids[3] = bad;
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => f.RunText!(model, 1, Family.MaxSequence, ids, mask, new long[Family.MaxSequence], logits));
            Assert.Equal("inputIds", ex.ParamName);
        }
        // the largest valid id still runs
        var ok = TestData.Rows(d.InputIds!, 0, 1, Family.MaxSequence);
        ok[3] = d.VocabSize - 1;
        f.RunText!(model, 1, Family.MaxSequence, ok, TestData.Rows(d.AttentionMask!, 0, 1, Family.MaxSequence), new long[Family.MaxSequence], logits);
    }

    [Theory]
    [MemberData(nameof(Family.Names), MemberType = typeof(Family))]
    public void GeneratedApiHasTheDocumentedShape(string name)
    {
        var f = Family.Get(name);
        var t = f.ModelType;
        Assert.True(t.IsPublic && t.IsSealed && t.IsClass, $"{t} must be a public sealed class");
        Assert.Equal("EdgeCompile.Fixtures.Models", t.Namespace);
        Assert.True(typeof(IDisposable).IsAssignableFrom(t), $"{t} must implement IDisposable");
        Assert.NotNull(t.GetConstructor(Type.EmptyTypes));

        var info = t.GetProperty("Info", BindingFlags.Public | BindingFlags.Static);
        Assert.NotNull(info);
        Assert.Equal("EdgeCompile.Runtime.ModelInfo", info!.PropertyType.FullName);
        Assert.NotNull(info.GetValue(null));

        var runs = t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Where(m => m.Name == "Run").ToArray();
        var run = Assert.Single(runs);
        Assert.Equal(typeof(void), run.ReturnType);
        var actual = run.GetParameters().Select(p => (p.Name, p.ParameterType)).ToArray();
        (string, Type)[] expected = f.IsText
            ? new[] { ("batch", typeof(int)), ("sequence", typeof(int)), ("inputIds", typeof(ReadOnlySpan<long>)), ("attentionMask", typeof(ReadOnlySpan<long>)) }
                .Concat(f.HasTokenTypeIds ? new[] { ("tokenTypeIds", typeof(ReadOnlySpan<long>)) } : Array.Empty<(string, Type)>())
                .Append(("logits", typeof(Span<float>))).ToArray()
            : new[] { ("batch", typeof(int)), ("pixelValues", typeof(ReadOnlySpan<float>)), ("logits", typeof(Span<float>)) };
        Assert.Equal(expected.Select(e => $"{e.Item2.Name} {e.Item1}"), actual.Select(a => $"{a.ParameterType.Name} {a.Name}"));
        Assert.Equal(expected.Select(e => e.Item2), actual.Select(a => a.ParameterType));
    }

    [Theory]
    [MemberData(nameof(Family.Names), MemberType = typeof(Family))]
    public void WeightsAreEmbeddedUnderTheDocumentedResourceName(string name)
    {
        var t = Family.Get(name).ModelType;
        string resource = $"{t.Namespace}.{t.Name}.edgeweights";
        Assert.Contains(resource, t.Assembly.GetManifestResourceNames());
        using var stream = t.Assembly.GetManifestResourceStream(resource);
        Assert.True(stream!.Length > 0);
    }

    private static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(b.Length, a.Length);
        float worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = MathF.Abs(a[i] - b[i]);
            if (float.IsNaN(d)) return float.PositiveInfinity;
            worst = Math.Max(worst, d);
        }
        return worst;
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
            if (x[i] > x[best]) best = i;
        return best;
    }
}
