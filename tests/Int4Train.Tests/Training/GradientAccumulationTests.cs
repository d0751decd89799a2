using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>Gradient accumulation (<see cref="GptConfig.MicroBatch"/>) on the host model: a step of B sequences run as
/// B/M passes equals one pass of B up to float summation order; the INT4 schedule keeps its meaning in steps.</summary>
[TestFixture]
public class GradientAccumulationTests
{
    private static GptConfig Config(LinearPrecision precision, int microBatch) => GptConfig.Tiny with
    {
        Layers = 2, Heads = 2, Width = 16, Context = 16, BatchSize = 4, MicroBatch = microBatch, Dropout = 0f,
        Precision = precision, Seed = 77, EvalBatches = 2, LearningRate = 1e-2f,
    };

    [TestCase("fp32")]
    [TestCase("bf16")]
    public void TwoPassesOfTwo_EqualOneBatchOfFour(string precision)
    {
        var p = GptConfig.ParsePrecision(precision);
        using var whole = Trainer.Create(Config(p, 0), BuiltInText.Text, TrainingFixture.Backend);
        using var split = Trainer.Create(Config(p, 2), BuiltInText.Text, TrainingFixture.Backend);
        Assert.That(split.Config.PassesPerStep, Is.EqualTo(2));
        for (int step = 0; step < 2; step++)
        {
            double lw = whole.TrainStep(10), ls = split.TrainStep(10);
            Assert.That(ls, Is.EqualTo(lw).Within(1e-6 * lw), $"loss of step {step}");
            Assert.That(lw, Is.GreaterThan(2.0), "an untrained model's loss is near ln V");
            var gw = ((HostGptModel)whole.Model).Model.Parameters;
            var gs = ((HostGptModel)split.Model).Model.Parameters;
            foreach (var (a, b) in gw.Zip(gs))
            {
                float scale = a.Grad.Max(MathF.Abs);
                Assert.That(scale, Is.GreaterThan(0f), $"{a.Name} has a gradient");
                for (int i = 0; i < a.Grad.Length; i++)
                    Assert.That(b.Grad[i], Is.EqualTo(a.Grad[i]).Within(1e-5f * scale), $"∂L/∂{a.Name}[{i}] at step {step}");
            }
            foreach (var (a, b) in whole.Model.ExportState().Zip(split.Model.ExportState()))
                for (int i = 0; i < a.Data.Length; i++)
                    Assert.That(b.Data[i], Is.EqualTo(a.Data[i]).Within(1e-5f), $"{a.Name}[{i}] after AdamW step {step}");
        }
        Assert.That(split.Evaluate(), Is.EqualTo(whole.Evaluate()).Within(1e-5), "validation in passes is the batch's mean");
    }

    [Test]
    public void Int4Schedule_CountsOptimiserSteps()
    {
        var c = Config(LinearPrecision.Int4HqLss, 1) with { ColdStartSteps = 3, ReinitializeAtStep = 5 };
        Assert.That((c.PassBatch, c.PassesPerStep), Is.EqualTo((1, 4)));
        Assert.That((c.BlockLinearOptions.ColdStartSteps, c.BlockLinearOptions.ReinitializeAtStep), Is.EqualTo((12, 20)));
        Assert.That(Config(LinearPrecision.Int4HqLss, 0).BlockLinearOptions, Is.EqualTo(Config(LinearPrecision.Int4HqLss, 0).Linear));
        Assert.That((c with { ReinitializeAtStep = -1 }).BlockLinearOptions.ReinitializeAtStep, Is.EqualTo(-1));

        using var t = Trainer.Create(c with { ColdStartSteps = 1, BatchSize = 2, MicroBatch = 1 }, BuiltInText.Text, TrainingFixture.Backend);
        var lin = ((HostGptModel)t.Model).Model.Linears.First();
        t.TrainStep(10);
        Assert.That((lin.StepCount, lin.StepsAreLearned), Is.EqualTo((2, false)), "both passes of step 0 are cold");
        t.TrainStep(10);
        Assert.That((lin.StepCount, lin.StepsAreLearned), Is.EqualTo((4, true)), "step 1 learns the step sizes");
    }

    [Test]
    public void Int4WithDropout_InPasses_ResumesExactly()
    {
        var config = Config(LinearPrecision.Int4HqLss, 2) with { Layers = 1, Context = 8, Dropout = 0.1f, ColdStartSteps = 1, ReinitializeAtStep = 2 };
        using var straight = Trainer.Create(config, BuiltInText.Text, TrainingFixture.Backend);
        straight.Run(4, evalEvery: 2);
        double expected = straight.TrainStep(decaySteps: 10);
        string dir = CliRunner.TempDir("micro-resume");
        try
        {
            using (var first = Trainer.Create(config, BuiltInText.Text, TrainingFixture.Backend)) first.Run(2, evalEvery: 2, dir);
            using var resumed = Trainer.Resume(Path.Combine(dir, "checkpoint.bin"), BuiltInText.Text, TrainingFixture.Backend);
            Assert.That(resumed.Model.LayerProgress.Select(p => p.StepCount), Is.All.EqualTo(4), "2 steps of 2 passes");
            resumed.Run(4, evalEvery: 2);
            Assert.That(resumed.TrainStep(decaySteps: 10), Is.EqualTo(expected), "bit-identical continuation");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void Passes_DrawTheirOwnDropoutMasks()
    {
        Assert.That(Trainer.DropoutStep(7, 0), Is.EqualTo(7), "one pass keeps the run's masks");
        var keys = Enumerable.Range(0, 4).SelectMany(i => new[] { 0L, 1, 2 }.Select(s => Trainer.DropoutStep(s, i))).ToArray();
        Assert.That(keys, Is.Unique);
    }

    [Test]
    public void MicroBatch_IsCheckpointed_AndOldCheckpointsReadAsNone()
    {
        string dir = CliRunner.TempDir("micro");
        try
        {
            string ckpt = Path.Combine(dir, "checkpoint.bin");
            var c = Config(LinearPrecision.Fp32, 2);
            using (var t = Trainer.Create(c, BuiltInText.Text, TrainingFixture.Backend))
            {
                t.TrainStep(10);
                t.Save(ckpt);
            }
            Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(c));
            // a configuration JSON without the field (written before it existed) is the whole batch in one pass
            var json = System.Text.Json.JsonSerializer.Serialize(Config(LinearPrecision.Fp32, 0));
            Assert.That(json, Does.Contain("\"MicroBatch\":0").And.Not.Contain("PassBatch"));
            var old = System.Text.Json.JsonSerializer.Deserialize<GptConfig>(json.Replace("\"MicroBatch\":0,", ""));
            Assert.That(old, Is.EqualTo(Config(LinearPrecision.Fp32, 0)));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
