namespace Int4Train.Reference;

/// <summary>The INT4 layer's forward on BF16 activations: the BF16 Y and the FP32 forward it was rounded from
/// (<see cref="HqForwardResult.Y"/> is the FP32 Y; its packed codes are what the backward reads).</summary>
public sealed record Int4LinearBf16Forward(BFloat16[] Y, HqForwardResult Fp32);

/// <summary>The INT4 layer's backward on BF16 activations: the BF16 ∇X and the FP32 gradients it was rounded from
/// (∇W, ∇b and the step gradients are BF16-path results as they are: FP32).</summary>
public sealed record Int4LinearBf16Gradients(BFloat16[] GradX, Int4LinearGradients Fp32);

// The reference semantics of int4train_hq_forward_typed / int4train_linear_backward_typed with INT4TRAIN_DTYPE_BF16
// (docs/conventions.md "BF16 activations of the INT4 layer"): widen the BF16 inputs exactly, run the FP32 layer, round
// the FP32 Y / ∇X to nearest even. Nothing else: every code, digit and FP32 gradient is the FP32 path's.
public sealed partial class Int4LinearReference
{
    /// <summary>HQ-MM forward (§2.3) on BF16 X (N×D): <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, int, float, float, QuantMode, float[])"/>
    /// on the widened X, its Y rounded to BF16 (ties to even).</summary>
    public Int4LinearBf16Forward ForwardBf16(ReadOnlySpan<BFloat16> x, ReadOnlySpan<float> w, int n, int c, int d, int groupSize,
        float stepX, float stepW, QuantMode mode = QuantMode.Code, float[]? bias = null)
    {
        HqForwardResult fp32 = Forward(BFloat16.Widen(x), w, n, c, d, groupSize, stepX, stepW, mode, bias);
        return new Int4LinearBf16Forward(BFloat16.Narrow(fp32.Y), fp32);
    }

    /// <summary>The backward (§3.8) on BF16 ∇Y (N×C) and X (N×D): <see cref="Backward"/> on the widened ∇Y and X, its
    /// ∇X rounded to BF16 (ties to even); <paramref name="forward"/> is the FP32 forward's result
    /// (<see cref="Int4LinearBf16Forward.Fp32"/>).</summary>
    public Int4LinearBf16Gradients BackwardBf16(ReadOnlySpan<BFloat16> gradY, ReadOnlySpan<BFloat16> x, ReadOnlySpan<float> w,
        HqForwardResult forward, SamplingMode sampling = SamplingMode.Nonzero, ulong seed = 0)
    {
        Int4LinearGradients fp32 = Backward(BFloat16.Widen(gradY), BFloat16.Widen(x), w, forward, sampling, seed);
        return new Int4LinearBf16Gradients(BFloat16.Narrow(fp32.GradX), fp32);
    }
}
