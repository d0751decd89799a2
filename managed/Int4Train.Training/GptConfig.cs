using System.Text.Json.Serialization;

namespace Int4Train.Training;

/// <summary>Model and optimisation settings of a GPT run. Presets: <see cref="Tiny"/>, <see cref="Small"/>, <see cref="BabyGpt"/>,
/// <see cref="Gpt2Small"/>, <see cref="Gpt1B"/>.</summary>
/// <remarks>Thread safety: immutable (init-only); safe to share between threads.</remarks>
public sealed record GptConfig
{
    /// <summary>Transformer blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Attention heads (Width must divide by it).</summary>
    public int Heads { get; init; } = 2;
    /// <summary>Embedding width C.</summary>
    public int Width { get; init; } = 32;
    /// <summary>Context length T (block size).</summary>
    public int Context { get; init; } = 32;
    /// <summary>Sequences per step B.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>The block linears' precision by its CLI name and, for the INT4 precisions, the options that shape it
    /// (mode, LSS sampling, Hadamard block size, cold start, re-initialisation step, the step sizes' learning-rate
    /// scale when it is not 1, the INT4 classes when not all, the smoothing when on, and a diagnostic ablation), for logs
    /// and messages.</summary>
    [JsonIgnore]
    public string LinearDescription => !Precision.IsInt4() ? PrecisionName(Precision) :
        $"{PrecisionName(Precision)} ({Mode.ToString().ToLowerInvariant()} mode, {Sampling.ToString().ToLowerInvariant()} LSS, " +
        $"G {(GroupSize is int g ? g.ToString(System.Globalization.CultureInfo.InvariantCulture) : "searched")}, cold start {ColdStartSteps}, " +
        $"re-init {(ReinitializeAtStep < 0 ? "off" : "at " + ReinitializeAtStep.ToString(System.Globalization.CultureInfo.InvariantCulture))}" +
        (StepInitScale == 1f ? "" : $", step rule × {StepInitScale.ToString(System.Globalization.CultureInfo.InvariantCulture)}") +
        (StepSizeLrScale == 1f ? "" : $", step-size lr × {StepSizeLrScale.ToString(System.Globalization.CultureInfo.InvariantCulture)}") +
        (Int4Classes == GptLinearClasses.All ? "" : $", INT4 only {LinearClassList(Int4Classes)}, the rest bf16") +
        (SmoothAlpha == 0f ? "" : $", smoothing α {SmoothAlpha.ToString(System.Globalization.CultureInfo.InvariantCulture)} on {LinearClassList(SmoothClasses)}") +
        (Int4Ablation == Int4Ablation.None ? ")" : $", ablation {AblationName(Int4Ablation)})");

    /// <summary>Sequences per forward+backward pass M (gradient accumulation): a step of <see cref="BatchSize"/>
    /// sequences runs as B/M passes whose gradients add up to those of one batch of B (M must divide B); 0: the whole
    /// batch in one pass (checkpoints written before this setting existed read as 0).</summary>
    public int MicroBatch { get; init; }
    /// <summary>Dropout probability (embeddings, attention weights, residual branches), as nanoGPT.</summary>
    public float Dropout { get; init; }
    /// <summary>Peak learning rate.</summary>
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public float MinLearningRate { get; init; } = 3e-4f;
    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 10;
    /// <summary>AdamW β1.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>AdamW β2.</summary>
    public float Beta2 { get; init; } = 0.99f;
    /// <summary>Decoupled weight decay on every 2-D tensor, the linear weights and both embeddings (nanoGPT's groups; not biases, norms, steps).</summary>
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>Clip the global gradient norm to this (0: off).</summary>
    public float GradClip { get; init; } = 1f;
    /// <summary>The INT4 layers' LSQ step sizes learn at this multiple of the schedule's learning rate (docs/method.md
    /// §3.9): Adam moves a parameter by about lr a step whatever its gradient's scale, a large relative move for step
    /// sizes of 0.05–0.5. 1: the weights' rate (bit for bit the run without this setting; checkpoints written before it
    /// existed read as 1); 0: the step sizes stay at the values the cold start left them (a re-initialisation still
    /// sets them). Finite, at least 0.</summary>
    public float StepSizeLrScale { get; init; } = 1f;
    /// <summary>Of an INT4 precision: the block-linear classes (qkv, proj, up, down) that run INT4; the others run as the
    /// bf16 precision runs them (BF16 operands, FP32 accumulation) and have no step sizes (issue 15: which layers limit
    /// the accuracy; docs/conventions.md "Block linears outside the INT4 set"). <see cref="GptLinearClasses.All"/> (the
    /// default, bit for bit the run without this setting; checkpoints written before it existed read as All); the
    /// bf16 and fp32 precisions take only All. Not empty.</summary>
    public GptLinearClasses Int4Classes { get; init; } = GptLinearClasses.All;
    /// <summary>Per-input-channel smoothing of INT4 block linears (SmoothQuant's migration; issue 15, docs/conventions.md
    /// "Per-input-channel smoothing"): a linear of <see cref="SmoothClasses"/> runs its unchanged INT4 arithmetic on
    /// X·diag(1/m) and W·diag(m), m_k = clamp(max_t|X_tk|^α / max_c|W_ck|^(1−α), 1e-4, 1e4) made from each training
    /// batch (a constant of the backward). α = this, in (0, 1] (SmoothQuant uses 0.5); 0: off (the default, bit for bit
    /// the run without this setting; checkpoints written before it existed read as 0). Only the INT4 precisions
    /// take it, and only the device model runs it (the host model refuses it).</summary>
    public float SmoothAlpha { get; init; }
    /// <summary>The block-linear classes <see cref="SmoothAlpha"/> smooths: <see cref="DefaultSmoothClasses"/> (qkv, up:
    /// the linears whose input is a LayerNorm output) unless chosen; all of them must run INT4 (<see cref="Int4Classes"/>);
    /// another set only with smoothing on. Not empty.</summary>
    public GptLinearClasses SmoothClasses { get; init; } = DefaultSmoothClasses;
    /// <summary>Issue 15's diagnostic ablation of the INT4 block linears (docs/conventions.md "INT4 ablations
    /// (diagnostic)"): <see cref="Int4Ablation.ForwardOnly"/> keeps the INT4 forward and makes the backward exact FP32
    /// products with the dequantized codes, <see cref="Int4Ablation.BackwardOnly"/> makes the forward FP32 and keeps the
    /// INT4 backward, to tell which half of INT4 costs the accuracy; <see cref="Int4Ablation.FineScales"/> (and
    /// <see cref="Int4Ablation.FineX"/>, <see cref="Int4Ablation.FineW"/>) make the forward's product with per-row steps
    /// and keep forward-only's backward, to tell whether finer steps remove the forward's cost; not meant to train with. <see cref="Int4Ablation.None"/>:
    /// the default, bit for bit the run without this setting (checkpoints written before it existed read None). Only
    /// the INT4 precisions take another, and only the device model runs it (the host model refuses it).</summary>
    public Int4Ablation Int4Ablation { get; init; }
    /// <summary>Fraction of the text held out for validation (the tail, as nanoGPT's 90/10 split).</summary>
    public float ValidationFraction { get; init; } = 0.1f;
    /// <summary>Validation batches averaged per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;
    /// <summary>The block linears' options: one <see cref="Int4LinearOptions"/>, the type a lone <see cref="Int4Linear"/>
    /// and the device model (<see cref="NativeGptOptions.Linear"/>) take. Its <see cref="Int4LinearOptions.Seed"/> is not
    /// used: block linear (l, k) keys its randomness with Hash.Key(<see cref="Seed"/>, l, k) (<see cref="GptTensorTable"/>).
    /// Defaults: INT4 HQ+LSS, a 10-step cold start.</summary>
    public Int4LinearOptions Linear { get; init; } = new() { ColdStartSteps = 10 };
    /// <summary>Arithmetic of the block linears (a view of <see cref="Linear"/>).</summary>
    public LinearPrecision Precision { get => Linear.Precision; init => Linear = Linear with { Precision = value }; }
    /// <summary>From-scratch cold start of the INT4 step sizes (training forwards, App. A.4; a view of <see cref="Linear"/>).</summary>
    public int ColdStartSteps { get => Linear.ColdStartSteps; init => Linear = Linear with { ColdStartSteps = value }; }
    /// <summary>The multiple κ of the LSQ step rule the INT4 layers set their step sizes with (first forward, cold start,
    /// re-initialisation; <see cref="Int4LinearOptions.StepInitScale"/>, a view of <see cref="Linear"/>): 1 the paper's
    /// rule (checkpoints written before this setting existed read as 1).</summary>
    [JsonIgnore]
    public float StepInitScale { get => Linear.StepInitScale; init => Linear = Linear with { StepInitScale = value }; }
    /// <summary>Pretraining's one re-initialisation (docs/method.md §2.2, App. A.5 "when the first 2 epochs finish"): at this
    /// training step every INT4 layer searches its Hadamard block size again and re-initialises its step sizes; −1: off
    /// (a view of <see cref="Linear"/>).</summary>
    public int ReinitializeAtStep { get => Linear.ReinitializeAtStep; init => Linear = Linear with { ReinitializeAtStep = value }; }
    /// <summary>LSS row selection of the INT4 backward: the released code's exact nonzero rows or the paper's Bernoulli
    /// sampling (docs/method.md §10 row 6; a view of <see cref="Linear"/>).</summary>
    public SamplingMode Sampling { get => Linear.Sampling; init => Linear = Linear with { Sampling = value }; }
    /// <summary>Constants of the INT4 layers: the released code's (codes [−8, 7], bit-split digits ±6) or the paper's
    /// ([−7, 7], ±7) (docs/method.md §10 rows 1 and 5; a view of <see cref="Linear"/>).</summary>
    public QuantMode Mode { get => Linear.Mode; init => Linear = Linear with { Mode = value }; }
    /// <summary>A fixed Hadamard block size G of every INT4 block linear, or null: searched on the first batch and at
    /// the re-initialisation (docs/method.md §2.2; a view of <see cref="Linear"/>).</summary>
    public int? GroupSize { get => Linear.GroupSize; init => Linear = Linear with { GroupSize = value }; }
    /// <summary>Seed of initialisation, batches, dropout and the INT4 layers' randomness.</summary>
    public int Seed { get; init; } = 1337;

    /// <summary>2 layers, 2 heads, 32 wide, context 32, batch 8: ~100 steps in about a minute on a CPU.</summary>
    public static GptConfig Tiny => new();

    /// <summary>Between tiny and baby GPT: 4 layers, 4 heads, 128 wide, context 64, batch 16, dropout 0.1, lr 1e-3 → 1e-4
    /// after 50 warm-up steps — minutes on a GPU, a quick check of a recipe before the baby GPT.</summary>
    public static GptConfig Small => new()
    {
        Layers = 4, Heads = 4, Width = 128, Context = 64, BatchSize = 16, Dropout = 0.1f,
        LearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 50, Beta2 = 0.99f, WeightDecay = 0.1f,
        GradClip = 1f, ValidationFraction = 0.1f, EvalBatches = 8, ColdStartSteps = 50,
    };

    /// <summary>nanoGPT's shakespeare-char "baby GPT".</summary>
    public static GptConfig BabyGpt => new()
    {
        Layers = 6, Heads = 6, Width = 384, Context = 256, BatchSize = 64, Dropout = 0.2f,
        LearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 100, Beta2 = 0.99f, WeightDecay = 0.1f,
        GradClip = 1f, ValidationFraction = 0.1f, EvalBatches = 200, ColdStartSteps = 100, // nanoGPT: eval_iters = 200
        ReinitializeAtStep = 125, // ≈ 2 epochs of tinyshakespeare's 1.0 M training characters at 64 × 256 tokens a step
    };

    /// <summary>GPT-2 small's shape (12 layers × 768, 12 heads, context 1024; ~85 M parameters besides the embeddings)
    /// with GPT-2's recipe as nanoGPT's train_gpt2 reproduces it: lr 6e-4 → 6e-5 after 700 warm-up steps, β2 0.95,
    /// weight decay 0.1, no dropout, batch 8 × 1024 tokens a step.</summary>
    public static GptConfig Gpt2Small => new()
    {
        Layers = 12, Heads = 12, Width = 768, Context = 1024, BatchSize = 8, Dropout = 0f,
        LearningRate = 6e-4f, MinLearningRate = 6e-5f, WarmupSteps = 700, Beta2 = 0.95f, WeightDecay = 0.1f,
        GradClip = 1f, ValidationFraction = 0.1f, EvalBatches = 20, ColdStartSteps = 100,
    };

    /// <summary>About 1.2 B parameters: 24 layers × 2048, 16 heads (128 wide), context 1024, the GPT-2 recipe at a
    /// lower peak learning rate (3e-4 → 3e-5, as GPT-3's 1.3 B model used 2e-4), batch 8 × 1024 tokens a step.</summary>
    public static GptConfig Gpt1B => Gpt2Small with
    {
        Layers = 24, Heads = 16, Width = 2048, LearningRate = 3e-4f, MinLearningRate = 3e-5f,
    };

    /// <summary>The preset names <see cref="Preset"/> knows.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "small", "baby-gpt", "gpt2-small", "gpt-1b"];

    /// <summary>The precision names <see cref="ParsePrecision"/> knows.</summary>
    public static IReadOnlyList<string> PrecisionNames { get; } = ["int4", "int4-lsq", "bf16", "fp32"];

    /// <summary>The preset of a name: tiny, small, baby-gpt, gpt2-small, gpt-1b.</summary>
    public static GptConfig Preset(string name) => name switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "baby-gpt" => BabyGpt,
        "gpt2-small" => Gpt2Small,
        "gpt-1b" => Gpt1B,
        _ => throw new ArgumentException($"Unknown preset '{name}'; known presets: {string.Join(", ", PresetNames)}.", nameof(name)),
    };

    /// <summary>The precision of a CLI name: int4 (HQ+LSS), int4-lsq, bf16, fp32.</summary>
    public static LinearPrecision ParsePrecision(string name) => name switch
    {
        "int4" => LinearPrecision.Int4HqLss,
        "int4-lsq" => LinearPrecision.Int4Lsq,
        "bf16" => LinearPrecision.Bf16,
        "fp32" => LinearPrecision.Fp32,
        _ => throw new ArgumentException($"Unknown precision '{name}'; known: {string.Join(", ", PrecisionNames)}.", nameof(name)),
    };

    /// <summary>The ablation names <see cref="ParseAblation"/> knows (<see cref="Int4Ablation"/>'s values in order).</summary>
    public static IReadOnlyList<string> AblationNames { get; } = ["none", "forward-only", "backward-only", "fine-scales", "fine-x", "fine-w"];

    /// <summary>The ablation of a CLI name: none, forward-only, backward-only, fine-scales, fine-x, fine-w.</summary>
    public static Int4Ablation ParseAblation(string name)
    {
        int k = AblationNames.ToList().IndexOf(name);
        return k >= 0 ? (Int4Ablation)k : throw new ArgumentException($"Unknown INT4 ablation '{name}'; known: {string.Join(", ", AblationNames)}.", nameof(name));
    }

    /// <summary>The CLI name of an ablation (the inverse of <see cref="ParseAblation"/>).</summary>
    public static string AblationName(Int4Ablation ablation) =>
        Enum.IsDefined(ablation) ? AblationNames[(int)ablation] : ablation.ToString();

    /// <summary>The classes smoothing smooths unless chosen: qkv and up, whose inputs are LayerNorm outputs (issue 15:
    /// the classes that cost INT4 the most accuracy besides proj).</summary>
    public const GptLinearClasses DefaultSmoothClasses = GptLinearClasses.Qkv | GptLinearClasses.Up;

    /// <summary>The block-linear class names <see cref="ParseLinearClasses"/> knows, bit k of <see cref="GptLinearClasses"/>
    /// being name k (the tensor table's order).</summary>
    public static IReadOnlyList<string> LinearClassNames { get; } = GptTensorTable.LinearNames;

    /// <summary>The classes of a comma-separated list of class names (qkv, proj, up, down; any order, at least one);
    /// an <see cref="ArgumentException"/> whose message is one line for the user otherwise.</summary>
    public static GptLinearClasses ParseLinearClasses(string names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var r = GptLinearClasses.None;
        foreach (string name in names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int k = Array.IndexOf(GptTensorTable.LinearNames, name);
            if (k < 0) throw new ArgumentException($"Unknown block-linear class '{name}'; known: {string.Join(", ", GptTensorTable.LinearNames)}.");
            r |= (GptLinearClasses)(1 << k);
        }
        if (r == GptLinearClasses.None) throw new ArgumentException($"No block-linear class given; known: {string.Join(", ", GptTensorTable.LinearNames)}.");
        return r;
    }

    /// <summary>The comma-separated names of classes (the inverse of <see cref="ParseLinearClasses"/>), in table order.</summary>
    public static string LinearClassList(GptLinearClasses classes) =>
        string.Join(",", GptTensorTable.LinearNames.Where((_, k) => classes.HasFlag((GptLinearClasses)(1 << k))));

    /// <summary>Whether block linear class k (0 qkv, 1 proj, 2 up, 3 down) runs INT4: an INT4 precision and k among
    /// <see cref="Int4Classes"/>. The one rule the host model and the tensor table follow.</summary>
    public bool RunsInt4(int k) => Precision.IsInt4() && Int4Classes.HasFlag((GptLinearClasses)(1 << k));

    /// <summary>Whether block-linear class <paramref name="k"/> (0 qkv, 1 proj, 2 up, 3 down) is smoothed:
    /// <see cref="SmoothAlpha"/> not 0 and the class in <see cref="SmoothClasses"/>.</summary>
    public bool Smooths(int k) => SmoothAlpha != 0 && SmoothClasses.HasFlag((GptLinearClasses)(1 << k));

    /// <summary>The CLI name of a precision (the inverse of <see cref="ParsePrecision"/>).</summary>
    public static string PrecisionName(LinearPrecision precision) => precision switch
    {
        LinearPrecision.Int4HqLss => "int4",
        LinearPrecision.Int4Lsq => "int4-lsq",
        LinearPrecision.Bf16 => "bf16",
        LinearPrecision.Fp32 => "fp32",
        _ => precision.ToString(),
    };

    /// <summary>Sequences per forward+backward pass: <see cref="MicroBatch"/>, or the whole batch when it is 0.</summary>
    [JsonIgnore]
    public int PassBatch => MicroBatch == 0 ? BatchSize : MicroBatch;

    /// <summary>Forward+backward passes per optimiser step (B/M).</summary>
    [JsonIgnore]
    public int PassesPerStep => BatchSize / PassBatch;

    /// <summary>The options each block linear is built with: <see cref="Linear"/> with its cold start and
    /// re-initialisation counted in training forwards, as the layer policy counts them (docs/conventions.md "Layer
    /// policy"): with <see cref="PassesPerStep"/> passes a step, cold start N steps is N·A forwards and the
    /// re-initialisation at step R happens at the first pass of step R, forward R·A, so both keep their meaning in
    /// optimiser steps.</summary>
    [JsonIgnore]
    public Int4LinearOptions BlockLinearOptions => PassesPerStep == 1 ? Linear : Linear with
    {
        ColdStartSteps = checked(ColdStartSteps * PassesPerStep),
        ReinitializeAtStep = ReinitializeAtStep < 0 ? ReinitializeAtStep : checked(ReinitializeAtStep * PassesPerStep),
    };

    /// <summary>Throws an <see cref="ArgumentException"/> on inconsistent settings, including sizes whose products
    /// (activations of a batch, attention scores) would not fit in an array.</summary>
    public void Validate()
    {
        if (Layers < 1 || Heads < 1 || Width < 1 || Context < 1 || BatchSize < 1)
            throw new ArgumentException($"Layers, heads, width, context and batch must be positive (got {Layers}, {Heads}, {Width}, {Context}, {BatchSize}).");
        if (MicroBatch < 0 || MicroBatch > BatchSize || (MicroBatch > 0 && BatchSize % MicroBatch != 0))
            throw new ArgumentException($"The micro-batch {MicroBatch} must divide the batch {BatchSize} (0: the whole batch in one pass).");
        if (Width % Heads != 0) throw new ArgumentException($"Width {Width} must be divisible by the head count {Heads}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) throw new ArgumentException($"ValidationFraction must be in (0, 1), got {ValidationFraction}.");
        if (Linear is null) throw new ArgumentException("Linear (the block linears' options) must be set.");
        Linear.Validate(Width, nameof(Linear)); // every block linear's input width is Width or 4·Width
        if (EvalBatches < 1) throw new ArgumentException($"EvalBatches must be positive, got {EvalBatches}.");
        if (WarmupSteps < 0 || ColdStartSteps < 0 || ReinitializeAtStep < -1)
            throw new ArgumentException($"WarmupSteps and ColdStartSteps cannot be negative, ReinitializeAtStep is −1 (off) or a step (got {WarmupSteps}, {ColdStartSteps}, {ReinitializeAtStep}).");
        foreach (var (name, v) in new[] { (nameof(LearningRate), LearningRate), (nameof(MinLearningRate), MinLearningRate), (nameof(Beta1), Beta1),
                     (nameof(Beta2), Beta2), (nameof(WeightDecay), WeightDecay), (nameof(GradClip), GradClip), (nameof(StepSizeLrScale), StepSizeLrScale) })
            if (!float.IsFinite(v) || v < 0) throw new ArgumentException($"{name} must be a finite non-negative number, got {v}.");
        Fits("cold start × passes a step (in layer forwards)", ColdStartSteps, PassesPerStep);
        Fits("re-initialisation step × passes a step (in layer forwards)", Math.Max(0, ReinitializeAtStep), PassesPerStep);
        if (!Enum.IsDefined(Precision)) throw new ArgumentException($"Unknown precision {(int)Precision}.");
        if (!Enum.IsDefined(Sampling)) throw new ArgumentException($"Unknown sampling mode {(int)Sampling}.");
        if (!Enum.IsDefined(Mode)) throw new ArgumentException($"Unknown quantization mode {(int)Mode}.");
        if (Int4Classes == GptLinearClasses.None || (Int4Classes & ~GptLinearClasses.All) != 0)
            throw new ArgumentException($"Int4Classes (--int4-layers) must name at least one of {string.Join(", ", GptTensorTable.LinearNames)} (got {(int)Int4Classes}).");
        if (!Precision.IsInt4() && Int4Classes != GptLinearClasses.All)
            throw new ArgumentException($"Int4Classes (--int4-layers {LinearClassList(Int4Classes)}) chooses the INT4 block linears of an INT4 precision; the {PrecisionName(Precision)} precision runs every block linear in {PrecisionName(Precision)}.");
        ValidateSmoothing();
        if (!Enum.IsDefined(Int4Ablation)) throw new ArgumentException($"Unknown INT4 ablation {(int)Int4Ablation}.");
        if (Int4Ablation != Int4Ablation.None && !Precision.IsInt4())
            throw new ArgumentException($"Int4Ablation (--int4-ablation {AblationName(Int4Ablation)}) ablates the INT4 block linears; the {PrecisionName(Precision)} precision has none.");
        // checked products: the largest arrays of a step (the MLP's 4C activations, the attention scores B·H·T·T)
        Fits("batch × context × 4·width (the MLP activations of a pass)", PassBatch, Context, 4, Width);
        Fits("batch × heads × context × context (the attention scores of a pass)", PassBatch, Heads, Context, Context);
        Fits("context × width (the position embedding)", Context, Width);
        Fits("4·width × width (an MLP weight)", 4, Width, Width);
    }

    // --smooth and --smooth-layers: α in [0, 1], on only for an INT4 precision, smoothing only INT4 linears; a chosen
    // set of classes only with smoothing on (no silently ignored option).
    private void ValidateSmoothing()
    {
        if (!float.IsFinite(SmoothAlpha) || SmoothAlpha < 0 || SmoothAlpha > 1)
            throw new ArgumentException($"SmoothAlpha (--smooth) must be in [0, 1] (0: off), got {SmoothAlpha.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        if (SmoothClasses == GptLinearClasses.None || (SmoothClasses & ~GptLinearClasses.All) != 0)
            throw new ArgumentException($"SmoothClasses (--smooth-layers) must name at least one of {string.Join(", ", GptTensorTable.LinearNames)} (got {(int)SmoothClasses}).");
        if (SmoothAlpha == 0)
        {
            if (SmoothClasses != DefaultSmoothClasses)
                throw new ArgumentException($"SmoothClasses (--smooth-layers {LinearClassList(SmoothClasses)}) chooses the linears --smooth smooths; smoothing is off (--smooth 0).");
            return;
        }
        if (!Precision.IsInt4())
            throw new ArgumentException($"SmoothAlpha (--smooth) smooths INT4 block linears; the {PrecisionName(Precision)} precision has none.");
        if ((SmoothClasses & ~Int4Classes) != 0)
            throw new ArgumentException($"SmoothClasses (--smooth-layers {LinearClassList(SmoothClasses)}) must run INT4, but {LinearClassList(SmoothClasses & ~Int4Classes)} run(s) bf16 (--int4-layers {LinearClassList(Int4Classes)}).");
    }

    /// <summary><see cref="Validate()"/> plus the sizes that depend on the vocabulary (embedding, logits).</summary>
    public void Validate(int vocabSize)
    {
        Validate();
        if (vocabSize < 2) throw new ArgumentException($"The vocabulary needs at least 2 symbols, got {vocabSize}.");
        Fits("vocabulary × width (the token embedding)", vocabSize, Width);
        Fits("batch × context × vocabulary (the logits of a pass)", PassBatch, Context, vocabSize);
    }

    /// <summary>Throws when the product of positive sizes exceeds the largest array (checked arithmetic: no wrap-around).</summary>
    private void Fits(string what, params int[] sizes)
    {
        long product = 1;
        try
        {
            foreach (int s in sizes) product = checked(product * s);
        }
        catch (OverflowException)
        {
            product = long.MaxValue;
        }
        if (product > Array.MaxLength)
            throw new ArgumentException($"The configuration is too large: {what} = {(product == long.MaxValue ? "more than 2^63" : product.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))} elements, " +
                $"more than an array holds ({Array.MaxLength:N0}); reduce the (micro-)batch, context or width (batch {BatchSize}, micro-batch {PassBatch}, context {Context}, width {Width}, heads {Heads}).");
    }
}
