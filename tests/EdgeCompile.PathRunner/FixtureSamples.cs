using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using EdgeCompile.Compiler.Data;

namespace EdgeCompile.PathRunner;

/// <summary>How the test samples of a fixture are fed to a model. The runner and the test that
/// computes ONNX Runtime's reference share this file, so both see exactly the same calls.</summary>
public enum RunMode
{
    /// <summary>Batches of <see cref="FixtureSamples.MaxBatch"/> (the last one shorter: 300 = 37×8 + 4),
    /// text padded to <see cref="FixtureSamples.MaxSequence"/>.</summary>
    Batched,
    /// <summary>One sample per call (batch 1), text at its true length (the non-zero attention-mask
    /// entries): odd sizes that reach the kernels' remainder loops.</summary>
    Single,
}

/// <summary>One call of a model's <c>Run</c>: samples <see cref="Start"/>..+<see cref="Batch"/>, text
/// truncated to <see cref="Sequence"/> tokens (0 for vision).</summary>
public readonly record struct Call(int Start, int Batch, int Sequence);

/// <summary>A fixture folder's test set (tests/fixtures/&lt;family&gt;/test/&lt;input&gt;.npy, inputs as listed in meta.json).</summary>
public sealed class FixtureSamples
{
    /// <summary>MaxShapes of the fixture models (EdgeCompile.PathRunner.csproj, EdgeCompile.Fixtures.Models.csproj).</summary>
    public const int MaxBatch = 8;
    public const int MaxSequence = 64;

    private FixtureSamples(string name, string folder, int count, int classes, IReadOnlyList<string> inputs,
        Dictionary<string, long[]> tokens, float[]? pixels, long[] sampleShape)
    {
        Name = name;
        Folder = folder;
        Count = count;
        Classes = classes;
        Inputs = inputs;
        _tokens = tokens;
        _pixels = pixels;
        SampleShape = sampleShape;
    }

    private readonly Dictionary<string, long[]> _tokens;
    private readonly float[]? _pixels;

    /// <summary>The folder name: bert, distilbert, mobilebert, vit, mobilevit, efficientformer.</summary>
    public string Name { get; }
    public string Folder { get; }
    public string ModelPath => Path.Combine(Folder, "model.onnx");
    public int Count { get; }
    public int Classes { get; }
    /// <summary>The graph inputs in meta.json order (ONNX names).</summary>
    public IReadOnlyList<string> Inputs { get; }
    public bool IsText => _pixels is null;
    /// <summary>Shape of one sample: [64] for text, [C, H, W] for images.</summary>
    public long[] SampleShape { get; }

    /// <summary>The first <paramref name="count"/> samples only (all of them when there are fewer): for slow paths (QEMU).
    /// Keep it a multiple of <see cref="MaxBatch"/> so that the batched calls are the first calls of the full set.</summary>
    public FixtureSamples Take(int count) =>
        count >= Count ? this : new FixtureSamples(Name, Folder, count, Classes, Inputs, _tokens, _pixels, SampleShape);

    public static bool IsFixture(string folder) => File.Exists(Path.Combine(folder, "meta.json"));

    public static FixtureSamples Load(string folder)
    {
        folder = Path.GetFullPath(folder);
        string test = Path.Combine(folder, "test");
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "meta.json")));
        int classes = meta.RootElement.GetProperty("num_classes").GetInt32();
        var inputs = meta.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList();
        var tokens = new Dictionary<string, long[]>();
        float[]? pixels = null;
        long[]? shape = null;
        foreach (string input in inputs)
        {
            var npy = NpyFile.Read(Path.Combine(test, input + ".npy"));
            if (npy.DType == "<i8")
            {
                if (npy.Shape.Length != 2 || npy.Shape[1] != MaxSequence)
                    throw new InvalidDataException($"{input}.npy has shape [{string.Join(",", npy.Shape)}], expected [n,{MaxSequence}]");
                tokens[input] = npy.As<long>();
            }
            else
                pixels = npy.As<float>();
            if (shape is not null && shape[0] != npy.Shape[0])
                throw new InvalidDataException($"{input}.npy has {npy.Shape[0]} samples, the other inputs {shape[0]}");
            shape = npy.Shape;
        }
        if (shape is null || (pixels is not null && tokens.Count > 0))
            throw new InvalidDataException($"{folder}: expected either token inputs or one image input");
        return new FixtureSamples(Path.GetFileName(folder), folder, (int)shape[0], classes, inputs, tokens, pixels, shape[1..]);
    }

    /// <summary>The calls that feed every test sample once, in sample order.</summary>
    public IEnumerable<Call> Calls(RunMode mode)
    {
        int sequence = IsText ? MaxSequence : 0;
        if (mode == RunMode.Batched)
        {
            for (int start = 0; start < Count; start += MaxBatch)
                yield return new Call(start, Math.Min(MaxBatch, Count - start), sequence);
        }
        else
        {
            for (int sample = 0; sample < Count; sample++)
                yield return new Call(sample, 1, IsText ? Length(sample) : 0);
        }
    }

    /// <summary>The real (non-padding) tokens of a text sample: its non-zero attention-mask entries
    /// (the fixtures pad at the end).</summary>
    public int Length(int sample)
    {
        var mask = _tokens["attention_mask"].AsSpan(sample * MaxSequence, MaxSequence);
        int n = 0;
        foreach (long m in mask) if (m != 0) n++;
        return n;
    }

    /// <summary>A token input for one call: [Batch, Sequence], the first Sequence columns of its rows.</summary>
    public long[] Tokens(string input, Call call)
    {
        long[] source = _tokens[input];
        var result = new long[call.Batch * call.Sequence];
        for (int r = 0; r < call.Batch; r++)
            Array.Copy(source, (call.Start + r) * MaxSequence, result, r * call.Sequence, call.Sequence);
        return result;
    }

    /// <summary>The image input for one call: [Batch, C, H, W].</summary>
    public float[] Pixels(Call call)
    {
        int perSample = (int)SampleShape.Aggregate(1L, (a, b) => a * b);
        return _pixels!.AsSpan(call.Start * perSample, call.Batch * perSample).ToArray();
    }
}

/// <summary>The runner's output files: <c>&lt;family&gt;.&lt;mode&gt;.txt</c>, one line per test sample, its
/// logits separated by spaces in round-trip format (the exact float32 values).</summary>
public static class LogitsFile
{
    public static string Name(string family, RunMode mode) => $"{family}.{mode.ToString().ToLowerInvariant()}.txt";

    public static void Write(string path, float[] logits, int classes)
    {
        using var writer = new StreamWriter(path);
        for (int sample = 0; sample < logits.Length / classes; sample++)
            writer.WriteLine(string.Join(' ', logits.AsSpan(sample * classes, classes).ToArray()
                .Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
    }

    /// <summary>[samples, classes] in sample order.</summary>
    public static float[] Read(string path, int classes)
    {
        var values = new List<float>();
        foreach (string line in File.ReadLines(path))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != classes)
                throw new InvalidDataException($"{path}: line {values.Count / classes + 1} has {fields.Length} values, expected {classes}");
            values.AddRange(fields.Select(f => float.Parse(f, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return values.ToArray();
    }
}
