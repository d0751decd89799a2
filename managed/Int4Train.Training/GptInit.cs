namespace Int4Train.Training;

/// <summary>
/// nanoGPT's initialisation as the host <see cref="Gpt"/> draws it, so a device model built from the same seed starts
/// from the same numbers: from one <see cref="Random"/>(seed), wte then wpe ~ N(0, 0.02), then per block the weights
/// of qkv, proj, up, down (N(0, 0.02), the residual projections N(0, 0.02/√(2L))). Biases are zero, LayerNorm gains one.
/// </summary>
internal static class GptInit
{
    /// <summary>The drawn tensors by checkpoint name (the ones not listed are zeros or LayerNorm ones).</summary>
    public static Dictionary<string, float[]> Draw(GptConfig config, int vocabSize)
    {
        int c = config.Width;
        var rng = new Random(config.Seed);
        var result = new Dictionary<string, float[]>
        {
            ["wte"] = Normal(rng, vocabSize * c, 0.02f),
            ["wpe"] = Normal(rng, config.Context * c, 0.02f),
        };
        float projStd = 0.02f / MathF.Sqrt(2 * config.Layers);
        for (int l = 0; l < config.Layers; l++)
        {
            result[$"h{l}.qkv.weight"] = Normal(rng, 3 * c * c, 0.02f);
            result[$"h{l}.proj.weight"] = Normal(rng, c * c, projStd);
            result[$"h{l}.up.weight"] = Normal(rng, 4 * c * c, 0.02f);
            result[$"h{l}.down.weight"] = Normal(rng, 4 * c * c, projStd);
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
