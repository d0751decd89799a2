using System.Text;
using Int4Train.Interop;

namespace Int4Train;

/// <summary>Which per-tensor buffer of a <see cref="NativeGpt"/> to read or write.</summary>
public enum NativeGptBuffer
{
    /// <summary>The parameter values.</summary>
    Value = 0,
    /// <summary>The accumulated gradient.</summary>
    Gradient = 1,
    /// <summary>AdamW's first moment.</summary>
    AdamM = 2,
    /// <summary>AdamW's second moment.</summary>
    AdamV = 3,
}

/// <summary>Shape and arithmetic of a <see cref="NativeGpt"/> (native/include/int4train_gpt.h).</summary>
/// <remarks>Thread safety: immutable (init-only); safe to share.</remarks>
public sealed record NativeGptOptions
{
    /// <summary>Transformer blocks.</summary>
    public required int Layers { get; init; }
    /// <summary>Attention heads.</summary>
    public required int Heads { get; init; }
    /// <summary>Embedding width C.</summary>
    public required int Width { get; init; }
    /// <summary>Context length T.</summary>
    public required int Context { get; init; }
    /// <summary>Sequences per forward at most (buffers are sized for it).</summary>
    public required int MaxBatch { get; init; }
    /// <summary>Vocabulary size V.</summary>
    public required int Vocab { get; init; }
    /// <summary>Dropout probability.</summary>
    public float Dropout { get; init; }
    /// <summary>The block linears: precision and the INT4 layer policy (one options type with <see cref="Int4Linear"/>).
    /// <see cref="Int4LinearOptions.Seed"/> is the model's seed: block linear 4·l + k (qkv, proj, up, down) keys its
    /// randomness with the host model's Hash.Key(seed, l, k) (<see cref="NativeGpt.LayerKey"/>).</summary>
    public Int4LinearOptions Linear { get; init; } = new();
    /// <summary>The INT4 step sizes' AdamW learning rate is this multiple of the step's (docs/method.md §3.9): 1 the
    /// same rate as the weights (unchanged arithmetic), 0 frozen after the cold start; finite, at least 0.</summary>
    public float StepSizeLrScale { get; init; } = 1f;
    /// <summary>Of an INT4 precision: the block-linear classes that run INT4; the others run as the bf16 precision runs
    /// them (BF16 operands, FP32 accumulation, no step sizes). <see cref="GptLinearClasses.All"/> (the default) for
    /// every other precision.</summary>
    public GptLinearClasses Int4Classes { get; init; } = GptLinearClasses.All;
    /// <summary>Per-input-channel smoothing (SmoothQuant's migration, docs/conventions.md "Per-input-channel smoothing"):
    /// the exponent α of m = max|X|^α / max|W|^(1−α); 0 (the default) off, else in (0, 1]. The smoothed linears must be
    /// INT4 or fp32 ones (in fp32 the smoothing is exact in real arithmetic, a check of the implementation).</summary>
    public float SmoothAlpha { get; init; }
    /// <summary>The block-linear classes <see cref="SmoothAlpha"/> smooths (unused while it is 0); not empty.</summary>
    public GptLinearClasses SmoothClasses { get; init; } = GptLinearClasses.Qkv | GptLinearClasses.Up;
    /// <summary>Issue 15's diagnostic ablation of the INT4 block linears (<see cref="Int4Ablation"/>): another than
    /// <see cref="Int4Ablation.None"/> (the default) only with an INT4 precision.</summary>
    public Int4Ablation Int4Ablation { get; init; }
}

/// <summary>One tensor of a <see cref="NativeGpt"/>: name, element count, weight-decay group, whether it is a step size.</summary>
/// <remarks>Thread safety: immutable; safe to share.</remarks>
public sealed record NativeGptTensor(int Index, string Name, long Count, bool Decay, bool IsStepSize);

/// <summary>
/// A decoder-only GPT resident on a CUDA device (native/include/int4train_gpt.h): parameters, gradients, AdamW state
/// and activations live in device memory; forward, backward and the optimiser step queue work on the context's
/// stream with no host round trip (a loss or a norm is read back only when asked). The block linears are the INT4
/// layer (HQ forward, bit split + LSS backward) or a cuBLAS BF16/FP32 baseline. Dispose it before its context: a model
/// not disposed stays allocated (the GC does not free it) until its context's Dispose frees it with a warning; calls
/// after that throw <see cref="ObjectDisposedException"/>.
/// </summary>
/// <remarks>Thread safety: not thread-safe. The model queues work on its context's one stream and keeps its activations between Forward and Backward: call it from one thread at a time, and only while no other user of the same <see cref="CudaContext"/> is running.</remarks>
public sealed class NativeGpt : IDisposable
{
    private readonly CudaContext _context;
    private readonly GptSafeHandle _handle;
    private readonly NativeGptTensor[] _tensors;

    /// <summary>Allocates the model on the context's device: parameters zero except LayerNorm gains (one); set initial
    /// values with <see cref="Write"/>.</summary>
    public NativeGpt(CudaContext context, NativeGptOptions options)
    {
        _context = context ?? throw new ArgumentNullException(nameof(context));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(options.Linear, nameof(options.Linear));
        var cfg = new GptConfigNative
        {
            Layers = options.Layers, Heads = options.Heads, Width = options.Width, Context = options.Context,
            MaxBatch = options.MaxBatch, Vocab = options.Vocab, Dropout = options.Dropout, Linear = LayerOptionsNative.From(options.Linear),
            StepLrScale = options.StepSizeLrScale,
            Bf16Classes = (int)(GptLinearClasses.All & ~options.Int4Classes), // native: 0 = every class INT4
            SmoothAlpha = options.SmoothAlpha,
            SmoothClasses = options.SmoothAlpha == 0 ? 0 : (int)options.SmoothClasses, // native: 0 while off
            Int4Ablation = (int)options.Int4Ablation,
        };
        NativeStatus.Check(NativeMethods.int4train_gpt_create(context.Handle, in cfg, out _handle), "int4train_gpt_create"); // Handle binds the CUDA context
        _handle.Attach(context);
        context.Dependents.Add(_handle);
        try
        {
            NativeStatus.Check(NativeMethods.int4train_gpt_tensor_count(_handle, out int count), "int4train_gpt_tensor_count");
            _tensors = new NativeGptTensor[count];
            for (int i = 0; i < count; i++)
            {
                var (name, numel, decay, isStep, _) = Info(i);
                _tensors[i] = new NativeGptTensor(i, name, numel, decay, isStep);
            }
        }
        catch
        {
            Dispose(); // no half-built model left to the context's Dispose
            throw;
        }
    }

    /// <summary>The options it was built with.</summary>
    public NativeGptOptions Options { get; }

    /// <summary>Every tensor, in the checkpoint order of the host model.</summary>
    public IReadOnlyList<NativeGptTensor> Tensors => _tensors;

    /// <summary>Number of block linears (4 per layer).</summary>
    public int LinearCount => 4 * Options.Layers;

    private GptSafeHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            _ = _context.Handle; // binds the CUDA context on this thread (and checks it is alive)
            return _handle;
        }
    }

    private (string Name, long Numel, bool Decay, bool IsStep, int AdamSteps) Info(int index)
    {
        unsafe
        {
            byte* name = stackalloc byte[128];
            NativeStatus.Check(NativeMethods.int4train_gpt_tensor_info(Handle, index, name, 128, out long numel, out int decay,
                out int isStep, out int adam), "int4train_gpt_tensor_info");
            return (Encoding.UTF8.GetString(name, new ReadOnlySpan<byte>(name, 128).IndexOf((byte)0)), numel, decay != 0, isStep != 0, adam);
        }
    }

    private NativeGptTensor Tensor(int index) =>
        (uint)index < (uint)_tensors.Length ? _tensors[index]
            : throw new ArgumentOutOfRangeException(nameof(index), index, $"The model has {_tensors.Length} tensors.");

    /// <summary>AdamW steps taken by a tensor (its bias-correction count).</summary>
    public int AdamSteps(int index) { Tensor(index); return Info(index).AdamSteps; }

    /// <summary>Copies a tensor's values, gradient or moment to a new host array (synchronises).</summary>
    public float[] Read(int index, NativeGptBuffer buffer = NativeGptBuffer.Value)
    {
        var t = Tensor(index);
        var host = new float[t.Count];
        unsafe
        {
            fixed (float* p = host)
                NativeStatus.Check(NativeMethods.int4train_gpt_tensor_get(Handle, index, (int)buffer, p, t.Count), "int4train_gpt_tensor_get");
        }
        return host;
    }

    /// <summary>Writes a tensor's values, gradient or moment; <paramref name="adamSteps"/> ≥ 0 also sets its AdamW step count.</summary>
    public void Write(int index, NativeGptBuffer buffer, ReadOnlySpan<float> values, int adamSteps = -1)
    {
        var t = Tensor(index);
        if (values.Length != t.Count)
            throw new ArgumentException($"{t.Name} has {t.Count} elements, got {values.Length}.", nameof(values));
        unsafe
        {
            fixed (float* p = values)
                NativeStatus.Check(NativeMethods.int4train_gpt_tensor_set(Handle, index, (int)buffer, p, t.Count, adamSteps), "int4train_gpt_tensor_set");
        }
    }

    /// <summary>A block linear's training forwards and Hadamard block size (null before the search).</summary>
    public (int StepCount, int? Group) GetLayerProgress(int linear)
    {
        NativeStatus.Check(NativeMethods.int4train_gpt_layer_progress(Handle, linear, out int steps, out int group), "int4train_gpt_layer_progress");
        return (steps, group == 0 ? null : group);
    }

    /// <summary>The key a block linear's backward randomness starts from (its layer options' seed).</summary>
    public ulong LayerKey(int linear)
    {
        NativeStatus.Check(NativeMethods.int4train_gpt_layer_key(Handle, linear, out ulong key), "int4train_gpt_layer_key");
        return key;
    }

    /// <summary>Restores a block linear's progress (a resumed layer keeps the step sizes written to it).</summary>
    public void SetLayerProgress(int linear, int stepCount, int? group) =>
        NativeStatus.Check(NativeMethods.int4train_gpt_set_layer_progress(Handle, linear, stepCount, group ?? 0), "int4train_gpt_set_layer_progress");

    /// <summary>
    /// Forward of <paramref name="batch"/> sequences of <paramref name="t"/> tokens. Returns the mean cross-entropy when
    /// <paramref name="readLoss"/> and targets are given (this synchronises), else NaN. A training forward (dropout on,
    /// keyed by <paramref name="dropoutKey"/>) keeps the activations for <see cref="Backward"/>.
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int t, ulong dropoutKey, bool training, bool readLoss = true)
    {
        if (batch < 1 || t < 1 || tokens.Length != (long)batch * t)
            throw new ArgumentException($"tokens has {tokens.Length} entries; expected batch × t = {batch} × {t}.", nameof(tokens));
        bool hasTargets = !targets.IsEmpty;
        if (hasTargets && targets.Length != tokens.Length)
            throw new ArgumentException($"targets has {targets.Length} entries, tokens {tokens.Length}.", nameof(targets));
        float loss = float.NaN;
        unsafe
        {
            fixed (int* tok = tokens)
            fixed (int* tgt = targets)
                NativeStatus.Check(NativeMethods.int4train_gpt_forward(Handle, tok, hasTargets ? tgt : null, batch, t, dropoutKey,
                    training ? 1 : 0, readLoss && hasTargets ? &loss : null), "int4train_gpt_forward");
        }
        return loss;
    }

    /// <summary>Backward of the last training forward: accumulates every gradient of <paramref name="lossScale"/> × its
    /// mean loss (asynchronous; gradient accumulation passes M/B per pass of M sequences in a step of B).</summary>
    public void Backward(float lossScale = 1f)
    {
        if (!float.IsFinite(lossScale)) throw new ArgumentOutOfRangeException(nameof(lossScale), lossScale, "The loss scale must be finite.");
        NativeStatus.Check(NativeMethods.int4train_gpt_backward_scaled(Handle, lossScale), "int4train_gpt_backward_scaled");
    }

    /// <summary>Bytes of device memory the model allocated (parameters, gradients, AdamW moments, activations,
    /// scratch, its cuBLAS workspace, the train step's token staging); the context's workspace comes on top.</summary>
    public long AllocatedBytes
    {
        get
        {
            NativeStatus.Check(NativeMethods.int4train_gpt_memory(Handle, out long bytes), "int4train_gpt_memory");
            return bytes;
        }
    }

    /// <summary>Zeroes every gradient (asynchronous).</summary>
    public void ZeroGrad() => NativeStatus.Check(NativeMethods.int4train_gpt_zero_grad(Handle), "int4train_gpt_zero_grad");

    /// <summary>Global-norm clipping and one AdamW update; returns the norm before clipping when <paramref name="readNorm"/>
    /// (synchronises), else NaN.</summary>
    public float AdamWStep(float learningRate, float beta1, float beta2, float eps, float weightDecay, float gradClip, bool readNorm = false)
    {
        var p = new GptAdamWNative
        {
            LearningRate = learningRate, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, GradClip = gradClip,
        };
        float norm = float.NaN;
        unsafe
        {
            NativeStatus.Check(NativeMethods.int4train_gpt_adamw_step(Handle, in p, readNorm ? &norm : null), "int4train_gpt_adamw_step");
        }
        return norm;
    }

    /// <summary>Passes a <see cref="TrainStep"/> takes at most (INT4TRAIN_GPT_MAX_PASSES).</summary>
    public const int MaxPassesPerStep = 256;

    /// <summary>
    /// Queues one whole training step with no host synchronisation (int4train_gpt_train_step): zero the gradients,
    /// <paramref name="passes"/> forward + backward passes of <paramref name="batch"/> × <paramref name="t"/> tokens
    /// (pass i: rows i·batch … (i+1)·batch − 1 of <paramref name="tokens"/> and <paramref name="targets"/>, dropout keyed
    /// by <paramref name="dropoutKeys"/>[i], gradient scaled by 1/passes), clipping and AdamW. With
    /// <paramref name="useGraph"/> the step replays as one CUDA graph once the INT4 layers' policy allows it (bit-identical
    /// to the eager step). Its mean loss and gradient norm wait in the loss log for <see cref="ReadLosses"/>.
    /// </summary>
    public void TrainStep(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int passes, int batch, int t, ReadOnlySpan<ulong> dropoutKeys,
        float learningRate, float beta1, float beta2, float eps, float weightDecay, float gradClip, bool useGraph = true)
    {
        if (passes < 1 || batch < 1 || t < 1 || tokens.Length != (long)passes * batch * t)
            throw new ArgumentException($"tokens has {tokens.Length} entries; expected passes × batch × t = {passes} × {batch} × {t}.", nameof(tokens));
        if (targets.Length != tokens.Length)
            throw new ArgumentException($"targets has {targets.Length} entries, tokens {tokens.Length}.", nameof(targets));
        if (dropoutKeys.Length != passes)
            throw new ArgumentException($"dropoutKeys has {dropoutKeys.Length} entries; expected one per pass ({passes}).", nameof(dropoutKeys));
        var p = new GptAdamWNative
        {
            LearningRate = learningRate, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, GradClip = gradClip,
        };
        unsafe
        {
            fixed (int* tok = tokens)
            fixed (int* tgt = targets)
            fixed (ulong* keys = dropoutKeys)
                NativeStatus.Check(NativeMethods.int4train_gpt_train_step(Handle, tok, tgt, passes, batch, t, keys, in p, useGraph ? 1 : 0),
                    "int4train_gpt_train_step");
        }
    }

    /// <summary>The mean loss and gradient norm (before clipping) of every <see cref="TrainStep"/> not read yet, oldest
    /// first (synchronises with the device).</summary>
    public IReadOnlyList<(double Loss, float GradNorm)> ReadLosses()
    {
        const int chunk = 1024;
        var rows = new List<(double, float)>();
        var loss = new double[chunk];
        var norm = new float[chunk];
        int count;
        do
        {
            unsafe
            {
                fixed (double* l = loss)
                fixed (float* g = norm)
                    NativeStatus.Check(NativeMethods.int4train_gpt_read_losses(Handle, l, g, chunk, out count), "int4train_gpt_read_losses");
            }
            for (int i = 0; i < count; i++) rows.Add((loss[i], norm[i]));
        } while (count == chunk);
        return rows;
    }

    /// <summary>How <see cref="TrainStep"/> ran so far: steps run eagerly, captured as a CUDA graph, replayed.</summary>
    public (long Eager, long Captured, long Replayed) StepStats
    {
        get
        {
            NativeStatus.Check(NativeMethods.int4train_gpt_step_stats(Handle, out long eager, out long captured, out long replayed), "int4train_gpt_step_stats");
            return (eager, captured, replayed);
        }
    }

    /// <summary>Next-token probabilities (V) of token row <paramref name="row"/> (sequence·t + position) of the last forward.</summary>
    public float[] Probabilities(int row)
    {
        var probs = new float[Options.Vocab];
        unsafe
        {
            fixed (float* p = probs)
                NativeStatus.Check(NativeMethods.int4train_gpt_probabilities(Handle, row, p), "int4train_gpt_probabilities");
        }
        return probs;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _context.Dependents.Remove(_handle);
        _handle.Dispose();
    }
}
