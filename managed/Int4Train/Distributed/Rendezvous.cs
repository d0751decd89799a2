using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Int4Train.Distributed;

/// <summary>
/// Hands rank 0's NCCL unique id (128 bytes) to the other ranks over TCP, once, before NCCL starts. Rank 0 listens
/// on MASTER_ADDR:MASTER_PORT (that address only: the loopback address for a local launch, never every interface);
/// each other rank connects (retrying while rank 0 is not listening yet), sends a magic number and its rank, and
/// receives the magic, a little-endian int32 length and the id. Every wait has a deadline and every failure (timeout,
/// a short read, a wrong size, a stranger on the port) is one <see cref="DistributedException"/> saying what happened.
/// </summary>
public static class Rendezvous
{
    private const int Magic = 0x56523449; // "I4RV"
    private const int MaxPayload = 1 << 20;

    /// <summary>Default deadline for the whole exchange.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Rank 0: the id to the other WORLD_SIZE − 1 ranks.</summary>
    public static Task PublishAsync(DistributedEnvironment environment, ReadOnlyMemory<byte> payload, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return PublishAsync(ResolveAddress(environment.MasterAddress), environment.MasterPort, environment.WorldSize, payload, timeout ?? DefaultTimeout, cancel);
    }

    /// <summary>Ranks &gt; 0: the id from rank 0, which must be <paramref name="expectedLength"/> bytes.</summary>
    public static Task<byte[]> ReceiveAsync(DistributedEnvironment environment, int expectedLength, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return ReceiveAsync(ResolveAddress(environment.MasterAddress), environment.MasterPort, environment.Rank, expectedLength, timeout ?? DefaultTimeout, cancel);
    }

    /// <summary>Rank 0 side on an explicit endpoint.</summary>
    public static async Task PublishAsync(IPAddress address, int port, int worldSize, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (payload.Length is 0 or > MaxPayload) throw new ArgumentException($"The payload has {payload.Length} bytes; it must be 1 … {MaxPayload}.", nameof(payload));
        if (worldSize <= 1) return;
        using var deadline = Deadline(timeout, cancel);
        var listener = new TcpListener(address, port);
        try { listener.Start(worldSize); }
        catch (SocketException e)
        {
            throw new DistributedException($"Rank 0 cannot listen on {address}:{port} for the rendezvous ({e.SocketErrorCode}: {e.Message}); "
                + "choose another MASTER_PORT or a local MASTER_ADDR.", e);
        }
        var pending = Enumerable.Range(1, worldSize - 1).ToHashSet();
        try
        {
            while (pending.Count > 0)
            {
                using TcpClient client = await listener.AcceptTcpClientAsync(deadline.Token).ConfigureAwait(false);
                using NetworkStream stream = client.GetStream();
                byte[] hello = await ReadExactlyAsync(stream, 8, "the hello of a rank", deadline.Token).ConfigureAwait(false);
                int rank = BinaryPrimitives.ReadInt32LittleEndian(hello.AsSpan(4));
                if (BinaryPrimitives.ReadInt32LittleEndian(hello) != Magic) continue; // a stranger on the port: ignore it
                if (!pending.Remove(rank))
                    throw new DistributedException($"Rank {rank} joined the rendezvous on {address}:{port}, but the ranks still expected are "
                        + $"{string.Join(", ", pending)} (WORLD_SIZE {worldSize}); two processes with one RANK, or a mismatched WORLD_SIZE?");
                var message = new byte[8 + payload.Length];
                BinaryPrimitives.WriteInt32LittleEndian(message, Magic);
                BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(4), payload.Length);
                payload.Span.CopyTo(message.AsSpan(8));
                await stream.WriteAsync(message, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new DistributedException($"Rendezvous timed out after {timeout.TotalSeconds:0.#} s: rank 0 on {address}:{port} is still waiting for "
                + $"rank(s) {string.Join(", ", pending.Order())} of {worldSize}. Did every process start, with the same MASTER_ADDR and MASTER_PORT?");
        }
        catch (IOException e)
        {
            throw new DistributedException($"A rank's rendezvous connection to {address}:{port} failed: {e.Message}", e);
        }
        finally { listener.Stop(); }
    }

    /// <summary>Rank &gt; 0 side on an explicit endpoint.</summary>
    public static async Task<byte[]> ReceiveAsync(IPAddress address, int port, int rank, int expectedLength, TimeSpan timeout, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (expectedLength is <= 0 or > MaxPayload) throw new ArgumentOutOfRangeException(nameof(expectedLength), expectedLength, $"Must be 1 … {MaxPayload}.");
        using var deadline = Deadline(timeout, cancel);
        try
        {
            using TcpClient client = await ConnectAsync(address, port, deadline.Token).ConfigureAwait(false);
            using NetworkStream stream = client.GetStream();
            var hello = new byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(hello, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(4), rank);
            await stream.WriteAsync(hello, deadline.Token).ConfigureAwait(false);
            byte[] header = await ReadExactlyAsync(stream, 8, "the rendezvous header from rank 0", deadline.Token).ConfigureAwait(false);
            if (BinaryPrimitives.ReadInt32LittleEndian(header) != Magic)
                throw new DistributedException($"The server on {address}:{port} is not an Int4Train rendezvous (wrong magic number); check MASTER_PORT.");
            int length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
            if (length != expectedLength)
                throw new DistributedException($"Rank 0 sent a {length}-byte id, rank {rank} expects {expectedLength} bytes (different Int4Train versions?).");
            return await ReadExactlyAsync(stream, length, "the id from rank 0", deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new DistributedException($"Rendezvous timed out after {timeout.TotalSeconds:0.#} s: rank {rank} got no id from rank 0 at {address}:{port}. "
                + "Is rank 0 running, and are MASTER_ADDR and MASTER_PORT the same for every process?");
        }
        catch (IOException e)
        {
            throw new DistributedException($"Rank {rank}'s rendezvous connection to {address}:{port} failed: {e.Message}", e);
        }
    }

    /// <summary>MASTER_ADDR as an address: a literal, or the first address of a host name (IPv4 preferred).</summary>
    public static IPAddress ResolveAddress(string host)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        if (IPAddress.TryParse(host, out IPAddress? literal)) return literal;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        try
        {
            var all = Dns.GetHostAddresses(host);
            return all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? all.First();
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new DistributedException($"MASTER_ADDR '{host}' does not resolve to an address ({e.Message}).", e);
        }
    }

    private static CancellationTokenSource Deadline(TimeSpan timeout, CancellationToken cancel)
    {
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive.");
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        cts.CancelAfter(timeout);
        return cts;
    }

    private static async Task<TcpClient> ConnectAsync(IPAddress address, int port, CancellationToken cancel)
    {
        while (true)
        {
            var client = new TcpClient(address.AddressFamily);
            try
            {
                await client.ConnectAsync(address, port, cancel).ConfigureAwait(false);
                return client;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.TimedOut or SocketError.HostUnreachable)
            {
                client.Dispose(); // rank 0 is not listening yet: retry until the deadline
                await Task.Delay(50, cancel).ConfigureAwait(false);
            }
            catch { client.Dispose(); throw; }
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(NetworkStream stream, int count, string what, CancellationToken cancel)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(read), cancel).ConfigureAwait(false);
            if (n == 0) throw new DistributedException($"The rendezvous connection closed after {read} of the {count} bytes of {what}.");
            read += n;
        }
        return buffer;
    }
}
