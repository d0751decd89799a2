namespace Int4Train.Training;

/// <summary>A run's output folder: <c>loss.csv</c> (the loss curve) and <c>checkpoint.bin</c> (the latest
/// checkpoint), the rule that a new run never replaces another run's files unless asked to, and where a resume
/// continues (the checkpoint's own folder).</summary>
public static class RunFolder
{
    /// <summary>The checkpoint's file name in a run folder.</summary>
    public const string CheckpointFile = "checkpoint.bin";

    /// <summary>The loss curve's file name in a run folder.</summary>
    public const string LossFile = "loss.csv";

    /// <summary>The checkpoint of a run folder.</summary>
    public static string CheckpointPath(string dir) => Path.Combine(dir, CheckpointFile);

    /// <summary>The loss curve of a run folder.</summary>
    public static string LossPath(string dir) => Path.Combine(dir, LossFile);

    /// <summary>The folder a checkpoint lives in (where a resume continues by default).</summary>
    public static string Of(string checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(checkpoint));
        return string.IsNullOrEmpty(dir) ? "." : dir;
    }

    /// <summary>The run files a folder holds (empty when none).</summary>
    public static IReadOnlyList<string> RunFiles(string dir) =>
        [.. new[] { CheckpointFile, LossFile }.Where(f => File.Exists(Path.Combine(dir, f)))];

    /// <summary>Whether two paths name the same folder.</summary>
    public static bool Same(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)),
            OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>Throws <see cref="RunExistsException"/> when a new run would write into a folder that holds a run and
    /// <paramref name="overwrite"/> is false. Reads only: call it before anything is written.</summary>
    public static void EnsureFree(string dir, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (File.Exists(dir)) throw new IOException($"'{dir}' is a file, not a folder.");
        var files = RunFiles(dir);
        if (files.Count > 0 && !overwrite) throw new RunExistsException(dir, files);
    }
}

/// <summary>A new run was about to replace another run's files (a folder holding <c>loss.csv</c> or
/// <c>checkpoint.bin</c>) without permission to overwrite.</summary>
public sealed class RunExistsException : IOException
{
    /// <summary>Creates the exception for a folder and the run files it holds.</summary>
    public RunExistsException(string folder, IReadOnlyList<string> files)
        : base($"'{folder}' already holds a run ({string.Join(", ", files)}); resume it, allow overwriting, or write elsewhere.")
    {
        Folder = folder;
        Files = files;
    }

    /// <summary>The folder.</summary>
    public string Folder { get; }

    /// <summary>The run files it holds.</summary>
    public IReadOnlyList<string> Files { get; }
}
