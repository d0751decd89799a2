namespace Int4Train;

// Backward-side operators: bit splitting (§3.3), leverage scores + selection (§3.4, §3.5), LSS-MM, the layer (§3.8).
public sealed partial class NativeOperators
{
    /// <summary>Bit-splits ∇Y into high/low digits; scales = {Mx, s↑, s↓} (1×3). Philox(seed, index, stream 0).</summary>
    public void BitSplit(DeviceTensor<float> grad, ulong seed, QuantMode mode, DeviceTensor<sbyte> high, DeviceTensor<sbyte> low, DeviceTensor<float> scales)
    {
        Same(nameof(grad), grad, _context);
        Check(nameof(high), high, grad.Rows, grad.Cols);
        Check(nameof(low), low, grad.Rows, grad.Cols);
        Check(nameof(scales), scales, 1, 3);
        Run(Interop.NativeMethods.int4train_bit_split(_context.Handle, grad.Pointer, grad.Rows, grad.Cols, seed, (int)mode, high.Pointer, low.Pointer, scales.Pointer), "int4train_bit_split");
    }

    /// <summary>Leverage scores of the 2N stacked rows and the selection (§3.4/§3.5). With <paramref name="xCodes"/> and
    /// <paramref name="stepX"/> the ∇W scores, without them the ∇X scores. kept = {high rows, low rows} (1×2).</summary>
    public void LssSelect(DeviceTensor<sbyte> high, DeviceTensor<sbyte> low, DeviceTensor<float> scales, DeviceTensor<sbyte>? xCodes,
                          DeviceTensor<float>? stepX, SamplingMode sampling, ulong seed, DeviceTensor<double> prob,
                          DeviceTensor<byte> keep, DeviceTensor<int> kept)
    {
        Same(nameof(high), high, _context);
        int n = high.Rows, c = high.Cols;
        Check(nameof(low), low, n, c);
        Check(nameof(scales), scales, 1, 3);
        if ((xCodes == null) != (stepX == null)) throw new ArgumentException("xCodes and stepX come together (∇W scores) or not at all (∇X scores).");
        int d = 0;
        if (xCodes != null)
        {
            Same(nameof(xCodes), xCodes, _context);
            if (xCodes.Rows != n) throw new ArgumentException($"xCodes must have N = {n} rows, it has {xCodes.Rows}.", nameof(xCodes));
            d = xCodes.Cols;
            Scalar(nameof(stepX), stepX!);
        }
        Check(nameof(prob), prob, 1, 2 * n);
        Check(nameof(keep), keep, 1, 2 * n);
        Check(nameof(kept), kept, 1, 2);
        Run(Interop.NativeMethods.int4train_lss_select(_context.Handle, high.Pointer, low.Pointer, scales.Pointer, xCodes?.Pointer ?? IntPtr.Zero,
            stepX?.Pointer ?? IntPtr.Zero, n, c, d, (int)sampling, seed, prob.Pointer, keep.Pointer, kept.Pointer), "int4train_lss_select");
    }

    /// <summary>LSS-MM for ∇(WH) (C×D), before the LSQ mask (§3.4).</summary>
    public void LssGradWeight(DeviceTensor<sbyte> high, DeviceTensor<sbyte> low, DeviceTensor<byte> xPacked, DeviceTensor<float> scales,
                              DeviceTensor<float> stepX, DeviceTensor<byte> keep, DeviceTensor<double> prob, DeviceTensor<float> gradWh)
    {
        var (n, c, d) = CheckLssOperands(high, low, xPacked, tokensPacked: true, scales, stepX, keep, prob);
        Check(nameof(gradWh), gradWh, c, d);
        Run(Interop.NativeMethods.int4train_lss_grad_weight(_context.Handle, high.Pointer, low.Pointer, xPacked.Pointer, scales.Pointer, stepX.Pointer,
            keep.Pointer, prob.Pointer, n, c, d, gradWh.Pointer), "int4train_lss_grad_weight");
    }

    /// <summary>LSS-MM for ∇(XH) (N×D), before the LSQ mask (§3.5); rows with nothing kept are exactly 0.</summary>
    public void LssGradInput(DeviceTensor<sbyte> high, DeviceTensor<sbyte> low, DeviceTensor<byte> wPacked, DeviceTensor<float> scales,
                             DeviceTensor<float> stepW, DeviceTensor<byte> keep, DeviceTensor<double> prob, DeviceTensor<float> gradXh)
    {
        var (n, c, d) = CheckLssOperands(high, low, wPacked, tokensPacked: false, scales, stepW, keep, prob);
        Check(nameof(gradXh), gradXh, n, d);
        Run(Interop.NativeMethods.int4train_lss_grad_input(_context.Handle, high.Pointer, low.Pointer, wPacked.Pointer, scales.Pointer, stepW.Pointer,
            keep.Pointer, prob.Pointer, n, c, d, gradXh.Pointer), "int4train_lss_grad_input");
    }

    /// <summary>Shapes shared by the two LSS-MM operators: digits N×C, the packed codes (X: N×D/2, or W: C×D/2), the
    /// split scales, one step, and the 2N selection.</summary>
    private (int N, int C, int D) CheckLssOperands(DeviceTensor<sbyte> high, DeviceTensor<sbyte> low, DeviceTensor<byte> packed,
        bool tokensPacked, DeviceTensor<float> scales, DeviceTensor<float> step, DeviceTensor<byte> keep, DeviceTensor<double> prob)
    {
        Same(nameof(high), high, _context);
        Same(nameof(packed), packed, _context);
        int n = high.Rows, c = high.Cols, d = 2 * packed.Cols;
        Check(nameof(low), low, n, c);
        Check(nameof(packed), packed, tokensPacked ? n : c, d / 2);
        Check(nameof(scales), scales, 1, 3);
        Scalar(nameof(step), step);
        Check(nameof(keep), keep, 1, 2 * n);
        Check(nameof(prob), prob, 1, 2 * n);
        return (n, c, d);
    }

    /// <summary>The whole backward of one INT4 linear layer (§3.8), without host synchronisation. With
    /// <paramref name="accumulate"/> ∇W, ∇b and the step gradients are added to what their tensors hold (one FP32 add
    /// per element), as a model summing micro-batches needs; ∇X is always overwritten.</summary>
    public void LinearBackward(DeviceTensor<float> gradY, DeviceTensor<float> x, DeviceTensor<float> w, DeviceTensor<byte> xPacked,
                               DeviceTensor<byte> wPacked, DeviceTensor<float> stepX, DeviceTensor<float> stepW, int group,
                               QuantMode mode, SamplingMode sampling, ulong seed, DeviceTensor<float> gradX, DeviceTensor<float> gradW,
                               DeviceTensor<float> gradStepX, DeviceTensor<float> gradStepW, DeviceTensor<float>? gradBias,
                               bool accumulate = false)
    {
        var (n, c, d) = CheckLinearBackward(gradY, x, w, xPacked, wPacked, stepX, stepW, group, gradX, gradW, gradStepX, gradStepW, gradBias);
        Run(Interop.NativeMethods.int4train_linear_backward(_context.Handle, gradY.Pointer, x.Pointer, w.Pointer, xPacked.Pointer, wPacked.Pointer,
            stepX.Pointer, stepW.Pointer, n, c, d, group, (int)mode, (int)sampling, seed, gradX.Pointer, gradW.Pointer,
            gradStepX.Pointer, gradStepW.Pointer, gradBias?.Pointer ?? IntPtr.Zero, accumulate ? 1 : 0), "int4train_linear_backward");
    }

    /// <summary>The argument rules of the layer backward for either activation type (∇Y, X and ∇X FP32 or BF16): X N×D,
    /// W C×D, G dividing D, ∇Y N×C, packed codes N×D/2 and C×D/2, scalar steps and step gradients, ∇X N×D, ∇W C×D,
    /// ∇b 1×C.</summary>
    private (int N, int C, int D) CheckLinearBackward<TAct>(DeviceTensor<TAct> gradY, DeviceTensor<TAct> x, DeviceTensor<float> w,
        DeviceTensor<byte> xPacked, DeviceTensor<byte> wPacked, DeviceTensor<float> stepX, DeviceTensor<float> stepW, int group,
        DeviceTensor<TAct> gradX, DeviceTensor<float> gradW, DeviceTensor<float> gradStepX, DeviceTensor<float> gradStepW,
        DeviceTensor<float>? gradBias) where TAct : unmanaged
    {
        var (n, c, d) = LayerShape(x, w);
        Guard.HadamardBlock(group, d);
        Check(nameof(gradY), gradY, n, c);
        Check(nameof(xPacked), xPacked, n, d / 2);
        Check(nameof(wPacked), wPacked, c, d / 2);
        Scalar(nameof(stepX), stepX);
        Scalar(nameof(stepW), stepW);
        Check(nameof(gradX), gradX, n, d);
        Check(nameof(gradW), gradW, c, d);
        Scalar(nameof(gradStepX), gradStepX);
        Scalar(nameof(gradStepW), gradStepW);
        if (gradBias != null) Check(nameof(gradBias), gradBias, 1, c);
        return (n, c, d);
    }
}
