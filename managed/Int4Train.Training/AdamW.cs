namespace Int4Train.Training;

/// <summary>
/// AdamW (decoupled weight decay) with global-norm gradient clipping and a per-parameter step count (a step size
/// that starts learning after the cold start gets its own bias correction). For each active parameter θ with
/// gradient g (after clipping): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², θ ← θ − lr·(wd·θ [decay group only] +
/// m̂/(√v̂ + ε)) with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
/// An INT4 step size takes lr·<see cref="GptConfig.StepSizeLrScale"/> (lr·1 is lr exactly, so the default changes no
/// bit; the device model's adamw.cu multiplies the same way).
/// </summary>
/// <remarks>Thread safety: not thread-safe; it updates its parameters' values and moments in place. One thread at a time, and not while the model that owns the parameters is running.</remarks>
public sealed class AdamW
{
    internal AdamW(IReadOnlyList<Parameter> parameters)
    {
        M = parameters.Select(p => new float[p.Data.Length]).ToArray();
        V = parameters.Select(p => new float[p.Data.Length]).ToArray();
        T = new int[parameters.Count];
    }

    internal float[][] M { get; }
    internal float[][] V { get; }
    internal int[] T { get; }

    /// <summary>The learning rate of a step: linear warm-up over the first steps, then cosine decay to the minimum at
    /// <paramref name="decaySteps"/> (nanoGPT's get_lr).</summary>
    public static float LearningRate(GptConfig config, long step, long decaySteps)
    {
        if (step < config.WarmupSteps) return config.LearningRate * (step + 1) / (config.WarmupSteps + 1);
        if (step >= decaySteps) return config.MinLearningRate;
        double ratio = (double)(step - config.WarmupSteps) / Math.Max(1, decaySteps - config.WarmupSteps);
        double coeff = 0.5 * (1 + Math.Cos(Math.PI * ratio));
        return (float)(config.MinLearningRate + coeff * (config.LearningRate - config.MinLearningRate));
    }

    /// <summary>Clips and updates the active parameters; returns the gradient norm before clipping.</summary>
    public double Step(IReadOnlyList<Parameter> parameters, GptConfig config, float lr)
    {
        double sq = 0;
        foreach (var p in parameters)
            if (p.IsActive)
                foreach (float g in p.Grad) sq += (double)g * g;
        double norm = Math.Sqrt(sq);
        if (!double.IsFinite(norm)) throw new InvalidOperationException($"The gradient norm is {norm}: training diverged.");
        float clip = config.GradClip > 0 && norm > config.GradClip ? (float)(config.GradClip / (norm + 1e-6)) : 1f;
        float b1 = config.Beta1, b2 = config.Beta2;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (!p.IsActive) continue;
            int t = ++T[i];
            float c1 = 1 - MathF.Pow(b1, t), c2 = 1 - MathF.Pow(b2, t);
            float wd = p.Decay ? config.WeightDecay : 0f;
            float plr = p.StepOwner is null ? lr : lr * config.StepSizeLrScale;
            float[] m = M[i], v = V[i], w = p.Data, gr = p.Grad;
            for (int k = 0; k < w.Length; k++)
            {
                float g = gr[k] * clip;
                m[k] = b1 * m[k] + (1 - b1) * g;
                v[k] = b2 * v[k] + (1 - b2) * g * g;
                w[k] -= plr * (wd * w[k] + m[k] / c1 / (MathF.Sqrt(v[k] / c2) + 1e-8f));
            }
        }
        return norm;
    }
}
