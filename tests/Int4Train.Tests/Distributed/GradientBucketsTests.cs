using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>Bucketing: every gradient exactly once, backward (reverse) order, buckets closed at the cap.</summary>
[TestFixture]
public class GradientBucketsTests
{
    [Test]
    public void EveryTensorOnce_InReverseOrder_ClosedAtTheCap()
    {
        var rng = new Random(42);
        for (int trial = 0; trial < 20; trial++)
        {
            // sizes from 1 element to a few caps (an outlier tensor larger than a bucket)
            var tensors = Enumerable.Range(0, rng.Next(1, 60))
                .Select(i => new GradientTensor($"t{i}", rng.Next(10) == 0 ? rng.Next(1000, 5000) : rng.Next(1, 300))).ToArray();
            long cap = rng.Next(1, 4) * 1024;
            var buckets = GradientBuckets.Plan(tensors, cap);

            Assert.That(buckets.SelectMany(b => b.Tensors), Is.EqualTo(Enumerable.Range(0, tensors.Length).Reverse()));
            Assert.That(buckets.Select(b => b.Index), Is.EqualTo(Enumerable.Range(0, buckets.Count)));
            foreach (var b in buckets)
            {
                Assert.That(b.Elements, Is.EqualTo(b.Tensors.Sum(t => tensors[t].Count)));
                // a bucket is closed by the tensor that takes it to the cap: without its last tensor it is under it
                long withoutLast = b.Elements - tensors[b.Tensors[^1]].Count;
                Assert.That(withoutLast * sizeof(float), Is.LessThan(cap));
                if (b.Index < buckets.Count - 1) Assert.That(b.Bytes, Is.GreaterThanOrEqualTo(cap));
            }
        }
    }

    [Test]
    public void DefaultCap_Is25MiB_AndBadCapIsRejected()
    {
        var tensors = new[] { new GradientTensor("a", 4L << 20), new GradientTensor("b", 4L << 20), new GradientTensor("c", 1) };
        var buckets = GradientBuckets.Plan(tensors);
        Assert.That(buckets.Select(b => b.Tensors), Is.EqualTo(new[] { new[] { 2, 1, 0 } }), "32 MiB of gradients close one 25 MiB bucket at the last tensor");
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientBuckets.Plan(tensors, 0));
    }
}
