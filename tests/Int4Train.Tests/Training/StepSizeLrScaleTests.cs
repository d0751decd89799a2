using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>GptConfig.StepSizeLrScale on the host model (docs/method.md §3.9): the INT4 step sizes' AdamW learning rate
/// is that multiple of the schedule's. 0 leaves them where the cold start put them while the weights still train; a
/// scale moves them by that fraction of the full-rate update (Adam's first update is about ±lr whatever the gradient).</summary>
[TestFixture]
public class StepSizeLrScaleTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;
    private const float Lr = 1e-3f; // small: the first learned update (≈ ±lr) cannot flip a step size's sign

    private static GptConfig Config(float scale) => GptConfig.Tiny with
    {
        Layers = 1, Width = 16, Context = 8, BatchSize = 4, EvalBatches = 1, ColdStartSteps = 2, Seed = 29,
        Precision = LinearPrecision.Int4HqLss, StepSizeLrScale = scale,
    };

    private static float[] StepSizes(HostGptModel m) => m.ExportState().Where(t => t.Name.Contains(".step_")).Select(t => t.Data[0]).ToArray();
    private static float[] Weights(HostGptModel m) => m.ExportState().Where(t => t.Name.EndsWith(".weight", StringComparison.Ordinal)).SelectMany(t => t.Data).ToArray();
    private static int StepAdamSteps(HostGptModel m) => m.ExportState().Where(t => t.Name.Contains(".step_")).Select(t => t.AdamSteps).Distinct().Single();

    /// <summary>One training step; returns the step sizes after its forward (what the optimiser starts from) and after its update.</summary>
    private static (float[] Before, float[] After) TrainStep(HostGptModel m, CharDataset data, long step)
    {
        var (x, y) = data.Batch(false, m.Config.BatchSize, m.Config.Context, Hash.Key(m.Config.Seed, step, 1));
        m.ZeroGrad();
        Assert.That(double.IsFinite(m.Forward(x, y, m.Config.BatchSize, step, training: true)));
        m.Backward();
        float[] before = StepSizes(m);
        m.OptimizerStep(Lr);
        return (before, StepSizes(m));
    }

    [Test]
    public void ScaleZero_FreezesTheStepSizesAfterTheColdStart_WhileTheWeightsTrain()
    {
        var data = new CharDataset(BuiltInText.Text, 0.1f, 8);
        using var frozen = new HostGptModel(Config(0f), data.VocabSize, Backend);
        using var full = new HostGptModel(Config(1f), data.VocabSize, Backend);
        float[]? kept = null;
        for (long s = 0; s < 6; s++)
        {
            float[] w0 = Weights(frozen);
            var (before, after) = TrainStep(frozen, data, s);
            var (fullBefore, fullAfter) = TrainStep(full, data, s);
            Assert.That(Weights(frozen), Is.Not.EqualTo(w0), $"step {s}: the weights train");
            Assert.That(StepAdamSteps(frozen), Is.EqualTo(StepAdamSteps(full)), $"step {s}: the same AdamW step count (bias correction) at either scale");
            if (StepAdamSteps(frozen) == 0) continue; // cold start: the layers set the step sizes, the optimiser leaves them
            kept ??= before; // the values the last cold-start forward left
            Assert.That(after, Is.EqualTo(kept), $"step {s}: scale 0 keeps the step sizes where the cold start left them");
            Assert.That(after.All(v => v > 0 && float.IsFinite(v)));
            Assert.That(fullAfter, Is.Not.EqualTo(fullBefore), $"step {s}: at scale 1 they learn");
        }
        Assert.That(kept, Is.Not.Null, "the run goes past the cold start");
    }

    [Test]
    public void AScale_MovesTheStepSizesByThatFractionOfTheFullRateUpdate()
    {
        var data = new CharDataset(BuiltInText.Text, 0.1f, 8);
        using var tenth = new HostGptModel(Config(0.1f), data.VocabSize, Backend);
        using var full = new HostGptModel(Config(1f), data.VocabSize, Backend);
        bool learned = false;
        for (long s = 0; s < 6 && !learned; s++)
        {
            var (b10, a10) = TrainStep(tenth, data, s);
            var (b1, a1) = TrainStep(full, data, s);
            Assert.That(b10, Is.EqualTo(b1), $"step {s}: until the step sizes learn the two runs are the same bit for bit");
            if (StepAdamSteps(full) == 0) continue;
            AssertScaledFirstUpdate(b10, a10, b1, a1, 0.1f, Lr);
            learned = true;
        }
        Assert.That(learned, "the run goes past the cold start");
    }

    /// <summary>The first learned update of the step sizes, from the same state (gradients, moments) bit for bit at
    /// <paramref name="scale"/> and at 1: it moves each by <paramref name="scale"/> × the full-rate move (Adam's first
    /// update is about ±lr, so the comparison skips the few whose tiny gradient lets ε matter).</summary>
    internal static void AssertScaledFirstUpdate(float[] before, float[] after, float[] fullBefore, float[] fullAfter, float scale, float lr)
    {
        Assert.That(before, Is.EqualTo(fullBefore), "identical until the step sizes learn");
        int compared = 0;
        for (int i = 0; i < before.Length; i++)
        {
            float full = fullAfter[i] - fullBefore[i], scaled = after[i] - before[i];
            if (Math.Abs(full) < lr / 2) continue;
            Assert.That(scaled / full, Is.EqualTo(scale).Within(1e-3), $"step size {i}: moved {scaled} at scale {scale}, {full} at 1");
            compared++;
        }
        Assert.That(compared, Is.GreaterThan(before.Length / 2), "most step sizes get a full-size first update");
    }

    [Test]
    public void TheScale_IsValidated()
    {
        foreach (float bad in new[] { -0.5f, float.NaN, float.PositiveInfinity })
            Assert.That(() => Config(bad).Validate(), Throws.ArgumentException.With.Message.Contains(nameof(GptConfig.StepSizeLrScale)), $"{bad}");
        Assert.That(() => Config(0f).Validate(), Throws.Nothing);
        Assert.That(Config(1f).LinearDescription, Does.Not.Contain("step-size"), "the default is not mentioned");
        Assert.That(Config(0.1f).LinearDescription, Does.EndWith(", step-size lr × 0.1)"));
    }
}
