using System.Globalization;
using System.Text;

namespace Int4Train.Training;

/// <summary>
/// A run's <c>loss.csv</c> (step,train_loss,val_loss,lr,tokens_per_s) as the trainer keeps it consistent with the
/// checkpoint. Steps between validations are appended as they happen (so the curve can be watched); at each
/// validation the whole file is rewritten through <see cref="AtomicFile"/> <b>before</b> the checkpoint is saved, so
/// after a crash the file holds at least the checkpoint's steps. A resume keeps only the rows up to the checkpoint's
/// step (the redone steps are not listed twice; a torn last line of a killed process is dropped), so the curve of a
/// resumed run equals an uninterrupted run's. Nothing is written before the first step of this session is done.
/// </summary>
public sealed class LossLog
{
    /// <summary>The CSV header.</summary>
    public const string Header = "step,train_loss,val_loss,lr,tokens_per_s";

    private readonly List<string> _rows;
    private bool _committed;

    private LossLog(string path, List<string> rows)
    {
        Path = path;
        _rows = rows;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The rows held (earlier sessions' kept rows, then this session's).</summary>
    public int Count => _rows.Count;

    /// <summary>A loss curve for a run at <paramref name="step"/> written to <paramref name="path"/>: the rows of
    /// <paramref name="previous"/> (the loss.csv of the session this one continues, often <paramref name="path"/>
    /// itself; null or absent: none) with steps 1..step, nothing when <paramref name="step"/> is 0. Reads only.</summary>
    public static LossLog Continue(string path, long step, string? previous)
    {
        ArgumentNullException.ThrowIfNull(path);
        var kept = new SortedDictionary<long, string>();
        if (step > 0 && previous is not null && File.Exists(previous))
        {
            using var reader = new StreamReader(previous);
            string? header = reader.ReadLine();
            if (header is null || !header.StartsWith("step,train_loss,val_loss", StringComparison.Ordinal))
                throw new InvalidDataException($"{previous}: not a loss curve (expected the header {Header}).");
            for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
                if (StepOf(line) is long s && s >= 1 && s <= step) kept[s] = line; // the last row of a step wins
        }
        return new LossLog(path, [.. kept.Values]);
    }

    /// <summary>Adds this step's row: the first row of a session rewrites the file (dropping rows past the resume
    /// point and any older run's file), later ones are appended.</summary>
    public void Append(TrainRecord record)
    {
        string line = Format(record);
        _rows.Add(line);
        if (!_committed) Commit();
        else File.AppendAllText(Path, line + "\n");
    }

    /// <summary>Adds this step's row and rewrites the whole file crash-safely (at a validation, before the checkpoint).</summary>
    public void AppendAndCommit(TrainRecord record)
    {
        _rows.Add(Format(record));
        Commit();
    }

    /// <summary>Rewrites the whole file crash-safely.</summary>
    public void Commit()
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (string r in _rows) sb.Append(r).Append('\n');
        AtomicFile.WriteText(Path, sb.ToString());
        _committed = true;
    }

    /// <summary>The CSV row of a record.</summary>
    public static string Format(TrainRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $"{r.Step},{r.TrainLoss:R},{(r.ValidationLoss is double v ? v.ToString("R", inv) : "")},{r.LearningRate:R},{r.TokensPerSecond:F1}");
    }

    /// <summary>The step of a well-formed row (5 fields, numbers where numbers belong), else null.</summary>
    private static long? StepOf(string line)
    {
        string[] f = line.Split(',');
        if (f.Length != 5) return null;
        var inv = CultureInfo.InvariantCulture;
        bool ok = long.TryParse(f[0], NumberStyles.Integer, inv, out long step)
            && double.TryParse(f[1], NumberStyles.Float, inv, out _)
            && (f[2].Length == 0 || double.TryParse(f[2], NumberStyles.Float, inv, out _))
            && double.TryParse(f[3], NumberStyles.Float, inv, out _)
            && double.TryParse(f[4], NumberStyles.Float, inv, out _);
        return ok ? step : null;
    }
}
