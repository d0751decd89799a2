using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>What the training commands set up the same way: the text and the backend.</summary>
internal static class RunSetup
{
    /// <summary>The text of --data, or the built-in text (and the log says so).</summary>
    public static string LoadText(string? path, ILogger log)
    {
        if (path is null)
        {
            log.LogInformation("no --data: training on a small built-in text ({Chars} characters); pass --data FILE for real data", BuiltInText.Text.Length);
            return BuiltInText.Text;
        }
        if (Directory.Exists(path)) throw new FileNotFoundException($"--data '{path}' is a folder, not a text file.", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        string text = File.ReadAllText(path);
        log.LogInformation("data {Path}: {Chars} characters", path, text.EnumerateRunes().Count());
        return text;
    }

    /// <summary>The --device backend (with --graph's CUDA graphs on a GPU), logged.</summary>
    public static ModelBackend OpenBackend(string device, ILogger log, bool cudaGraphs = true)
    {
        var backend = ModelBackend.Open(device, log, cudaGraphs);
        log.LogInformation("device: {Backend}", backend.Description);
        return backend;
    }
}
