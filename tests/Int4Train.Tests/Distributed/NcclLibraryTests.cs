using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>Where NCCL is looked for, and the one clear error (how to install it) when it is not there.</summary>
[TestFixture]
public class NcclLibraryTests
{
    [Test]
    public void ImpossibleNcclLibraryPath_SaysHowToInstall()
    {
        var vars = new Dictionary<string, string> { ["NCCL_LIBRARY"] = "/nonexistent/nccl/libnccl.so.2" };
        bool loaded = NcclLibrary.TryLoad(vars.GetValueOrDefault, out _, out string reason);
        Assert.That(loaded, Is.False);
        Assert.That(reason, Does.Contain("NCCL_LIBRARY=/nonexistent/nccl/libnccl.so.2 does not exist")
            .And.Contain("pip install nvidia-nccl-cu12").And.Contain("libnccl2"));
    }

    [Test]
    public void NoNccl_TheCommunicatorFailsWithTheInstallHint()
    {
        Assume.That(NcclLibrary.IsAvailable(out _), Is.False, "NCCL is installed on this machine");
        var e = Assert.Throws<Int4TrainException>(() => NcclCommunicator.CreateUniqueId());
        Assert.That(e!.Message, Does.Contain("pip install nvidia-nccl-cu12"));
        Assert.That(e.Kind, Is.EqualTo(NativeErrorKind.NotSupported));
    }

    [Test]
    public void PythonPackageLocations_AreSearched()
    {
        string venv = Path.Combine(Path.GetTempPath(), "i4t-venv-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(venv, "lib", "python3.12"));
        try
        {
            var vars = new Dictionary<string, string> { ["VIRTUAL_ENV"] = venv, ["PYTHONPATH"] = "/opt/extra" };
            var candidates = NcclLibrary.PythonPackageCandidates(vars.GetValueOrDefault).ToList();
            Assert.That(candidates, Does.Contain(Path.Combine(venv, "lib", "python3.12", "site-packages", "nvidia", "nccl", "lib", "libnccl.so.2")));
            Assert.That(candidates, Does.Contain("/opt/extra/nvidia/nccl/lib/libnccl.so.2"));
        }
        finally { Directory.Delete(venv, recursive: true); }
    }

    [Test]
    public void AdjacentDeviceBuffers_GoOutAsOneCall()
    {
        var runs = NcclCommunicator.Coalesce([ReduceBuffer.OnDevice(0x1000, 4), ReduceBuffer.OnDevice(0x1010, 2), ReduceBuffer.OnDevice(0x2000, 3),
            ReduceBuffer.OnDevice(0x200C, 1, ReduceElement.Float64), ReduceBuffer.OnDevice(0x3000, 0)]);
        Assert.That(runs, Is.EqualTo(new[] { ((IntPtr)0x1000, 6L, ReduceElement.Float32), ((IntPtr)0x2000, 3L, ReduceElement.Float32),
            ((IntPtr)0x200C, 1L, ReduceElement.Float64) }));
    }
}
