using System.CommandLine;
using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>`int4train train`: a GPT with its block linears in a precision, on a GPU (the device model) or on the CPU
/// (the host model, INT4 layers on the ILGPU reference), into a run folder (loss.csv, checkpoint.bin). Everything is
/// validated, and the model allocated, before any file is written; a folder holding another run is refused unless
/// --overwrite; --resume continues a checkpoint in its own folder.</summary>
internal static class TrainCommand
{
    /// <summary>The options of train (and demo, with other defaults).</summary>
    internal sealed class Options(RunOptions.Defaults defaults)
    {
        public RunOptions Run { get; } = new(defaults);
        public Option<string> Precision { get; } = CliOptions.Choice("--precision", "Block linears: int4 (HQ+LSS, the paper), int4-lsq (LSQ INT4 without the Hadamard), bf16 (BF16 operands, FP32 accumulation), fp32", GptConfig.PrecisionNames, "int4");
        public Option<string?> Resume { get; } = CliOptions.Text("--resume", "Continue the run of a checkpoint (its configuration) in its own folder (or --out); --steps is where it stops", "CKPT");

        public void AddTo(Command c)
        {
            Run.AddTo(c);
            c.Options.Add(Precision);
            c.Options.Add(Resume);
        }
    }

    public static Command Create()
    {
        var o = new Options(new RunOptions.Defaults());
        var c = new Command("train", "Train a character-level GPT with its block linears in a precision; writes DIR/loss.csv and DIR/checkpoint.bin at every validation");
        o.AddTo(c);
        CliApp.SetAction(c, (p, output) => Execute(p, o, output, scratchOut: null, configure: null));
        return c;
    }

    /// <summary>Runs train with the parsed options; <paramref name="configure"/> adjusts the configuration (demo's CPU
    /// sizes); <paramref name="scratchOut"/> is a command's own scratch folder (demo's runs/demo): its output folder when
    /// --out is not given, replaced without --overwrite. Without it a new run goes to runs/PRESET-PRECISION, which must
    /// hold no run (or --overwrite).</summary>
    public static int Execute(ParseResult p, Options o, TextWriter output, string? scratchOut, Func<GptConfig, ParseResult, GptConfig>? configure)
    {
        bool interactive = ConsoleUi.Interactive(p.GetValue(o.Run.Plain));
        using var factory = ConsoleUi.Logging(interactive, output);
        var log = factory.Logger();
        string? resume = p.GetValue(o.Resume);
        bool overwrite = p.GetValue(o.Run.Overwrite) || (scratchOut is not null && !p.Given(o.Run.Out));
        int steps = p.GetValue(o.Run.Steps), evalEvery = p.GetValue(o.Run.EvalEvery);
        GptConfig? config = null;
        string outDir;
        if (resume is not null)
        {
            var header = Checkpoint.ReadHeader(resume); // a missing or corrupt checkpoint fails here, before anything else
            var given = o.Run.ConfigOptions.Append(o.Precision).Where(p.Given).Select(x => x.Name).ToArray();
            var asGiven = o.Run.Continuing(p, header.Config);
            if (p.Given(o.Precision)) asGiven = asGiven with { Precision = GptConfig.ParsePrecision(p.GetValue(o.Precision)!) };
            if (asGiven != header.Config)
                throw new ArgumentException($"--resume continues the checkpoint's configuration ({Describe(header.Config)}); " +
                    $"{string.Join(", ", given)} given here disagree(s) with it: leave it out or start a new run.");
            outDir = p.GetValue(o.Run.Out) ?? RunFolder.Of(resume);
            if (!RunFolder.Same(outDir, RunFolder.Of(resume))) RunFolder.EnsureFree(outDir, overwrite);
            log.LogInformation("resuming {Path} at step {Step} ({Precision}) into {Out}", resume, header.Step, GptConfig.PrecisionName(header.Config.Precision), outDir);
            if (header.Step >= steps)
            {
                log.LogInformation("the checkpoint is at step {Step}, --steps is {Steps}: nothing to train (pass a larger --steps)", header.Step, steps);
                return 0;
            }
        }
        else
        {
            config = o.Run.Config(p) with { Precision = GptConfig.ParsePrecision(p.GetValue(o.Precision)!) };
            if (configure is not null) config = configure(config, p);
            config.Validate();
            outDir = p.GetValue(o.Run.Out) ?? scratchOut ?? $"runs/{p.GetValue(o.Run.Preset)}-{GptConfig.PrecisionName(config.Precision)}";
            RunFolder.EnsureFree(outDir, overwrite);
        }
        string text = RunSetup.LoadText(p.GetValue(o.Run.Data), log);
        using var backend = RunSetup.OpenBackend(p.GetValue(o.Run.Device)!, log, o.Run.CudaGraphs(p));
        using var trainer = config is null
            ? Trainer.Resume(resume!, text, backend.Factory, log)
            : Trainer.Create(config, text, backend.Factory, log);
        var records = TrainProgress.Run(trainer, steps, evalEvery, outDir, interactive, GptConfig.PrecisionName(trainer.Config.Precision), overwrite);
        if (records.Where(r => r.ValidationLoss is not null).MinBy(r => r.ValidationLoss!.Value) is { } best)
            log.LogInformation("done: best validation loss {Best:F4} at step {Step} (this session); loss curve and checkpoint in {Out}",
                best.ValidationLoss, best.Step, outDir);
        return 0;
    }

    private static string Describe(GptConfig c) =>
        $"{c.LinearDescription}, {c.Layers} layers × {c.Width}, {c.Heads} heads, context {c.Context}, batch {c.BatchSize} " +
        $"({c.PassesPerStep} × {c.PassBatch} a pass), seed {c.Seed}";
}
