using Int4Train.Reference;

namespace Int4Train;

/// <summary>The layer on the ILGPU reference operators (CPU or CUDA accelerator); each INT4 layer's policy is an
/// <see cref="Int4LayerPolicy"/> (<see cref="ReferenceLayerState"/>).</summary>
internal sealed class ReferenceLinearKernels(ReferenceDevice device, bool ownsDevice) : ILinearKernels
{
    private readonly Int4LinearReference _layer = new(device);
    private readonly HadamardTransform _hadamard = new(device);
    private readonly LsqQuantizer _lsq = new(device);
    private readonly BlockSizeSearch _search = new(device);

    /// <summary>The device the operators run on.</summary>
    public ReferenceDevice Device => device;

    public ILayerState CreateLayer(Int4LinearOptions options, int inFeatures, int outFeatures) =>
        new ReferenceLayerState(this, options, inFeatures, outFeatures);

    public float InitStep(float[] v, int rows, int cols, int group, float scale) =>
        _lsq.InitStep(_hadamard.Apply(v, rows, cols, group), QuantBits.Default, scale);

    public int SearchGroup(float[] x, float[] w, int n, int c, int d, QuantMode mode) => _search.Search(x, w, n, c, d, mode).GroupSize;

    public (float[] Y, byte[] PackedX, byte[] PackedW) Forward(float[] x, float[] w, float[]? bias, int n, int c, int d, int group,
        float stepX, float stepW, QuantMode mode)
    {
        var r = _layer.Forward(x, w, n, c, d, group, stepX, stepW, mode, bias);
        return (r.Y, r.PackedX, r.PackedW);
    }

    public LinearGradients Backward(float[] gradY, float[] x, float[] w, byte[] packedX, byte[] packedW, int n, int c, int d, int group,
        float stepX, float stepW, QuantMode mode, SamplingMode sampling, ulong seed)
    {
        var fwd = new HqForwardResult([], packedX, packedW, n, c, d, group, stepX, stepW, mode);
        var g = _layer.Backward(gradY, x, w, fwd, sampling, seed);
        return new LinearGradients(g.GradX, g.GradW, g.GradStepX, g.GradStepW, g.GradBias);
    }

    public void Dispose()
    {
        if (ownsDevice) device.Dispose();
    }
}
