using System.Text;

namespace Int4Train.Training;

/// <summary>Character-level data: the vocabulary is the sorted set of Unicode scalars (runes) in the text, so a
/// character outside the Basic Multilingual Plane (an emoji, a surrogate pair in UTF-16) is one token, the same in
/// training, checkpoint, resume and sampling. The first (1 − f) of the text trains, the tail validates (nanoGPT's
/// split). A lone surrogate (invalid UTF-16) counts as U+FFFD, as when the text is read from a file.</summary>
/// <remarks>Thread safety: never modified after construction; safe to read from any number of threads (callers must not write its arrays).</remarks>
public sealed class CharDataset
{
    /// <summary>Encodes <paramref name="text"/> and splits it; throws when either part is shorter than context + 1.</summary>
    public CharDataset(string text, float validationFraction, int context)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new ArgumentException("The training text is empty.", nameof(text));
        Vocab = string.Concat(text.EnumerateRunes().Distinct().Order().Select(r => r.ToString()));
        VocabSize = Symbols(Vocab).Length;
        if (VocabSize < 2) throw new ArgumentException("The training text needs at least 2 distinct characters.", nameof(text));
        int[] all = Encode(Vocab, text);
        int nVal = (int)(all.Length * (double)validationFraction);
        Train = all[..(all.Length - nVal)];
        Validation = all[(all.Length - nVal)..];
        if (Train.Length <= context || Validation.Length <= context)
            throw new ArgumentException($"The text has {all.Length} characters: the train ({Train.Length}) and validation ({Validation.Length}) " +
                $"parts must each be longer than the context ({context}); use a longer text.", nameof(text));
    }

    /// <summary>The symbols in token order, concatenated; token i is <c>Symbols(Vocab)[i]</c> (one rune, one or two
    /// UTF-16 chars).</summary>
    public string Vocab { get; }
    /// <summary>The number of symbols (runes in <see cref="Vocab"/>; not its UTF-16 length).</summary>
    public int VocabSize { get; }
    /// <summary>Training tokens.</summary>
    public int[] Train { get; }
    /// <summary>Validation tokens.</summary>
    public int[] Validation { get; }

    /// <summary>The symbols of a vocabulary string, in token order.</summary>
    public static Rune[] Symbols(string vocab)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        return vocab.EnumerateRunes().ToArray();
    }

    /// <summary>Whether every character of <paramref name="text"/> is in the vocabulary.</summary>
    public static bool Covers(string vocab, string text)
    {
        var set = Symbols(vocab).ToHashSet();
        return text.EnumerateRunes().All(set.Contains);
    }

    /// <summary>Tokens of a text over a vocabulary; throws on a character outside it.</summary>
    public static int[] Encode(string vocab, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var symbols = Symbols(vocab);
        var index = new Dictionary<Rune, int>(symbols.Length);
        for (int i = 0; i < symbols.Length; i++) index[symbols[i]] = i;
        var r = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes())
            r.Add(index.TryGetValue(rune, out int t) ? t : throw new ArgumentException($"Character '{rune}' (U+{rune.Value:X4}) is not in the vocabulary.", nameof(text)));
        return [.. r];
    }

    /// <summary>The text of tokens.</summary>
    public static string Decode(string vocab, IEnumerable<int> tokens)
    {
        var symbols = Symbols(vocab);
        return string.Concat(tokens.Select(t => symbols[t].ToString()));
    }

    /// <summary>A batch of <paramref name="batch"/> random windows (inputs, next-token targets), a pure function of the key.</summary>
    public (int[] X, int[] Y) Batch(bool validation, int batch, int context, ulong key)
    {
        int[] data = validation ? Validation : Train;
        int size = checked(batch * context);
        var x = new int[size];
        var y = new int[size];
        int span = data.Length - context;
        for (int b = 0; b < batch; b++)
        {
            int start = (int)(Hash.Mix(key + (ulong)b) % (ulong)span);
            Array.Copy(data, start, x, b * context, context);
            Array.Copy(data, start + 1, y, b * context, context);
        }
        return (x, y);
    }
}
