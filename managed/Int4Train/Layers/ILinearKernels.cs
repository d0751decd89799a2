namespace Int4Train;

/// <summary>A backend of <see cref="Int4Linear"/> (ILGPU reference or native CUDA): it makes each INT4 layer's state.</summary>
internal interface ILinearKernels : IDisposable
{
    /// <summary>The training state of one INT4 layer of <paramref name="inFeatures"/> → <paramref name="outFeatures"/>.</summary>
    ILayerState CreateLayer(Int4LinearOptions options, int inFeatures, int outFeatures);
}

/// <summary>Gradients of one backward call.</summary>
internal sealed record LinearGradients(float[] GradX, float[] GradW, double GradStepX, double GradStepW, float[] GradBias);
