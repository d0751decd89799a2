namespace Int4Train;

/// <summary>Issue 15's diagnostic ablations of a GPT's INT4 block linears (docs/conventions.md "INT4 ablations
/// (diagnostic)"; the native int4train_gpt_config.int4_ablation, same values): which half of every INT4 linear keeps
/// its quantizer, to tell whether INT4's accuracy gap comes from the forward's INT4 codes or from the backward's
/// gradient quantizer. They exist to locate that gap, not to train with. Only the device model with an INT4 precision
/// runs them.</summary>
public enum Int4Ablation
{
    /// <summary>The INT4 layer as it is (the default).</summary>
    None = 0,
    /// <summary>The forward unchanged (HQ, INT4 codes); the backward replaces bit split + LSS by exact FP32 products with
    /// the forward's dequantized codes, ∇(XH) = ∇Y·(s_W·Ŵ) and ∇(WH) = ∇Yᵀ·(s_X·X̂), then the same LSQ backward (mask,
    /// step-size gradients) and back-transform.</summary>
    ForwardOnly = 1,
    /// <summary>Y = X·Wᵀ + b in FP32 from the unquantized X and W (the INT4 forward still runs, for the codes and step
    /// sizes its backward reads); the backward is the INT4 backward unchanged.</summary>
    BackwardOnly = 2,
}
