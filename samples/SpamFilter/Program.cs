using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using Microsoft.ML.Tokenizers;

namespace SpamFilter;

public static class Program
{
    private const int MaxTokens = 64; // MaxShapes sequence=64; the model was trained on 64 tokens
    private static readonly string[] Labels = { "ham", "spam" };

    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: dotnet run --project samples/SpamFilter -- \"text to classify\"");
            return 2;
        }
        string text = string.Join(' ', args);

        // The same BERT uncased WordPiece tokenization the model was trained with.
        var tokenizer = BertTokenizer.Create(Path.Combine(AppContext.BaseDirectory, "vocab.txt"),
            new BertOptions { LowerCaseBeforeTokenization = true, RemoveNonSpacingMarks = true });
        IReadOnlyList<int> ids = tokenizer.EncodeToIds(text); // [CLS] ... [SEP]
        int sequence = Math.Min(ids.Count, MaxTokens);

        var inputIds = new long[sequence];
        var attentionMask = new long[sequence];
        var tokenTypeIds = new long[sequence];
        for (int i = 0; i < sequence; i++)
        {
            inputIds[i] = ids[i];
            attentionMask[i] = 1;
        }
        if (ids.Count > MaxTokens) inputIds[sequence - 1] = tokenizer.SeparatorTokenId; // truncated: keep the final [SEP]

        var logits = new float[Labels.Length];
        using var model = new SpamClassifier(); // generated at build time from model.onnx

        var watch = Stopwatch.StartNew();
        model.Run(batch: 1, sequence: sequence, inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds, logits: logits);
        var first = watch.Elapsed;

        watch.Restart();
        model.Run(batch: 1, sequence: sequence, inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds, logits: logits);
        var warm = watch.Elapsed;

        // softmax
        float max = Math.Max(logits[0], logits[1]);
        double e0 = Math.Exp(logits[0] - max), e1 = Math.Exp(logits[1] - max);
        int label = logits[1] > logits[0] ? 1 : 0;
        double probability = (label == 1 ? e1 : e0) / (e0 + e1);

        Console.WriteLine($"text:        {text}");
        Console.WriteLine($"tokens:      {sequence}{(ids.Count > MaxTokens ? $" (truncated from {ids.Count})" : "")}");
        Console.WriteLine($"label:       {Labels[label]}");
        Console.WriteLine($"probability: {probability:F4}");
        Console.WriteLine($"inference:   {first.TotalMilliseconds:F3} ms (first run), {warm.TotalMilliseconds:F3} ms (warm run)");
        return 0;
    }
}
