using System.Globalization;

namespace Int4Train.Training;

/// <summary>How the trainer's numbers read in logs and progress lines (invariant culture everywhere).</summary>
public static class TrainFormat
{
    /// <summary>A small positive number (a learning rate) in short scientific notation: 2.73e-4, 3.00e-3.</summary>
    public static string Scientific(double value) => value.ToString("0.00e-0", CultureInfo.InvariantCulture);

    /// <summary>A duration as 45s, 3m07s or 2h05m.</summary>
    public static string Duration(TimeSpan t)
    {
        if (t < TimeSpan.Zero) t = TimeSpan.Zero;
        var inv = CultureInfo.InvariantCulture;
        return t.TotalHours >= 1 ? string.Create(inv, $"{(int)t.TotalHours}h{t.Minutes:D2}m")
            : t.TotalMinutes >= 1 ? string.Create(inv, $"{(int)t.TotalMinutes}m{t.Seconds:D2}s")
            : string.Create(inv, $"{(int)Math.Ceiling(t.TotalSeconds)}s");
    }

    /// <summary>The time left at a constant rate: elapsed × remaining / done (null before the first step).</summary>
    public static TimeSpan? Remaining(TimeSpan elapsed, long done, long remaining) =>
        done <= 0 ? null : TimeSpan.FromSeconds(elapsed.TotalSeconds * remaining / done);
}
