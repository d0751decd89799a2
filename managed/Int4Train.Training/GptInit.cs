namespace Int4Train.Training;

/// <summary>
/// nanoGPT's initialisation drawn from the <see cref="GptTensorTable"/>, so the host and the device model built from
/// the same seed start from the same numbers: element i of the table's Normal tensor k (wte, wpe, then per block the
/// weights of qkv, proj, up, down) is std·N(0, 1) by Box–Muller from two uniforms that are a hash of (seed, k, i);
/// ones and zeros as the table says. Counter-based rather than one sequential <see cref="Random"/>: the draw runs on
/// every core with the same numbers whatever the split (gpt-1b's 1.2 B draws took the whole of a 75-second bench job
/// one after another on the H200 machine, 2026-12-01).
/// </summary>
internal static class GptInit
{
    /// <summary>The initial values of every tensor but the step sizes, by checkpoint name.</summary>
    public static Dictionary<string, float[]> Draw(GptConfig config, int vocabSize)
    {
        var result = new Dictionary<string, float[]>();
        int normalIndex = 0;
        foreach (var t in GptTensorTable.Tensors(config, vocabSize))
        {
            switch (t.Init)
            {
                case GptTensorInit.Normal: result[t.Name] = Normal(Hash.Key(config.Seed, InitDomain, normalIndex++), checked((int)t.Count), t.Std); break;
                case GptTensorInit.One: result[t.Name] = Enumerable.Repeat(1f, checked((int)t.Count)).ToArray(); break;
                case GptTensorInit.Zero: result[t.Name] = new float[t.Count]; break;
            }
        }
        return result;
    }

    // Keeps the initialisation's keys apart from the other Hash.Key users (dropout sites, INT4 layer keys).
    private const long InitDomain = 0x1A17_0001;
    private const int Chunk = 1 << 16;

    /// <summary>n draws of std·N(0, 1), element i from the hash of (key, i): the same numbers on any number of threads.</summary>
    public static float[] Normal(ulong key, int n, float std)
    {
        var a = new float[n];
        Parallel.For(0, (n + Chunk - 1) / Chunk, c =>
        {
            int end = Math.Min(n, (c + 1) * Chunk);
            for (int i = c * Chunk; i < end; i++) a[i] = std * Gaussian(key, i);
        });
        return a;
    }

    /// <summary>Box–Muller from the two uniforms of (key, i): u₁ in (0, 1] (the logarithm stays finite), u₂ in [0, 1).</summary>
    public static float Gaussian(ulong key, long i)
    {
        const double Ulp = 1.0 / (1UL << 53);
        double u1 = ((Hash.Mix(key ^ (ulong)(2 * i) * 0xD1B54A32D192ED03UL) >> 11) + 1) * Ulp;
        double u2 = (Hash.Mix(key ^ (ulong)(2 * i + 1) * 0xD1B54A32D192ED03UL) >> 11) * Ulp;
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
