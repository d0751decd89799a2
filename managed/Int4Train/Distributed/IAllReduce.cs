namespace Int4Train.Distributed;

/// <summary>How an all-reduce combines the ranks' values.</summary>
public enum ReduceOperation
{
    /// <summary>The sum over ranks.</summary>
    Sum,
    /// <summary>The mean over ranks (the sum divided by the world size): data-parallel gradients.</summary>
    Average,
}

/// <summary>Element type of a <see cref="ReduceBuffer"/>.</summary>
public enum ReduceElement
{
    /// <summary>float (gradients).</summary>
    Float32,
    /// <summary>double (sums of squares for the global norm).</summary>
    Float64,
}

/// <summary>
/// A piece of memory an all-reduce replaces in place with the combined value: either host memory (an array range,
/// the host model and the in-process group) or device memory (a CUDA address and an element count, NCCL).
/// </summary>
public readonly record struct ReduceBuffer
{
    private ReduceBuffer(ReduceElement element, long count, IntPtr device, Array? host, int offset)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The element count must be ≥ 0.");
        Element = element; Count = count; Device = device; Host = host; HostOffset = offset;
    }

    /// <summary>Element type.</summary>
    public ReduceElement Element { get; }
    /// <summary>Number of elements.</summary>
    public long Count { get; }
    /// <summary>Device address (zero for host memory).</summary>
    public IntPtr Device { get; }
    /// <summary>The host array (null for device memory): float[] or double[].</summary>
    public Array? Host { get; }
    /// <summary>First element of the range in <see cref="Host"/>.</summary>
    public int HostOffset { get; }
    /// <summary>Whether it is host memory.</summary>
    public bool IsHost => Host is not null;
    /// <summary>Size in bytes.</summary>
    public long Bytes => Count * (Element == ReduceElement.Float32 ? sizeof(float) : sizeof(double));

    /// <summary>A whole host float array, or the range [offset, offset + count).</summary>
    public static ReduceBuffer OnHost(float[] values, int offset = 0, int? count = null) =>
        new(ReduceElement.Float32, CheckRange(values, offset, count), IntPtr.Zero, values, offset);

    /// <summary>A whole host double array, or the range [offset, offset + count).</summary>
    public static ReduceBuffer OnHost(double[] values, int offset = 0, int? count = null) =>
        new(ReduceElement.Float64, CheckRange(values, offset, count), IntPtr.Zero, values, offset);

    /// <summary><paramref name="count"/> elements at device address <paramref name="address"/>.</summary>
    public static ReduceBuffer OnDevice(IntPtr address, long count, ReduceElement element = ReduceElement.Float32) =>
        address == IntPtr.Zero ? throw new ArgumentException("The device address is null.", nameof(address)) : new(element, count, address, null, 0);

    private static int CheckRange(Array values, int offset, int? count)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = count ?? values.Length - offset;
        if (offset < 0 || n < 0 || offset + n > values.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"The range [{offset}, {offset}+{n}) is outside the array of {values.Length}.");
        return n;
    }
}

/// <summary>
/// One rank's side of a collective all-reduce: every rank calls <see cref="AllReduce"/> with buffers of the same
/// shapes in the same order, and each buffer becomes the combination over ranks. Implementations:
/// <see cref="NcclCommunicator"/> (device memory, stream-ordered: it returns once the work is queued) and
/// <see cref="InProcessAllReduceGroup"/> (host memory, ranks as threads of one process, for tests).
/// </summary>
public interface IAllReduce
{
    /// <summary>This rank, 0 ≤ Rank &lt; WorldSize.</summary>
    int Rank { get; }

    /// <summary>Number of ranks.</summary>
    int WorldSize { get; }

    /// <summary>All-reduces the buffers in place, as one group (NCCL: one ncclGroupStart/End).</summary>
    void AllReduce(IReadOnlyList<ReduceBuffer> buffers, ReduceOperation operation);
}
