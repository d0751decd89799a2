namespace Int4Train;

/// <summary>The INT4 layer's operations on one backend (ILGPU reference or native CUDA), on host arrays.</summary>
internal interface ILinearKernels : IDisposable
{
    float InitStep(float[] v, int rows, int cols, int group);
    int SearchGroup(float[] x, float[] w, int n, int c, int d, QuantMode mode);
    (float[] Y, byte[] PackedX, byte[] PackedW) Forward(float[] x, float[] w, float[]? bias, int n, int c, int d, int group,
        float stepX, float stepW, QuantMode mode);
    LinearGradients Backward(float[] gradY, float[] x, float[] w, byte[] packedX, byte[] packedW, int n, int c, int d, int group,
        float stepX, float stepW, QuantMode mode, SamplingMode sampling, ulong seed);
}

/// <summary>Gradients of one backward call.</summary>
internal sealed record LinearGradients(float[] GradX, float[] GradW, double GradStepX, double GradStepW, float[] GradBias);
