namespace Int4Train.Training;

/// <summary>
/// Crash-safe file replacement, the one way the trainer writes a file a later run depends on (checkpoint, loss
/// curve): the content goes to <c>PATH.tmp</c>, is flushed to the disk, and only then renamed over PATH (an atomic
/// rename on one file system). A crash at any moment leaves either the old file or the new one, never a torn one;
/// a leftover <c>PATH.tmp</c> is ignored by readers and replaced by the next write.
/// </summary>
public static class AtomicFile
{
    /// <summary>The temporary file a write of <paramref name="path"/> goes through.</summary>
    public static string TempPath(string path) => path + ".tmp";

    /// <summary>Replaces <paramref name="path"/> with what <paramref name="write"/> writes to the stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string tmp = TempPath(path);
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Replaces <paramref name="path"/> with a text (UTF-8, no byte-order mark).</summary>
    public static void WriteText(string path, string text) => Write(path, s =>
    {
        using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true);
        w.Write(text);
    });

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { } // the original error matters more; the next write replaces the leftover
        catch (UnauthorizedAccessException) { }
    }
}
