using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>GptConfig.Int4Classes on the host model (issue 15: which block-linear classes limit the INT4 accuracy):
/// the classes outside the set run as the bf16 precision runs them and have no step sizes; the classes inside stay
/// INT4; every class in the set (the default) is the model as before.</summary>
[TestFixture]
public class Int4ClassesTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;
    private const GptLinearClasses UpDown = GptLinearClasses.Up | GptLinearClasses.Down;

    private static GptConfig Config(LinearPrecision precision, GptLinearClasses classes = GptLinearClasses.All) => GptConfig.Tiny with
    {
        Layers = 2, Width = 16, Context = 8, BatchSize = 4, EvalBatches = 1, ColdStartSteps = 2, Seed = 31,
        Precision = precision, Int4Classes = classes,
    };

    // Random rows with a few large outliers (what INT4 quantisation and BF16 rounding treat differently).
    private static float[] Input(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (rng.Next(50) == 0 ? 40f : 1f);
        return x;
    }

    [Test]
    public void TheTable_ListsStepSizesOnlyForTheInt4Classes()
    {
        const int vocab = 11;
        var mixed = Config(LinearPrecision.Int4HqLss, UpDown);
        var steps = GptTensorTable.Tensors(mixed, vocab).Where(t => t.IsStepSize).Select(t => t.Name).ToArray();
        Assert.That(steps, Is.EqualTo(new[]
        {
            "h0.up.step_x", "h0.up.step_w", "h0.down.step_x", "h0.down.step_w",
            "h1.up.step_x", "h1.up.step_w", "h1.down.step_x", "h1.down.step_w",
        }));
        var all = GptTensorTable.Tensors(Config(LinearPrecision.Int4HqLss), vocab);
        Assert.That(all.Count(t => t.IsStepSize), Is.EqualTo(2 * 4 * mixed.Layers), "the default: every linear has its two step sizes");
        Assert.That(GptTensorTable.Tensors(mixed, vocab).Where(t => !t.IsStepSize), Is.EqualTo(all.Where(t => !t.IsStepSize)),
            "the other tensors are the same");
        Assert.That(GptInit.Draw(mixed, vocab).Keys, Is.EquivalentTo(GptInit.Draw(Config(LinearPrecision.Bf16), vocab).Keys));
        foreach (var (name, values) in GptInit.Draw(mixed, vocab))
            Assert.That(values, Is.EqualTo(GptInit.Draw(Config(LinearPrecision.Int4HqLss), vocab)[name]), $"{name}: the same initial values");
    }

    [Test]
    public void ALinearOutsideTheSet_IsTheBf16PrecisionsLinear_AndOneInsideStaysInt4()
    {
        var data = new CharDataset(BuiltInText.Text, 0.1f, 8);
        using var mixed = new HostGptModel(Config(LinearPrecision.Int4HqLss, UpDown), data.VocabSize, Backend);
        using var bf16 = new HostGptModel(Config(LinearPrecision.Bf16), data.VocabSize, Backend);
        using var int4 = new HostGptModel(Config(LinearPrecision.Int4HqLss), data.VocabSize, Backend);
        var m = mixed.Model.Linears.ToArray();
        var b = bf16.Model.Linears.ToArray();
        var q = int4.Model.Linears.ToArray();
        Assert.That(m.Select(l => l.Options.Precision), Is.EqualTo(Enumerable.Repeat(new[]
            { LinearPrecision.Bf16, LinearPrecision.Bf16, LinearPrecision.Int4HqLss, LinearPrecision.Int4HqLss }, 2).SelectMany(p => p)));
        for (int i = 0; i < m.Length; i++)
        {
            var reference = i % 4 < 2 ? b[i] : q[i];
            Assert.That(m[i].Weight, Is.EqualTo(reference.Weight), $"linear {i}: the same initial weight");
            float[] x = Input(6, m[i].InFeatures, 100 + i), dy = Input(6, m[i].OutFeatures, 200 + i);
            float[] y = m[i].Forward(x, 6), yr = reference.Forward(x, 6);
            Assert.That(y, Is.EqualTo(yr), $"linear {i}: forward as its class's reference (bit for bit)");
            Assert.That(m[i].Backward(dy), Is.EqualTo(reference.Backward(dy)), $"linear {i}: ∂L/∂X as the reference");
            Assert.That(m[i].WeightGrad, Is.EqualTo(reference.WeightGrad), $"linear {i}: ∂L/∂W as the reference");
            if (i % 4 < 2)
            {
                Assert.That(y, Is.Not.EqualTo(q[i].Forward(x, 6)), $"linear {i}: not the INT4 linear's result");
                Assert.That((m[i].StepCount, m[i].GroupSize), Is.EqualTo((0, (int?)null)), $"linear {i}: no INT4 policy");
            }
            else Assert.That(m[i].StepCount, Is.EqualTo(1), $"linear {i}: an INT4 layer counting its forwards");
        }
    }

    [Test]
    public void AModelWithTwoInt4Classes_Trains_AndOnlyTheirStepSizesLearn()
    {
        var data = new CharDataset(BuiltInText.Text, 0.1f, 8);
        var cfg = Config(LinearPrecision.Int4HqLss, UpDown) with { LearningRate = 1e-2f };
        using var model = new HostGptModel(cfg, data.VocabSize, Backend);
        var stepNames = model.ExportState().Where(t => t.Name.Contains(".step_")).Select(t => t.Name).ToArray();
        Assert.That(stepNames, Has.Length.EqualTo(8));
        Assert.That(stepNames.All(n => n.Contains(".up.") || n.Contains(".down.")), "step sizes: the INT4 classes' only");
        double first = 0, last = 0;
        const int steps = 12;
        for (long s = 0; s < steps; s++)
        {
            var (x, y) = data.Batch(false, cfg.BatchSize, cfg.Context, Hash.Key(cfg.Seed, s, 1));
            model.ZeroGrad();
            double loss = model.Forward(x, y, cfg.BatchSize, s, training: true);
            Assert.That(double.IsFinite(loss), $"step {s}: loss {loss}");
            model.Backward();
            model.OptimizerStep(cfg.LearningRate);
            if (s < 3) first += loss / 3;
            if (s >= steps - 3) last += loss / 3;
        }
        Assert.That(last, Is.LessThan(first), "the loss falls");
        var state = model.ExportState().Where(t => t.Name.Contains(".step_")).ToArray();
        Assert.That(state.Select(t => t.AdamSteps), Is.All.EqualTo(steps - cfg.ColdStartSteps), "learned after the cold start");
        Assert.That(state.Select(t => t.Data[0]), Is.All.Not.EqualTo(0f), "set by their layers");
        Assert.That(model.LayerProgress.Select(p => p.StepCount),
            Is.EqualTo(Enumerable.Repeat(new[] { 0, 0, steps, steps }, cfg.Layers).SelectMany(p => p)), "only the INT4 layers count forwards");
    }

    [Test]
    public void TheSetting_IsValidated_AndDescribed()
    {
        foreach (var bad in new[] { GptLinearClasses.None, (GptLinearClasses)16, GptLinearClasses.All | (GptLinearClasses)32 })
            Assert.That(() => Config(LinearPrecision.Int4HqLss, bad).Validate(), Throws.ArgumentException.With.Message.Contains("at least one of qkv, proj, up, down"), $"{bad}");
        foreach (var p in new[] { LinearPrecision.Bf16, LinearPrecision.Fp32 })
            Assert.That(() => Config(p, GptLinearClasses.Qkv).Validate(), Throws.ArgumentException.With.Message.Contains("chooses the INT4 block linears of an INT4 precision"), $"{p}");
        Assert.That(() => Config(LinearPrecision.Bf16).Validate(), Throws.Nothing, "all: every precision");
        Assert.That(() => Config(LinearPrecision.Int4Lsq, GptLinearClasses.Proj).Validate(), Throws.Nothing);
        Assert.That(Config(LinearPrecision.Int4HqLss).LinearDescription, Does.Not.Contain("INT4 only"), "the default is not mentioned");
        Assert.That(Config(LinearPrecision.Int4HqLss, UpDown).LinearDescription, Does.EndWith(", INT4 only up,down, the rest bf16)"));
        Assert.That(Config(LinearPrecision.Int4HqLss, GptLinearClasses.Qkv).RunsInt4(0) && !Config(LinearPrecision.Int4HqLss, GptLinearClasses.Qkv).RunsInt4(1));
        Assert.That(Enumerable.Range(0, 4).Any(Config(LinearPrecision.Bf16).RunsInt4), Is.False, "bf16 runs no INT4 linear");
    }

    [Test]
    public void ClassNames_ParseAndPrintInTableOrder()
    {
        Assert.That(GptConfig.ParseLinearClasses("down, up"), Is.EqualTo(UpDown));
        Assert.That(GptConfig.ParseLinearClasses("qkv,proj,up,down"), Is.EqualTo(GptLinearClasses.All));
        Assert.That(GptConfig.ParseLinearClasses("proj,proj"), Is.EqualTo(GptLinearClasses.Proj));
        Assert.That(GptConfig.LinearClassList(GptLinearClasses.Down | GptLinearClasses.Qkv), Is.EqualTo("qkv,down"));
        Assert.That(GptConfig.LinearClassNames, Is.EqualTo(new[] { "qkv", "proj", "up", "down" }));
        for (int mask = 1; mask < 16; mask++)
            Assert.That(GptConfig.ParseLinearClasses(GptConfig.LinearClassList((GptLinearClasses)mask)), Is.EqualTo((GptLinearClasses)mask));
        Assert.That(() => GptConfig.ParseLinearClasses("qkv,mlp"), Throws.ArgumentException.With.Message.EqualTo("Unknown block-linear class 'mlp'; known: qkv, proj, up, down."));
        Assert.That(() => GptConfig.ParseLinearClasses(" , "), Throws.ArgumentException.With.Message.EqualTo("No block-linear class given; known: qkv, proj, up, down."));
    }
}
