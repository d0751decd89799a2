namespace Int4Train.Training;

/// <summary>Character-level data: the vocabulary is the sorted set of characters in the text; the first
/// (1 − f) of the text trains, the tail validates (nanoGPT's split).</summary>
/// <remarks>Thread safety: never modified after construction; safe to read from any number of threads (callers must not write its arrays).</remarks>
public sealed class CharDataset
{
    /// <summary>Encodes <paramref name="text"/> and splits it; throws when either part is shorter than context + 1.</summary>
    public CharDataset(string text, float validationFraction, int context)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new ArgumentException("The training text is empty.", nameof(text));
        Vocab = new string(text.Distinct().Order().ToArray());
        if (Vocab.Length < 2) throw new ArgumentException("The training text needs at least 2 distinct characters.", nameof(text));
        int[] all = Encode(Vocab, text);
        int nVal = (int)(all.Length * (double)validationFraction);
        Train = all[..(all.Length - nVal)];
        Validation = all[(all.Length - nVal)..];
        if (Train.Length <= context || Validation.Length <= context)
            throw new ArgumentException($"The text has {text.Length} characters: the train ({Train.Length}) and validation ({Validation.Length}) " +
                $"parts must each be longer than the context ({context}); use a longer text.", nameof(text));
    }

    /// <summary>The symbols; token i is Vocab[i].</summary>
    public string Vocab { get; }
    /// <summary>Training tokens.</summary>
    public int[] Train { get; }
    /// <summary>Validation tokens.</summary>
    public int[] Validation { get; }

    /// <summary>Tokens of a text over a vocabulary; throws on a character outside it.</summary>
    public static int[] Encode(string vocab, string text)
    {
        var index = new Dictionary<char, int>();
        for (int i = 0; i < vocab.Length; i++) index[vocab[i]] = i;
        var r = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
            r[i] = index.TryGetValue(text[i], out int t) ? t : throw new ArgumentException($"Character '{text[i]}' is not in the vocabulary.", nameof(text));
        return r;
    }

    /// <summary>The text of tokens.</summary>
    public static string Decode(string vocab, IEnumerable<int> tokens) => new(tokens.Select(t => vocab[t]).ToArray());

    /// <summary>A batch of <paramref name="batch"/> random windows (inputs, next-token targets), a pure function of the key.</summary>
    public (int[] X, int[] Y) Batch(bool validation, int batch, int context, ulong key)
    {
        int[] data = validation ? Validation : Train;
        var x = new int[batch * context];
        var y = new int[batch * context];
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
