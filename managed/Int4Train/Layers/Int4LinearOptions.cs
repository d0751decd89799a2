namespace Int4Train;

/// <summary>Options of an <see cref="Int4Linear"/> layer. Defaults follow the released code (docs/method.md §5).</summary>
/// <remarks>Thread safety: immutable (init-only); safe to share between threads and layers.</remarks>
public sealed record Int4LinearOptions
{
    /// <summary>The arithmetic of the layer.</summary>
    public LinearPrecision Precision { get; init; } = LinearPrecision.Int4HqLss;

    /// <summary>Code (codes [−8, 7], digits ±6) or Paper ([−7, 7], ±7) constants (§10 rows 1, 5).</summary>
    public QuantMode Mode { get; init; } = QuantMode.Code;

    /// <summary>LSS row selection: the code's exact nonzero rows, or the paper's Bernoulli sampling (§10 row 6).</summary>
    public SamplingMode Sampling { get; init; } = SamplingMode.Nonzero;

    /// <summary>A fixed Hadamard block size, or null to search it on the first batch (§2.2, code criterion).</summary>
    public int? GroupSize { get; init; }

    /// <summary>From-scratch training (App. A.4, §10 row 4): for this many forward steps the step sizes are not
    /// learned but reset every step to <c>2·mean|·|/√7</c> of the Hadamard-domain tensors.</summary>
    public int ColdStartSteps { get; init; }

    /// <summary>Re-run the block-size search and the step initialisation once, at this forward step (App. A.5
    /// "re-initialised after the first epochs"); negative disables it.</summary>
    public int ReinitializeAtStep { get; init; } = -1;

    /// <summary>A multiple κ of the LSQ step rule wherever the layer sets its step sizes (the first forward, the cold
    /// start, the re-initialisation): <c>s = κ·2·mean|VH|/√7</c> (docs/method.md §2.1, conventions.md "LSQ step rule
    /// scale"; issue 15). 1 is the paper's rule bit for bit. The rule is about 1.8× the MSE-optimal step of a Gaussian
    /// tensor, which the Hadamard transform makes VH close to; κ ≈ 0.55 is that optimum. The block-size search ranks G
    /// with the paper's rule whatever κ is. In (0, <see cref="MaxStepInitScale"/>].</summary>
    public float StepInitScale { get; init; } = 1f;

    /// <summary>The largest <see cref="StepInitScale"/> (native layer_state.cuh kMaxStepInitScale).</summary>
    public const float MaxStepInitScale = 16f;

    /// <summary>Key of the counter-based randomness (bit-split rounding, Bernoulli sampling); mixed with the step.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws (<see cref="ArgumentException"/> naming <paramref name="paramName"/>) unless the options suit a layer of
    /// <paramref name="inFeatures"/> inputs (the checks of native
    /// int4train_layer_create / int4train_gpt_create, layer/layer_policy.cu check_options).</summary>
    public void Validate(int inFeatures, string paramName = "options")
    {
        if (Precision.IsInt4() && inFeatures % 2 != 0)
            throw new ArgumentException($"INT4 codes are packed two per byte: in_features must be even, got {inFeatures}.", paramName);
        if (GroupSize is int g) Guard.HadamardBlock(g, inFeatures, paramName);
        if (ColdStartSteps < 0) throw new ArgumentException($"ColdStartSteps must be >= 0, got {ColdStartSteps}.", paramName);
        if (!(float.IsFinite(StepInitScale) && StepInitScale > 0f && StepInitScale <= MaxStepInitScale))
            throw new ArgumentException($"StepInitScale must be in (0, {MaxStepInitScale}], got {StepInitScale}.", paramName);
    }
}
