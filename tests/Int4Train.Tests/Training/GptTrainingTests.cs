using System.Diagnostics;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>The host GPT trainer (issue 6, CPU path) on the ILGPU reference backend.</summary>
[TestFixture]
public class GptTrainingTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;

    [Test]
    public void Fp32Gpt_GradientsMatchFiniteDifferences()
    {
        var config = new GptConfig { Layers = 2, Heads = 2, Width = 8, Context = 4, BatchSize = 2, Dropout = 0.1f, Precision = LinearPrecision.Fp32, Seed = 5 };
        var model = new Gpt(config, vocabSize: 7, Backend);
        var rng = new Random(3);
        foreach (var p in model.Parameters) // larger values than the N(0, 0.02) init so every gradient is well above float noise
            for (int i = 0; i < p.Data.Length; i++) p.Data[i] = (p.Name.Contains("ln") && p.Name.EndsWith("weight") ? 1f : 0f) + 0.4f * (2 * rng.NextSingle() - 1);
        int[] x = Enumerable.Range(0, 8).Select(_ => rng.Next(7)).ToArray(), y = Enumerable.Range(0, 8).Select(_ => rng.Next(7)).ToArray();
        double Loss() => model.Forward(x, y, 2, step: 11, training: true); // same step → same dropout masks
        model.ZeroGrad();
        Loss();
        model.Backward();
        const float h = 1e-2f;
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            var grad = (float[])p.Grad.Clone();
            int top = Array.IndexOf(grad, grad.MaxBy(MathF.Abs));
            foreach (int k in new[] { top, p.Data.Length / 2, p.Data.Length - 1 }.Distinct())
            {
                float w0 = p.Data[k];
                p.Data[k] = w0 + h; double lp = Loss();
                p.Data[k] = w0 - h; double lm = Loss();
                p.Data[k] = w0;
                double fd = (lp - lm) / (2 * h);
                Assert.That(grad[k], Is.EqualTo(fd).Within(2e-3 + 0.03 * Math.Abs(fd)), $"∂L/∂{p.Name}[{k}]");
                checkedCount++;
            }
        }
        Assert.That(checkedCount, Is.GreaterThan(40));
    }

    private static GptConfig Narrow(LinearPrecision precision) => GptConfig.Tiny with
    {
        Layers = 1, Width = 16, Context = 8, BatchSize = 4, EvalBatches = 1, LearningRate = 1e-2f, MinLearningRate = 1e-3f,
        WarmupSteps = 3, ColdStartSteps = 2, Precision = precision,
    };

    [TestCase("fp32", 60)]
    [TestCase("bf16", 60)]
    [TestCase("int4", 12)]
    [TestCase("int4-lsq", 12)]
    public void TinyGpt_LossFalls(string precision, int steps)
    {
        var p = GptConfig.ParsePrecision(precision);
        var config = p.IsInt4() ? Narrow(p) : GptConfig.Tiny with { Precision = p };
        using var trainer = Trainer.Create(config, BuiltInText.Text, Backend);
        var clock = Stopwatch.StartNew();
        double before = trainer.Evaluate(validation: false);
        var records = trainer.Run(steps, evalEvery: steps);
        double after = trainer.Evaluate(validation: false);
        TestContext.Out.WriteLine($"{precision}: train-split loss {before:F4} → {after:F4} in {steps} steps (last batch {records[^1].TrainLoss:F4}, val {records[^1].ValidationLoss:F4}), {clock.Elapsed.TotalSeconds:F1} s");
        Assert.That(after, Is.LessThan(before - 0.3), "the loss falls clearly");
        Assert.That(records.All(r => double.IsFinite(r.TrainLoss)));
    }

    [Test]
    public void Checkpoint_ResumeGivesTheSameNextLoss()
    {
        var config = GptConfig.Tiny with { Precision = LinearPrecision.Fp32, Dropout = 0.1f, Layers = 1 };
        using var straight = Trainer.Create(config, BuiltInText.Text, Backend);
        straight.Run(6, evalEvery: 3);
        double expected = straight.TrainStep(decaySteps: 10);

        using var first = Trainer.Create(config, BuiltInText.Text, Backend);
        string dir = Path.Combine(Path.GetTempPath(), "int4train-ckpt-" + Guid.NewGuid().ToString("N"));
        try
        {
            first.Run(3, evalEvery: 3, dir);
            using var resumed = Trainer.Resume(Path.Combine(dir, "checkpoint.bin"), BuiltInText.Text, Backend);
            Assert.That(resumed.Step, Is.EqualTo(3));
            resumed.Run(6, evalEvery: 3);
            Assert.That(resumed.TrainStep(decaySteps: 10), Is.EqualTo(expected), "bit-identical continuation");
            Assert.That(File.ReadAllLines(Path.Combine(dir, "loss.csv")), Has.Length.EqualTo(4));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void Int4Checkpoint_RoundTripsTensorsAdamStateAndLayerProgress()
    {
        var config = Narrow(LinearPrecision.Int4HqLss);
        using var trainer = Trainer.Create(config, BuiltInText.Text, Backend);
        string dir = Path.Combine(Path.GetTempPath(), "int4train-ckpt-" + Guid.NewGuid().ToString("N"));
        try
        {
            trainer.Run(4, evalEvery: 4, dir); // past the cold start (2 forward steps): step sizes learned, AdamW counts differ
            var (loaded, vocab) = Trainer.LoadModel(Path.Combine(dir, "checkpoint.bin"), Backend);
            using (loaded)
            {
                Assert.That(vocab, Is.EqualTo(trainer.Data.Vocab));
                Assert.That(loaded.LayerProgress, Is.EqualTo(trainer.Model.LayerProgress));
                Assert.That(loaded.LayerProgress[0].GroupSize, Is.Not.Null, "the block size searched on the first batch is kept");
                var a = trainer.Model.ExportState();
                var b = loaded.ExportState();
                Assert.That(b.Select(t => t.Name), Is.EqualTo(a.Select(t => t.Name)));
                Assert.That(a.Select(t => t.Name), Does.Contain("h0.qkv.step_x"));
                Assert.That(a.Select(t => t.AdamSteps).Distinct().Count(), Is.GreaterThan(1), "step sizes start learning later");
                for (int i = 0; i < a.Count; i++)
                {
                    Assert.That(b[i].Data, Is.EqualTo(a[i].Data), a[i].Name);
                    Assert.That(b[i].M, Is.EqualTo(a[i].M), a[i].Name);
                    Assert.That(b[i].V, Is.EqualTo(a[i].V), a[i].Name);
                    Assert.That(b[i].AdamSteps, Is.EqualTo(a[i].AdamSteps), a[i].Name);
                }
            }
            using var bf16 = new HostGptModel(config with { Precision = LinearPrecision.Bf16 }, trainer.Data.Vocab.Length, Backend);
            Assert.That(bf16.ExportState().Select(t => t.Name), Has.None.Contains("step_"), "no step sizes outside INT4");
            Assert.Throws<InvalidDataException>(() => Checkpoint.Load(Path.Combine(dir, "checkpoint.bin"), bf16));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void HostModel_NextTokenProbabilities_AreTheLastPositionOfASequence()
    {
        var config = GptConfig.Tiny with { Precision = LinearPrecision.Fp32, Layers = 1 };
        using var model = new HostGptModel(config, 7, Backend);
        int[] tokens = [1, 2, 3, 4, 5, 6, 0, 1, 2, 3]; // 2 sequences of 5
        model.Forward(tokens, null, 2, 0, training: false);
        float[] p1 = model.NextTokenProbabilities(1);
        Assert.That(p1, Is.EqualTo(model.Model.Probabilities.AsSpan(9 * 7, 7).ToArray()));
        Assert.That(p1.Sum(), Is.EqualTo(1f).Within(1e-5));
        Assert.That(model.NextTokenProbabilities(0), Is.EqualTo(model.Model.Probabilities.AsSpan(4 * 7, 7).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.NextTokenProbabilities(2));
        Assert.That(Trainer.Generate(model, "abcdefg", 20, "abc", seed: 1), Has.Length.EqualTo(20));
    }

    [Test]
    public void BadInput_GivesClearExceptions()
    {
        var empty = Assert.Throws<ArgumentException>(() => Trainer.Create(GptConfig.Tiny, "", Backend));
        Assert.That(empty!.Message, Does.Contain("empty"));
        var shortText = Assert.Throws<ArgumentException>(() => Trainer.Create(GptConfig.Tiny, "abcabc", Backend));
        Assert.That(shortText!.Message, Does.Contain("longer than the context"));
        var preset = Assert.Throws<ArgumentException>(() => GptConfig.Preset("huge"));
        Assert.That(preset!.Message, Does.Contain("Unknown preset 'huge'"));
        Assert.Throws<ArgumentException>(() => GptConfig.ParsePrecision("int8"));
        Assert.Throws<ArgumentException>(() => new Gpt(GptConfig.Tiny with { Width = 30, Heads = 4 }, 10, Backend));
        Assert.Throws<FileNotFoundException>(() => Trainer.Resume("/nonexistent/ckpt.bin", BuiltInText.Text, Backend));
    }
}
