using Int4Train.Reference;

namespace Int4Train.Training;

/// <summary>
/// A block linear of the host <see cref="Gpt"/> with per-input-channel smoothing (docs/conventions.md "Per-input-channel
/// smoothing"; the device model's native/src/gpt/block_linear.cu + smoothing.cu): the <see cref="Int4Linear"/> runs its
/// unchanged arithmetic on X' = X·diag(1/m) and W' = W·diag(m). The linear's own <see cref="Int4Linear.Weight"/> and
/// <see cref="Int4Linear.WeightGrad"/> hold W' and ∂L/∂W' (scratch); the parameter W and its gradient are
/// <see cref="Weight"/> and <see cref="WeightGrad"/>. The bias and the step sizes are the linear's, unchanged.
/// </summary>
/// <remarks>Thread safety: as the <see cref="Gpt"/> that owns it (one thread at a time).</remarks>
internal sealed class SmoothedLinear(Int4Linear linear, float[] weight, float[] weightGrad, float alpha, ChannelSmoothing ops)
{
    private float[]? _m; // the factors of the last forward that made them

    /// <summary>The linear whose arithmetic runs on X', W' (its step sizes, policy and bias are the model's).</summary>
    public Int4Linear Linear => linear;

    /// <summary>The factors m (in) of the last forward that made them (null before the first forward).</summary>
    public float[]? Factors => _m;

    /// <summary>W (out × in), the parameter.</summary>
    public float[] Weight => weight;

    /// <summary>Accumulated ∂L/∂W.</summary>
    public float[] WeightGrad => weightGrad;

    /// <summary>Y = X'·W'ᵀ + b through the linear. A training forward makes m from its batch and W, and so does an
    /// evaluation forward when <paramref name="factorsReady"/> is false (no training forward yet); otherwise the
    /// evaluation uses the m of the last forward that made one.</summary>
    public float[] Forward(float[] x, int tokens, bool training, bool factorsReady)
    {
        int d = linear.InFeatures;
        if (training || !factorsReady || _m is null) _m = ops.Factors(x, tokens, weight, linear.OutFeatures, d, alpha);
        ops.MultiplyColumns(weight, linear.OutFeatures, _m).CopyTo(linear.Weight, 0);
        return linear.Forward(ops.DivideColumns(x, tokens, _m), tokens, training);
    }

    /// <summary>∂L/∂X from ∂L/∂Y: the linear's backward on the forward's X' (which it kept) and W' (still in its Weight:
    /// no optimiser step comes between a forward and its backward, and an evaluation forward in between, which could
    /// only write the same W', leaves the linear no backward to run), then ∂L/∂X = ∂L/∂X'·diag(1/m) and
    /// ∂L/∂W += ∂L/∂W'·diag(m).
    /// The linear's own step gradients and ∂L/∂b accumulate as without smoothing.</summary>
    public float[] Backward(float[] gradY)
    {
        if (_m is null) throw new InvalidOperationException("Backward needs a training Forward first.");
        Array.Clear(linear.WeightGrad); // ∂L/∂W' of this backward alone; WeightGrad may hold other micro-batches'
        float[] dxSmoothed = linear.Backward(gradY);
        float[] dx = ops.DivideColumns(dxSmoothed, dxSmoothed.Length / linear.InFeatures, _m);
        ops.AddMultipliedColumns(weightGrad, linear.WeightGrad, linear.OutFeatures, _m);
        return dx;
    }
}
