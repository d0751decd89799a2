using Int4Train.Reference;

namespace Int4Train.Training;

/// <summary>
/// A decoder-only GPT on host float arrays with explicit forward and backward (llm.c style): token + position
/// embeddings, <see cref="GptConfig.Layers"/> pre-LayerNorm blocks x ← x + Drop(Proj(Attn(LN₁(x)))),
/// x ← x + Drop(Down(GELU(Up(LN₂(x))))), a final LayerNorm, the output head tied to the token embedding, mean
/// cross-entropy. The four linears of each block (QKV, attention output, MLP up, MLP down) are
/// <see cref="Int4Linear"/> layers in the configured precision (of an INT4 precision, the classes outside
/// <see cref="GptConfig.Int4Classes"/> in bf16); attention matmuls, embeddings, norms and the head
/// stay FP32 (docs/method.md §4). The tensors are those of <see cref="GptTensorTable"/>.
/// </summary>
/// <remarks>Thread safety: not thread-safe. It keeps activations from Forward for Backward and its <see cref="Int4Linear"/> layers follow their own rule (a Backward on the thread of its Forward; overlapping calls throw <see cref="InvalidOperationException"/>). Internally some operations use Parallel.For; callers use one model from one thread at a time.</remarks>
public sealed class Gpt
{
    private readonly Block[] _blocks;
    private readonly float[] _wte, _wpe, _lnfW, _lnfB, _dwte, _dwpe, _dlnfW, _dlnfB;
    private readonly List<Parameter> _parameters = [];

    // activations of the last forward
    private int[] _tokens = [], _targets = [];
    private int _b, _t;
    private float[] _x0 = [], _embMask = [], _xf = [], _lnf = [], _lnfMean = [], _lnfRstd = [], _probs = [];
    private bool _hasEmbMask, _backwardReady;
    private bool _smoothReady; // a training forward has made every smoothed linear's factors m

    /// <summary>Builds the model from the <see cref="GptTensorTable"/> with nanoGPT's initialisation (<see cref="GptInit"/>):
    /// N(0, 0.02) weights and embeddings, N(0, 0.02/√(2L)) for the residual projections, zero biases, unit LayerNorm
    /// gains. The block linears take <see cref="GptConfig.Linear"/> with their own key.</summary>
    /// <exception cref="NotSupportedException">The configuration smooths (<see cref="GptConfig.SmoothAlpha"/> not 0) on a
    /// native backend: the host model smooths (<see cref="SmoothedLinear"/>, <see cref="ChannelSmoothing"/>) on the ILGPU
    /// reference backend only; or it ablates the INT4 linears (<see cref="GptConfig.Int4Ablation"/> not None): only the
    /// device model implements the ablations.</exception>
    public Gpt(GptConfig config, int vocabSize, Int4Backend backend)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(backend);
        config.Validate(vocabSize); // every size product too: no silent int wrap-around in an allocation
        Config = config;
        VocabSize = vocabSize;
        ChannelSmoothing? smoothing = null;
        if (config.SmoothAlpha != 0)
            smoothing = new ChannelSmoothing(backend.ReferenceDevice ?? throw new NotSupportedException(
                $"--smooth {config.SmoothAlpha.ToString(System.Globalization.CultureInfo.InvariantCulture)}: the host model smooths on the ILGPU reference backend; this one is {backend.Description} (the device model smooths on the GPU)."));
        if (config.Int4Ablation != Int4Ablation.None)
            throw new NotSupportedException($"--int4-ablation {GptConfig.AblationName(config.Int4Ablation)}: the INT4 ablations run on the GPU model only (--device gpu); the CPU host model does not implement them.");
        var init = GptInit.Draw(config, vocabSize);
        var linears = GptTensorTable.Linears(config).Select(s =>
        {
            // a class outside GptConfig.Int4Classes runs as the bf16 precision's linear (docs/conventions.md "Block
            // linears outside the INT4 set"); its INT4 options are then unused
            var options = config.BlockLinearOptions with { Seed = s.Key };
            if (config.Precision.IsInt4() && !config.RunsInt4(s.K)) options = options with { Precision = LinearPrecision.Bf16 };
            var lin = new Int4Linear(s.In, s.Out, backend, options);
            init[s.Name + ".weight"].CopyTo(lin.Weight, 0);
            init[s.Name + ".bias"].CopyTo(lin.Bias, 0);
            return lin;
        }).ToArray();
        // every tensor's storage by name: the linears own theirs, the others are the drawn arrays with a gradient
        var storage = new Dictionary<string, (float[] Data, float[] Grad)>();
        foreach (var (name, values) in init) storage[name] = (values, new float[values.Length]);
        var smoothed = new SmoothedLinear?[linears.Length];
        foreach (var ((s, lin), i) in GptTensorTable.Linears(config).Zip(linears).Select((p, i) => (p, i)))
        {
            // a smoothed linear's W is its own array (the linear's Weight holds W'); docs/conventions.md
            // "Per-input-channel smoothing": the classes of SmoothClasses, all of them INT4 (GptConfig.Validate)
            if (smoothing is not null && config.Smooths(s.K))
            {
                var w = (float[])lin.Weight.Clone();
                smoothed[i] = new SmoothedLinear(lin, w, new float[w.Length], config.SmoothAlpha, smoothing);
                storage[s.Name + ".weight"] = (w, smoothed[i]!.WeightGrad);
            }
            else storage[s.Name + ".weight"] = (lin.Weight, lin.WeightGrad);
            storage[s.Name + ".bias"] = (lin.Bias, lin.BiasGrad);
        }
        foreach (var t in GptTensorTable.Tensors(config, vocabSize))
            _parameters.Add(t.IsStepSize
                ? new Parameter(t.Name, new float[1], new float[1], false, linears[t.Linear], isStepX: t.Name.EndsWith(".step_x", StringComparison.Ordinal))
                : new Parameter(t.Name, storage[t.Name].Data, storage[t.Name].Grad, t.Decay));
        (float[] Data, float[] Grad) T(string name) => storage[name];
        (_wte, _dwte) = T("wte");
        (_wpe, _dwpe) = T("wpe");
        (_lnfW, _dlnfW) = T("ln_f.weight");
        (_lnfB, _dlnfB) = T("ln_f.bias");
        _blocks = new Block[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            string p = $"h{l}.";
            _blocks[l] = new Block
            {
                Ln1W = T(p + "ln1.weight").Data, DLn1W = T(p + "ln1.weight").Grad, Ln1B = T(p + "ln1.bias").Data, DLn1B = T(p + "ln1.bias").Grad,
                Ln2W = T(p + "ln2.weight").Data, DLn2W = T(p + "ln2.weight").Grad, Ln2B = T(p + "ln2.bias").Data, DLn2B = T(p + "ln2.bias").Grad,
                Qkv = linears[4 * l], Proj = linears[4 * l + 1], Up = linears[4 * l + 2], Down = linears[4 * l + 3],
                Smoothed = smoothed[(4 * l)..(4 * l + 4)],
            };
        }
    }

    /// <summary>The configuration.</summary>
    public GptConfig Config { get; }

    /// <summary>Vocabulary size V.</summary>
    public int VocabSize { get; }

    /// <summary>Every trainable parameter in a fixed order (the checkpoint's order).</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The block linears in order (h0.qkv, h0.proj, h0.up, h0.down, h1.qkv …).</summary>
    public IEnumerable<Int4Linear> Linears => _blocks.SelectMany(b => new[] { b.Qkv, b.Proj, b.Up, b.Down });

    /// <summary>The smoothed block linears in order (<see cref="GptConfig.Smooths"/>; none when smoothing is off).</summary>
    internal IEnumerable<SmoothedLinear> SmoothedLinears => _blocks.SelectMany(b => b.Smoothed).OfType<SmoothedLinear>();

    /// <summary>Number of scalars in the tensors (step sizes excluded).</summary>
    public long ParameterCount => _parameters.Where(p => p.StepOwner is null).Sum(p => (long)p.Data.Length);

    /// <summary>Sequence length t of the last forward (0 before the first).</summary>
    public int LastSequenceLength => _t;

    /// <summary>Probabilities (N × V) of the last forward, row-major.</summary>
    public float[] Probabilities => _probs;

    /// <summary>
    /// Forward on <paramref name="batch"/> sequences (tokens: batch × t, t ≤ context). With targets returns the mean
    /// cross-entropy (else NaN) and keeps what <see cref="Backward"/> needs. <paramref name="step"/> keys the dropout
    /// masks, applied only when <paramref name="training"/>; only a training forward advances the INT4 layers' policy
    /// (step count, cold start, re-initialisation, the backward's key: docs/conventions.md "Layer policy").
    /// </summary>
    public double Forward(int[] tokens, int[]? targets, int batch, long step, bool training)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (batch < 1 || tokens.Length == 0 || tokens.Length % batch != 0)
            throw new ArgumentException($"tokens ({tokens.Length}) must be a non-empty batch × t array for batch {batch}.", nameof(tokens));
        int t = tokens.Length / batch, c = Config.Width, n = tokens.Length, v = VocabSize;
        if (t > Config.Context) throw new ArgumentException($"Sequence length {t} exceeds the context {Config.Context}.", nameof(tokens));
        foreach (int tok in tokens)
            if ((uint)tok >= (uint)v) throw new ArgumentException($"Token {tok} is outside the vocabulary [0, {v}).", nameof(tokens));
        if (targets is not null && targets.Length != n) throw new ArgumentException($"targets has {targets.Length} entries, tokens {n}.", nameof(targets));
        _tokens = tokens; _targets = targets ?? []; _b = batch; _t = t;
        _backwardReady = training && targets is not null;
        float p = training ? Config.Dropout : 0f;
        float[]? Mask(int len, int site) => p > 0 ? GptOps.DropoutMask(len, p, Hash.Key(Config.Seed, step, site)) : null;

        _x0 = new float[n * c];
        GptOps.EmbedForward(_x0, tokens, _wte, _wpe, batch, t, c);
        var embMask = Mask(n * c, 0);
        _hasEmbMask = embMask is not null;
        _embMask = embMask ?? [];
        float[] x = (float[])_x0.Clone();
        GptOps.ApplyMask(x, embMask);

        for (int l = 0; l < _blocks.Length; l++)
        {
            var k = _blocks[l];
            k.X = x;
            // attention branch: x2 = x + Drop(Proj(Attn(LN₁(x))))
            k.Ln1 = new float[n * c]; k.Ln1Mean = new float[n]; k.Ln1Rstd = new float[n];
            GptOps.LayerNormForward(k.Ln1, k.Ln1Mean, k.Ln1Rstd, x, k.Ln1W, k.Ln1B, n, c);
            k.QkvOut = LinearForward(k, 0, k.Ln1, n, training);
            k.Att = new float[batch * Config.Heads * t * t];
            k.AttMask = Mask(k.Att.Length, 8 * l + 1);
            k.AttOut = new float[n * c];
            GptOps.AttentionForward(k.AttOut, k.Att, k.QkvOut, k.AttMask, batch, t, c, Config.Heads);
            float[] a = LinearForward(k, 1, k.AttOut, n, training);
            k.ProjMask = Mask(n * c, 8 * l + 2);
            GptOps.ApplyMask(a, k.ProjMask);
            k.X2 = new float[n * c];
            for (int i = 0; i < a.Length; i++) k.X2[i] = x[i] + a[i];
            // MLP branch: x3 = x2 + Drop(Down(GELU(Up(LN₂(x2)))))
            k.Ln2 = new float[n * c]; k.Ln2Mean = new float[n]; k.Ln2Rstd = new float[n];
            GptOps.LayerNormForward(k.Ln2, k.Ln2Mean, k.Ln2Rstd, k.X2, k.Ln2W, k.Ln2B, n, c);
            k.H = LinearForward(k, 2, k.Ln2, n, training);
            k.G = new float[k.H.Length];
            GptOps.GeluForward(k.G, k.H);
            float[] m = LinearForward(k, 3, k.G, n, training);
            k.DownMask = Mask(n * c, 8 * l + 3);
            GptOps.ApplyMask(m, k.DownMask);
            var x3 = new float[n * c];
            for (int i = 0; i < m.Length; i++) x3[i] = k.X2[i] + m[i];
            x = x3;
        }
        if (training) _smoothReady = true; // smoothed linears: later evaluation forwards use this forward's m
        _xf = x;
        _lnf = new float[n * c]; _lnfMean = new float[n]; _lnfRstd = new float[n];
        GptOps.LayerNormForward(_lnf, _lnfMean, _lnfRstd, x, _lnfW, _lnfB, n, c);
        _probs = GptOps.HeadForward(_lnf, _wte, n, c, v);
        if (targets is null)
        {
            GptOps.SoftmaxCrossEntropy(_probs, new int[n], n, v);
            return double.NaN;
        }
        return GptOps.SoftmaxCrossEntropy(_probs, targets, n, v);
    }

    /// <summary>Backward of the last forward (which had targets): accumulates every parameter's gradient of
    /// <paramref name="lossScale"/> × the mean loss (a micro-batch of M sequences in a step of B passes M/B, so the
    /// accumulated gradients are those of the step's mean loss).</summary>
    public void Backward(float lossScale = 1f)
    {
        if (!_backwardReady) throw new InvalidOperationException("Backward needs a training Forward with targets first.");
        int n = _b * _t, c = Config.Width, v = VocabSize;
        float[] dlogits = GptOps.CrossEntropyBackward(_probs, _targets, n, v, lossScale);
        float[] dlnf = GptOps.HeadBackward(_dwte, dlogits, _lnf, _wte, n, c, v);
        var dx = new float[n * c];
        GptOps.LayerNormBackward(dx, _dlnfW, _dlnfB, dlnf, _xf, _lnfW, _lnfMean, _lnfRstd, n, c);
        for (int l = _blocks.Length - 1; l >= 0; l--)
        {
            var k = _blocks[l];
            // MLP branch; dx is ∂L/∂x3 and flows unchanged into ∂L/∂x2 through the residual
            var dm = (float[])dx.Clone();
            GptOps.ApplyMask(dm, k.DownMask);
            float[] dg = LinearBackward(k, 3, dm);
            float[] dh = GptOps.GeluBackward(dg, k.H);
            float[] dln2 = LinearBackward(k, 2, dh);
            GptOps.LayerNormBackward(dx, k.DLn2W, k.DLn2B, dln2, k.X2, k.Ln2W, k.Ln2Mean, k.Ln2Rstd, n, c);
            // attention branch; dx is now ∂L/∂x2
            var da = (float[])dx.Clone();
            GptOps.ApplyMask(da, k.ProjMask);
            float[] dy = LinearBackward(k, 1, da);
            var dqkv = new float[n * 3 * c];
            GptOps.AttentionBackward(dqkv, dy, k.QkvOut, k.Att, k.AttMask, _b, _t, c, Config.Heads);
            float[] dln1 = LinearBackward(k, 0, dqkv);
            GptOps.LayerNormBackward(dx, k.DLn1W, k.DLn1B, dln1, k.X, k.Ln1W, k.Ln1Mean, k.Ln1Rstd, n, c);
        }
        if (_hasEmbMask) GptOps.ApplyMask(dx, _embMask);
        GptOps.EmbedBackward(_dwte, _dwpe, dx, _tokens, _b, _t, c);
    }

    /// <summary>Zeroes every gradient (tensors and the layers' step gradients).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters) Array.Clear(p.Grad);
        foreach (var lin in Linears) lin.ZeroGrad();
    }

    /// <summary>Copies each layer's step sizes and their gradients into the one-element step parameters.</summary>
    public void PullSteps()
    {
        foreach (var p in _parameters)
        {
            if (p.StepOwner is not { } lin) continue;
            p.Data[0] = p.IsStepX ? lin.StepX : lin.StepW;
            p.Grad[0] = (float)(p.IsStepX ? lin.StepXGrad : lin.StepWGrad);
        }
    }

    /// <summary>Writes the step parameters back into their layers.</summary>
    public void PushSteps()
    {
        foreach (var p in _parameters)
        {
            if (p.StepOwner is not { } lin) continue;
            if (p.IsStepX) lin.StepX = p.Data[0];
            else lin.StepW = p.Data[0];
        }
    }

    // Block linear k (0 qkv, 1 proj, 2 up, 3 down) of block b: smoothed (SmoothedLinear) or plain.
    private float[] LinearForward(Block b, int k, float[] x, int n, bool training) =>
        b.Smoothed[k] is { } s ? s.Forward(x, n, training, _smoothReady) : b.Linear(k).Forward(x, n, training);

    private float[] LinearBackward(Block b, int k, float[] dy) =>
        b.Smoothed[k] is { } s ? s.Backward(dy) : b.Linear(k).Backward(dy);

    private sealed class Block
    {
        public required float[] Ln1W, Ln1B, Ln2W, Ln2B, DLn1W, DLn1B, DLn2W, DLn2B;
        public required Int4Linear Qkv, Proj, Up, Down;
        public required SmoothedLinear?[] Smoothed; // per class, null where not smoothed
        public Int4Linear Linear(int k) => k switch { 0 => Qkv, 1 => Proj, 2 => Up, _ => Down };
        public float[] X = [], Ln1 = [], Ln1Mean = [], Ln1Rstd = [], QkvOut = [], Att = [], AttOut = [];
        public float[] X2 = [], Ln2 = [], Ln2Mean = [], Ln2Rstd = [], H = [], G = [];
        public float[]? AttMask, ProjMask, DownMask;
    }
}
