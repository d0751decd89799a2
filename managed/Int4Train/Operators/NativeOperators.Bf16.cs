using Int4Train.Interop;

namespace Int4Train;

// The INT4 layer on BF16 activations (int4train_*_typed, INT4TRAIN_DTYPE_BF16; docs/conventions.md "BF16 activations
// of the INT4 layer"): X and ∇Y are read as BF16 and widened exactly, every code, digit and FP32 gradient is the FP32
// path's on the widened tensors, Y and ∇X are written as the round-to-nearest-even BF16 of the FP32 results. Half the
// activation bytes; W, the bias, the step sizes and their gradients stay FP32. Same argument rules as the FP32 methods.
public sealed partial class NativeOperators
{
    /// <summary>HQ-MM forward (§2.3) with X (N×D) and Y (N×C) in BF16: the packed codes are, bit for bit, the FP32
    /// <see cref="HqForward(DeviceTensor{float}, DeviceTensor{float}, DeviceTensor{float}?, DeviceTensor{float}, DeviceTensor{float}, int, QuantMode, DeviceTensor{float}, DeviceTensor{byte}, DeviceTensor{byte})"/>'s
    /// on the widened X, and Y is that call's FP32 Y rounded to nearest even.</summary>
    public void HqForward(DeviceTensor<BFloat16> x, DeviceTensor<float> w, DeviceTensor<float>? bias, DeviceTensor<float> stepX,
                          DeviceTensor<float> stepW, int group, QuantMode mode, DeviceTensor<BFloat16> y,
                          DeviceTensor<byte> xPacked, DeviceTensor<byte> wPacked)
    {
        var (n, c, d) = CheckHqForward(x, w, bias, stepX, stepW, group, y, xPacked, wPacked);
        Run(NativeMethods.int4train_hq_forward_typed(_context.Handle, NativeMethods.INT4TRAIN_DTYPE_BF16, x.Pointer, w.Pointer,
            bias?.Pointer ?? IntPtr.Zero, stepX.Pointer, stepW.Pointer, n, c, d, group, (int)mode, y.Pointer, xPacked.Pointer,
            wPacked.Pointer), "int4train_hq_forward_typed");
    }

    /// <summary>The layer backward (§3.8) with ∇Y (N×C), X (N×D) and ∇X (N×D) in BF16: ∇W, ∇b and both step gradients
    /// are, bit for bit, what the FP32 <c>LinearBackward</c> writes for the widened ∇Y and X, and ∇X is its FP32 ∇X
    /// rounded to nearest even. <paramref name="accumulate"/> as in the FP32 method (∇X is always overwritten). Takes
    /// N×D FP32 of extra native workspace (∇(XH) is built there, not in ∇X).</summary>
    public void LinearBackward(DeviceTensor<BFloat16> gradY, DeviceTensor<BFloat16> x, DeviceTensor<float> w, DeviceTensor<byte> xPacked,
                               DeviceTensor<byte> wPacked, DeviceTensor<float> stepX, DeviceTensor<float> stepW, int group,
                               QuantMode mode, SamplingMode sampling, ulong seed, DeviceTensor<BFloat16> gradX, DeviceTensor<float> gradW,
                               DeviceTensor<float> gradStepX, DeviceTensor<float> gradStepW, DeviceTensor<float>? gradBias,
                               bool accumulate = false)
    {
        var (n, c, d) = CheckLinearBackward(gradY, x, w, xPacked, wPacked, stepX, stepW, group, gradX, gradW, gradStepX, gradStepW, gradBias);
        Run(NativeMethods.int4train_linear_backward_typed(_context.Handle, NativeMethods.INT4TRAIN_DTYPE_BF16, gradY.Pointer, x.Pointer,
            w.Pointer, xPacked.Pointer, wPacked.Pointer, stepX.Pointer, stepW.Pointer, n, c, d, group, (int)mode, (int)sampling, seed,
            gradX.Pointer, gradW.Pointer, gradStepX.Pointer, gradStepW.Pointer, gradBias?.Pointer ?? IntPtr.Zero, accumulate ? 1 : 0),
            "int4train_linear_backward_typed");
    }
}
