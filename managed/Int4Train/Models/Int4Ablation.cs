namespace Int4Train;

/// <summary>Issue 15's diagnostic ablations of a GPT's INT4 block linears (docs/conventions.md "INT4 ablations
/// (diagnostic)"; the native int4train_gpt_config.int4_ablation, same values): which half of every INT4 linear keeps
/// its quantizer, to tell whether INT4's accuracy gap comes from the forward's INT4 codes or from the backward's
/// gradient quantizer, and whether finer (per-row) steps remove the forward's part. They exist to locate that gap, not to
/// train with. Only the device model with an INT4 precision
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
    /// <summary>The forward's product with one LSQ step per row of XH (a token) and one per row of WH (an output
    /// channel), each the LSQ rule of that row alone (κ·2·mean|row|/√7 + 1e−10, κ the step rule scale, 1 by
    /// default), in place of the learned per-tensor steps: Y = X̂H·(ŴH)ᵀ + b in FP32 after the INT4 forward; the
    /// backward as <see cref="ForwardOnly"/>'s with those operands and the per-row straight-through mask, no gradient
    /// for a per-row operand's step size. Asks whether finer steps remove the forward's cost.</summary>
    FineScales = 3,
    /// <summary><see cref="FineScales"/> for X only (W keeps its per-tensor step and the forward's codes).</summary>
    FineX = 4,
    /// <summary><see cref="FineScales"/> for W only (X keeps its per-tensor step and the forward's codes).</summary>
    FineW = 5,
}
