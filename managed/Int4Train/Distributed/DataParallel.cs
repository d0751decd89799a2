namespace Int4Train.Distributed;

/// <summary>
/// Data-parallel gradient averaging: every rank computes gradients on its own shard of the global batch, then the
/// gradients are replaced by their mean over ranks, bucket by bucket (<see cref="GradientBuckets"/>), through an
/// <see cref="IAllReduce"/>. After it every rank holds identical gradients, so an identical AdamW step keeps the
/// replicas identical, and the local gradient norm is the global one (clipping needs no extra communication).
/// <para>Overlap: a caller whose backward reports each tensor as it completes calls <see cref="MarkReady"/>; a bucket
/// goes out as soon as all its tensors are ready (on NCCL that is a queued, stream-ordered call). A backward without
/// such hooks calls <see cref="ReduceAll"/> once after it.</para>
/// </summary>
public sealed class DataParallel
{
    private readonly IAllReduce _comm;
    private readonly Func<int, ReduceBuffer> _gradientOf;
    private readonly int[] _bucketOf;
    private readonly int[] _missing;
    private readonly bool[] _sent;

    /// <summary>Averages the gradients of <paramref name="tensors"/> (forward order), whose memory
    /// <paramref name="gradientOf"/> gives by index.</summary>
    public DataParallel(IAllReduce comm, IReadOnlyList<GradientTensor> tensors, Func<int, ReduceBuffer> gradientOf, long bucketBytes = GradientBuckets.DefaultBucketBytes)
    {
        _comm = comm ?? throw new ArgumentNullException(nameof(comm));
        _gradientOf = gradientOf ?? throw new ArgumentNullException(nameof(gradientOf));
        Tensors = tensors ?? throw new ArgumentNullException(nameof(tensors));
        Buckets = GradientBuckets.Plan(tensors, bucketBytes);
        _bucketOf = new int[tensors.Count];
        foreach (var b in Buckets) foreach (int t in b.Tensors) _bucketOf[t] = b.Index;
        _missing = new int[Buckets.Count];
        _sent = new bool[Buckets.Count];
        Reset();
    }

    /// <summary>The gradient tensors, forward order.</summary>
    public IReadOnlyList<GradientTensor> Tensors { get; }

    /// <summary>The buckets, in the order they go out.</summary>
    public IReadOnlyList<GradientBucket> Buckets { get; }

    /// <summary>The all-reduce.</summary>
    public IAllReduce Communicator => _comm;

    /// <summary>Tensor <paramref name="tensor"/>'s gradient is complete for this step: its bucket goes out when it was
    /// the last one missing.</summary>
    public void MarkReady(int tensor)
    {
        if ((uint)tensor >= (uint)Tensors.Count) throw new ArgumentOutOfRangeException(nameof(tensor), tensor, $"There are {Tensors.Count} tensors.");
        int b = _bucketOf[tensor];
        if (_sent[b]) throw new InvalidOperationException($"Tensor '{Tensors[tensor].Name}' was reported ready twice in one step.");
        if (--_missing[b] == 0) Send(b);
    }

    /// <summary>Sends every bucket not sent yet (in bucket order) and starts the next step's bookkeeping. Call once
    /// per step after the backward.</summary>
    public void ReduceAll()
    {
        for (int b = 0; b < Buckets.Count; b++)
            if (!_sent[b]) Send(b);
        Reset();
    }

    /// <summary>The global gradient norm √(Σ_ranks s_r), where s_r is the sum of squares of the gradients rank r
    /// owns: bucket b is owned by rank b mod W, so each element is counted once. This is the clipping norm when
    /// ranks hold different parts (sharded optimiser state, ZeRO-1); with the replicated gradients of this class it
    /// equals the local norm. <paramref name="squaredNormOf"/> gives a tensor's Σg².</summary>
    public double GlobalNorm(Func<int, double> squaredNormOf)
    {
        ArgumentNullException.ThrowIfNull(squaredNormOf);
        double owned = 0;
        foreach (var b in Buckets)
            if (b.Index % _comm.WorldSize == _comm.Rank)
                foreach (int t in b.Tensors) owned += squaredNormOf(t);
        return Math.Sqrt(SumOverRanks(_comm, owned));
    }

    /// <summary>Σ over ranks of one double per rank (host memory: the in-process group; NCCL needs a device scalar,
    /// see docs/scaling.md).</summary>
    public static double SumOverRanks(IAllReduce comm, double value)
    {
        ArgumentNullException.ThrowIfNull(comm);
        var cell = new[] { value };
        comm.AllReduce([ReduceBuffer.OnHost(cell)], ReduceOperation.Sum);
        return cell[0];
    }

    private void Send(int bucket)
    {
        _sent[bucket] = true;
        _comm.AllReduce(Buckets[bucket].Tensors.Select(_gradientOf).ToArray(), ReduceOperation.Average);
    }

    private void Reset()
    {
        foreach (var b in Buckets) { _missing[b.Index] = b.Tensors.Count; _sent[b.Index] = false; }
    }
}
