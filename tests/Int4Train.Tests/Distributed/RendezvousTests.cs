using System.Net;
using System.Net.Sockets;
using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>The TCP rendezvous between threads on loopback: every rank gets rank 0's bytes; a missing rank, a short
/// read and a wrong size are one clear <see cref="DistributedException"/> each.</summary>
[TestFixture]
public class RendezvousTests
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(2);

    private static DistributedEnvironment Rank(int rank, int world, int port) => new(rank, world, rank, "127.0.0.1", port);

    [Test]
    public async Task ThreeRanks_ReceiveRankZerosId()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        var id = new byte[128];
        new Random(7).NextBytes(id);
        // the receivers start first: they must retry until rank 0 listens
        var receivers = Enumerable.Range(1, 2).Select(r => Rendezvous.ReceiveAsync(Rank(r, 3, port), 128, TimeSpan.FromSeconds(20))).ToArray();
        await Task.Delay(100);
        await Rendezvous.PublishAsync(Rank(0, 3, port), id, TimeSpan.FromSeconds(20));
        foreach (var got in await Task.WhenAll(receivers)) Assert.That(got, Is.EqualTo(id));
    }

    [Test]
    public void MissingRank_RankZeroTimesOut_NamingTheRank()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        var publish = Rendezvous.PublishAsync(Rank(0, 3, port), new byte[128], Quick);
        var one = Rendezvous.ReceiveAsync(Rank(1, 3, port), 128, Quick);
        var e = Assert.ThrowsAsync<DistributedException>(async () => await publish);
        Assert.That(e!.Message, Does.Contain("timed out").And.Contain("rank(s) 2 of 3").And.Contain("MASTER_PORT"));
        Assert.That(one.Wait(TimeSpan.FromSeconds(5)), Is.True, "rank 1 got its id before rank 0 gave up");
    }

    [Test]
    public void NoRankZero_ReceiverTimesOut()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        var e = Assert.ThrowsAsync<DistributedException>(() => Rendezvous.ReceiveAsync(Rank(1, 2, port), 128, TimeSpan.FromMilliseconds(500)));
        Assert.That(e!.Message, Does.Contain("timed out").And.Contain("rank 1").And.Contain($"127.0.0.1:{port}"));
    }

    [Test]
    public void WrongSize_IsRejected()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        var publish = Rendezvous.PublishAsync(Rank(0, 2, port), new byte[64], TimeSpan.FromSeconds(10));
        var e = Assert.ThrowsAsync<DistributedException>(() => Rendezvous.ReceiveAsync(Rank(1, 2, port), 128, TimeSpan.FromSeconds(10)));
        Assert.That(e!.Message, Does.Contain("64-byte").And.Contain("128"));
        Assert.DoesNotThrowAsync(async () => await publish);
    }

    [Test]
    public async Task ShortRead_IsRejected()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            await stream.ReadExactlyAsync(new byte[8]);
            // a correct header announcing 128 bytes, then only 10 of them
            var partial = new byte[8 + 10];
            BitConverter.TryWriteBytes(partial.AsSpan(0), 0x56523449);
            BitConverter.TryWriteBytes(partial.AsSpan(4), 128);
            await stream.WriteAsync(partial);
        });
        var e = Assert.ThrowsAsync<DistributedException>(() => Rendezvous.ReceiveAsync(Rank(1, 2, port), 128, TimeSpan.FromSeconds(10)));
        Assert.That(e!.Message, Does.Contain("closed after 10 of the 128 bytes"));
        await server;
    }

    [Test]
    public void DuplicateRank_IsNamed()
    {
        int port = LocalLauncher.FreeLoopbackPort();
        var publish = Rendezvous.PublishAsync(Rank(0, 3, port), new byte[128], TimeSpan.FromSeconds(10));
        var first = Rendezvous.ReceiveAsync(Rank(1, 3, port), 128, TimeSpan.FromSeconds(10));
        first.Wait(TimeSpan.FromSeconds(10));
        _ = Rendezvous.ReceiveAsync(Rank(1, 3, port), 128, TimeSpan.FromSeconds(2)).ContinueWith(_ => { }, TaskScheduler.Default);
        var e = Assert.ThrowsAsync<DistributedException>(async () => await publish);
        Assert.That(e!.Message, Does.Contain("Rank 1 joined").And.Contain("still expected are 2"));
    }
}
