using CommunityToolkit.HighPerformance;

namespace Int4Train;

/// <summary>
/// A linear layer <c>Y = X·Wᵀ + b</c> (X: tokens × in, W: out × in) whose three GEMMs run in INT4 as the paper
/// describes: HQ forward (§2.3), bit split + LSS backward (§3.8), learnable LSQ step sizes with their gradients, the
/// Hadamard block size chosen on the first batch, the bias in floating point. The training policy (step count, block
/// size, step initialisation, cold start, re-initialisation, the backward's key) is the backend's layer state
/// (<see cref="ILayerState"/>; docs/conventions.md "Layer policy"): only a training forward advances it. <see cref="LinearPrecision.Fp32"/>
/// and <see cref="LinearPrecision.Bf16"/> are the
/// baselines. Explicit forward/backward in the style of llm.c: <see cref="Forward(ReadOnlySpan{float}, int, bool)"/> keeps what the backward
/// needs (the input and the packed INT4 codes, 0.5 byte per input element); <see cref="Backward(ReadOnlySpan{float})"/> accumulates the
/// parameter gradients and returns ∇X. Parameters and gradients are plain host arrays an optimiser can update.
/// </summary>
/// <remarks>
/// <para>NaN/Inf, the same in every precision: a non-finite X or ∇Y throws <see cref="ArgumentException"/>; a non-finite
/// <see cref="Weight"/>, <see cref="Bias"/> or accumulated gradient throws <see cref="InvalidOperationException"/>; a
/// result that overflows FP32 from finite inputs throws <see cref="InvalidOperationException"/> and leaves the layer
/// unchanged. Every message names the tensor and the first bad index.</para>
/// <para>Thread safety: not thread-safe; an instance belongs to one thread at a time. A call that overlaps another call on
/// the same layer, or an INT4 call that overlaps another on the same <see cref="Int4Backend"/>, throws
/// <see cref="InvalidOperationException"/> instead of mixing state. A <see cref="Backward(ReadOnlySpan{float})"/> must run
/// on the thread that ran the <see cref="Forward(ReadOnlySpan{float}, int, bool)"/> it differentiates (the layer keeps that
/// forward's input), else it throws. Distinct layers on distinct backends may run in parallel.</para>
/// </remarks>
public sealed class Int4Linear
{
    private readonly ILayerState? _state; // INT4 precisions only
    private readonly Int4Backend _backend;
    private readonly ConcurrentUseGuard _guard = new(nameof(Int4Linear));
    private int _forwardThread;
    private float[]? _x;
    private byte[]? _packedX, _packedW;
    private int _tokens;
    private bool _backwardReady; // the last forward was a training one

    /// <summary>Creates the layer with PyTorch's default initialisation U(−1/√in, 1/√in) for W and b.</summary>
    public Int4Linear(int inFeatures, int outFeatures, Int4Backend backend, Int4LinearOptions? options = null, int initSeed = 0)
    {
        Guard.Positive(nameof(inFeatures), inFeatures);
        Guard.Positive(nameof(outFeatures), outFeatures);
        if ((long)outFeatures * inFeatures > Array.MaxLength) // both positive ints: the long product cannot overflow
            throw new ArgumentException($"A {outFeatures}×{inFeatures} weight has more elements than an array holds ({Array.MaxLength}).", nameof(inFeatures));
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        Options = options ?? new Int4LinearOptions();
        Options.Validate(inFeatures, nameof(inFeatures));
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new float[outFeatures * inFeatures];
        Bias = new float[outFeatures];
        WeightGrad = new float[Weight.Length];
        BiasGrad = new float[outFeatures];
        var rng = new Random(initSeed);
        float bound = 1f / MathF.Sqrt(inFeatures);
        for (int i = 0; i < Weight.Length; i++) Weight[i] = (2 * rng.NextSingle() - 1) * bound;
        for (int i = 0; i < Bias.Length; i++) Bias[i] = (2 * rng.NextSingle() - 1) * bound;
        if (Options.Precision.IsInt4()) _state = backend.Kernels.CreateLayer(Options, inFeatures, outFeatures);
    }

    /// <summary>The layer's options.</summary>
    public Int4LinearOptions Options { get; }

    /// <summary>Input features (D, the forward reduction dimension).</summary>
    public int InFeatures { get; }

    /// <summary>Output features (C).</summary>
    public int OutFeatures { get; }

    /// <summary>W, out × in, row-major.</summary>
    public float[] Weight { get; }

    /// <summary>b, out.</summary>
    public float[] Bias { get; }

    /// <summary>Accumulated ∂L/∂W.</summary>
    public float[] WeightGrad { get; }

    /// <summary>Accumulated ∂L/∂b.</summary>
    public float[] BiasGrad { get; }

    /// <summary>LSQ step of the input (s_X); 0 until the first forward initialises it.</summary>
    public float StepX { get; set; }

    /// <summary>LSQ step of the weight (s_W).</summary>
    public float StepW { get; set; }

    /// <summary>Accumulated ∂L/∂s_X (already scaled by 1/√(numel·Qp), §3.6).</summary>
    public double StepXGrad { get; private set; }

    /// <summary>Accumulated ∂L/∂s_W.</summary>
    public double StepWGrad { get; private set; }

    /// <summary>The Hadamard block size in use (null before the first forward of an INT4 layer, and for the baselines).</summary>
    public int? GroupSize => _state?.GroupSize;

    /// <summary>Training forwards taken by an INT4 layer (evaluation forwards do not count; 0 for the baselines).</summary>
    public int StepCount => _state?.StepCount ?? 0;

    /// <summary>False during the cold start, when an optimiser must not update the step sizes (App. A.4).</summary>
    public bool StepsAreLearned => _state?.StepsAreLearned ?? false;

    /// <summary>Key of the next backward's randomness (options seed + training forwards); null for the baselines.</summary>
    internal ulong? BackwardKey => _state?.BackwardKey;

    /// <summary>Y = X·Wᵀ + b for <paramref name="tokens"/> rows of X (tokens × in). A training forward (the default)
    /// advances the INT4 policy (step count, cold start, re-initialisation, the backward's key) and keeps what
    /// <see cref="Backward(ReadOnlySpan{float})"/> needs; an evaluation forward (<paramref name="training"/> false)
    /// changes none of it, except that a layer never run before chooses its block size and steps.</summary>
    /// <exception cref="ArgumentException">X is mis-shaped or holds NaN/Inf.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Weight"/> or <see cref="Bias"/> holds NaN/Inf, Y overflows
    /// FP32, or the layer (or its backend) is in use on another thread.</exception>
    public float[] Forward(ReadOnlySpan<float> x, int tokens, bool training = true)
    {
        using var busy = _guard.Enter(nameof(Forward));
        Guard.Matrix(nameof(x), x.Length, tokens, InFeatures);
        NonFinitePolicy.Argument(nameof(x), x);
        CheckParameters();
        float[] y = ForwardCore(x.ToArray(), tokens, training);
        NonFinitePolicy.Result(nameof(Forward), "Y", y);
        return y;
    }

    private float[] ForwardCore(float[] x, int tokens, bool training)
    {
        _x = x;
        _tokens = tokens;
        _backwardReady = training;
        _forwardThread = Environment.CurrentManagedThreadId;
        if (Options.Precision == LinearPrecision.Fp32) return Fp32Forward(_x, tokens);
        if (Options.Precision == LinearPrecision.Bf16) return Bf16Forward(_x, tokens);

        using var backendBusy = _backend.CallGuard.Enter(nameof(Forward));
        float sx = MathF.Abs(StepX), sw = MathF.Abs(StepW); // §2.1: s ← |s| at every forward
        var (y, px, pw) = _state!.Forward(_x, Weight, Bias, tokens, ref sx, ref sw, training);
        StepX = sx;
        StepW = sw;
        _packedX = px;
        _packedW = pw;
        return y;
    }

    /// <summary>Y = X·Wᵀ + b for a tokens × in matrix view (any pitch); returns a tokens × out matrix.</summary>
    public Memory2D<float> Forward(ReadOnlySpan2D<float> x, bool training = true)
    {
        if (x.Width != InFeatures) throw new ArgumentException($"x must have {InFeatures} columns, it is {x.Height}×{x.Width}.", nameof(x));
        var dense = new float[x.Length];
        x.CopyTo(dense);
        return new Memory2D<float>(Forward(dense, x.Height, training), x.Height, OutFeatures);
    }

    /// <summary>Backward on a tokens × out gradient view; returns ∂L/∂X as a tokens × in matrix.</summary>
    public Memory2D<float> Backward(ReadOnlySpan2D<float> gradY)
    {
        if (gradY.Width != OutFeatures) throw new ArgumentException($"gradY must have {OutFeatures} columns, it is {gradY.Height}×{gradY.Width}.", nameof(gradY));
        var dense = new float[gradY.Length];
        gradY.CopyTo(dense);
        return new Memory2D<float>(Backward(dense), gradY.Height, InFeatures);
    }

    /// <summary>Accumulates ∂L/∂W, ∂L/∂b, ∂L/∂s_X, ∂L/∂s_W from ∂L/∂Y (tokens × out) and returns ∂L/∂X.</summary>
    /// <exception cref="ArgumentException">∇Y is mis-shaped or holds NaN/Inf.</exception>
    /// <exception cref="InvalidOperationException">No Forward ran first (on this thread), a parameter or accumulated
    /// gradient holds NaN/Inf, a gradient overflows FP32 (nothing is accumulated then), or the layer (or its backend) is
    /// in use on another thread.</exception>
    public float[] Backward(ReadOnlySpan<float> gradY)
    {
        using var busy = _guard.Enter(nameof(Backward));
        if (_x is null || !_backwardReady) throw new InvalidOperationException("Backward needs a training Forward first.");
        if (_forwardThread != Environment.CurrentManagedThreadId)
            throw new InvalidOperationException(
                $"Int4Linear.Backward runs on thread {Environment.CurrentManagedThreadId} but the last Forward ran on thread " +
                $"{_forwardThread}: it would differentiate another thread's forward. Int4Linear is not thread-safe: give each " +
                "thread its own layer, and run a Backward on the thread of its Forward.");
        Guard.Matrix(nameof(gradY), gradY.Length, _tokens, OutFeatures);
        NonFinitePolicy.Argument(nameof(gradY), gradY);
        CheckParameters();
        NonFinitePolicy.State(nameof(WeightGrad), WeightGrad);
        NonFinitePolicy.State(nameof(BiasGrad), BiasGrad);
        NonFinitePolicy.State(nameof(StepXGrad), StepXGrad);
        NonFinitePolicy.State(nameof(StepWGrad), StepWGrad);
        float[] gy = gradY.ToArray();
        LinearGradients g = Options.Precision == LinearPrecision.Fp32 ? Fp32Backward(gy)
            : Options.Precision == LinearPrecision.Bf16 ? Bf16Backward(gy)
            : Int4Backward(gy);
        NonFinitePolicy.Result(nameof(Backward), "∇X", g.GradX);
        // Sum into the fresh result arrays first: an overflow then throws before the accumulators change.
        for (int i = 0; i < WeightGrad.Length; i++) g.GradW[i] += WeightGrad[i];
        for (int i = 0; i < BiasGrad.Length; i++) g.GradBias[i] += BiasGrad[i];
        double stepX = StepXGrad + g.GradStepX, stepW = StepWGrad + g.GradStepW;
        NonFinitePolicy.Result(nameof(Backward), "∇W (accumulated into WeightGrad)", g.GradW);
        NonFinitePolicy.Result(nameof(Backward), "∇b (accumulated into BiasGrad)", g.GradBias);
        NonFinitePolicy.Result(nameof(Backward), "∂L/∂s_X (StepXGrad)", stepX);
        NonFinitePolicy.Result(nameof(Backward), "∂L/∂s_W (StepWGrad)", stepW);
        g.GradW.CopyTo(WeightGrad, 0);
        g.GradBias.CopyTo(BiasGrad, 0);
        StepXGrad = stepX;
        StepWGrad = stepW;
        return g.GradX;
    }

    private LinearGradients Int4Backward(float[] gy)
    {
        using var backendBusy = _backend.CallGuard.Enter(nameof(Backward));
        Guard.Step(nameof(StepX), StepX);
        Guard.Step(nameof(StepW), StepW);
        try
        {
            return _state!.Backward(gy, _x!, Weight, _packedX!, _packedW!, _tokens, StepX, StepW);
        }
        catch (ArgumentException e) when (e.Message.Contains("non-finite", StringComparison.Ordinal))
        {
            // Every input was checked finite above, so a reference operator rejecting a non-finite intermediate
            // (∇(XH) after the dequantize) means that intermediate overflowed FP32: the policy's overflow error.
            throw NonFinitePolicy.Overflow(nameof(Backward), "intermediate gradient", e);
        }
    }

    // The parameters are public arrays an optimiser (or the caller) writes between calls: checked at every call.
    private void CheckParameters()
    {
        NonFinitePolicy.State(nameof(Weight), Weight);
        NonFinitePolicy.State(nameof(Bias), Bias);
    }

    /// <summary>Restores the progress a checkpoint saved (<see cref="StepCount"/> and <see cref="GroupSize"/>) so a resumed
    /// run neither repeats the cold start nor re-searches the block size; set <see cref="StepX"/>/<see cref="StepW"/>
    /// beside it.</summary>
    public void RestoreProgress(int stepCount, int? groupSize)
    {
        using var busy = _guard.Enter(nameof(RestoreProgress));
        if (stepCount < 0) throw new ArgumentOutOfRangeException(nameof(stepCount), stepCount, "The step count cannot be negative.");
        if (groupSize is int g) Guard.HadamardBlock(g, InFeatures, nameof(groupSize));
        _state?.Restore(stepCount, groupSize);
    }

    /// <summary>Sets every accumulated gradient to zero.</summary>
    public void ZeroGrad()
    {
        using var busy = _guard.Enter(nameof(ZeroGrad));
        Array.Clear(WeightGrad);
        Array.Clear(BiasGrad);
        StepXGrad = StepWGrad = 0;
    }

    // The FP32 baseline: FP64 accumulation (Fp64Linear), rounded to float once.
    private float[] Fp32Forward(float[] x, int n) => ToFloat(Fp64Linear.Forward(x, Weight, Bias, n, OutFeatures, InFeatures));

    private LinearGradients Fp32Backward(float[] gy) => new(
        ToFloat(Fp64Linear.GradInput(gy, Weight, _tokens, OutFeatures, InFeatures)),
        ToFloat(Fp64Linear.GradWeight(gy, _x!, _tokens, OutFeatures, InFeatures)), 0, 0,
        Reference.Int4LinearReference.BiasGradient(gy, _tokens, OutFeatures));

    // The BF16 baseline: X, W (forward) and ∇Y, W, X (backward) rounded to bfloat16 (round-to-nearest-even), products
    // accumulated in FP64 and rounded to float once (a tensor core accumulates in FP32); the bias and its gradient in FP32.
    private float[] Bf16Forward(float[] x, int n) =>
        ToFloat(Fp64Linear.Forward(BFloat16.Round(x), BFloat16.Round(Weight), Bias, n, OutFeatures, InFeatures));

    private LinearGradients Bf16Backward(float[] gy)
    {
        float[] g16 = BFloat16.Round(gy);
        return new(
            ToFloat(Fp64Linear.GradInput(g16, BFloat16.Round(Weight), _tokens, OutFeatures, InFeatures)),
            ToFloat(Fp64Linear.GradWeight(g16, BFloat16.Round(_x!), _tokens, OutFeatures, InFeatures)), 0, 0,
            Reference.Int4LinearReference.BiasGradient(gy, _tokens, OutFeatures));
    }

    private static float[] ToFloat(double[] v) => Array.ConvertAll(v, e => (float)e);
}
