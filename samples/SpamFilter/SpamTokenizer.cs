using System;
using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace SpamFilter;

/// <summary>
/// Turns a text into the <c>input_ids</c> the spam model was trained on, exactly as the fixture script
/// (tests/fixtures/make_fixtures.py) did: <see cref="CleanText"/>, BERT uncased WordPiece over vocab.txt,
/// then <c>[CLS]</c> + the first 62 word pieces + <c>[SEP]</c>. The ids have their true length (at most
/// <see cref="MaxTokens"/>), not padded: the generated <c>Run</c> takes the actual sequence length.
/// Also compiled into tests/EdgeCompile.EndToEnd.Tests (TokenizerAgreementTests), which checks it against
/// tests/fixtures/bert/test/input_ids.npy.
/// </summary>
public sealed partial class SpamTokenizer
{
    /// <summary>The model's sequence length: MaxShapes <c>sequence=64</c>, the length it was trained on.</summary>
    public const int MaxTokens = 64;

    /// <summary>The training texts were cut to this many characters after cleanup.</summary>
    public const int MaxTextChars = 500;

    private readonly BertTokenizer _bert;

    public SpamTokenizer(string vocabPath)
    {
        _bert = BertTokenizer.Create(vocabPath, new BertOptions
        {
            LowerCaseBeforeTokenization = true,  // BERT uncased
            RemoveNonSpacingMarks = true,        // NFD accent strip (a no-op after CleanText: ASCII only)
            IndividuallyTokenizeCjk = false,     // the Python tokenizer has no CJK rule (and CleanText leaves no CJK)
            SplitOnSpecialTokens = false,        // Python read "[SEP]" in a text as "[", "sep", "]", never as the special token
        });
    }

    /// <summary>
    /// The fixture's text preprocessing (meta.json "text_preprocessing", make_fixtures.py <c>mail_body</c>)
    /// minus its first step, dropping the mail headers up to the first blank line: this takes the text
    /// (the mail body), not a raw RFC 822 message. HTML tags and entities become spaces, only printable
    /// ASCII (and tab/CR/LF) is kept, the symbols <c>$+&lt;=&gt;^`|~_</c> become spaces (Microsoft.ML.Tokenizers'
    /// BertTokenizer would drop or keep them where BERT splits them off), whitespace is collapsed and
    /// the result is cut to the first 500 characters. The fixture texts (test/texts.json) come out unchanged.
    /// </summary>
    public static string CleanText(string text)
    {
        string s = HtmlTag().Replace(text, " ");
        s = HtmlEntity().Replace(s, " ");
        var ascii = new StringBuilder(s.Length);
        foreach (char c in s)
            if ((c >= ' ' && c < '\u007f') || c is '\t' or '\n' or '\r') ascii.Append(c);
        s = Symbols().Replace(ascii.ToString(), " ");
        s = Whitespace().Replace(s, " ").Trim();
        return s.Length > MaxTextChars ? s.Substring(0, MaxTextChars).Trim() : s;
    }

    /// <summary>
    /// <c>[CLS]</c> + the first 62 word pieces of the cleaned <paramref name="text"/> + <c>[SEP]</c>, at its true
    /// length (2..64). <paramref name="wordPieces"/> is the number of pieces before truncation.
    /// </summary>
    public long[] Encode(string text, out int wordPieces)
    {
        // Encode the whole text and cut it here: the maxTokenCount overloads stop at a word boundary,
        // which gives fewer pieces than BERT's cut inside a word.
        IReadOnlyList<int> pieces = _bert.EncodeToIds(CleanText(text), addSpecialTokens: false,
            considerPreTokenization: true, considerNormalization: true);
        wordPieces = pieces.Count;
        int kept = Math.Min(pieces.Count, MaxTokens - 2);
        var ids = new long[kept + 2];
        ids[0] = _bert.ClassificationTokenId;
        for (int i = 0; i < kept; i++) ids[i + 1] = pieces[i];
        ids[kept + 1] = _bert.SeparatorTokenId;
        return ids;
    }

    /// <inheritdoc cref="Encode(string, out int)"/>
    public long[] Encode(string text) => Encode(text, out _);

    [GeneratedRegex("<[^>]*>", RegexOptions.CultureInvariant)]
    private static partial Regex HtmlTag();

    [GeneratedRegex("&[a-zA-Z#0-9]+;", RegexOptions.CultureInvariant)]
    private static partial Regex HtmlEntity();

    [GeneratedRegex("[$+<=>^`|~_]", RegexOptions.CultureInvariant)]
    private static partial Regex Symbols();

    // After the ASCII filter the only whitespace left is space, tab, CR and LF (Python's \s on that text).
    [GeneratedRegex("[ \t\r\n]+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();
}
