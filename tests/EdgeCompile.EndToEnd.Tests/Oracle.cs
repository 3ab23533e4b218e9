using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using Microsoft.ML.OnnxRuntime;

namespace EdgeCompile.EndToEnd.Tests;

/// <summary>ONNX Runtime on the same model.onnx: the independent reference.</summary>
public static class Oracle
{
    private static readonly ConcurrentDictionary<string, Lazy<InferenceSession>> Sessions = new();

    private static InferenceSession Session(Family f) =>
        Sessions.GetOrAdd(f.Name, _ => new Lazy<InferenceSession>(() =>
        {
            var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
            return new InferenceSession(f.ModelPath, options);
        })).Value;

    public static float[] RunText(Family f, int batch, int sequence, long[] inputIds, long[] attentionMask, long[]? tokenTypeIds)
    {
        long[] shape = { batch, sequence };
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(inputIds, shape),
            OrtValue.CreateTensorValueFromMemory(attentionMask, shape),
        };
        if (f.HasTokenTypeIds)
        {
            names.Add("token_type_ids");
            values.Add(OrtValue.CreateTensorValueFromMemory(tokenTypeIds ?? new long[batch * sequence], shape));
        }
        return Run(f, names, values);
    }

    public static float[] RunVision(Family f, int batch, float[] pixels, int[] imageShape)
    {
        long[] shape = { batch, imageShape[0], imageShape[1], imageShape[2] };
        return Run(f, new[] { "pixel_values" }, new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(pixels, shape) });
    }

    private static float[] Run(Family f, IReadOnlyCollection<string> names, List<OrtValue> values)
    {
        try
        {
            using var options = new RunOptions();
            using var outputs = Session(f).Run(options, names, values, new[] { "logits" });
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }
}
