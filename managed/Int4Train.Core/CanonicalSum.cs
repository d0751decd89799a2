namespace Int4Train;

/// <summary>
/// The one fixed summation order for sums whose value feeds a decision (conventions.md "Deterministic
/// reduction"): chunks of 4096, 256 strided lanes per chunk, a pairwise tree over the lanes, then the chunk sums
/// recursively. A CUDA block of 256 threads per chunk reproduces it exactly.
/// </summary>
public static class CanonicalSum
{
    /// <summary>Elements per chunk (one CUDA block).</summary>
    public const int ChunkSize = 4096;

    /// <summary>Lanes per chunk (threads of that block).</summary>
    public const int Lanes = 256;

    /// <summary>Sums <paramref name="values"/> in the canonical order.</summary>
    public static double Sum(ReadOnlySpan<double> values)
    {
        if (values.Length <= ChunkSize) return SumChunk(values);
        int chunks = (values.Length + ChunkSize - 1) / ChunkSize;
        var partial = new double[chunks];
        for (int c = 0; c < chunks; c++)
        {
            int start = c * ChunkSize;
            partial[c] = SumChunk(values.Slice(start, Math.Min(ChunkSize, values.Length - start)));
        }
        return Sum(partial);
    }

    /// <summary>Sums <c>f(i)</c> for i in [0, n) in the canonical order without materialising the terms.</summary>
    public static double Sum(int n, Func<int, double> f)
    {
        var terms = new double[n];
        for (int i = 0; i < n; i++) terms[i] = f(i);
        return Sum(terms);
    }

    /// <summary>One chunk (at most 4096 values): 256 lanes, then the tree.</summary>
    public static double SumChunk(ReadOnlySpan<double> chunk)
    {
        Span<double> lane = stackalloc double[Lanes];
        lane.Clear();
        for (int i = 0; i < chunk.Length; i++) lane[i % Lanes] += chunk[i];
        for (int s = Lanes / 2; s >= 1; s >>= 1)
            for (int t = 0; t < s; t++) lane[t] += lane[t + s];
        return lane[0];
    }
}
