using EdgeCompile.Tests.Shared;
using System;
using System.Linq;
using System.Reflection;
using EdgeCompile.Runtime;
using EdgeCompile.Tests.Infrastructure;
using Microsoft.CodeAnalysis.CSharp;

namespace EdgeCompile.Tests.Generator;

/// <summary>The generated class: API shape, numbers, argument checks, allocation.</summary>
public sealed class GeneratedModelTests
{
    [Fact]
    public void TinyMlp_HasTheDocumentedApi()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var type = m.ModelType;
        Assert.Equal("EdgeCompile.Tests.Models.TinyMlp", type.FullName);
        Assert.True(type.IsSealed);
        Assert.True(typeof(IDisposable).IsAssignableFrom(type));
        Assert.NotNull(type.GetConstructor(Type.EmptyTypes));
        Assert.NotNull(type.GetConstructor(new[] { typeof(int) }));

        var parameters = m.RunMethod.GetParameters();
        Assert.Equal(new[] { "batch", "features", "probabilities" }, parameters.Select(p => p.Name));
        Assert.Equal(new[] { typeof(int), typeof(ReadOnlySpan<float>), typeof(Span<float>) }, parameters.Select(p => p.ParameterType));
        Assert.Equal(typeof(void), m.RunMethod.ReturnType);

        var max = type.GetField("MaxBatch", BindingFlags.Public | BindingFlags.Static)!;
        Assert.True(max.IsLiteral);
        Assert.Equal(4, max.GetRawConstantValue());

        var info = type.GetProperty("Info", BindingFlags.Public | BindingFlags.Static)!;
        Assert.Equal(typeof(ModelInfo), info.PropertyType);
        Assert.Null(info.SetMethod);

        // The public surface is exactly the documented one.
        var publicMembers = type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Select(x => x.Name).OrderBy(x => x, StringComparer.Ordinal);
        Assert.Equal(new[] { ".ctor", ".ctor", "Dispose", "Info", "MaxBatch", "Run", "get_Info" }, publicMembers);
    }

    [Fact]
    public void TinyMlp_InfoDescribesThePlan()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var info = m.Info;
        Assert.Equal("TinyMlp", info.Name);
        Assert.Equal("fixtures/tiny_mlp.onnx", info.Source);
        Assert.Equal("portable", info.Profile);
        Assert.Equal(new[] { new DimensionInfo("batch", 4) }, info.Dimensions);
        Assert.Equal("features", info.Inputs.Single().Name);
        Assert.Equal(TensorElementType.Float32, info.Inputs.Single().ElementType);
        Assert.Equal(new[] { "batch", "3" }, info.Inputs.Single().Shape);
        Assert.Equal("probabilities", info.Outputs.Single().Name);
        Assert.Equal(new[] { "batch", "2" }, info.Outputs.Single().Shape);
        Assert.Equal(26, info.ParameterCount);
        Assert.Equal(105, info.WeightBytes);
        Assert.Equal(192, info.ArenaBytes);
        Assert.Contains("TinyMlp", info.ToString());
        Assert.Contains("input  features: Float32 [batch,3]", info.ToString());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void TinyMlp_MatchesHandComputedReference(int batch)
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var random = new Random(42 + batch);
        var x = Enumerable.Range(0, batch * 3).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var y = new float[batch * 2];
        m.Run([batch], [x], [y]);
        var expected = TestPlans.TinyMlpReference(x, batch);
        for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 5);

        // Runs again on the same instance (the arena is reused) with the same result.
        var again = new float[batch * 2];
        m.Run([batch], [x], [again]);
        Assert.Equal(y, again);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TinyMlpPacked_ShapeSpecialisedDense_MatchesReference_OnAnyThreadCount(int threads)
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlpPacked, TestPlans.TinyMlpPackedWeights());
        Assert.Contains("Kernels.Dense<LayerShapes.Dense3x4>(", m.Source);
        Assert.Contains("internal readonly struct Dense3x4 : global::EdgeCompile.Runtime.IDenseShape", m.Source);
        Assert.Contains("workers: this._workers", m.Source);
        using var model = (IDisposable)Activator.CreateInstance(m.ModelType, threads)!;
        var random = new Random(7);
        var x = Enumerable.Range(0, 4 * 3).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var y = new float[4 * 2];
        m.RunOn(model, [4], [x], [y]);
        var expected = TestPlans.TinyMlpReference(x, 4);
        for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 5);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(257)]
    public void Constructor_RejectsThreadCountOutOfRange(int threads)
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlpPacked, TestPlans.TinyMlpPackedWeights());
        var e = Assert.Throws<System.Reflection.TargetInvocationException>(() => Activator.CreateInstance(m.ModelType, threads));
        var inner = Assert.IsType<ArgumentOutOfRangeException>(e.InnerException);
        Assert.Equal("threads", inner.ParamName);
    }

    [Fact]
    public void TinyMlpPacked_BelowCSharp11_IsEC4009NotACompilerError()
    {
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.ParseOptions(LanguageVersion.CSharp10), ("model.edgeplan", TestPlans.TinyMlpPacked));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("EC4009", d.Id);
        Assert.Contains("C# 11", d.GetMessage());
    }

    [Fact]
    public void TinyMlp_CompilesWithOlderLanguageVersions()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights(), new GeneratedModelOptions { LanguageVersion = LanguageVersion.CSharp9 });
        var y = new float[2];
        m.Run([1], [new float[] { 1, 2, 3 }], [y]);
        var expected = TestPlans.TinyMlpReference([1, 2, 3], 1);
        for (int i = 0; i < 2; i++) Assert.Equal(expected[i], y[i], 5);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(-1)]
    public void Run_RejectsDimensionOutOfRange(int batch)
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => m.Run([batch], [new float[3]], [new float[2]]));
        Assert.Equal("batch", e.ParamName);
        Assert.Equal(batch, e.ActualValue);
        Assert.Contains("from 1 to 4", e.Message);
    }

    [Fact]
    public void Run_RejectsWrongSpanLengths()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var e = Assert.Throws<ArgumentException>(() => m.Run([2], [new float[5]], [new float[4]]));
        Assert.Equal("features", e.ParamName);
        Assert.Contains("6", e.Message);
        Assert.Contains("5", e.Message);
        Assert.Contains("[batch,3]", e.Message);

        e = Assert.Throws<ArgumentException>(() => m.Run([2], [new float[6]], [new float[5]]));
        Assert.Equal("probabilities", e.ParamName);
        Assert.Contains("4", e.Message);
    }

    [Fact]
    public void Run_AfterDispose_Throws()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var second = (IDisposable)m.CreateInstance();
        second.Dispose();
        second.Dispose(); // idempotent
        ((IDisposable)m.Instance).Dispose();
        Assert.Throws<ObjectDisposedException>(() => m.Run([1], [new float[3]], [new float[2]]));
    }

    [Fact]
    public void Embedding_ChecksIndicesBeforeAnyWork()
    {
        using var m = GeneratedModel.Compile(TestPlans.Embedding, TestPlans.EmbeddingWeights());
        var ids = new long[] { 1, 9, -1, 0, 3, 2 };
        var y = new float[ids.Length * 4];
        m.Run([1, 6], [ids], [y]);
        for (int t = 0; t < ids.Length; t++)
        {
            long row = ids[t] < 0 ? ids[t] + TestPlans.Vocabulary : ids[t];
            for (int j = 0; j < 4; j++) Assert.Equal(TestPlans.Table[row * 4 + j], y[t * 4 + j]);
        }

        Array.Fill(y, 123f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => m.Run([1, 6], [new long[] { 1, 2, 10, 3, 4, 5 }], [y]));
        Assert.Equal("inputIds", e.ParamName);
        Assert.All(y, v => Assert.Equal(123f, v)); // nothing ran
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Run([1, 1], [new long[] { -11 }], [new float[4]]));
    }

    [Fact]
    public void Embedding_ParametersAreCamelCased()
    {
        using var m = GeneratedModel.Compile(TestPlans.Embedding, TestPlans.EmbeddingWeights());
        Assert.Equal(new[] { "batch", "sequenceLength", "inputIds", "embeddings" }, m.RunMethod.GetParameters().Select(p => p.Name));
        Assert.NotNull(m.ModelType.GetField("MaxSequenceLength"));
    }

    [Fact]
    public void EveryElementType_MapsToItsCSharpType()
    {
        using var m = GeneratedModel.Compile(TestPlans.AllTypes(), Array.Empty<byte>());
        var parameters = m.RunMethod.GetParameters();
        Assert.Equal(1 + 2 * TestPlans.ElementTypes.Length, parameters.Length);
        for (int i = 0; i < TestPlans.ElementTypes.Length; i++)
        {
            var type = TestPlans.ElementTypes[i].Type;
            Assert.Equal(typeof(ReadOnlySpan<>).MakeGenericType(type), parameters[1 + i].ParameterType);
            Assert.Equal(typeof(Span<>).MakeGenericType(type), parameters[1 + TestPlans.ElementTypes.Length + i].ParameterType);
        }
        Assert.Equal(
            new[] { TensorElementType.Float32, TensorElementType.Float16, TensorElementType.Float64, TensorElementType.Int64,
                    TensorElementType.Int32, TensorElementType.Int8, TensorElementType.UInt8, TensorElementType.Bool },
            m.Info.Inputs.Select(x => x.ElementType));
        Assert.Equal(new[] { "(n+1)/2", "2" }, m.Info.Inputs[0].Shape);

        // n = 3 → shape [2,2]: 4 elements each.
        var inputs = TestPlans.ElementTypes.Select(t => (Array)Array.CreateInstance(t.Type, 4)).ToArray();
        ((float[])inputs[0])[3] = 1.5f;
        ((Half[])inputs[1])[3] = (Half)2.5f;
        ((bool[])inputs[7])[3] = true;
        ((sbyte[])inputs[5])[3] = -7;
        var outputs = TestPlans.ElementTypes.Select(t => Array.CreateInstance(t.Type, 4)).ToArray();
        m.Run([3], inputs, outputs);
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(inputs[i], outputs[i]);
        m.Run([4], inputs, outputs); // (4+1)/2 = 2: the same 4 elements
        var e = Assert.Throws<ArgumentException>(() => m.Run([5], inputs, outputs)); // (5+1)/2 = 3: 6 elements
        Assert.Equal("inF32", e.ParamName);
    }

    [Fact]
    public void Run_AllocatesNothing()
    {
        using var m = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var x = new float[12];
        var y = new float[8];
        var run = m.Bind([4], [x], [y]);
        Assert.Equal(0, SteadyStateAllocations.Bytes(run));
    }

    [Fact]
    public void LongSchedules_AreSplitIntoStepsOfAtMost64Calls()
    {
        using var m = GeneratedModel.Compile(TestPlans.CopyChain(150), Array.Empty<byte>());
        var steps = m.ModelType.GetMethods(BindingFlags.NonPublic | BindingFlags.Instance).Where(x => x.Name.StartsWith("RunStep", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, steps.Count); // 152 calls
        var x = Enumerable.Range(0, 16).Select(i => i * 1.5f).ToArray();
        var y = new float[16];
        m.Run([16], [x], [y]);
        Assert.Equal(x, y);
        var small = new float[3];
        m.Run([3], [new float[] { 7, 8, 9 }], [small]);
        Assert.Equal(new float[] { 7, 8, 9 }, small);
    }

    [Fact]
    public void AwkwardNames_AreSanitisedDeterministically()
    {
        using var m = GeneratedModel.Compile(TestPlans.AwkwardNames, Array.Empty<byte>());
        Assert.Equal("Awkward", m.ModelType.FullName); // no namespace: the global namespace
        Assert.Equal(new[] { "batchSize", "batch", "input1", "class", "input1_2", "batchSize_2" }, m.RunMethod.GetParameters().Select(p => p.Name));
        Assert.NotNull(m.ModelType.GetField("MaxBatchSize"));
        Assert.NotNull(m.ModelType.GetField("MaxBatch"));
        Assert.Contains("odd \"path\"\\with\\backslashes.onnx", m.Info.Source);
        var y = new float[3];
        m.Run([3, 2], [new float[] { 1, 2, 3 }, new float[2], new float[1]], [y]);
        Assert.Equal(new float[] { 1, 2, 3 }, y);
    }

    [Fact]
    public void MissingWeightsResource_GivesAClearError()
    {
        using var ok = GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights());
        var e = Assert.Throws<InvalidOperationException>(() =>
            GeneratedModel.Compile(TestPlans.TinyMlp, TestPlans.TinyMlpWeights(), new GeneratedModelOptions { EmbedWeights = false }).Dispose());
        Assert.Contains("EdgeCompile.Tests.Models.TinyMlp.edgeweights", e.Message);

        e = Assert.Throws<InvalidOperationException>(() => GeneratedModel.Compile(TestPlans.TinyMlp, new byte[100]).Dispose());
        Assert.Contains("100 bytes", e.Message);
        Assert.Contains("105", e.Message);
    }
}
