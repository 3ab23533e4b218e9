using System;
using System.Diagnostics;
using System.IO;

namespace SpamFilter;

public static class Program
{
    private static readonly string[] Labels = { "ham", "spam" };

    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: dotnet run --project samples/SpamFilter -- \"text to classify\"");
            return 2;
        }
        string text = string.Join(' ', args);

        // The text cleanup and BERT uncased WordPiece tokenization the model was trained with (SpamTokenizer.cs).
        var tokenizer = new SpamTokenizer(Path.Combine(AppContext.BaseDirectory, "vocab.txt"));
        long[] inputIds = tokenizer.Encode(text, out int wordPieces); // [CLS] + up to 62 pieces + [SEP]
        int sequence = inputIds.Length; // the true length (<= 64): Run takes it, so no padding is needed
        var attentionMask = new long[sequence];
        Array.Fill(attentionMask, 1L);
        var tokenTypeIds = new long[sequence]; // all 0: one segment

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
        Console.WriteLine($"tokens:      {sequence}{(wordPieces + 2 > sequence ? $" (truncated from {wordPieces + 2})" : "")}");
        Console.WriteLine($"label:       {Labels[label]}");
        Console.WriteLine($"probability: {probability:F4}");
        Console.WriteLine($"inference:   {first.TotalMilliseconds:F3} ms (first run), {warm.TotalMilliseconds:F3} ms (warm run)");
        return 0;
    }
}
