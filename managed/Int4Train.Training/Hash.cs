namespace Int4Train.Training;

/// <summary>Counter-based randomness (SplitMix64): a value is a pure function of (key, index), so dropout masks and
/// batches depend only on the seed and the step — a resumed run draws exactly what an uninterrupted one would.</summary>
internal static class Hash
{
    /// <summary>SplitMix64 finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A key from several integers.</summary>
    public static ulong Key(long a, long b, long c = 0) => Mix(Mix(Mix((ulong)a) ^ (ulong)b) ^ (ulong)c);

    /// <summary>Uniform in [0, 1) from a key and an index.</summary>
    public static float Uniform(ulong key, long index) => (Mix(key ^ ((ulong)index * 0xD1B54A32D192ED03UL)) >> 40) * (1f / (1 << 24));
}
