using System.Diagnostics;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>Issue 15's accuracy job without a GPU: perf/training/test_accuracy_tools.py runs run_accuracy.sh on a fake
/// `train` (VARIANTS and PRECISIONS, folders and options per variant, bad names refused) with this build's real
/// `compare --from`, and checks accuracy_summary.py's means, spreads and per-seed ratios on fake compare.json files.</summary>
[TestFixture]
public class AccuracyScriptTests
{
    [Test]
    public void RunAccuracyAndItsSummary_PassTheirChecks_OnAFakeTrainAndTheRealCompare()
    {
        string root = RepositoryRoot.Find();
        Assume.That(OnPath("python3") && OnPath("bash"), "needs python3 and bash");
        string cli = Path.Combine(AppContext.BaseDirectory, "Int4Train.Cli.dll");
        var psi = new ProcessStartInfo("python3", [Path.Combine(root, "perf", "training", "test_accuracy_tools.py")])
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true,
            Environment = { ["INT4TRAIN_CLI"] = $"dotnet \"{cli}\"" },
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(3)), "finished");
        TestContext.Out.WriteLine(stderr);
        Assert.That(p.ExitCode, Is.Zero, stdout.Result + stderr);
        Assert.That(stderr, Does.Contain("OK"));
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, program)));
}
