using System.CommandLine;
using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>`int4train compare`: the same run (preset, steps, eval-every, seed, data) in several precisions one after
/// another, each into OUT/&lt;precision&gt;/ (loss.csv, checkpoint.bin), then OUT/compare.md and OUT/compare.png; or,
/// with --from, only the report of existing run folders. Every precision's folder is checked before the first one
/// trains (a folder holding a run needs --continue or --overwrite).</summary>
internal static class CompareCommand
{
    private sealed class Options
    {
        public RunOptions Run { get; } = new(new RunOptions.Defaults(OutDescription: "Output folder: OUT/<precision>/ per run, OUT/compare.md and OUT/compare.png (default runs/compare-<preset>; with --from runs/compare)"));
        public Option<string> Precisions { get; } = PrecisionsOption();
        public Option<string?> From { get; } = CliOptions.Text("--from", "Only build the report from existing run folders' loss.csv (no training)", "DIR1,DIR2,...");
        public Option<string?> Title { get; } = CliOptions.Text("--title", "Title of compare.md and compare.png", "TEXT");
        public Option<bool> Continue { get; } = CliOptions.Flag("--continue", "Continue each precision's run from the checkpoint in OUT/<precision>/ (fresh where there is none)");
        public Option<bool> OldResume { get; } = CliOptions.Flag("--resume", "Renamed --continue", hidden: true);

        private static Option<string> PrecisionsOption()
        {
            var o = new Option<string>("--precisions") { Description = "Precisions to run, one after another", HelpName = string.Join(",", GptConfig.PrecisionNames), DefaultValueFactory = _ => "int4,int4-lsq,bf16" };
            o.Validators.Add(r =>
            {
                var names = CliOptions.List(r.GetValueOrDefault<string>() ?? "");
                if (names.Length == 0) r.AddError($"--precisions needs at least one of {string.Join(", ", GptConfig.PrecisionNames)}.");
                else if (names.FirstOrDefault(n => !GptConfig.PrecisionNames.Contains(n)) is string bad)
                    r.AddError($"--precisions: unknown precision '{bad}'; known: {string.Join(", ", GptConfig.PrecisionNames)}.");
                else if (names.Distinct().Count() != names.Length) r.AddError($"--precisions lists a precision twice ({string.Join(",", names)}).");
            });
            return o;
        }
    }

    public static Command Create()
    {
        var o = new Options();
        var c = new Command("compare", "Train the same configuration in each precision into OUT/<precision>/, then write OUT/compare.md, OUT/compare.json " +
            "(best validation loss per precision) and OUT/compare.png; --from only reports existing run folders");
        o.Run.AddTo(c);
        foreach (var x in new Option[] { o.Precisions, o.From, o.Title, o.Continue, o.OldResume }) c.Options.Add(x);
        c.Validators.Add(r =>
        {
            if (r.GetResult(o.OldResume) is { Implicit: false })
                r.AddError("compare --resume was renamed --continue (train --resume CKPT continues one checkpoint).");
            if (r.GetResult(o.From) is { Implicit: false })
            {
                var training = o.Run.All.Append(o.Precisions).Append(o.Continue)
                    .Where(x => x != o.Run.Out && x != o.Run.Plain && r.GetResult(x) is { Implicit: false }).Select(x => x.Name).ToArray();
                if (training.Length > 0) r.AddError($"--from builds the report from existing runs: {string.Join(", ", training)} do(es) not apply.");
            }
        });
        CliApp.SetAction(c, (p, output) => Execute(p, o, output));
        return c;
    }

    private static int Execute(ParseResult p, Options o, TextWriter output)
    {
        bool interactive = ConsoleUi.Interactive(p.GetValue(o.Run.Plain));
        using var factory = ConsoleUi.Logging(interactive, output);
        var log = factory.Logger();
        string? from = p.GetValue(o.From);
        string outDir = p.GetValue(o.Run.Out) ?? (from is null ? $"runs/compare-{p.GetValue(o.Run.Preset)}" : "runs/compare");
        List<LossCurve> runs = from is null ? Train(p, o, outDir, interactive, log) : FromFolders(from);
        Directory.CreateDirectory(outDir);
        string? title = p.GetValue(o.Title);
        string md = Path.Combine(outDir, "compare.md"), json = Path.Combine(outDir, "compare.json"), png = Path.Combine(outDir, "compare.png");
        string markdown = CompareReport.Markdown(runs, title);
        AtomicFile.WriteText(md, markdown);
        log.LogInformation("table {Path}", md);
        AtomicFile.WriteText(json, CompareReport.Json(runs, title));
        log.LogInformation("summary {Path}", json);
        output.WriteLine(markdown.TrimEnd());
        try
        {
            ComparePlot.Write(runs, png, title);
            log.LogInformation("plot {Path}", png);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            log.LogWarning("no plot: ScottPlot could not render on this machine ({Message})", e.Message);
        }
        return 0;
    }

    private static List<LossCurve> FromFolders(string from)
    {
        var dirs = CliOptions.List(from);
        if (dirs.Length == 0) throw new ArgumentException("compare --from needs a comma-separated list of run folders.");
        var runs = dirs.Select(d => LossCurve.Read(d)).ToList();
        // a run is known by its folder's name in the table, the plot and compare.json: two alike would be one row twice
        if (runs.GroupBy(r => r.Label).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"--from: {twice.Count()} run folders are named '{twice.Key}'; a run is labelled by its folder's name, so name them apart (e.g. by variant).");
        return runs;
    }

    private static List<LossCurve> Train(ParseResult p, Options o, string outDir, bool interactive, ILogger log)
    {
        var names = CliOptions.List(p.GetValue(o.Precisions)!);
        var config = o.Run.Config(p);
        config.Validate();
        int steps = p.GetValue(o.Run.Steps), evalEvery = p.GetValue(o.Run.EvalEvery);
        bool resume = p.GetValue(o.Continue), overwrite = p.GetValue(o.Run.Overwrite);
        // every folder is checked (and every checkpoint to continue read) before the first precision trains
        var plan = names.Select(name =>
        {
            string dir = Path.Combine(outDir, name), ckpt = RunFolder.CheckpointPath(dir);
            var precision = GptConfig.ParsePrecision(name);
            // --int4-layers, --smooth and --int4-ablation shape the INT4 precisions' runs; a bf16 or fp32 run has no
            // INT4 layer to choose, smooth or ablate
            var expected = precision.IsInt4() ? config with { Precision = precision } : config with
            {
                Precision = precision, Int4Classes = GptLinearClasses.All, SmoothAlpha = 0f, SmoothClasses = GptConfig.DefaultSmoothClasses,
                Int4Ablation = Int4Ablation.None,
            };
            bool continues = resume && File.Exists(ckpt);
            if (continues && Checkpoint.ReadHeader(ckpt).Config != expected)
                throw new InvalidDataException($"{ckpt} was trained with another configuration than this comparison's.");
            if (!continues) RunFolder.EnsureFree(dir, overwrite);
            return (Name: name, Dir: dir, Checkpoint: ckpt, Config: expected, Continues: continues);
        }).ToList();
        string text = RunSetup.LoadText(p.GetValue(o.Run.Data), log);
        using var backend = RunSetup.OpenBackend(p.GetValue(o.Run.Device)!, log, o.Run.CudaGraphs(p));
        var runs = new List<LossCurve>();
        for (int i = 0; i < plan.Count; i++)
        {
            var run = plan[i];
            log.LogInformation("compare {I}/{N}: {Precision}, {Steps} steps into {Dir}{Resume}", i + 1, plan.Count, run.Name, steps, run.Dir,
                run.Continues ? " (continuing its checkpoint)" : "");
            using (var trainer = run.Continues
                ? Trainer.Resume(run.Checkpoint, text, backend.Factory, log)
                : Trainer.Create(run.Config, text, backend.Factory, log))
            {
                if (trainer.Step < steps) TrainProgress.Run(trainer, steps, evalEvery, run.Dir, interactive, run.Name, overwrite);
            }
            runs.Add(LossCurve.Read(run.Dir, run.Name));
        }
        return runs;
    }
}
