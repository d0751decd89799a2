namespace Int4Train;

/// <summary>An INT4 layer's state on the ILGPU reference: <see cref="Int4LayerPolicy"/> around the reference kernels.</summary>
internal sealed class ReferenceLayerState(ReferenceLinearKernels kernels, Int4LinearOptions options, int inFeatures, int outFeatures)
    : ILayerState
{
    private readonly Int4LayerPolicy _policy = new(options);

    public int StepCount => _policy.StepCount;
    public int? GroupSize => _policy.GroupSize;
    public bool StepsAreLearned => _policy.StepsAreLearned;
    public ulong BackwardKey => _policy.BackwardKey;

    public (float[] Y, byte[] PackedX, byte[] PackedW) Forward(float[] x, float[] w, float[] bias, int n, ref float stepX, ref float stepW,
        bool training)
    {
        int d = inFeatures, c = outFeatures;
        float sx = stepX, sw = stepW;
        int group = _policy.Prepare(training, () => kernels.SearchGroup(x, w, n, c, d, options.Mode), g =>
        {
            sx = kernels.InitStep(x, n, d, g, options.StepInitScale); // κ·(§2.1's rule) on XH of this batch
            sw = kernels.InitStep(w, c, d, g, options.StepInitScale); // and on WH
        });
        stepX = sx;
        stepW = sw;
        Guard.Step(nameof(stepX), sx);
        Guard.Step(nameof(stepW), sw);
        return kernels.Forward(x, w, bias, n, c, d, group, sx, sw, options.Mode);
    }

    public LinearGradients Backward(float[] gradY, float[] x, float[] w, byte[] packedX, byte[] packedW, int n, float stepX, float stepW) =>
        kernels.Backward(gradY, x, w, packedX, packedW, n, outFeatures, inFeatures, _policy.GroupSize!.Value, stepX, stepW, options.Mode,
            options.Sampling, BackwardKey);

    public void Restore(int stepCount, int? groupSize) => _policy.Restore(stepCount, groupSize);
}
