using ILGPU.Runtime.Cuda;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Int4Train.Distributed;

/// <summary>
/// One rank of an NCCL communicator whose collectives run on a CUDA stream (by default the
/// <see cref="CudaContext"/>'s, so an all-reduce is ordered after the backward that produced the gradients and before
/// the optimiser that reads them, with no host synchronisation). Create the 128-byte id on rank 0 with
/// <see cref="CreateUniqueId"/>, hand it to the other ranks (<see cref="Rendezvous"/>), then construct one
/// communicator per rank. A failed call aborts the communicator on dispose (a peer may be gone); a clean dispose
/// destroys it.
/// </summary>
public sealed class NcclCommunicator : IAllReduce, IDisposable
{
    private readonly NcclCommSafeHandle _comm;
    private readonly IntPtr _stream;
    private readonly ILogger _logger;

    /// <summary>Joins the communicator of <paramref name="worldSize"/> ranks as <paramref name="rank"/>, on
    /// <paramref name="context"/>'s stream. Blocks until every rank has joined (NCCL's ncclCommInitRank).</summary>
    public NcclCommunicator(CudaContext context, ReadOnlySpan<byte> uniqueId, int rank, int worldSize, ILogger? logger = null)
        : this(StreamOf(context), uniqueId, rank, worldSize, logger) { }

    /// <summary>As above on an explicit cudaStream_t (the caller binds the CUDA context to this thread first).</summary>
    public NcclCommunicator(IntPtr stream, ReadOnlySpan<byte> uniqueId, int rank, int worldSize, ILogger? logger = null)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "The world size must be ≥ 1.");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank must be in [0, {worldSize}).");
        var id = NcclUniqueId.From(uniqueId);
        NcclLibrary.EnsureLoaded();
        _stream = stream;
        _logger = logger ?? NullLogger.Instance;
        NcclNative.Check(NcclNative.ncclCommInitRank(out IntPtr comm, worldSize, id, rank), $"ncclCommInitRank (rank {rank} of {worldSize})");
        _comm = new NcclCommSafeHandle(comm);
        Rank = rank;
        WorldSize = worldSize;
        _logger.LogDebug("NCCL {Version} communicator: rank {Rank} of {World}", NcclLibrary.Version(), rank, worldSize);
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int WorldSize { get; }

    /// <summary>A new NCCL unique id (on rank 0), 128 bytes to send to the other ranks.</summary>
    public static byte[] CreateUniqueId()
    {
        NcclLibrary.EnsureLoaded();
        NcclNative.Check(NcclNative.ncclGetUniqueId(out NcclUniqueId id), "ncclGetUniqueId");
        return id.ToArray();
    }

    /// <summary>The CUDA stream (cudaStream_t) a <see cref="CudaContext"/> runs on: its ILGPU accelerator's default
    /// stream, the one the native context is bound to.</summary>
    public static IntPtr StreamOf(CudaContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Accelerator.Bind();
        return ((CudaStream)context.Accelerator.DefaultStream).StreamPtr;
    }

    /// <summary>Queues the all-reduce of device buffers on the stream. Adjacent buffers (one ends where the next
    /// starts, as tensors of a flat gradient buffer) go out as one call.</summary>
    public void AllReduce(IReadOnlyList<ReduceBuffer> buffers, ReduceOperation operation)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        ObjectDisposedException.ThrowIf(_comm.IsClosed, this);
        foreach (var b in buffers)
            if (b.IsHost) throw new ArgumentException("NCCL all-reduces device memory; got a host buffer.", nameof(buffers));
        var op = operation == ReduceOperation.Average ? NcclRedOp.Avg : NcclRedOp.Sum;
        try
        {
            NcclNative.Check(NcclNative.ncclGroupStart(), "ncclGroupStart");
            try
            {
                foreach (var (address, count, element) in Coalesce(buffers))
                {
                    var type = element == ReduceElement.Float32 ? NcclDataType.Float32 : NcclDataType.Float64;
                    NcclNative.Check(NcclNative.ncclAllReduce(address, address, (nuint)count, type, op, _comm, _stream), "ncclAllReduce");
                }
            }
            finally { NcclNative.Check(NcclNative.ncclGroupEnd(), "ncclGroupEnd"); }
        }
        catch (Int4TrainException)
        {
            _comm.MarkFailed();
            throw;
        }
    }

    /// <summary>Merges runs of contiguous device buffers of one element type.</summary>
    internal static List<(IntPtr Address, long Count, ReduceElement Element)> Coalesce(IReadOnlyList<ReduceBuffer> buffers)
    {
        var runs = new List<(IntPtr, long, ReduceElement)>();
        foreach (var b in buffers)
        {
            if (b.Count == 0) continue;
            if (runs.Count > 0)
            {
                var (address, count, element) = runs[^1];
                long size = element == ReduceElement.Float32 ? sizeof(float) : sizeof(double);
                if (element == b.Element && address + (nint)(count * size) == b.Device) { runs[^1] = (address, count + b.Count, element); continue; }
            }
            runs.Add((b.Device, b.Count, b.Element));
        }
        return runs;
    }

    /// <summary>Marks the communicator failed so that dispose aborts it (call when another rank failed or the run
    /// is being torn down after an error).</summary>
    public void Abort() => _comm.MarkFailed();

    /// <inheritdoc />
    public void Dispose() => _comm.Dispose();
}
