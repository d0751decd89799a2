using Int4Train.Reference;
using Int4Train.Tests.Reference;

namespace Int4Train.Tests.Gpu;

/// <summary>One INT4 layer backward set up on the reference and on the device: the steps at 0.7× their initial value
/// (some clipping), the reference's forward and gradients, and the device inputs the native backward reads.</summary>
internal sealed class LayerBackwardCase : IDisposable
{
    public int N { get; }
    public int C { get; }
    public int D { get; }
    public int G { get; }
    public QuantMode Mode { get; }
    public SamplingMode Sampling { get; }
    public ulong Seed { get; }

    /// <summary>The reference layer's gradients (<see cref="Int4LinearReference.Backward"/>).</summary>
    public Int4LinearGradients Expected { get; }

    private readonly DeviceTensor<float> _gradY, _x, _w, _stepX, _stepW;
    private readonly DeviceTensor<byte> _xPacked, _wPacked;
    private readonly DeviceTensor<BFloat16> _gradY16, _x16;

    public LayerBackwardCase(CudaContext cuda, ReferenceDevice reference, float[] x, float[] w, float[] gradY, int n,
        int c, int d, int g, QuantMode mode, SamplingMode sampling, ulong seed)
    {
        (N, C, D, G, Mode, Sampling, Seed) = (n, c, d, g, mode, sampling, seed);
        var layer = new Int4LinearReference(reference);
        var hadamard = new HadamardTransform(reference);
        var lsq = new LsqQuantizer(reference);
        float sx = lsq.InitStep(hadamard.Apply(x, n, d, g)) * 0.7f, sw = lsq.InitStep(hadamard.Apply(w, c, d, g)) * 0.7f;
        var fwd = layer.Forward(x, w, n, c, d, g, sx, sw, mode);
        Expected = layer.Backward(gradY, x, w, fwd, sampling, seed);
        _x = cuda.Upload<float>(x, n, d);
        _w = cuda.Upload<float>(w, c, d);
        _gradY = cuda.Upload<float>(gradY, n, c);
        _xPacked = cuda.Upload<byte>(fwd.PackedX, n, d / 2);
        _wPacked = cuda.Upload<byte>(fwd.PackedW, c, d / 2);
        _stepX = cuda.Upload<float>(new[] { sx }, 1, 1);
        _stepW = cuda.Upload<float>(new[] { sw }, 1, 1);
        _gradY16 = cuda.Upload<BFloat16>(BFloat16.Narrow(gradY), n, c);
        _x16 = cuda.Upload<BFloat16>(BFloat16.Narrow(x), n, d);
    }

    /// <summary>The native layer backward (<c>int4train_linear_backward</c>) into the given outputs.</summary>
    public void RunNative(NativeOperators ops, DeviceTensor<float> gradX, DeviceTensor<float> gradW,
        DeviceTensor<float> gradStepX, DeviceTensor<float> gradStepW, DeviceTensor<float>? gradBias, bool accumulate = false) =>
        ops.LinearBackward(_gradY, _x, _w, _xPacked, _wPacked, _stepX, _stepW, G, Mode, Sampling, Seed, gradX, gradW,
            gradStepX, gradStepW, gradBias, accumulate);

    /// <summary>The native layer backward on BF16 activations (<c>int4train_linear_backward_typed</c>): ∇Y and X are
    /// the BF16 of the case's; it is the same layer input as <see cref="RunNative"/>'s when the case was made from
    /// BF16 values (<see cref="BFloat16.Round(float)"/>).</summary>
    public void RunNativeBf16(NativeOperators ops, DeviceTensor<BFloat16> gradX, DeviceTensor<float> gradW,
        DeviceTensor<float> gradStepX, DeviceTensor<float> gradStepW, DeviceTensor<float>? gradBias, bool accumulate = false) =>
        ops.LinearBackward(_gradY16, _x16, _w, _xPacked, _wPacked, _stepX, _stepW, G, Mode, Sampling, Seed, gradX, gradW,
            gradStepX, gradStepW, gradBias, accumulate);

    public void Dispose()
    {
        foreach (var t in new IDisposable[] { _gradY, _x, _w, _stepX, _stepW, _xPacked, _wPacked, _gradY16, _x16 }) t.Dispose();
    }
}
