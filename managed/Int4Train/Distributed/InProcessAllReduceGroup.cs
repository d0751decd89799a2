namespace Int4Train.Distributed;

/// <summary>
/// An all-reduce among threads of one process over host buffers: the ranks of a test, or a CPU run that wants the
/// data-parallel arithmetic without GPUs. Sums in rank order (0, 1, …) in the buffer's own precision, so the result
/// is deterministic and identical on every rank. Each call is a rendezvous of all <see cref="WorldSize"/> ranks; a rank
/// that does not arrive within the timeout fails every waiting rank with a <see cref="DistributedException"/>.
/// </summary>
public sealed class InProcessAllReduceGroup : IDisposable
{
    private readonly Barrier _barrier;
    private readonly IReadOnlyList<ReduceBuffer>?[] _inputs;
    private readonly TimeSpan _timeout;
    private Array[]? _result;

    /// <summary>A group of <paramref name="worldSize"/> ranks.</summary>
    public InProcessAllReduceGroup(int worldSize, TimeSpan? timeout = null)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "The world size must be ≥ 1.");
        WorldSize = worldSize;
        _barrier = new Barrier(worldSize);
        _inputs = new IReadOnlyList<ReduceBuffer>?[worldSize];
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>Number of ranks.</summary>
    public int WorldSize { get; }

    /// <summary>Rank <paramref name="rank"/>'s side (use each from its own thread).</summary>
    public IAllReduce Member(int rank) =>
        rank >= 0 && rank < WorldSize ? new MemberRank(this, rank) : throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank must be in [0, {WorldSize}).");

    private void Run(int rank, IReadOnlyList<ReduceBuffer> buffers, ReduceOperation operation)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        if (buffers.Any(b => !b.IsHost)) throw new ArgumentException("The in-process group all-reduces host buffers only.", nameof(buffers));
        _inputs[rank] = buffers;
        Wait(); // everyone has deposited
        if (rank == 0) _result = Combine(operation);
        Wait(); // the result exists
        var result = _result!;
        for (int i = 0; i < buffers.Count; i++) Array.Copy(result[i], 0, buffers[i].Host!, buffers[i].HostOffset, buffers[i].Count);
        Wait(); // everyone copied: the next call may overwrite the inputs and the result
    }

    private Array[] Combine(ReduceOperation operation)
    {
        var first = _inputs[0]!;
        for (int r = 1; r < WorldSize; r++)
        {
            var other = _inputs[r]!;
            if (other.Count != first.Count || other.Zip(first).Any(p => p.First.Count != p.Second.Count || p.First.Element != p.Second.Element))
                throw new DistributedException($"Rank {r} all-reduces buffers of other shapes than rank 0 ({Shape(other)} vs {Shape(first)}).");
        }
        var result = new Array[first.Count];
        for (int i = 0; i < first.Count; i++)
            result[i] = first[i].Element == ReduceElement.Float32
                ? CombineOne<float>(i, operation, (a, b) => a + b, (s, n) => s / n)
                : CombineOne<double>(i, operation, (a, b) => a + b, (s, n) => s / n);
        return result;
    }

    private T[] CombineOne<T>(int index, ReduceOperation operation, Func<T, T, T> add, Func<T, int, T> divide)
    {
        int n = (int)_inputs[0]![index].Count;
        var sum = new T[n];
        for (int r = 0; r < WorldSize; r++)
        {
            var b = _inputs[r]![index];
            var source = (T[])b.Host!;
            for (int k = 0; k < n; k++) sum[k] = r == 0 ? source[b.HostOffset + k] : add(sum[k], source[b.HostOffset + k]);
        }
        if (operation == ReduceOperation.Average)
            for (int k = 0; k < n; k++) sum[k] = divide(sum[k], WorldSize);
        return sum;
    }

    private static string Shape(IReadOnlyList<ReduceBuffer> buffers) => "[" + string.Join(", ", buffers.Select(b => b.Count)) + "]";

    private void Wait()
    {
        try
        {
            if (!_barrier.SignalAndWait(_timeout))
                throw new DistributedException($"An in-process all-reduce waited {_timeout.TotalSeconds:0.#} s for the other ranks; one of them did not call it.");
        }
        catch (BarrierPostPhaseException e) { throw new DistributedException("An in-process all-reduce failed on another rank.", e); }
    }

    /// <inheritdoc />
    public void Dispose() => _barrier.Dispose();

    private sealed class MemberRank(InProcessAllReduceGroup group, int rank) : IAllReduce
    {
        public int Rank => rank;
        public int WorldSize => group.WorldSize;
        public void AllReduce(IReadOnlyList<ReduceBuffer> buffers, ReduceOperation operation) => group.Run(rank, buffers, operation);
    }
}
