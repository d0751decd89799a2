using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>Per-rank shards of the batch stream: disjoint, together exactly the single-process batch, a pure function
/// of (key, rank, world size).</summary>
[TestFixture]
public class BatchShardTests
{
    private static readonly CharDataset Data = new(BuiltInText.Text, 0.1f, 16);

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void Shards_AreDisjoint_AndCoverTheSingleProcessBatch(int world)
    {
        const int batch = 8, context = 16;
        for (ulong key = 11; key < 14; key++)
        {
            var (x, y) = Data.Batch(false, batch, context, key);
            var shards = Enumerable.Range(0, world).Select(r => new BatchShard(r, world)).ToArray();
            var rows = shards.Select(s => s.Rows(batch)).ToArray();
            Assert.That(rows.SelectMany(r => Enumerable.Range(r.Start, r.Count)), Is.EqualTo(Enumerable.Range(0, batch)), "each row once, in rank order");
            var parts = shards.Select(s => s.Take(Data, false, batch, context, key)).ToArray();
            Assert.That(parts.SelectMany(p => p.X), Is.EqualTo(x));
            Assert.That(parts.SelectMany(p => p.Y), Is.EqualTo(y));
        }
    }

    [Test]
    public void Shards_AreDeterministic_AndDifferAcrossRanksAndSteps()
    {
        var shard = new BatchShard(1, 2);
        var a = shard.Take(Data, false, 8, 16, 5);
        Assert.That(shard.Take(Data, false, 8, 16, 5).X, Is.EqualTo(a.X));
        Assert.That(new BatchShard(0, 2).Take(Data, false, 8, 16, 5).X, Is.Not.EqualTo(a.X));
        Assert.That(shard.Take(Data, false, 8, 16, 6).X, Is.Not.EqualTo(a.X));
    }

    [Test]
    public void BatchNotDivisible_SaysWhatToUse()
    {
        var e = Assert.Throws<ArgumentException>(() => new BatchShard(0, 3).Rows(8));
        Assert.That(e!.Message, Does.Contain("multiple of the number of processes (3)").And.Contain("--batch 6"));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new BatchShard(2, 2));
    }
}
