using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>DataParallel through the in-process all-reduce: each rank ends with the mean of the ranks' gradients; a
/// bucket goes out once its last tensor is ready; the global norm counts every element once.</summary>
[TestFixture]
public class DataParallelTests
{
    private static float[][] RandomGradients(Random rng, int[] sizes) => sizes.Select(n => Enumerable.Range(0, n).Select(_ =>
        rng.Next(50) == 0 ? 1e3f * (2 * rng.NextSingle() - 1) : 2 * rng.NextSingle() - 1).ToArray()).ToArray(); // with outliers

    /// <summary>Runs <paramref name="body"/> as each rank on its own thread.</summary>
    private static void OnRanks(int world, Action<int> body) =>
        Task.WaitAll(Enumerable.Range(0, world).Select(r => Task.Factory.StartNew(() => body(r), TaskCreationOptions.LongRunning)).ToArray());

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void ReduceAll_GivesEveryRankTheMeanGradient(int world)
    {
        var rng = new Random(100 + world);
        int[] sizes = Enumerable.Range(0, 17).Select(_ => rng.Next(1, 700)).ToArray();
        var tensors = sizes.Select((n, i) => new GradientTensor($"p{i}", n)).ToArray();
        var grads = Enumerable.Range(0, world).Select(_ => RandomGradients(rng, sizes)).ToArray();
        var expected = sizes.Select((n, i) => Enumerable.Range(0, n).Select(k => Enumerable.Range(0, world).Sum(r => (double)grads[r][i][k]) / world).ToArray()).ToArray();

        using var group = new InProcessAllReduceGroup(world);
        OnRanks(world, r =>
        {
            var dp = new DataParallel(group.Member(r), tensors, i => ReduceBuffer.OnHost(grads[r][i]), bucketBytes: 1024);
            Assert.That(dp.Buckets, Has.Count.GreaterThan(1));
            dp.ReduceAll();
        });
        for (int r = 0; r < world; r++)
            for (int i = 0; i < sizes.Length; i++)
                Assert.That(grads[r][i], Is.EqualTo(expected[i]).Within(1e-3), $"rank {r} tensor {i}");
    }

    [Test]
    public void MarkReady_SendsABucketWhenItsLastTensorIsReady()
    {
        var recorder = new RecordingAllReduce();
        var tensors = Enumerable.Range(0, 6).Select(i => new GradientTensor($"p{i}", 100)).ToArray(); // 400 B each
        var grads = tensors.Select(t => new float[t.Count]).ToArray();
        var dp = new DataParallel(recorder, tensors, i => ReduceBuffer.OnHost(grads[i]), bucketBytes: 800);
        Assert.That(dp.Buckets.Select(b => b.Tensors), Is.EqualTo(new[] { new[] { 5, 4 }, new[] { 3, 2 }, new[] { 1, 0 } }));

        dp.MarkReady(5);
        Assert.That(recorder.Calls, Is.Empty);
        dp.MarkReady(4);
        Assert.That(recorder.Calls, Has.Count.EqualTo(1));
        Assert.That(recorder.Calls[0].Buffers.Select(b => b.Host), Is.EqualTo(new[] { grads[5], grads[4] }));
        Assert.That(recorder.Calls[0].Operation, Is.EqualTo(ReduceOperation.Average));
        dp.MarkReady(2);
        Assert.Throws<InvalidOperationException>(() => dp.MarkReady(4), "a tensor reported twice in one step");
        dp.ReduceAll(); // the rest, in bucket order
        Assert.That(recorder.Calls.Select(c => c.Buffers[0].Host), Is.EqualTo(new[] { grads[5], grads[3], grads[1] }));
        dp.MarkReady(4); // the next step starts afresh
        dp.MarkReady(5);
        Assert.That(recorder.Calls, Has.Count.EqualTo(4));
    }

    [TestCase(2)]
    [TestCase(3)]
    public void GlobalNorm_CountsEveryElementOnce(int world)
    {
        var rng = new Random(9);
        int[] sizes = Enumerable.Range(0, 11).Select(_ => rng.Next(1, 300)).ToArray();
        var tensors = sizes.Select((n, i) => new GradientTensor($"p{i}", n)).ToArray();
        var grads = RandomGradients(rng, sizes); // replicated: as after the all-reduce
        double expected = Math.Sqrt(grads.Sum(g => g.Sum(v => (double)v * v)));
        var norms = new double[world];
        using var group = new InProcessAllReduceGroup(world);
        OnRanks(world, r =>
        {
            var dp = new DataParallel(group.Member(r), tensors, i => ReduceBuffer.OnHost(grads[i]), bucketBytes: 256);
            norms[r] = dp.GlobalNorm(i => grads[i].Sum(v => (double)v * v));
        });
        Assert.That(norms, Is.All.EqualTo(expected).Within(1e-12).Percent);
    }

    [Test]
    public void MismatchedShapes_AreOneClearError()
    {
        using var group = new InProcessAllReduceGroup(2, TimeSpan.FromSeconds(1));
        var errors = new Exception?[2];
        OnRanks(2, r =>
        {
            try { group.Member(r).AllReduce([ReduceBuffer.OnHost(new float[r + 3])], ReduceOperation.Sum); }
            catch (DistributedException e) { errors[r] = e; }
        });
        Assert.That(errors[0]!.Message, Does.Contain("Rank 1 all-reduces buffers of other shapes").And.Contain("[4] vs [3]"));
        Assert.That(errors[1], Is.Not.Null, "the other rank fails too instead of hanging");
    }

    private sealed class RecordingAllReduce : IAllReduce
    {
        public List<(IReadOnlyList<ReduceBuffer> Buffers, ReduceOperation Operation)> Calls { get; } = [];
        public int Rank => 0;
        public int WorldSize => 2;
        public void AllReduce(IReadOnlyList<ReduceBuffer> buffers, ReduceOperation operation) => Calls.Add((buffers, operation));
    }
}
