using EdgeCompile.Compiler.Data;
using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using SpamFilter;

namespace EdgeCompile.EndToEnd.Tests;

/// <summary>
/// The SpamFilter sample's tokenizer (samples/SpamFilter/SpamTokenizer.cs, compiled into this project, so the
/// same code path) against the ids the fixture script made with its Python BERT tokenizer: all 300 strings of
/// tests/fixtures/bert/test/texts.json must give test/input_ids.npy row by row.
/// </summary>
public sealed class TokenizerAgreementTests
{
    private const int Sequence = 64; // the .npy rows: [CLS] + up to 62 pieces + [SEP], padded with 0

    [Fact]
    public void SampleTokenizerReproducesTheFixtureInputIds()
    {
        string dir = Path.Combine(Paths.Fixtures, "bert");
        var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(dir, "test", "texts.json")))!;
        var idsFile = NpyFile.Read(Path.Combine(dir, "test", "input_ids.npy"));
        var maskFile = NpyFile.Read(Path.Combine(dir, "test", "attention_mask.npy"));
        Assert.Equal(new long[] { texts.Length, Sequence }, idsFile.Shape);
        Assert.Equal(idsFile.Shape, maskFile.Shape);
        Assert.Equal(300, texts.Length);
        long[] expectedIds = idsFile.As<long>();
        long[] mask = maskFile.As<long>();

        var tokenizer = new SpamTokenizer(Path.Combine(dir, "vocab.txt"));
        int truncated = 0;
        for (int row = 0; row < texts.Length; row++)
        {
            var expectedRow = expectedIds.AsSpan(row * Sequence, Sequence);
            int length = (int)mask.AsSpan(row * Sequence, Sequence).ToArray().Sum();
            Assert.True(length >= 2, $"row {row}: attention_mask sums to {length}");
            Assert.True(expectedRow.Slice(length).ToArray().All(id => id == 0), $"row {row}: ids after the mask are not [PAD]");

            // The fixture texts are already cleaned: the sample's cleanup must leave them as they are.
            Assert.Equal(texts[row], SpamTokenizer.CleanText(texts[row]));

            long[] got = tokenizer.Encode(texts[row], out int wordPieces);
            if (wordPieces > Sequence - 2) truncated++;
            if (!expectedRow.Slice(0, length).SequenceEqual(got))
            {
                int at = 0;
                while (at < Math.Min(length, got.Length) && got[at] == expectedRow[at]) at++;
                Assert.Fail($"row {row}: {got.Length} ids, the fixture has {length}; first difference at position {at}: " +
                    $"got [{string.Join(", ", got.Skip(Math.Max(0, at - 3)).Take(8))}], " +
                    $"fixture [{string.Join(", ", expectedRow.Slice(0, length).ToArray().Skip(Math.Max(0, at - 3)).Take(8))}]\n" +
                    $"text: {texts[row]}");
            }
        }
        Assert.True(truncated > 0, "no text was long enough to exercise the cut to 62 word pieces");
    }

    [Fact]
    public void CleanTextAppliesTheFixturePreprocessing()
    {
        Assert.Equal("Buy now for 5 only a b c",
            SpamTokenizer.CleanText("  <b>Buy</b>\tnow&nbsp;for $5\r\n only a+b=c  "));
        Assert.Equal("caf nave x y z", SpamTokenizer.CleanText("caf\u00e9 na\u00efve x_y|z"));
        Assert.Equal(SpamTokenizer.MaxTextChars, SpamTokenizer.CleanText(new string('a', 600)).Length);
    }

    [Fact]
    public void ShortTextKeepsItsTrueLengthAndLongTextIsCutTo64()
    {
        var tokenizer = new SpamTokenizer(Path.Combine(Paths.Fixtures, "bert", "vocab.txt"));
        long[] ids = tokenizer.Encode("Win a free prize now");
        Assert.True(ids.Length < Sequence, $"{ids.Length} ids: a short text must not be padded");
        Assert.Equal(2, ids[0]);                 // [CLS]
        Assert.Equal(3, ids[^1]);                // [SEP]

        long[] longIds = tokenizer.Encode(string.Concat(Enumerable.Repeat("unbelievably ", 200)), out int pieces);
        Assert.True(pieces > Sequence - 2);
        Assert.Equal(Sequence, longIds.Length);
        Assert.Equal(2, longIds[0]);
        Assert.Equal(3, longIds[^1]);
    }
}
