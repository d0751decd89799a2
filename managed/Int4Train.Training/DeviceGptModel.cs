namespace Int4Train.Training;

/// <summary>
/// The GPT resident on a CUDA device (<see cref="NativeGpt"/>, native/include/int4train_gpt.h): the same model,
/// initialisation, dropout masks, INT4 layer keys and AdamW as the host <see cref="Gpt"/>, with every tensor and
/// activation in device memory. A training step reads back only the loss. Block linears in the configured precision:
/// INT4 HQ+LSS, INT4 LSQ, BF16 or FP32 (cuBLAS); attention matmuls and the head use BF16 operands with FP32
/// accumulation (FP32 for the fp32 precision), docs/method.md §4.
/// </summary>
/// <remarks>Thread safety: not thread-safe, as the <see cref="NativeGpt"/> and <see cref="CudaContext"/> it holds: one thread at a time.</remarks>
public sealed class DeviceGptModel : IGptModel, IQueuedSteps
{
    private readonly NativeGpt _gpt;
    private readonly CudaContext _context;
    private readonly bool _ownsContext;
    private int _lastT;
    private readonly List<double?> _queued = []; // queued steps not read yet: null = in the native loss log

    /// <summary>Builds the model on the device of <paramref name="context"/> with the host model's initialisation.
    /// The caller keeps ownership of the context (dispose the model first). <paramref name="cudaGraphs"/>: queued
    /// training steps (<see cref="QueueStep"/>) replay as one CUDA graph each once the INT4 layers allow it (bit-identical
    /// to eager steps; off: every step is launched kernel by kernel).</summary>
    public DeviceGptModel(GptConfig config, int vocabSize, CudaContext context, bool cudaGraphs = true)
        : this(config, vocabSize, context, ownsContext: false, cudaGraphs) { }

    private DeviceGptModel(GptConfig config, int vocabSize, CudaContext context, bool ownsContext, bool cudaGraphs)
    {
        CudaGraphs = cudaGraphs;
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(context);
        config.Validate(vocabSize); // every size product too: no silent int wrap-around in an allocation
        Config = config;
        VocabSize = vocabSize;
        _context = context;
        _ownsContext = ownsContext;
        _gpt = CreateInitialised(context, NativeOptions(config, vocabSize), GptInit.Draw(config, vocabSize));
        ParameterCount = _gpt.Tensors.Where(t => !t.IsStepSize).Sum(t => t.Count);
        Description = $"CUDA {context.DeviceName} (sm_{context.ComputeCapability}): native GPT, block linears {config.Precision}";
    }

    /// <summary>A native model with the initial values <paramref name="init"/> (<see cref="GptInit.Draw"/>'s, by name)
    /// written to every tensor but the step sizes, which the draw leaves out: an INT4 layer initialises its own on its
    /// first training forward. Disposed again when a write fails (the GPU tests build variants this way too).</summary>
    internal static NativeGpt CreateInitialised(CudaContext context, NativeGptOptions options, IReadOnlyDictionary<string, float[]> init)
    {
        var gpt = new NativeGpt(context, options);
        try
        {
            foreach (var t in gpt.Tensors.Where(t => !t.IsStepSize))
                gpt.Write(t.Index, NativeGptBuffer.Value, init.TryGetValue(t.Name, out var values) ? values
                    : throw new ArgumentException($"The initial values have no tensor '{t.Name}'.", nameof(init)));
            return gpt;
        }
        catch
        {
            gpt.Dispose();
            throw;
        }
    }

    /// <summary>The native model of a configuration (the GPU tests build variants of it).</summary>
    internal static NativeGptOptions NativeOptions(GptConfig config, int vocabSize) => new()
    {
        Layers = config.Layers, Heads = config.Heads, Width = config.Width, Context = config.Context,
        MaxBatch = config.PassBatch, Vocab = vocabSize, Dropout = config.Dropout,
        Linear = config.BlockLinearOptions with { Seed = (ulong)config.Seed }, // the native side derives each layer's key from it
        StepSizeLrScale = config.StepSizeLrScale,
        Int4Classes = config.Int4Classes,
        SmoothAlpha = config.SmoothAlpha, SmoothClasses = config.SmoothClasses,
        Int4Ablation = config.Int4Ablation,
    };

    /// <summary>Creates a CUDA context on <paramref name="device"/> that the model owns and disposes.</summary>
    public static DeviceGptModel Create(GptConfig config, int vocabSize, int device = 0, bool cudaGraphs = true)
    {
        var ctx = CudaContext.Create(device);
        try { return new DeviceGptModel(config, vocabSize, ctx, ownsContext: true, cudaGraphs); }
        catch { ctx.Dispose(); throw; }
    }

    /// <summary>True when a CUDA device and the native library are present; otherwise the reason.</summary>
    public static bool IsAvailable(out string reason) => CudaContext.IsAvailable(out reason);

    /// <inheritdoc />
    public GptConfig Config { get; }
    /// <inheritdoc />
    public int VocabSize { get; }
    /// <inheritdoc />
    public long ParameterCount { get; }
    /// <inheritdoc />
    public string Description { get; }

    /// <summary>Whether queued training steps run as CUDA graphs.</summary>
    public bool CudaGraphs { get; }

    /// <summary>The native model (tensors by index, buffers).</summary>
    public NativeGpt Native => _gpt;

    /// <summary>Device memory the model holds: what it allocated (parameters, gradients, AdamW moments, activations
    /// sized for one pass of <see cref="GptConfig.PassBatch"/> sequences, its 32 MiB cuBLAS workspace) plus its
    /// context's workspace, which only grows, so after some steps this is the high-water mark of both (the CUDA context
    /// is not included, as PyTorch's max_memory_allocated leaves it out).</summary>
    public long DeviceMemoryBytes => _gpt.AllocatedBytes + _context.WorkspaceBytes;

    /// <inheritdoc />
    public IReadOnlyList<LayerProgress> LayerProgress
    {
        get => Enumerable.Range(0, _gpt.LinearCount).Select(i =>
        {
            var (steps, group) = _gpt.GetLayerProgress(i);
            return new LayerProgress(steps, group);
        }).ToArray();
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count != _gpt.LinearCount)
                throw new ArgumentException($"The model has {_gpt.LinearCount} block linears, got progress for {value.Count}.", nameof(value));
            for (int i = 0; i < value.Count; i++) _gpt.SetLayerProgress(i, value[i].StepCount, value[i].GroupSize);
        }
    }

    /// <inheritdoc />
    public double Forward(int[] tokens, int[]? targets, int batch, long step, bool training)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (batch < 1 || tokens.Length == 0 || tokens.Length % batch != 0)
            throw new ArgumentException($"tokens ({tokens.Length}) must be a non-empty batch × t array for batch {batch}.", nameof(tokens));
        if (batch > Config.PassBatch)
            throw new ArgumentException($"batch {batch} exceeds the sequences a pass holds ({Config.PassBatch}: the micro-batch, or the batch without one).", nameof(batch));
        int t = tokens.Length / batch;
        _lastT = t;
        float loss = _gpt.Forward(tokens, targets, batch, t, DropoutKey(step), training && targets is not null);
        if (targets is not null && !float.IsFinite(loss))
            throw new InvalidOperationException($"The loss is {loss} at step {step}: training diverged.");
        return targets is null ? double.NaN : loss;
    }

    // Hash.Key(seed, step, site) = Mix(key ^ site): the native side mixes in the site
    private ulong DropoutKey(long step) => Hash.Mix(Hash.Mix((ulong)Config.Seed) ^ (ulong)step);

    /// <inheritdoc />
    public void QueueStep(int[] tokens, int[] targets, int passBatch, int passes, long step, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(targets);
        if (passBatch < 1 || passBatch > Config.PassBatch)
            throw new ArgumentOutOfRangeException(nameof(passBatch), passBatch, $"A pass holds 1 … {Config.PassBatch} sequences.");
        if (passes < 1 || tokens.Length == 0 || tokens.Length % ((long)passes * passBatch) != 0)
            throw new ArgumentException($"tokens ({tokens.Length}) must be passes × passBatch × t for {passes} × {passBatch}.", nameof(tokens));
        int t = tokens.Length / (passes * passBatch);
        if (passes > NativeGpt.MaxPassesPerStep)
        {
            // More passes than one native step takes: the separate calls, the same arithmetic (each pass reads its loss).
            ZeroGrad();
            int len = passBatch * t;
            double loss = 0;
            for (int i = 0; i < passes; i++)
            {
                loss += Forward(tokens[(i * len)..((i + 1) * len)], targets[(i * len)..((i + 1) * len)], passBatch, Trainer.DropoutStep(step, i), true);
                Backward(1f / passes);
            }
            OptimizerStep(learningRate);
            _queued.Add(loss / passes);
            return;
        }
        _lastT = t;
        var keys = new ulong[passes];
        for (int i = 0; i < passes; i++) keys[i] = DropoutKey(Trainer.DropoutStep(step, i));
        _gpt.TrainStep(tokens, targets, passes, passBatch, t, keys, learningRate, Config.Beta1, Config.Beta2, AdamEps, Config.WeightDecay,
            Config.GradClip, CudaGraphs);
        _queued.Add(null);
    }

    /// <inheritdoc />
    public IReadOnlyList<double> ReadLosses()
    {
        var native = _gpt.ReadLosses();
        if (native.Count != _queued.Count(l => l is null))
            throw new InvalidOperationException($"The native loss log holds {native.Count} steps, {_queued.Count(l => l is null)} were queued.");
        int k = 0;
        var losses = _queued.Select(l => l ?? native[k++].Loss).ToArray();
        _queued.Clear();
        return losses;
    }

    /// <inheritdoc />
    public void Backward(float lossScale = 1f) => _gpt.Backward(lossScale);

    /// <inheritdoc />
    public void ZeroGrad() => _gpt.ZeroGrad();

    /// <inheritdoc />
    public void OptimizerStep(float learningRate) =>
        _gpt.AdamWStep(learningRate, Config.Beta1, Config.Beta2, AdamEps, Config.WeightDecay, Config.GradClip);

    private const float AdamEps = 1e-8f; // the host AdamW's

    /// <inheritdoc />
    public float[] NextTokenProbabilities(int sequence) => _gpt.Probabilities(sequence * _lastT + _lastT - 1);

    /// <inheritdoc />
    public IReadOnlyList<TensorState> ExportState() => _gpt.Tensors.Select(t => new TensorState(t.Name,
        _gpt.Read(t.Index), _gpt.Read(t.Index, NativeGptBuffer.AdamM), _gpt.Read(t.Index, NativeGptBuffer.AdamV), _gpt.AdamSteps(t.Index))).ToArray();

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<TensorState> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Count != _gpt.Tensors.Count)
            throw new InvalidDataException($"The state has {state.Count} tensors, the model {_gpt.Tensors.Count}.");
        for (int i = 0; i < state.Count; i++)
        {
            var t = _gpt.Tensors[i];
            var s = state[i];
            if (s.Name != t.Name || s.Data.Length != t.Count)
                throw new InvalidDataException($"Tensor {i} is '{s.Name}' ({s.Data.Length}), the model expects '{t.Name}' ({t.Count}).");
            _gpt.Write(i, NativeGptBuffer.Value, s.Data, s.AdamSteps);
            _gpt.Write(i, NativeGptBuffer.AdamM, s.M);
            _gpt.Write(i, NativeGptBuffer.AdamV, s.V);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _gpt.Dispose();
        if (_ownsContext) _context.Dispose();
    }
}
