using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>The torchrun-like launcher on a tiny shell command: each child sees its rank's variables, its lines come
/// back prefixed, and one failing rank fails the run and stops the others.</summary>
[TestFixture]
public class LocalLauncherTests
{
    [OneTimeSetUp]
    public void NeedsAShell() => Assume.That(File.Exists("/bin/sh"), "needs /bin/sh");

    private static LaunchCommand Shell(string script) => new("/bin/sh", ["-c", script]);

    [Test]
    public async Task TwoRanks_GetTheirVariables_AndPrefixedOutput()
    {
        var output = new StringWriter();
        int code = await new LocalLauncher(output).RunAsync(
            Shell("echo \"r=$RANK w=$WORLD_SIZE l=$LOCAL_RANK a=$MASTER_ADDR p=$MASTER_PORT nvls=$NCCL_NVLS_ENABLE\"; echo err >&2"), 2, masterPort: 29555);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(code, Is.Zero);
        Assert.That(lines, Is.EquivalentTo(new[]
        {
            "[rank 0] r=0 w=2 l=0 a=127.0.0.1 p=29555 nvls=0", "[rank 0] err",
            "[rank 1] r=1 w=2 l=1 a=127.0.0.1 p=29555 nvls=0", "[rank 1] err",
        }));
    }

    [Test]
    public void FailingRank_FailsTheRun_AndStopsTheOthers()
    {
        var output = new StringWriter();
        var run = new LocalLauncher(output).RunAsync(Shell("if [ \"$RANK\" = 1 ]; then echo broken; exit 3; fi; sleep 60; echo finished"), 2);
        Assert.That(run.Wait(TimeSpan.FromSeconds(30)), Is.True, "rank 0 was not stopped after rank 1 failed");
        Assert.That(run.Result, Is.EqualTo(3));
        Assert.That(output.ToString(), Does.Contain("[rank 1] broken").And.Contain("rank 1 exited with code 3").And.Not.Contain("finished"));
    }

    [Test]
    public void MissingProgram_IsOneClearError()
    {
        var e = Assert.ThrowsAsync<DistributedException>(() => new LocalLauncher(TextWriter.Null).RunAsync(new LaunchCommand("/no/such/program", []), 2));
        Assert.That(e!.Message, Does.Contain("Cannot start rank 0").And.Contain("/no/such/program"));
    }

    [Test]
    public void ChildArguments_DropTheLauncherOption()
    {
        Assert.That(LaunchCommand.WithoutLauncherOption(["train", "--nproc-per-node", "4", "--steps", "10"]), Is.EqualTo(new[] { "train", "--steps", "10" }));
        Assert.That(LaunchCommand.WithoutLauncherOption(["train", "--nproc-per-node=4", "--out", "x"]), Is.EqualTo(new[] { "train", "--out", "x" }));
    }
}
