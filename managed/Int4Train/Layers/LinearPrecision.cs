namespace Int4Train;

/// <summary>What arithmetic an <see cref="Int4Linear"/> layer uses for its three GEMMs.</summary>
public enum LinearPrecision
{
    /// <summary>The paper's method: Hadamard quantizer forward (§2.3), bit splitting + LSS backward (§3).</summary>
    Int4HqLss = 0,

    /// <summary>Ablation: the same INT4 pipeline with the Hadamard transform disabled (G = 1).</summary>
    Int4Lsq = 1,

    /// <summary>Baseline: plain FP32 linear layer (FP64 accumulation on the host).</summary>
    Fp32 = 2,

    /// <summary>Baseline: BF16 operands (round-to-nearest-even) with FP32 accumulation and output, as mixed-precision
    /// training computes a linear layer.</summary>
    Bf16 = 3,
}
