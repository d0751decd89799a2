using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>`int4train train` and `int4train sample`: the GPT trainer on a GPU (the device model) or on the CPU (the
/// host model, INT4 layers on the ILGPU reference).</summary>
internal static class TrainCommand
{
    /// <summary>Options shared by train and compare that shape the run.</summary>
    internal static readonly string[] RunOptions = ["--data", "--preset", "--steps", "--eval-every", "--out", "--seed", "--device", "--batch", "--context",
        "--cold-start", "--reinit-step", "--sampling"];

    internal static readonly string[] TrainValued = [.. RunOptions, "--precision", "--resume"];
    internal static readonly string[] SampleValued = ["--checkpoint", "--tokens", "--seed", "--device", "--prompt"];
    internal static readonly string[] Flags = ["--plain"];

    public static int Train(string[] args)
    {
        bool interactive = ConsoleUi.Interactive(args.Contains("--plain"));
        using var factory = ConsoleUi.Logging(interactive);
        var log = factory.CreateLogger("int4train");
        try
        {
            var a = new CliArgs("train", args, TrainValued, Flags);
            var config = BaseConfig(a) with { Precision = GptConfig.ParsePrecision(a.Get("--precision") ?? "int4") };
            config.Validate();
            string outDir = a.Get("--out") ?? $"runs/{a.Get("--preset") ?? "tiny"}-{GptConfig.PrecisionName(config.Precision)}";
            long steps = a.Long("--steps", 100);
            int evalEvery = a.Int("--eval-every", 25);
            string text = LoadText(a, log);
            using var backend = OpenBackend(a, log);
            string? resume = a.Get("--resume");
            using var trainer = resume is null
                ? Trainer.Create(config, text, backend.Factory, log)
                : Trainer.Resume(resume, text, backend.Factory, log);
            if (resume is not null)
                log.LogInformation("resumed {Path} at step {Step} (its configuration: {Precision}; --preset/--precision/--seed/--batch/--context are ignored)",
                    resume, trainer.Step, GptConfig.PrecisionName(trainer.Config.Precision));
            var records = TrainProgress.Run(trainer, steps, evalEvery, outDir, interactive, GptConfig.PrecisionName(trainer.Config.Precision));
            var vals = records.Where(r => r.ValidationLoss is not null).ToList();
            if (vals.Count > 0)
            {
                var best = vals.MinBy(r => r.ValidationLoss!.Value)!;
                log.LogInformation("done: best validation loss {Best:F4} at step {Step} (this session); loss curve and checkpoint in {Out}",
                    best.ValidationLoss, best.Step, outDir);
            }
            return 0;
        }
        catch (Exception e) when (IsUserError(e))
        {
            log.LogError("{Message}", Message(e));
            return 1;
        }
    }

    public static int Sample(string[] args)
    {
        using var factory = ConsoleUi.Logging(interactive: false);
        var log = factory.CreateLogger("int4train");
        try
        {
            var a = new CliArgs("sample", args, SampleValued, Flags);
            string ckpt = a.Get("--checkpoint") ?? throw new ArgumentException("sample needs --checkpoint FILE.");
            int n = a.Int("--tokens", 200, min: 0);
            int seed = a.Int("--seed", 0, min: int.MinValue);
            using var backend = OpenBackend(a, log);
            var (model, vocab) = Trainer.LoadModel(ckpt, backend.Factory);
            using (model)
            {
                log.LogInformation("sampling {N} characters from {Path} ({Precision}) on {Model}", n, ckpt,
                    GptConfig.PrecisionName(model.Config.Precision), model.Description);
                Console.WriteLine(Trainer.Generate(model, vocab, n, a.Get("--prompt") ?? "\n", seed));
            }
            return 0;
        }
        catch (Exception e) when (IsUserError(e))
        {
            log.LogError("{Message}", Message(e));
            return 1;
        }
    }

    /// <summary>The preset with the --seed, --batch and --context overrides.</summary>
    internal static GptConfig BaseConfig(CliArgs a)
    {
        var config = GptConfig.Preset(a.Get("--preset") ?? "tiny");
        if (a.Has("--seed")) config = config with { Seed = a.Int("--seed", config.Seed, min: int.MinValue) };
        if (a.Has("--batch")) config = config with { BatchSize = a.Int("--batch", config.BatchSize) };
        if (a.Has("--context")) config = config with { Context = a.Int("--context", config.Context) };
        // App. A.4/A.5 from-scratch options of the INT4 layers
        if (a.Has("--cold-start")) config = config with { ColdStartSteps = a.Int("--cold-start", config.ColdStartSteps, min: 0) };
        if (a.Has("--reinit-step")) config = config with { ReinitializeAtStep = a.Int("--reinit-step", config.ReinitializeAtStep, min: -1) };
        if (a.Has("--sampling"))
            config = config with { Sampling = a.Choice("--sampling", "nonzero", ["nonzero", "bernoulli"]) == "bernoulli" ? SamplingMode.Bernoulli : SamplingMode.Nonzero };
        return config;
    }

    /// <summary>The text of --data, or the built-in text (and the log says so).</summary>
    internal static string LoadText(CliArgs a, ILogger log)
    {
        if (a.Get("--data") is not string path)
        {
            log.LogInformation("no --data: training on a small built-in text ({Chars} characters); pass --data FILE for real data", BuiltInText.Text.Length);
            return BuiltInText.Text;
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        string text = File.ReadAllText(path);
        log.LogInformation("data {Path}: {Chars} characters", path, text.Length);
        return text;
    }

    /// <summary>The --device backend, logged.</summary>
    internal static ModelBackend OpenBackend(CliArgs a, ILogger log)
    {
        var backend = ModelBackend.Open(a.Choice("--device", "auto", ModelBackend.Devices), log);
        log.LogInformation("device: {Backend}", backend.Description);
        return backend;
    }

    /// <summary>An exception's message without .NET's " (Parameter 'x')" suffix.</summary>
    internal static string Message(Exception e) =>
        e is ArgumentException { ParamName: string p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;

    /// <summary>Errors a user can fix (bad options, files, data; a GPU model that cannot run here): one line, exit 1.</summary>
    internal static bool IsUserError(Exception e) =>
        e is ArgumentException or IOException or InvalidDataException or FormatException or NotSupportedException or Int4TrainException;
}
