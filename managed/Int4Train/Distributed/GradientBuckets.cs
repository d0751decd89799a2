namespace Int4Train.Distributed;

/// <summary>A gradient tensor as the bucketing sees it: its name and element count (float32), in the model's
/// forward (checkpoint) order.</summary>
public sealed record GradientTensor(string Name, long Count);

/// <summary>One all-reduce bucket: tensor indices (into the forward-order list) in the order the backward completes
/// them, and their total size.</summary>
public sealed record GradientBucket(int Index, IReadOnlyList<int> Tensors, long Elements)
{
    /// <summary>Size in bytes (float32).</summary>
    public long Bytes => Elements * sizeof(float);
}

/// <summary>
/// Groups gradient tensors into all-reduce buckets of about <see cref="DefaultBucketBytes"/> (PyTorch DDP's 25 MB)
/// in reverse forward order, the order the backward completes them (the last block's gradients first, the token
/// embedding, tied to the output head, last). A bucket is closed once it reaches the cap, so it can go out while the
/// backward is still working on earlier layers; a tensor larger than the cap is a bucket by itself. Few large
/// buckets amortise NCCL's per-call latency; not too large, so that communication starts early.
/// </summary>
public static class GradientBuckets
{
    /// <summary>25 MiB.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    /// <summary>The buckets of <paramref name="tensors"/> (forward order); every tensor is in exactly one bucket.</summary>
    public static IReadOnlyList<GradientBucket> Plan(IReadOnlyList<GradientTensor> tensors, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (bucketBytes < sizeof(float)) throw new ArgumentOutOfRangeException(nameof(bucketBytes), bucketBytes, "A bucket must hold at least one float.");
        var buckets = new List<GradientBucket>();
        var current = new List<int>();
        long elements = 0;
        for (int i = tensors.Count - 1; i >= 0; i--)
        {
            if (tensors[i].Count < 0) throw new ArgumentException($"Tensor '{tensors[i].Name}' has a negative size.", nameof(tensors));
            current.Add(i);
            elements += tensors[i].Count;
            if (elements * sizeof(float) >= bucketBytes) Close();
        }
        if (current.Count > 0) Close();
        return buckets;

        void Close()
        {
            buckets.Add(new GradientBucket(buckets.Count, current.ToArray(), elements));
            current.Clear();
            elements = 0;
        }
    }
}
