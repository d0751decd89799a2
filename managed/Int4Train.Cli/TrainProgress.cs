using System.Globalization;
using Int4Train.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Int4Train.Cli;

/// <summary>Runs a <see cref="Trainer"/> to a step count under a live Spectre.Console progress bar (step/total, train
/// loss, last validation loss, tokens/s, labelled elapsed and remaining time) when interactive; otherwise the
/// trainer's own log lines (with their ETA) are the progress. The trainer knows nothing of this: it reports each
/// step through its callback.</summary>
internal static class TrainProgress
{
    public static IReadOnlyList<TrainRecord> Run(Trainer trainer, long totalSteps, int evalEvery, string outDir, bool interactive, string label, bool overwrite)
    {
        if (!interactive) return trainer.Run(totalSteps, evalEvery, outDir, overwrite: overwrite);
        IReadOnlyList<TrainRecord> records = [];
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new TimeColumn("elapsed", t => t.ElapsedTime), new TimeColumn("left", t => t.RemainingTime), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Describe(label, trainer.Step, totalSteps, null, null, null), maxValue: totalSteps);
                task.Value = trainer.Step;
                double? lastVal = null;
                records = trainer.Run(totalSteps, evalEvery, outDir, r =>
                {
                    lastVal = r.ValidationLoss ?? lastVal;
                    task.Description = Describe(label, r.Step, totalSteps, r.TrainLoss, lastVal, r.TokensPerSecond);
                    task.Value = r.Step;
                }, overwrite);
                task.StopTask();
            });
        return records;
    }

    private static string Describe(string label, long step, long total, double? loss, double? val, double? tps) =>
        Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"{label} {step}/{total} loss {Fmt(loss)} val {Fmt(val)} {(tps is double t ? Rate(t) : "–")} tok/s"));

    private static string Rate(double t) => t >= 1e4 ? (t / 1e3).ToString("F0", CultureInfo.InvariantCulture) + "k" : t.ToString("F0", CultureInfo.InvariantCulture);

    private static string Fmt(double? v) => v is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "–";

    /// <summary>A time column with its label ("elapsed 1m05s", "left 3m10s"), so the two times cannot be confused.</summary>
    private sealed class TimeColumn(string label, Func<ProgressTask, TimeSpan?> time) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Markup($"[grey]{label}[/] {(time(task) is TimeSpan t ? TrainFormat.Duration(t) : "–")}");
    }
}
