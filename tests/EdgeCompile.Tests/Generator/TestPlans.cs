using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace EdgeCompile.Tests.Generator;

/// <summary>Hand-written plans (and their weights and reference results) for the generator tests.</summary>
internal static class TestPlans
{
    // ---- Tiny MLP: Dense(3→4) + Relu + Dense(4→2) + Softmax, batch up to 4 ----
    public static readonly float[] W1 = { 0.5f, -1f, 0.25f, 2f, 1f, 0.5f, -0.5f, -1f, -0.25f, 1.5f, 1f, 0.75f }; // [3,4]
    public static readonly float[] B1 = { 0.1f, -0.2f, 0.3f, 0f };                                          // [4]
    public static readonly float[] W2 = { 1f, -1f, 0.5f, 0.25f, -0.75f, 1f, 2f, -0.5f };                    // [4,2]
    public static readonly float[] B2 = { 0.05f, -0.05f };                                                 // [2]

    /// <summary>w1 @0, b1 @48, w2 @64, one padding byte, b2 @97 (deliberately unaligned).</summary>
    public static byte[] TinyMlpWeights()
    {
        var blob = new byte[105];
        Write(blob, 0, W1);
        Write(blob, 48, B1);
        Write(blob, 64, W2);
        Write(blob, 97, B2);
        return blob;
    }

    public const string TinyMlp = """
        edgeplan 1
        # a hand-written plan: Dense + Relu + Dense + Softmax
        class TinyMlp
        namespace EdgeCompile.Tests.Models
        source fixtures/tiny_mlp.onnx
        profile portable
        resource EdgeCompile.Tests.Models.TinyMlp.edgeweights
        weights 105
        parameters 26
        arena 192
        dim batch 4
        input features f32 [batch,3] t0
        output probabilities f32 [batch,2] t9
        tensor t0 f32 [batch,3] input 0
        tensor t1 f32 [3,4] weight 0
        tensor t2 f32 [4] weight 48
        tensor t3 f32 [batch,4] arena 0
        tensor t4 f32 [batch,4] arena 64
        tensor t5 f32 [4,2] weight 64
        tensor t6 f32 [2] weight 97
        tensor t7 f32 [batch,2] arena 128
        tensor t9 f32 [batch,2] output 0
        op Dense in=t0,t1,t2 out=t3 rows=batch k=3 n=4 activation=Activation.None node=/fc1/Gemm
        op Relu in=t3 out=t4 node=/act/Relu
        op Dense in=t4,t5,t6 out=t7 rows=batch k=4 n=2 activation=Activation.None node=/fc2/Gemm
        op Softmax in=t7 out=t9 outer=batch length=2 inner=1 node=/softmax/Softmax
        """;

    /// <summary>
    /// The same MLP with its weights panel-packed (16 columns per panel) and its Dense calls specialised per
    /// layer shape, as the compiler writes it: w1 @0 (3 rows × 16), b1 @192, w2 @256 (4 rows × 16), b2 @512.
    /// </summary>
    public const string TinyMlpPacked = """
        edgeplan 1
        class TinyMlpPacked
        namespace EdgeCompile.Tests.Models
        source fixtures/tiny_mlp.onnx
        profile x64-avx2
        resource EdgeCompile.Tests.Models.TinyMlpPacked.edgeweights
        weights 520
        parameters 26
        arena 192
        dim batch 4
        input features f32 [batch,3] t0
        output probabilities f32 [batch,2] t9
        tensor t0 f32 [batch,3] input 0
        tensor t1 f32 [48] weight 0
        tensor t2 f32 [4] weight 192
        tensor t3 f32 [batch,4] arena 0
        tensor t4 f32 [batch,4] arena 64
        tensor t5 f32 [64] weight 256
        tensor t6 f32 [2] weight 512
        tensor t7 f32 [batch,2] arena 128
        tensor t9 f32 [batch,2] output 0
        shape Dense3x4 IDenseShape K=3 N=4 Panel=16
        shape Dense4x2 IDenseShape K=4 N=2 Panel=16
        op Dense<Dense3x4> in=t0,t1,t2 out=t3 rows=batch activation=Activation.None workers=workers node=/fc1/Gemm
        op Relu in=t3 out=t4 node=/act/Relu
        op Dense<Dense4x2> in=t4,t5,t6 out=t7 rows=batch activation=Activation.None workers=workers node=/fc2/Gemm
        op Softmax in=t7 out=t9 outer=batch length=2 inner=1 node=/softmax/Softmax
        """;

    public static byte[] TinyMlpPackedWeights()
    {
        var blob = new byte[520];
        Write(blob, 0, Packed(W1, 3, 4));
        Write(blob, 192, B1);
        Write(blob, 256, Packed(W2, 4, 2));
        Write(blob, 512, B2);
        return blob;
    }

    /// <summary>One 16-column panel of a row-major [k,n] matrix (n ≤ 16), zero-padded.</summary>
    private static float[] Packed(float[] w, int k, int n)
    {
        var packed = new float[k * 16];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < n; j++) packed[i * 16 + j] = w[i * n + j];
        return packed;
    }

    /// <summary>The tiny MLP computed in double precision, the obvious way.</summary>
    public static float[] TinyMlpReference(float[] x, int batch)
    {
        var y = new float[batch * 2];
        for (int r = 0; r < batch; r++)
        {
            var h = new double[4];
            for (int j = 0; j < 4; j++)
            {
                double s = B1[j];
                for (int i = 0; i < 3; i++) s += (double)x[r * 3 + i] * W1[i * 4 + j];
                h[j] = Math.Max(0, s);
            }
            var z = new double[2];
            for (int j = 0; j < 2; j++)
            {
                double s = B2[j];
                for (int i = 0; i < 4; i++) s += h[i] * W2[i * 2 + j];
                z[j] = s;
            }
            double m = Math.Max(z[0], z[1]);
            double e0 = Math.Exp(z[0] - m), e1 = Math.Exp(z[1] - m);
            y[r * 2] = (float)(e0 / (e0 + e1));
            y[r * 2 + 1] = (float)(e1 / (e0 + e1));
        }
        return y;
    }

    // ---- Embedding lookup with an index check ----
    public const int Vocabulary = 10;

    public static readonly float[] Table = Enumerable.Range(0, Vocabulary * 4).Select(i => i * 0.5f).ToArray();

    public static byte[] EmbeddingWeights()
    {
        var blob = new byte[Table.Length * 4];
        Write(blob, 0, Table);
        return blob;
    }

    public const string Embedding = """
        edgeplan 1
        class TokenEmbedding
        namespace EdgeCompile.Tests.Models
        source fixtures/embedding.onnx
        profile portable
        resource EdgeCompile.Tests.Models.TokenEmbedding.edgeweights
        weights 160
        parameters 40
        arena 0
        dim batch 2
        dim sequence_length 8
        input input_ids i64 [batch,sequence_length] t0
        output embeddings f32 [batch,sequence_length,4] t2
        tensor t0 i64 [batch,sequence_length] input 0
        tensor t1 f32 [10,4] weight 0
        tensor t2 f32 [batch,sequence_length,4] output 0
        check-indices t0 10
        op Gather in=t1,t0 out=t2 outer=1 axisLength=10 inner=4 node=/embeddings/word_embeddings/Gather
        """;

    // ---- A long chain of copies: more ops than one step method holds ----
    public static string CopyChain(int copies)
    {
        var sb = new StringBuilder();
        sb.Append("""
            edgeplan 1
            class CopyChain
            namespace EdgeCompile.Tests.Models
            source fixtures/chain.onnx
            profile portable
            resource EdgeCompile.Tests.Models.CopyChain.edgeweights
            weights 0
            parameters 0
            arena 128
            dim n 16
            input x f32 [n] t0
            output y f32 [n] t1
            tensor t0 f32 [n] input 0
            tensor t1 f32 [n] output 0
            tensor a f32 [n] arena 0
            tensor b f32 [n] arena 64

            """);
        sb.Append("op Copy in=t0 out=a node=first\n");
        for (int i = 0; i < copies; i++)
            sb.Append(i % 2 == 0 ? $"op Copy in=a out=b node=copy {i}\n" : $"op Copy in=b out=a node=copy {i}\n");
        sb.Append(copies % 2 == 0 ? "op Copy in=a out=t1 node=last\n" : "op Copy in=b out=t1 node=last\n");
        return sb.ToString();
    }

    // ---- Awkward names: sanitising, keywords, clashes, no namespace ----
    public static readonly string AwkwardNames = """
        edgeplan 1
        class Awkward
        namespace
        source odd "path"\with\backslashes.onnx
        profile portable
        resource Awkward.edgeweights
        weights 0
        parameters 0
        arena 0
        dim batch_size 3
        dim Batch 2
        input input.1 f32 [batch_size] t0
        input class f32 [Batch] t1
        input input_1 f32 [1] t2
        output batch_size f32 [batch_size] t3
        tensor t0 f32 [batch_size] input 0
        tensor t1 f32 [Batch] input 1
        tensor t2 f32 [1] input 2
        tensor t3 f32 [batch_size] output 0
        op Copy in=t0 out=t3 node=odd node */ with "quotes" and <LS> line separator
        """.Replace("<LS>", "\u2028");

    // ---- Every element type through Copy<T>, with expression shapes ----
    public static readonly (string Token, Type Type)[] ElementTypes =
    {
        ("f32", typeof(float)), ("f16", typeof(Half)), ("f64", typeof(double)), ("i64", typeof(long)),
        ("i32", typeof(int)), ("i8", typeof(sbyte)), ("u8", typeof(byte)), ("bool", typeof(bool)),
    };

    public static string AllTypes()
    {
        var sb = new StringBuilder();
        sb.Append("""
            edgeplan 1
            class AllTypes
            namespace EdgeCompile.Tests.Models
            source fixtures/all_types.onnx
            profile x64-avx2
            resource EdgeCompile.Tests.Models.AllTypes.edgeweights
            weights 0
            parameters 0
            arena 1024
            dim n 5

            """);
        for (int i = 0; i < ElementTypes.Length; i++) sb.Append($"input in_{ElementTypes[i].Token} {ElementTypes[i].Token} [(n+1)/2,2] x{i}\n");
        for (int i = 0; i < ElementTypes.Length; i++) sb.Append($"output out_{ElementTypes[i].Token} {ElementTypes[i].Token} [2*((n+1)/2)] y{i}\n");
        for (int i = 0; i < ElementTypes.Length; i++)
        {
            string t = ElementTypes[i].Token;
            sb.Append($"tensor x{i} {t} [(n+1)/2,2] input {i}\n");
            sb.Append($"tensor y{i} {t} [2*((n+1)/2)] output {i}\n");
            sb.Append($"tensor a{i} {t} [(n+1)/2,2] arena {i * 128}\n");
        }
        for (int i = 0; i < ElementTypes.Length; i++)
        {
            sb.Append($"op Copy in=x{i} out=a{i} node=copy in {i}\n");
            sb.Append($"op Copy in=a{i} out=y{i} node=copy out {i}\n");
        }
        return sb.ToString();
    }

    private static void Write(byte[] blob, int offset, float[] values)
    {
        for (int i = 0; i < values.Length; i++)
            BitConverter.TryWriteBytes(blob.AsSpan(offset + i * 4), values[i]);
    }

    public static IEnumerable<string> Lines(string text) => text.Split('\n');
}
