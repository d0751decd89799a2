namespace Int4Train.Training;

/// <summary>
/// nanoGPT's initialisation drawn from the <see cref="GptTensorTable"/>, so the host and the device model built from
/// the same seed start from the same numbers: from one <see cref="Random"/>(seed), each Normal tensor in table order
/// (wte, wpe, then per block the weights of qkv, proj, up, down) gets std·N(0, 1); ones and zeros as the table says.
/// </summary>
internal static class GptInit
{
    /// <summary>The initial values of every tensor but the step sizes, by checkpoint name.</summary>
    public static Dictionary<string, float[]> Draw(GptConfig config, int vocabSize)
    {
        var rng = new Random(config.Seed);
        var result = new Dictionary<string, float[]>();
        foreach (var t in GptTensorTable.Tensors(config, vocabSize))
        {
            switch (t.Init)
            {
                case GptTensorInit.Normal: result[t.Name] = Normal(rng, checked((int)t.Count), t.Std); break;
                case GptTensorInit.One: result[t.Name] = Enumerable.Repeat(1f, checked((int)t.Count)).ToArray(); break;
                case GptTensorInit.Zero: result[t.Name] = new float[t.Count]; break;
            }
        }
        return result;
    }

    /// <summary>n draws of std·N(0, 1).</summary>
    public static float[] Normal(Random rng, int n, float std)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = std * Gaussian(rng);
        return a;
    }

    /// <summary>Box–Muller from two uniforms (the host model's draw order).</summary>
    public static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
}
