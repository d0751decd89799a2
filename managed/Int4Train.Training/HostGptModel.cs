namespace Int4Train.Training;

/// <summary>
/// The host <see cref="Gpt"/> (float arrays, llm.c-style forward/backward) with its <see cref="AdamW"/> as an
/// <see cref="IGptModel"/>: the block linears run on an <see cref="Int4Backend"/> (the ILGPU reference on the CPU, or
/// the native library). The LSQ step sizes are one-element tensors ("h0.qkv.step_x" …) mirrored from/to the layers
/// around each optimiser step and in <see cref="ExportState"/>/<see cref="ImportState"/>.
/// </summary>
/// <remarks>Thread safety: not thread-safe, as the <see cref="Gpt"/>, <see cref="AdamW"/> and <see cref="Int4Backend"/> it holds: one thread at a time (the training step ZeroGrad → Forward → Backward → OptimizerStep on one thread).</remarks>
public sealed class HostGptModel : IGptModel
{
    private readonly Int4Backend _backend;
    private readonly bool _ownsBackend;

    /// <summary>Builds the model; the backend is borrowed unless <paramref name="ownsBackend"/> (then disposed with the model).</summary>
    public HostGptModel(GptConfig config, int vocabSize, Int4Backend backend, bool ownsBackend = false)
    {
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        _ownsBackend = ownsBackend;
        Model = new Gpt(config, vocabSize, backend);
        Optimizer = new AdamW(Model.Parameters);
    }

    /// <summary>The host GPT itself (parameters, gradients, the INT4 layers).</summary>
    public Gpt Model { get; }

    /// <summary>Its optimiser state.</summary>
    public AdamW Optimizer { get; }

    /// <inheritdoc />
    public GptConfig Config => Model.Config;

    /// <inheritdoc />
    public int VocabSize => Model.VocabSize;

    /// <inheritdoc />
    public long ParameterCount => Model.ParameterCount;

    /// <inheritdoc />
    public string Description => $"host GPT (CPU arrays), block linears {GptConfig.PrecisionName(Config.Precision)}" +
        (Config.Precision.IsInt4() ? $" on {_backend.Description}" : " (FP64-accumulated on the CPU)");

    /// <inheritdoc />
    public double Forward(int[] tokens, int[]? targets, int batch, long step, bool training) =>
        Model.Forward(tokens, targets, batch, step, training);

    /// <inheritdoc />
    public void Backward(float lossScale = 1f) => Model.Backward(lossScale);

    /// <inheritdoc />
    public void ZeroGrad() => Model.ZeroGrad();

    /// <inheritdoc />
    public void OptimizerStep(float learningRate)
    {
        Model.PullSteps();
        Optimizer.Step(Model.Parameters, Config, learningRate);
        Model.PushSteps();
    }

    /// <inheritdoc />
    public float[] NextTokenProbabilities(int sequence)
    {
        var probs = Model.Probabilities;
        int v = VocabSize, rows = probs.Length / v;
        if (rows == 0) throw new InvalidOperationException("NextTokenProbabilities needs a Forward first.");
        // the last forward's batch: rows = batch × t; the caller knows the batch, we know t from the row count per sequence
        int t = Model.LastSequenceLength, batch = rows / t;
        if ((uint)sequence >= (uint)batch)
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"The last forward had {batch} sequences.");
        return probs.AsSpan(((sequence + 1) * t - 1) * v, v).ToArray();
    }

    /// <inheritdoc />
    public IReadOnlyList<TensorState> ExportState()
    {
        Model.PullSteps();
        var ps = Model.Parameters;
        var r = new TensorState[ps.Count];
        for (int i = 0; i < ps.Count; i++)
            r[i] = new TensorState(ps[i].Name, (float[])ps[i].Data.Clone(), (float[])Optimizer.M[i].Clone(),
                (float[])Optimizer.V[i].Clone(), Optimizer.T[i]);
        return r;
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<TensorState> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var ps = Model.Parameters;
        if (state.Count != ps.Count)
            throw new ArgumentException($"{state.Count} tensors, the model has {ps.Count}.", nameof(state));
        for (int i = 0; i < ps.Count; i++)
        {
            var s = state[i];
            int n = ps[i].Data.Length;
            if (s.Name != ps[i].Name || s.Data.Length != n || s.M.Length != n || s.V.Length != n)
                throw new ArgumentException($"Tensor {i} is '{s.Name}' ({s.Data.Length}), the model expects '{ps[i].Name}' ({n}).", nameof(state));
            if (s.AdamSteps < 0) throw new ArgumentException($"Tensor '{s.Name}' has a negative AdamW step count {s.AdamSteps}.", nameof(state));
        }
        for (int i = 0; i < ps.Count; i++)
        {
            state[i].Data.CopyTo(ps[i].Data, 0);
            state[i].M.CopyTo(Optimizer.M[i], 0);
            state[i].V.CopyTo(Optimizer.V[i], 0);
            Optimizer.T[i] = state[i].AdamSteps;
        }
        Model.PushSteps();
    }

    /// <inheritdoc />
    public IReadOnlyList<LayerProgress> LayerProgress
    {
        get => Model.Linears.Select(l => new LayerProgress(l.StepCount, l.GroupSize)).ToArray();
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            var linears = Model.Linears.ToArray();
            if (value.Count != linears.Length)
                throw new ArgumentException($"{value.Count} layer progress entries, the model has {linears.Length} block linears.", nameof(value));
            for (int i = 0; i < linears.Length; i++) linears[i].RestoreProgress(value[i].StepCount, value[i].GroupSize);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsBackend) _backend.Dispose();
    }
}
