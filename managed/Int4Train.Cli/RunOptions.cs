using System.CommandLine;
using Int4Train.Training;

namespace Int4Train.Cli;

/// <summary>The options that shape a training run, shared by train, demo and compare (one definition, one meaning):
/// data, preset and its overrides (model size, batch, micro-batch, INT4 schedule), steps, validation interval, output folder, device, --plain and --overwrite.</summary>
internal sealed class RunOptions
{
    /// <summary>Defaults that differ between commands.</summary>
    public sealed record Defaults(int Steps = 100, int EvalEvery = 25, string? OutDescription = null);

    public Option<string?> Data { get; } = CliOptions.Text("--data", "Character-level training text, 90/10 train/validation split; without it a small built-in text (the log says so)", "FILE");
    public Option<string> Preset { get; } = CliOptions.Choice("--preset", "Model preset: tiny (2×32, context 32), small (4×128, context 64, batch 16), baby-gpt (nanoGPT's 6×384, context 256, batch 64), gpt2-small (12×768, context 1024, batch 8), gpt-1b (24×2048, 16 heads, context 1024, batch 8)", GptConfig.PresetNames, "tiny");
    public Option<int> Steps { get; }
    public Option<int> EvalEvery { get; }
    public Option<string?> Out { get; }
    public Option<int?> Seed { get; } = CliOptions.OptionalInt("--seed", "Seed of initialisation, batches, dropout and the INT4 layers' randomness (default: the preset's, 1337)", int.MinValue);
    public Option<string> Device { get; } = CliOptions.Choice("--device", "gpu: the whole model on the CUDA GPU; cpu: the host model, INT4 layers on the ILGPU CPU reference (slow); auto: gpu when one is usable", ModelBackend.Devices, "auto");
    public Option<string> Graph { get; } = CliOptions.Choice("--graph", "GPU: run each training step as one CUDA graph (no launch overhead, the loss read every 10 steps; bit-identical to off) or launch its kernels one by one", ModelBackend.GraphModes, "on");
    public Option<int?> Layers { get; } = CliOptions.OptionalInt("--layers", "Transformer blocks (default: the preset's)", 1);
    public Option<int?> Heads { get; } = CliOptions.OptionalInt("--heads", "Attention heads; the width must divide by it (default: the preset's)", 1);
    public Option<int?> Width { get; } = CliOptions.OptionalInt("--width", "Embedding width (default: the preset's)", 1);
    public Option<int?> Context { get; } = CliOptions.OptionalInt("--context", "Context length in characters (default: the preset's)", 1);
    public Option<int?> Batch { get; } = CliOptions.OptionalInt("--batch", "Sequences per step (default: the preset's)", 1);
    public Option<int?> MicroBatch { get; } = CliOptions.OptionalInt("--micro-batch", "Sequences per forward+backward pass: a step runs batch/N passes with their gradients accumulated, as one batch (N divides the batch; default: the whole batch in one pass)", 1);
    public Option<int?> ColdStart { get; } = CliOptions.OptionalInt("--cold-start", "INT4 from scratch (App. A.4): step sizes reset to 2·mean|X|/√7 for the first N steps, then learned (presets: tiny 10, small 50, baby-gpt 100)", 0);
    public Option<int?> ReinitStep { get; } = CliOptions.OptionalInt("--reinit-step", "One re-search of the Hadamard block size and re-initialisation of the step sizes at step N; -1: off (presets: baby-gpt 125, others off)", -1);
    public Option<string?> Sampling { get; } = CliOptions.OptionalChoice("--sampling", "LSS row selection of the INT4 backward: the released code's exact nonzero rows (default) or the paper's Bernoulli sampling", "nonzero", "bernoulli");
    public Option<string?> Mode { get; } = CliOptions.OptionalChoice("--mode", "Constants of the INT4 layers: the released code's (codes [-8, 7], bit-split digits ±6; default) or the paper's ([-7, 7], ±7)", "code", "paper");
    public Option<int?> Group { get; } = GroupOption();
    public Option<float?> StepInitScale { get; } = CliOptions.OptionalFloat("--step-init-scale", "The INT4 layers set their step sizes (first step, cold start, --reinit-step) to K × the LSQ rule 2·mean|X|/√7 (issue 15): 1 the paper's rule (default), 0.55 about the MSE-optimal step of the Hadamard-domain tensors; in (0, 16]", 0f);
    public Option<float?> StepLrScale { get; } = CliOptions.OptionalFloat("--step-lr-scale", "The INT4 step sizes learn at F × the learning rate (docs/method.md §3.9): 1 the weights' rate (default), 0 frozen after the cold start at the values it set", 0f);
    public Option<GptLinearClasses?> Int4Layers { get; } = LinearClassesOption("--int4-layers", "The block linears that run INT4 in an INT4 precision (issue 15's per-class ablation); the others run as bf16 runs them (default: all four)");
    public Option<float?> Smooth { get; } = CliOptions.OptionalFloat("--smooth", "Per-input-channel smoothing of INT4 block linears (SmoothQuant's migration): each runs on X·diag(1/m), W·diag(m) with m = max|X|^A / max|W|^(1-A) per input channel; A in (0, 1] (0.5 is SmoothQuant's), 0 off (default)", 0f);
    public Option<GptLinearClasses?> SmoothLayers { get; } = LinearClassesOption("--smooth-layers", "The INT4 block linears --smooth smooths (default qkv,up: those whose input is a LayerNorm output)");
    public Option<string?> Int4Ablation { get; } = CliOptions.OptionalChoice("--int4-ablation", "Diagnostic (issue 15, GPU only; not to train with): forward-only keeps the INT4 forward and makes the backward exact FP32 products with the dequantized codes; backward-only makes the forward FP32 and keeps the INT4 backward; fine-scales quantizes the forward with one step per token of XH and per output channel of WH and keeps forward-only's backward (fine-x, fine-w: X's, W's steps only); none (default)", [.. GptConfig.AblationNames]);
    public Option<bool> Plain { get; } = CliOptions.Flag("--plain", "Plain log lines instead of the live progress bar (automatic when the output is redirected)");
    public Option<bool> Overwrite { get; } = CliOptions.Flag("--overwrite", "Replace the run already in the output folder (without it a folder holding a run is refused)");

    public RunOptions(Defaults defaults)
    {
        Steps = CliOptions.Int("--steps", "Length of the cosine schedule (the step the run stops at)", 1, fallback: defaults.Steps);
        EvalEvery = CliOptions.Int("--eval-every", "Validate (and save the checkpoint and loss.csv) every K steps and at the end", 1, fallback: defaults.EvalEvery);
        Out = CliOptions.Text("--out", defaults.OutDescription ?? "Output folder: loss.csv and checkpoint.bin (default runs/<preset>-<precision>)", "DIR");
    }

    /// <summary>The options that define the model and its run's randomness (a resume takes them from the checkpoint;
    /// given with --resume they must agree with it).</summary>
    public IEnumerable<Option> ConfigOptions => [Preset, Seed, Layers, Heads, Width, Context, Batch, MicroBatch, ColdStart, ReinitStep, Sampling, Mode, Group, StepInitScale, StepLrScale, Int4Layers, Smooth, SmoothLayers, Int4Ablation];

    /// <summary>Every option, for adding to a command.</summary>
    public IEnumerable<Option> All => [Data, Preset, Layers, Heads, Width, Context, Batch, MicroBatch, Steps, EvalEvery, Out, Seed, Device, Graph, ColdStart, ReinitStep, Sampling, Mode, Group, StepInitScale, StepLrScale, Int4Layers, Smooth, SmoothLayers, Int4Ablation, Plain, Overwrite];

    /// <summary>Whether --graph asks for CUDA graphs.</summary>
    public bool CudaGraphs(ParseResult p) => p.GetValue(Graph) != "off";

    /// <summary>Adds every option to a command.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    /// <summary>The preset with the overrides given.</summary>
    public GptConfig Config(ParseResult p) => Override(p, GptConfig.Preset(p.GetValue(Preset)!));

    /// <summary>A checkpoint's configuration with the options given here applied (a given --preset brings its optimiser
    /// settings, the checkpoint keeps the model's size and the rest): equal to the checkpoint's when they agree with it.</summary>
    public GptConfig Continuing(ParseResult p, GptConfig checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = !p.Given(Preset) ? checkpoint : GptConfig.Preset(p.GetValue(Preset)!) with
        {
            Seed = checkpoint.Seed, Layers = checkpoint.Layers, Heads = checkpoint.Heads, Width = checkpoint.Width,
            BatchSize = checkpoint.BatchSize, MicroBatch = checkpoint.MicroBatch, Context = checkpoint.Context,
            Linear = checkpoint.Linear, // precision and every INT4 option (mode, sampling, G, cold start, re-initialisation)
            StepSizeLrScale = checkpoint.StepSizeLrScale, // no preset sets it: a run's own choice, as the INT4 options
            Int4Classes = checkpoint.Int4Classes,
            SmoothAlpha = checkpoint.SmoothAlpha, SmoothClasses = checkpoint.SmoothClasses,
            Int4Ablation = checkpoint.Int4Ablation,
        };
        return Override(p, config);
    }

    private GptConfig Override(ParseResult p, GptConfig config)
    {
        if (p.GetValue(Seed) is int seed) config = config with { Seed = seed };
        if (p.GetValue(Layers) is int layers) config = config with { Layers = layers };
        if (p.GetValue(Heads) is int heads) config = config with { Heads = heads };
        if (p.GetValue(Width) is int width) config = config with { Width = width };
        if (p.GetValue(Context) is int context) config = config with { Context = context };
        if (p.GetValue(Batch) is int batch) config = config with { BatchSize = batch };
        if (p.GetValue(MicroBatch) is int micro) config = config with { MicroBatch = micro == config.BatchSize ? 0 : micro };
        if (p.GetValue(ColdStart) is int cold) config = config with { ColdStartSteps = cold };
        if (p.GetValue(ReinitStep) is int reinit) config = config with { ReinitializeAtStep = reinit };
        if (p.GetValue(Sampling) is string s) config = config with { Sampling = s == "bernoulli" ? SamplingMode.Bernoulli : SamplingMode.Nonzero };
        if (p.GetValue(Mode) is string m) config = config with { Mode = m == "paper" ? QuantMode.Paper : QuantMode.Code };
        if (p.GetValue(Group) is int g) config = config with { GroupSize = g == 0 ? null : g };
        if (p.GetValue(StepInitScale) is float sis) config = config with { StepInitScale = sis };
        if (p.GetValue(StepLrScale) is float slr) config = config with { StepSizeLrScale = slr };
        if (p.GetValue(Int4Layers) is GptLinearClasses classes) config = config with { Int4Classes = classes };
        if (p.GetValue(Smooth) is float alpha) config = config with { SmoothAlpha = alpha };
        if (p.GetValue(SmoothLayers) is GptLinearClasses smoothed) config = config with { SmoothClasses = smoothed };
        if (p.GetValue(Int4Ablation) is string ablation) config = config with { Int4Ablation = GptConfig.ParseAblation(ablation) };
        return config;
    }

    // A comma-separated list of class names (GptConfig.ParseLinearClasses: one place knows them); whether the
    // precision is an INT4 one (and, for --smooth-layers, whether the classes run INT4) is the configuration's check,
    // which knows the precision.
    private static Option<GptLinearClasses?> LinearClassesOption(string name, string description) =>
        new(name)
        {
            Description = description,
            HelpName = string.Join(",", GptConfig.LinearClassNames),
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                try { return GptConfig.ParseLinearClasses(text); }
                catch (ArgumentException e)
                {
                    r.AddError($"{name}: {e.Message}");
                    return null;
                }
            },
        };

    // 0 or a power of two up to 1024 (native and reference check_group); whether G divides the width (C and 4C are the
    // block linears' input widths) is the configuration's check, which knows the width.
    private static Option<int?> GroupOption() =>
        CliOptions.OptionalInt("--group", "Hadamard block size G of the INT4 layers: a power of two up to 1024 dividing the width (baby-gpt's 384: at most 128); 0: searched on the first batch and at --reinit-step (default)", 0, 1024,
            rule: g => g != 0 && (g & (g - 1)) != 0 ? $"--group must be 0 (searched) or a power of two up to 1024, got {g}." : null);
}
