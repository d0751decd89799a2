namespace Int4Train.Cli;

/// <summary>Synthetic data that shows what the method is for: activations with a few outlier channels (§3.3
/// "outlier spreading") and output gradients whose token rows have very skewed norms (§3.2).</summary>
internal static class DemoData
{
    /// <summary>Gaussian N×D activations; a few channels scaled by 20–60 (outliers).</summary>
    public static float[] Activations(int n, int d, Random rng)
    {
        var x = Gaussian(n * d, rng);
        int outliers = Math.Max(1, d / 64);
        for (int o = 0; o < outliers; o++)
        {
            int ch = rng.Next(d);
            float scale = 20f + 40f * rng.NextSingle();
            for (int i = 0; i < n; i++) x[i * d + ch] *= scale;
        }
        return x;
    }

    /// <summary>Gaussian C×D weights with std 1/√D.</summary>
    public static float[] Weights(int c, int d, Random rng)
    {
        var w = Gaussian(c * d, rng);
        float s = 1f / MathF.Sqrt(d);
        for (int i = 0; i < w.Length; i++) w[i] *= s;
        return w;
    }

    /// <summary>N×C gradients: row norms log-normal (a few large rows, most tiny), 10% of rows exactly zero.</summary>
    public static float[] Gradients(int n, int c, Random rng)
    {
        var g = Gaussian(n * c, rng);
        for (int i = 0; i < n; i++)
        {
            float rowScale = rng.NextDouble() < 0.1 ? 0f : MathF.Exp(2.0f * Normal(rng)) * 1e-3f;
            for (int j = 0; j < c; j++) g[i * c + j] *= rowScale;
        }
        return g;
    }

    private static float[] Gaussian(int count, Random rng)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = Normal(rng);
        return v;
    }

    private static float Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
