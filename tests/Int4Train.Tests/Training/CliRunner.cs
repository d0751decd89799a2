using Int4Train.Cli;

namespace Int4Train.Tests.Training;

/// <summary>Runs the int4train command line in-process with captured output, and makes scratch folders.</summary>
internal static class CliRunner
{
    /// <summary>The exit code, stdout and stderr of a command line.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A fresh folder under the temp directory (the caller deletes it).</summary>
    public static string TempDir(string what)
    {
        string d = Path.Combine(Path.GetTempPath(), $"int4train-{what}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>A fast CPU train command line (fp32, tiny preset at batch 2, context 8) into a folder.</summary>
    public static string[] FastTrain(string outDir, int steps, int evalEvery, params string[] more) =>
        ["train", "--precision", "fp32", "--device", "cpu", "--steps", $"{steps}", "--eval-every", $"{evalEvery}", "--batch", "2", "--context", "8",
         "--plain", "--out", outDir, .. more];
}
