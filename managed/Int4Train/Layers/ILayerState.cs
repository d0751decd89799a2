namespace Int4Train;

/// <summary>
/// One INT4 layer's training state on a backend: its policy (step count, Hadamard block size, step initialisation,
/// cold start, re-initialisation, the backward's key; docs/conventions.md "Layer policy") together with the forward
/// and backward that use it. The native backend keeps it in an <c>int4train_layer</c> (native/include/int4train_layer.h),
/// the reference backend in <see cref="Int4LayerPolicy"/>: the same rules, checked against each other by a GPU test.
/// </summary>
internal interface ILayerState
{
    /// <summary>Training forwards taken.</summary>
    int StepCount { get; }

    /// <summary>The Hadamard block size in use; null until the first forward chooses it.</summary>
    int? GroupSize { get; }

    /// <summary>The cold start is over: an optimiser may update the step sizes (App. A.4).</summary>
    bool StepsAreLearned { get; }

    /// <summary>Key of the next backward's randomness: options seed + step count.</summary>
    ulong BackwardKey { get; }

    /// <summary>The policy for one forward (a training one counts, an evaluation one changes no counter), then the HQ
    /// forward (§2.3). The steps are read and, when the policy (re)initialises them, written.</summary>
    (float[] Y, byte[] PackedX, byte[] PackedW) Forward(float[] x, float[] w, float[] bias, int n, ref float stepX, ref float stepW,
        bool training);

    /// <summary>The backward (§3.8) of the last training forward with the layer's block size, mode, sampling and key.</summary>
    LinearGradients Backward(float[] gradY, float[] x, float[] w, byte[] packedX, byte[] packedW, int n, float stepX, float stepW);

    /// <summary>Restores a checkpoint's progress; a positive step count marks the steps as initialised.</summary>
    void Restore(int stepCount, int? groupSize);
}
