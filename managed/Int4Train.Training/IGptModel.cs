namespace Int4Train.Training;

/// <summary>One trainable tensor's state as a checkpoint stores it: values, AdamW moments and AdamW step count.</summary>
/// <remarks>Thread safety: the record is immutable but its arrays are not: do not write them while another thread reads them.</remarks>
public sealed record TensorState(string Name, float[] Data, float[] M, float[] V, int AdamSteps);

/// <summary>An INT4 layer's progress a checkpoint stores: forward steps taken (cold start, Philox key) and the
/// Hadamard block size in use (null before the search).</summary>
/// <remarks>Thread safety: immutable value; safe to share.</remarks>
public readonly record struct LayerProgress(int StepCount, int? GroupSize);

/// <summary>
/// A GPT the <see cref="Trainer"/> drives, on either side of the bus: <see cref="HostGptModel"/> (host arrays, INT4
/// layers on the ILGPU reference or the native backend) or <see cref="DeviceGptModel"/> (everything resident on a
/// CUDA device, no host round trips in the step). The training step is ZeroGrad → Forward → Backward →
/// OptimizerStep.
/// </summary>
/// <remarks>Thread safety: implementations are not thread-safe: drive a model from one thread at a time.</remarks>
public interface IGptModel : IDisposable
{
    /// <summary>The configuration.</summary>
    GptConfig Config { get; }

    /// <summary>Vocabulary size V.</summary>
    int VocabSize { get; }

    /// <summary>Number of scalars in the tensors (step sizes excluded).</summary>
    long ParameterCount { get; }

    /// <summary>Where and how it runs, for logs ("CPU host, INT4 layers on …", "CUDA NVIDIA H100 …").</summary>
    string Description { get; }

    /// <summary>Mean cross-entropy of a batch (tokens: batch × t, t ≤ context); NaN without targets. Keeps what
    /// <see cref="Backward"/> needs. <paramref name="step"/> keys the dropout masks (only when training).</summary>
    double Forward(int[] tokens, int[]? targets, int batch, long step, bool training);

    /// <summary>Gradients of <paramref name="lossScale"/> × the last forward's mean loss (it had targets), accumulated:
    /// a step of B sequences run as passes of M scales each by M/B (gradient accumulation, <see cref="GptConfig.MicroBatch"/>).</summary>
    void Backward(float lossScale = 1f);

    /// <summary>Zeroes every gradient.</summary>
    void ZeroGrad();

    /// <summary>Global-norm clipping and one AdamW update at <paramref name="learningRate"/> (INT4 step sizes only
    /// once their cold start is over).</summary>
    void OptimizerStep(float learningRate);

    /// <summary>Next-token probabilities (V) at the last position of sequence <paramref name="sequence"/> of the last
    /// forward.</summary>
    float[] NextTokenProbabilities(int sequence);

    /// <summary>Every tensor with its optimiser state, in the checkpoint's fixed order.</summary>
    IReadOnlyList<TensorState> ExportState();

    /// <summary>Restores tensors and optimiser state (same names and sizes, same order as <see cref="ExportState"/>).</summary>
    void ImportState(IReadOnlyList<TensorState> state);

    /// <summary>Progress of each block linear (h0.qkv, h0.proj, h0.up, h0.down, h1.qkv …); settable for a resume.</summary>
    IReadOnlyList<LayerProgress> LayerProgress { get; set; }
}
