using System.Globalization;

namespace Int4Train.Cli;

/// <summary>One run's loss.csv as the trainer writes it (step,train_loss,val_loss,lr,tokens_per_s); a resumed run
/// that repeated steps keeps the last row of each step.</summary>
internal sealed record LossCurve(string Label, IReadOnlyList<LossCurve.Row> Rows)
{
    /// <summary>The run's configuration, from the checkpoint beside loss.csv (null when there is none or it cannot be read).</summary>
    public Training.GptConfig? Config { get; init; }

    /// <summary>The run's seed (null when its configuration is unknown).</summary>
    public int? Seed => Config?.Seed;

    /// <summary>One step.</summary>
    public readonly record struct Row(long Step, double TrainLoss, double? ValidationLoss, double TokensPerSecond);

    /// <summary>Reads <c>loss.csv</c> of a run folder (or a CSV file itself); the label defaults to the folder's name
    /// (so runs of one precision in folders named by their variant, e.g. int4-paper and int4-g128, keep apart).</summary>
    public static LossCurve Read(string path, string? label = null)
    {
        bool isFile = File.Exists(path) || path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
        string csv = isFile ? path : Path.Combine(path, "loss.csv");
        if (!File.Exists(csv)) throw new FileNotFoundException($"No loss curve: '{csv}' does not exist.", csv);
        label ??= isFile ? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(csv))) ?? csv
            : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
        string[] lines = File.ReadAllLines(csv);
        if (lines.Length == 0 || !lines[0].StartsWith("step,train_loss,val_loss", StringComparison.Ordinal))
            throw new InvalidDataException($"{csv}: not a loss curve (expected the header step,train_loss,val_loss,lr,tokens_per_s).");
        var byStep = new SortedDictionary<long, Row>();
        // a process killed while appending leaves a torn last line (no newline after it): not part of the curve
        bool tornLast = !File.ReadAllText(csv).EndsWith('\n');
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0 || (tornLast && i == lines.Length - 1)) continue;
            string[] f = lines[i].Split(',');
            if (f.Length < 5) throw new InvalidDataException($"{csv}:{i + 1}: expected 5 fields, got {f.Length}.");
            try
            {
                var row = new Row(long.Parse(f[0], CultureInfo.InvariantCulture), Num(f[1]),
                    f[2].Length == 0 ? null : Num(f[2]), Num(f[4]));
                byStep[row.Step] = row;
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{csv}:{i + 1}: {e.Message}", e);
            }
        }
        if (byStep.Count == 0) throw new InvalidDataException($"{csv}: no steps.");
        return new LossCurve(label, byStep.Values.ToArray()) { Config = ConfigBeside(csv) };
    }

    private static Training.GptConfig? ConfigBeside(string csv)
    {
        string ckpt = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(csv))!, Training.RunFolder.CheckpointFile);
        try
        {
            return File.Exists(ckpt) ? Training.Checkpoint.ReadHeader(ckpt).Config : null;
        }
        catch (InvalidDataException)
        {
            return null; // the report does not depend on the checkpoint
        }
    }

    private static double Num(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Steps trained (the last step).</summary>
    public long Steps => Rows[^1].Step;

    /// <summary>The rows with a validation loss.</summary>
    public IEnumerable<Row> Evaluations => Rows.Where(r => r.ValidationLoss is not null);

    /// <summary>The lowest validation loss and its step (nanoGPT's "best val loss"); null without evaluations.</summary>
    public (double Loss, long Step)? BestValidation =>
        Evaluations.Any() ? Evaluations.MinBy(r => r.ValidationLoss!.Value) is var b ? (b.ValidationLoss!.Value, b.Step) : null : null;

    /// <summary>The last step's training loss.</summary>
    public double FinalTrainLoss => Rows[^1].TrainLoss;

    /// <summary>Mean tokens/s: over the evaluation rows (each averages its interval), else over every row.</summary>
    public double MeanTokensPerSecond => (Evaluations.Any() ? Evaluations : Rows).Average(r => r.TokensPerSecond);
}
