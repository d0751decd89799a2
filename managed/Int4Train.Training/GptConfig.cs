namespace Int4Train.Training;

/// <summary>Model and optimisation settings of a GPT run. Presets: <see cref="Tiny"/>, <see cref="Small"/>, <see cref="BabyGpt"/>.</summary>
/// <remarks>Thread safety: immutable (init-only); safe to share between threads.</remarks>
public sealed record GptConfig
{
    /// <summary>Transformer blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Attention heads (Width must divide by it).</summary>
    public int Heads { get; init; } = 2;
    /// <summary>Embedding width C.</summary>
    public int Width { get; init; } = 32;
    /// <summary>Context length T (block size).</summary>
    public int Context { get; init; } = 32;
    /// <summary>Sequences per step B.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Dropout probability (embeddings, attention weights, residual branches), as nanoGPT.</summary>
    public float Dropout { get; init; }
    /// <summary>Peak learning rate.</summary>
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public float MinLearningRate { get; init; } = 3e-4f;
    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 10;
    /// <summary>AdamW β1.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>AdamW β2.</summary>
    public float Beta2 { get; init; } = 0.99f;
    /// <summary>Decoupled weight decay on every 2-D tensor, the linear weights and both embeddings (nanoGPT's groups; not biases, norms, steps).</summary>
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>Clip the global gradient norm to this (0: off).</summary>
    public float GradClip { get; init; } = 1f;
    /// <summary>Fraction of the text held out for validation (the tail, as nanoGPT's 90/10 split).</summary>
    public float ValidationFraction { get; init; } = 0.1f;
    /// <summary>Validation batches averaged per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;
    /// <summary>Arithmetic of the block linears.</summary>
    public LinearPrecision Precision { get; init; } = LinearPrecision.Int4HqLss;
    /// <summary>From-scratch cold start of the INT4 step sizes (forward steps, App. A.4); see Int4LinearOptions.</summary>
    public int ColdStartSteps { get; init; } = 10;
    /// <summary>Pretraining's one re-initialisation (algorithm.md §2.2, App. A.5 "when the first 2 epochs finish"): at this
    /// training step every INT4 layer searches its Hadamard block size again and re-initialises its step sizes; −1: off.</summary>
    public int ReinitializeAtStep { get; init; } = -1;
    /// <summary>LSS row selection of the INT4 backward: the released code's exact nonzero rows or the paper's Bernoulli
    /// sampling (algorithm.md §10 row 6).</summary>
    public SamplingMode Sampling { get; init; } = SamplingMode.Nonzero;
    /// <summary>Seed of initialisation, batches, dropout and the INT4 layers' randomness.</summary>
    public int Seed { get; init; } = 1337;

    /// <summary>2 layers, 2 heads, 32 wide, context 32, batch 8: ~100 steps in about a minute on a CPU.</summary>
    public static GptConfig Tiny => new();

    /// <summary>Between tiny and baby GPT: 4 layers, 4 heads, 128 wide, context 64, batch 16, dropout 0.1, lr 1e-3 → 1e-4
    /// after 50 warm-up steps — minutes on a GPU, a quick check of a recipe before the baby GPT.</summary>
    public static GptConfig Small => new()
    {
        Layers = 4, Heads = 4, Width = 128, Context = 64, BatchSize = 16, Dropout = 0.1f,
        LearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 50, Beta2 = 0.99f, WeightDecay = 0.1f,
        GradClip = 1f, ValidationFraction = 0.1f, EvalBatches = 8, ColdStartSteps = 50,
    };

    /// <summary>nanoGPT's shakespeare-char "baby GPT".</summary>
    public static GptConfig BabyGpt => new()
    {
        Layers = 6, Heads = 6, Width = 384, Context = 256, BatchSize = 64, Dropout = 0.2f,
        LearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 100, Beta2 = 0.99f, WeightDecay = 0.1f,
        GradClip = 1f, ValidationFraction = 0.1f, EvalBatches = 200, ColdStartSteps = 100, // nanoGPT: eval_iters = 200
        ReinitializeAtStep = 125, // ≈ 2 epochs of tinyshakespeare's 1.0 M training characters at 64 × 256 tokens a step
    };

    /// <summary>The preset names <see cref="Preset"/> knows.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "small", "baby-gpt"];

    /// <summary>The precision names <see cref="ParsePrecision"/> knows.</summary>
    public static IReadOnlyList<string> PrecisionNames { get; } = ["int4", "int4-lsq", "bf16", "fp32"];

    /// <summary>The preset of a name: tiny, small, baby-gpt.</summary>
    public static GptConfig Preset(string name) => name switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "baby-gpt" => BabyGpt,
        _ => throw new ArgumentException($"Unknown preset '{name}'; known presets: {string.Join(", ", PresetNames)}.", nameof(name)),
    };

    /// <summary>The precision of a CLI name: int4 (HQ+LSS), int4-lsq, bf16, fp32.</summary>
    public static LinearPrecision ParsePrecision(string name) => name switch
    {
        "int4" => LinearPrecision.Int4HqLss,
        "int4-lsq" => LinearPrecision.Int4Lsq,
        "bf16" => LinearPrecision.Bf16,
        "fp32" => LinearPrecision.Fp32,
        _ => throw new ArgumentException($"Unknown precision '{name}'; known: {string.Join(", ", PrecisionNames)}.", nameof(name)),
    };

    /// <summary>The CLI name of a precision (the inverse of <see cref="ParsePrecision"/>).</summary>
    public static string PrecisionName(LinearPrecision precision) => precision switch
    {
        LinearPrecision.Int4HqLss => "int4",
        LinearPrecision.Int4Lsq => "int4-lsq",
        LinearPrecision.Bf16 => "bf16",
        LinearPrecision.Fp32 => "fp32",
        _ => precision.ToString(),
    };

    /// <summary>Throws on inconsistent settings.</summary>
    public void Validate()
    {
        if (Layers < 1 || Heads < 1 || Width < 1 || Context < 1 || BatchSize < 1)
            throw new ArgumentException($"Layers, heads, width, context and batch must be positive (got {Layers}, {Heads}, {Width}, {Context}, {BatchSize}).");
        if (Width % Heads != 0) throw new ArgumentException($"Width {Width} must be divisible by the head count {Heads}.");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.");
        if (ValidationFraction is <= 0 or >= 1) throw new ArgumentException($"ValidationFraction must be in (0, 1), got {ValidationFraction}.");
    }
}
