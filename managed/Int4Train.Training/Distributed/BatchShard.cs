using Int4Train.Distributed;

namespace Int4Train.Training;

/// <summary>
/// Which part of each global batch a rank trains on. The single-process run's step s draws one batch of B windows,
/// window b keyed by (seed, s, b) (<see cref="CharDataset.Batch"/>); with W ranks the global batch stays the same B
/// windows and rank r takes the contiguous rows [r·B/W, (r+1)·B/W). This is the equivalent of "rank r takes batches
/// r, r+W, …" chosen here because it keeps the step's global batch identical to the single-process run's: a W-rank
/// step (mean of the ranks' gradients) equals the 1-process step on the same batch up to the order of float sums,
/// the schedule (steps, learning rate, tokens per step) is unchanged, and a checkpoint resumes on any W that divides B.
/// The shards of a step are disjoint, cover the batch, and depend only on (seed, step, rank, W).
/// </summary>
public sealed record BatchShard
{
    /// <summary>Rank <paramref name="rank"/> of <paramref name="worldSize"/>.</summary>
    public BatchShard(int rank, int worldSize)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), worldSize, "The world size must be ≥ 1.");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"The rank must be in [0, {worldSize}).");
        Rank = rank;
        WorldSize = worldSize;
    }

    /// <summary>The shard of a launch environment.</summary>
    public static BatchShard Of(DistributedEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return new BatchShard(environment.Rank, environment.WorldSize);
    }

    /// <summary>This rank.</summary>
    public int Rank { get; }

    /// <summary>Number of ranks.</summary>
    public int WorldSize { get; }

    /// <summary>The rows [Start, Start + Count) of a global batch of <paramref name="globalBatch"/> sequences.</summary>
    /// <exception cref="ArgumentException">The batch does not divide by the world size (ranks would weigh unequally
    /// in the mean).</exception>
    public (int Start, int Count) Rows(int globalBatch)
    {
        if (globalBatch < 1 || globalBatch % WorldSize != 0)
            throw new ArgumentException($"The batch size {globalBatch} must be a positive multiple of the number of processes ({WorldSize}); "
                + $"use --batch {Math.Max(1, globalBatch / WorldSize) * WorldSize} or another process count.", nameof(globalBatch));
        int count = globalBatch / WorldSize;
        return (Rank * count, count);
    }

    /// <summary>This rank's rows of the global batch <see cref="CharDataset.Batch"/> draws for
    /// <paramref name="key"/>: (inputs, targets) of Count × <paramref name="context"/> tokens.</summary>
    public (int[] X, int[] Y) Take(CharDataset data, bool validation, int globalBatch, int context, ulong key)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (start, count) = Rows(globalBatch);
        // The whole global batch is drawn and sliced so the window rule stays in CharDataset alone (a host copy of
        // B × T ints per step, negligible next to the step).
        var (x, y) = data.Batch(validation, globalBatch, context, key);
        if (WorldSize == 1) return (x, y);
        var range = new Range(start * context, (start + count) * context);
        return (x[range], y[range]);
    }
}
