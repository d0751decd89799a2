using Int4Train.Distributed;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training.Distributed; // under Training: the host models use TrainingFixture's backend

/// <summary>The data-parallel step on the host model: W ranks, each on its shard of the global batch, averaging
/// gradients through the in-process all-reduce, take the same step as one process on the whole batch (to the order
/// of float sums), and stay identical to each other.</summary>
[TestFixture]
public class HostDataParallelTests
{
    private static readonly GptConfig Config = GptConfig.Tiny with
    {
        Layers = 1, Width = 16, Context = 8, BatchSize = 4, Precision = LinearPrecision.Fp32, Dropout = 0, Seed = 21,
    };

    [TestCase(2)]
    [TestCase(4)]
    public void WRankStep_EqualsTheOneProcessStep_OnTheGlobalBatch(int world)
    {
        var data = new CharDataset(BuiltInText.Text, Config.ValidationFraction, Config.Context);
        const ulong key = 77;
        const float lr = 1e-2f;
        using var single = new HostGptModel(Config, data.VocabSize, TrainingFixture.Backend);
        var (x, y) = data.Batch(false, Config.BatchSize, Config.Context, key);
        single.ZeroGrad();
        double singleLoss = single.Forward(x, y, Config.BatchSize, 0, training: true);
        single.Backward();
        single.OptimizerStep(lr);

        var ranks = Enumerable.Range(0, world).Select(_ => new HostGptModel(Config, data.VocabSize, TrainingFixture.Backend)).ToArray();
        try
        {
            var losses = new double[world];
            for (int r = 0; r < world; r++) // forward and backward one rank at a time: the backend is shared
            {
                var shard = new BatchShard(r, world);
                var (sx, sy) = shard.Take(data, false, Config.BatchSize, Config.Context, key);
                ranks[r].ZeroGrad();
                losses[r] = ranks[r].Forward(sx, sy, shard.Rows(Config.BatchSize).Count, 0, training: true);
                ranks[r].Backward();
            }
            var means = new double[world];
            using var group = new InProcessAllReduceGroup(world);
            Task.WaitAll(Enumerable.Range(0, world).Select(r => Task.Factory.StartNew(() =>
            {
                var dp = new HostDataParallel(ranks[r], group.Member(r), bucketBytes: 4096);
                dp.ReduceAndStep(lr); // all-reduce + AdamW only: no backend use on these threads
                means[r] = dp.MeanOverRanks(losses[r]);
            }, TaskCreationOptions.LongRunning)).ToArray());

            Assert.That(means, Is.All.EqualTo(singleLoss).Within(1e-5).Percent, "the mean of the shard losses is the global batch's loss");
            var expected = single.Model.Parameters;
            for (int r = 0; r < world; r++)
                for (int p = 0; p < expected.Count; p++)
                {
                    var actual = ranks[r].Model.Parameters[p];
                    Assert.That(actual.Data, Is.EqualTo(ranks[0].Model.Parameters[p].Data), $"rank {r} {actual.Name}: replicas identical");
                    Assert.That(actual.Grad, Is.EqualTo(expected[p].Grad).Within(2e-6), $"rank {r} {actual.Name}: averaged gradient");
                    Assert.That(actual.Data, Is.EqualTo(expected[p].Data).Within(1e-5), $"rank {r} {actual.Name}: parameters after AdamW");
                }
        }
        finally
        {
            foreach (var m in ranks) m.Dispose();
        }
    }
}
