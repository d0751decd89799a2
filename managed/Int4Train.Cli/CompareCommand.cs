using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>`int4train compare`: the same run (preset, steps, eval-every, seed, data) in several precisions one after
/// another, each into OUT/&lt;precision&gt;/ (loss.csv, checkpoint.bin), then OUT/compare.md and OUT/compare.png; or,
/// with --from, only the table and plot of existing run folders.</summary>
internal static class CompareCommand
{
    private static readonly string[] Valued = [.. TrainCommand.RunOptions, "--precisions", "--from", "--title"];
    private static readonly string[] Flags = ["--plain", "--resume"];

    public static int Run(string[] args)
    {
        bool interactive = ConsoleUi.Interactive(args.Contains("--plain"));
        using var factory = ConsoleUi.Logging(interactive);
        var log = factory.CreateLogger("int4train");
        try
        {
            var a = new CliArgs("compare", args, Valued, Flags);
            string? from = a.Get("--from");
            string outDir = a.Get("--out") ?? (from is null ? $"runs/compare-{a.Get("--preset") ?? "tiny"}" : "runs/compare");
            List<LossCurve> runs = from is null ? Train(a, outDir, interactive, log) : FromFolders(a, from);
            Directory.CreateDirectory(outDir);
            string md = Path.Combine(outDir, "compare.md"), png = Path.Combine(outDir, "compare.png");
            string markdown = CompareReport.Markdown(runs, a.Get("--title"));
            File.WriteAllText(md, markdown);
            log.LogInformation("table {Path}", md);
            Console.WriteLine(markdown.TrimEnd());
            try
            {
                ComparePlot.Write(runs, png, a.Get("--title"));
                log.LogInformation("plot {Path}", png);
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
            {
                log.LogWarning("no plot: ScottPlot could not render on this machine ({Message})", e.Message);
            }
            return 0;
        }
        catch (Exception e) when (TrainCommand.IsUserError(e))
        {
            log.LogError("{Message}", TrainCommand.Message(e));
            return 1;
        }
    }

    private static List<LossCurve> FromFolders(CliArgs a, string from)
    {
        foreach (string o in TrainCommand.RunOptions.Concat(["--precisions"]))
            if (o != "--out" && a.Has(o)) throw new ArgumentException($"compare --from builds the report from existing runs: {o} does not apply.");
        var dirs = from.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (dirs.Length == 0) throw new ArgumentException("compare --from needs a comma-separated list of run folders.");
        return dirs.Select(d => LossCurve.Read(d)).ToList();
    }

    private static List<LossCurve> Train(CliArgs a, string outDir, bool interactive, ILogger log)
    {
        var names = (a.Get("--precisions") ?? "int4,int4-lsq,bf16").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new ArgumentException("compare: --precisions needs at least one of int4, int4-lsq, bf16, fp32.");
        if (names.Distinct().Count() != names.Length) throw new ArgumentException($"compare: --precisions lists a precision twice ({string.Join(",", names)}).");
        var precisions = names.Select(GptConfig.ParsePrecision).ToArray(); // validates every name before any training
        var config = TrainCommand.BaseConfig(a);
        config.Validate();
        long steps = a.Long("--steps", 100);
        int evalEvery = a.Int("--eval-every", 25);
        string text = TrainCommand.LoadText(a, log);
        using var backend = TrainCommand.OpenBackend(a, log);
        var runs = new List<LossCurve>();
        for (int i = 0; i < names.Length; i++)
        {
            string dir = Path.Combine(outDir, names[i]), ckpt = Path.Combine(dir, "checkpoint.bin");
            bool resume = a.Has("--resume") && File.Exists(ckpt);
            log.LogInformation("compare {I}/{N}: {Precision}, {Steps} steps into {Dir}{Resume}", i + 1, names.Length, names[i], steps, dir,
                resume ? " (resuming its checkpoint)" : "");
            using (var trainer = resume
                ? Trainer.Resume(ckpt, text, backend.Factory, log)
                : Trainer.Create(config with { Precision = precisions[i] }, text, backend.Factory, log))
            {
                if (resume && trainer.Config != config with { Precision = precisions[i] })
                    throw new InvalidDataException($"{ckpt} was trained with another configuration than this comparison's.");
                if (trainer.Step < steps) TrainProgress.Run(trainer, steps, evalEvery, dir, interactive, names[i]);
            }
            runs.Add(LossCurve.Read(dir, names[i]));
        }
        return runs;
    }
}
