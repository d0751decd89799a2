namespace Int4Train.Tests.Gpu;

/// <summary>The FP32 operands of one device HQ-MM forward (W, bias, the two step sizes) and its packed-code outputs;
/// X and Y are the caller's, in FP32 or BF16.</summary>
internal sealed class HqForwardOperands : IDisposable
{
    public HqForwardOperands(CudaContext cuda, float[] w, float[] bias, float stepX, float stepW, int n, int c, int d)
    {
        W = cuda.Upload<float>(w, c, d);
        Bias = cuda.Upload<float>(bias, 1, c);
        StepX = cuda.Upload<float>(new[] { stepX }, 1, 1);
        StepW = cuda.Upload<float>(new[] { stepW }, 1, 1);
        PackedX = cuda.Allocate<byte>(n, d / 2);
        PackedW = cuda.Allocate<byte>(c, d / 2);
    }

    public DeviceTensor<float> W { get; }
    public DeviceTensor<float> Bias { get; }
    public DeviceTensor<float> StepX { get; }
    public DeviceTensor<float> StepW { get; }
    public DeviceTensor<byte> PackedX { get; }
    public DeviceTensor<byte> PackedW { get; }

    /// <summary><c>int4train_hq_forward</c>: FP32 X and Y.</summary>
    public void Run(NativeOperators ops, DeviceTensor<float> x, int group, QuantMode mode, DeviceTensor<float> y) =>
        ops.HqForward(x, W, Bias, StepX, StepW, group, mode, y, PackedX, PackedW);

    /// <summary><c>int4train_hq_forward_typed</c>: BF16 X and Y.</summary>
    public void Run(NativeOperators ops, DeviceTensor<BFloat16> x, int group, QuantMode mode, DeviceTensor<BFloat16> y) =>
        ops.HqForward(x, W, Bias, StepX, StepW, group, mode, y, PackedX, PackedW);

    public void Dispose()
    {
        foreach (var t in new IDisposable[] { W, Bias, StepX, StepW, PackedX, PackedW }) t.Dispose();
    }
}
