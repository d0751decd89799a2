namespace Int4Train.Training;

/// <summary>A trainable tensor and its gradient, as the optimiser sees it. An INT4 layer's LSQ step size is a
/// one-element parameter mirrored from/to the layer (<see cref="Gpt.PullSteps"/>, <see cref="Gpt.PushSteps"/>).</summary>
/// <remarks>Thread safety: not thread-safe; plain arrays the model and the optimiser write in turn on one thread.</remarks>
public sealed class Parameter
{
    internal Parameter(string name, float[] data, float[] grad, bool decay, Int4Linear? stepOwner = null, bool isStepX = false)
    {
        Name = name; Data = data; Grad = grad; Decay = decay; StepOwner = stepOwner; IsStepX = isStepX;
    }

    /// <summary>Unique name ("h0.qkv.weight", "wte", "h1.fc.step_x" …).</summary>
    public string Name { get; }
    /// <summary>Values.</summary>
    public float[] Data { get; }
    /// <summary>Accumulated ∂L/∂Data.</summary>
    public float[] Grad { get; }
    /// <summary>Weight decay applies (nanoGPT's groups: every 2-D tensor, i.e. the linear weights and both embeddings; not biases, norms, steps).</summary>
    public bool Decay { get; }
    /// <summary>For a step-size parameter: its layer.</summary>
    public Int4Linear? StepOwner { get; }
    internal bool IsStepX { get; }

    /// <summary>Whether the optimiser updates it now (a step size only once its layer's cold start is over).</summary>
    public bool IsActive => StepOwner is null || StepOwner.StepsAreLearned;
}
