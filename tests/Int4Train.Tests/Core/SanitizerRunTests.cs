using NUnit.Framework;

namespace Int4Train.Tests.Core;

/// <summary>tests/run_sanitizers.sh beyond listing its runs (SanitizerPartsTests): what it records and when it stops.
/// A device call is ~10 minutes and racecheck needs several of them for the device GPT, so the script writes the cases
/// each run finished with no report as SANITIZER_DONE lines (done.tsv, the next call leaves them out), and with
/// SANITIZER_DEADLINE_S starts no run that could not finish before the call ends. These run the script itself on the
/// CPU with a stand-in compute-sanitizer on PATH that prints what the real one and the test program print.</summary>
[TestFixture]
public class SanitizerRunTests
{
    [Test]
    public void ACleanRun_RecordsTheCasesItPassed_UnderItsPart()
    {
        // a line per passed case, TOOL<TAB>PART<TAB>CASE; a case name with parentheses, commas and quotes keeps them; the
        // failed case is not recorded
        var (exitCode, output, error, outDir) = RunScript(new() { ["SANITIZER_TOOLS"] = "racecheck" }, report: "");
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(output, Does.Contain($"{Part} under racecheck: clean"));
        var done = File.ReadAllLines(Path.Combine(outDir, "done.tsv"));
        Assert.That(done, Is.EqualTo(new[]
        {
            $"racecheck\t{Part}\tFirst_Case",
            $"racecheck\t{Part}\tSecond_Case(\"int4\",Nonzero,Up, Down,0.5f)",
        }));
    }

    [Test]
    public void ARunWithAReport_RecordsNothing()
    {
        var (exitCode, output, _, outDir) = RunScript(new() { ["SANITIZER_TOOLS"] = "racecheck" },
            report: "========= Error: Race reported between Write access at k+0x10 and Read access at k+0x20");
        Assert.That(exitCode, Is.Zero);
        Assert.That(output, Does.Contain($"{Part} under racecheck: ERRORS"));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "done.tsv")), Is.Empty, "a run that reported anything vouches for no case");
    }

    [Test]
    public void TheDeadline_StartsNoRunThatCouldNotFinish()
    {
        // SANITIZER_DEADLINE_S=10: under the 30 s a run needs, so the run is not started, and says so
        var (exitCode, output, error, outDir) = RunScript(new() { ["SANITIZER_TOOLS"] = "memcheck", ["SANITIZER_DEADLINE_S"] = "10" }, report: "");
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(output, Does.Contain($"{Part} under memcheck: not started (SANITIZER_DEADLINE_S:"));
        Assert.That(File.Exists(Path.Combine(outDir, $"{Part.Replace(':', '_')}-memcheck.log")), Is.False, "no run");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "done.tsv")), Is.Empty);
    }

    [TestCase(true, true)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    public void Racecheck_LeavesOutCublasKernels_OnlyWhenAskedAndTheToolCan(bool asked, bool toolHasTheOption)
    {
        // every kernel is checked unless SANITIZER_RACECHECK_SKIP_VENDOR=1 (compute-sanitizer 2025.3.1 faulted on the
        // GPT's BF16 GEMMs left out); asked, the script reads --help: a tool with --kernel-name-exclude gets it for
        // nvjet* and *xmma* (and the summary says so), one without runs everything; memcheck never gets it
        var env = new Dictionary<string, string>
        {
            ["SANITIZER_TOOLS"] = "racecheck memcheck", ["STAND_IN_HELP"] = toolHasTheOption ? "--kernel-name-exclude arg" : "",
        };
        if (asked) env["SANITIZER_RACECHECK_SKIP_VENDOR"] = "1";
        var (exitCode, output, error, outDir) = RunScript(env, report: "");
        Assert.That(exitCode, Is.Zero, error);
        var args = File.ReadAllLines(Path.Combine(outDir, "stand-in-args.txt"));
        string race = args.Single(a => a.StartsWith("--tool racecheck", StringComparison.Ordinal));
        string mem = args.Single(a => a.StartsWith("--tool memcheck", StringComparison.Ordinal));
        const string exclude = "--kernel-name-exclude kns=nvjet --kernel-name-exclude kns=xmma";
        bool excluded = asked && toolHasTheOption;
        Assert.That(race.Contains(exclude, StringComparison.Ordinal), Is.EqualTo(excluded), race);
        Assert.That(mem, Does.Not.Contain("--kernel-name-exclude"));
        Assert.That(output.Contains($"{Part} under racecheck: clean (cuBLAS kernels excluded)", StringComparison.Ordinal), Is.EqualTo(excluded), output);
        if (!excluded) Assert.That(output, Does.Contain($"{Part} under racecheck: clean |"));
    }

    [Test]
    public void Collect_RecordsWhatRunsStillGoingHaveFinished()
    {
        // SANITIZER_COLLECT=1 over the logs of a script run in progress (run_sanitizer_call.sh's background run): a log
        // cut short after its first case vouches for that case; a log with a hazard, for none; a run listed in
        // runs.tsv whose log is not there yet, for none (quietly); no run is started, and the running script's case
        // lists stay
        var (exitCode, _, error, outDir) = RunScript(new() { ["SANITIZER_COLLECT"] = "1" }, report: "", prepare: dir =>
        {
            File.WriteAllText(Path.Combine(dir, "a-racecheck.log"), "========= COMPUTE-SANITIZER\npassed First_Case (2m 01s 003ms)\n");
            File.WriteAllText(Path.Combine(dir, "b-racecheck.log"), "========= COMPUTE-SANITIZER\npassed Other_Case (9s 001ms)\n"
                + "========= Error: Race reported between Write access at k+0x10 and Read access at k+0x20\n");
            File.WriteAllText(Path.Combine(dir, "runs.tsv"), $"racecheck\tgpt-a\t{dir}/a-racecheck.log\n"
                + $"racecheck\tgpt-b\t{dir}/b-racecheck.log\nracecheck\tgpt-c\t{dir}/c-racecheck.log\n");
            File.WriteAllText(Path.Combine(dir, ".cases-gpt-d"), "Queued_Case\n");
        });
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(error, Is.Empty, "a log not written yet is no error");
        Assert.That(File.Exists(Path.Combine(outDir, ".cases-gpt-d")), Is.True, "the running script's case list");
        Assert.That(File.ReadAllLines(Path.Combine(outDir, "done.tsv")), Is.EqualTo(new[] { "racecheck\tgpt-a\tFirst_Case" }));
        Assert.That(File.Exists(Path.Combine(outDir, "stand-in-args.txt")), Is.False, "collecting runs no tool");
    }

    [Test]
    public void EveryRunStarted_IsListedForALaterCollect()
    {
        var (exitCode, _, error, outDir) = RunScript(new() { ["SANITIZER_TOOLS"] = "racecheck memcheck" }, report: "");
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(File.ReadAllLines(Path.Combine(outDir, "runs.tsv")).Order(), Is.EqualTo(new[]
        {
            $"memcheck\t{Part}\t{outDir}/{Part.Replace(':', '_')}-memcheck.log",
            $"racecheck\t{Part}\t{outDir}/{Part.Replace(':', '_')}-racecheck.log",
        }));
    }

    private const string Part = "test:NoSuchTest";

    // The stand-in: answers --help with STAND_IN_HELP's text, and otherwise writes its arguments to a line of
    // $OUT/stand-in-args.txt and prints the banner, the test program's Detailed lines for two passed cases and a
    // failed one, REPORT (a line of the tool's, or nothing) and the summary; exit code 9 (--error-exitcode) when
    // REPORT is set.
    private const string StandIn = """
        #!/usr/bin/env bash
        case " $* " in *" --help "*) echo "usage $STAND_IN_HELP"; exit 0 ;; esac
        echo "$*" >> "$OUT/stand-in-args.txt"
        echo "========= COMPUTE-SANITIZER"
        echo "passed First_Case (4m 12s 078ms)"
        echo 'passed Second_Case("int4",Nonzero,Up, Down,0.5f) (14ms)'
        echo "failed Third_Case (1s 002ms)"
        if [ -n "$STAND_IN_REPORT" ]; then echo "$STAND_IN_REPORT"; echo "========= ERROR SUMMARY: 1 error"; exit 9; fi
        echo "========= ERROR SUMMARY: 0 errors"
        """;

    // The script on Part (no test program is asked for its cases: no shards, CASES_PER_RUN or done list), with the
    // stand-in first on PATH; OUT a fresh folder (PREPARE fills it first), removed after the test. Returns the
    // script's output (summary.txt) and that folder.
    private (int ExitCode, string Output, string Error, string OutDir) RunScript(Dictionary<string, string> env, string report,
        Action<string>? prepare = null)
    {
        _work = Path.Combine(Path.GetTempPath(), $"i4t-sanitizer-run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        string bin = Path.Combine(_work, "bin"), outDir = Path.Combine(_work, "out");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(outDir);
        prepare?.Invoke(outDir);
        string standIn = Path.Combine(bin, "compute-sanitizer");
        File.WriteAllText(standIn, StandIn.Replace("\r\n", "\n") + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(standIn, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var (exitCode, output, error) = SanitizerPartsTests.RunSanitizerScript(new Dictionary<string, string>
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"), ["OUT"] = outDir, ["SANITIZER_PARTS"] = Part,
            ["TESTS"] = "the-test-program", ["STAND_IN_REPORT"] = report, ["STAND_IN_HELP"] = "",
        }.Concat(env));
        return (exitCode, output, error, outDir);
    }

    private string? _work;

    [TearDown]
    public void RemoveTheWorkFolder()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
        _work = null;
    }
}
