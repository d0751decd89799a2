using System.Diagnostics;
using System.Runtime.InteropServices;
using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>The NCCL binding end to end against <see cref="NcclStub"/>, in a fresh test process (NCCL is loaded once
/// per process, from NCCL_LIBRARY): version, unique id, the id passed by value to ncclCommInitRank, adjacent buffers
/// merged into one ncclAllReduce with ncclAvg on the given stream, destroy on a clean dispose and abort after a failed
/// call, and NCCL_NVLS_ENABLE=0 visible to NCCL's getenv.</summary>
[TestFixture]
public unsafe class NcclBindingTests
{
    private const string ChildMarker = "INT4TRAIN_NCCL_STUB_CHILD";

    [Test]
    public void Binding_AgainstAStubNccl_InAFreshProcess()
    {
        Assume.That(OperatingSystem.IsLinux(), "NCCL is Linux-only");
        string? stub = NcclStub.Build(out string reason);
        Assume.That(stub, Is.Not.Null, reason);
        string dll = typeof(NcclBindingTests).Assembly.Location;
        string host = Environment.ProcessPath!;
        var info = Path.GetFileNameWithoutExtension(host) == "dotnet" ? new ProcessStartInfo(host, [dll]) : new ProcessStartInfo(host);
        foreach (string a in new[] { "--filter", $"FullyQualifiedName~{nameof(NcclBindingTests)}.{nameof(ChildProcessChecks)}" }) info.ArgumentList.Add(a);
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        info.Environment["NCCL_LIBRARY"] = stub;
        info.Environment[ChildMarker] = "1";
        info.Environment.Remove("NCCL_NVLS_ENABLE");
        using var child = Process.Start(info)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        string stderr = child.StandardError.ReadToEnd();
        Assert.That(child.WaitForExit(TimeSpan.FromMinutes(2)), Is.True, "the child test process hung");
        Assert.That(child.ExitCode, Is.Zero, stdout.Result + stderr);
        Assert.That(stdout.Result, Does.Match(@"succeeded:\s*1"), "the child ran the checks");
    }

    /// <summary>Runs only inside the child process the test above starts.</summary>
    [Test]
    public void ChildProcessChecks()
    {
        Assume.That(Environment.GetEnvironmentVariable(ChildMarker), Is.EqualTo("1"), "runs in the child process of Binding_AgainstAStubNccl_InAFreshProcess");
        IntPtr lib = NativeLibrary.Load(Environment.GetEnvironmentVariable("NCCL_LIBRARY")!);
        int Int(string f) => ((delegate* unmanaged<int>)NativeLibrary.GetExport(lib, f))();
        long Long(string f) => ((delegate* unmanaged<long>)NativeLibrary.GetExport(lib, f))();

        Assert.That(NcclLibrary.Version(), Is.EqualTo(23203));
        Assert.That(Int("stub_nvls"), Is.EqualTo(1), "NCCL's getenv sees NCCL_NVLS_ENABLE=0");
        Assert.That(NcclCommunicator.CreateUniqueId(), Is.EqualTo(Enumerable.Range(0, 128).Select(i => (byte)i).ToArray()));
        byte[] id = Enumerable.Range(0, 128).Select(i => (byte)(i ^ 0x5a)).ToArray();
        using (var comm = new NcclCommunicator((IntPtr)0x77, id, 1, 3))
        {
            Assert.That((Int("stub_nranks"), Int("stub_rank")), Is.EqualTo((3, 1)));
            comm.AllReduce([ReduceBuffer.OnDevice(0x1000, 4), ReduceBuffer.OnDevice(0x1010, 6), ReduceBuffer.OnDevice(0x1028, 2)], ReduceOperation.Average);
            Assert.That((Long("stub_calls"), Long("stub_count"), Int("stub_type"), Int("stub_op")), Is.EqualTo((1L, 12L, 7, 4)), "one float32 ncclAvg call");
            Assert.Throws<ArgumentException>(() => comm.AllReduce([ReduceBuffer.OnHost(new float[3])], ReduceOperation.Sum));
        }
        Assert.That((Int("stub_destroyed"), Int("stub_aborted")), Is.EqualTo((1, 0)), "a clean dispose destroys");

        var failing = new NcclCommunicator((IntPtr)0x78, id, 0, 2); // the stub fails calls on any stream but 0x77
        var e = Assert.Throws<Int4TrainException>(() => failing.AllReduce([ReduceBuffer.OnDevice(0x1000, 4)], ReduceOperation.Sum));
        Assert.That(e!.Message, Does.Contain("ncclAllReduce failed: invalid argument (stub)"));
        failing.Dispose();
        Assert.That((Int("stub_destroyed"), Int("stub_aborted")), Is.EqualTo((1, 1)), "dispose after a failure aborts");

        var wrongId = Assert.Throws<Int4TrainException>(() => new NcclCommunicator((IntPtr)0x77, new byte[128], 0, 2));
        Assert.That(wrongId!.Message, Does.Contain("ncclCommInitRank (rank 0 of 2) failed"));
        Assert.Throws<ArgumentException>(() => new NcclCommunicator((IntPtr)0x77, new byte[64], 0, 2));
    }
}
