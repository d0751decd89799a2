using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// Per-input-channel smoothing of the device GPT's block linears (issue 15; native/src/gpt/smoothing.cu,
/// docs/conventions.md "Per-input-channel smoothing"): a smoothed linear runs its unchanged arithmetic on X·diag(1/m)
/// and W·diag(m) and maps the gradients back. In fp32 that is exact in real arithmetic, so the loss, every gradient
/// and an evaluation forward must equal the unsmoothed model's to FP32 rounding (a check of the factors' use, of the
/// ∂X and ∂W post-scaling and of the backward's remade X', W'); an INT4 model with smoothing must train and be another
/// model than without. Replay and recomputation: DeviceGptGraphTests and DeviceGptMemoryTests have smoothing cases.
/// </summary>
public sealed class DeviceGptSmoothingTests : GpuFixture
{
    internal static GptConfig Small(LinearPrecision precision) => GptConfig.Tiny with
    {
        Layers = 2, Heads = 2, Width = 64, Context = 32, BatchSize = 4, Dropout = 0f, Precision = precision,
        ColdStartSteps = 2, EvalBatches = 2, Seed = 23,
    };

    // The native model of a configuration with smoothing set directly (GptConfig takes it for INT4 precisions only; the
    // native model takes fp32 too), initialised as DeviceGptModel initialises it, with LayerNorm gains that have a few
    // large channels (what smoothing is for: LN outputs with outlier channels).
    private NativeGpt Create(GptConfig c, int vocab, float alpha, GptLinearClasses classes)
    {
        var init = GptInit.Draw(c, vocab);
        var random = new Random(7);
        foreach (var (name, values) in init)
            if (name.EndsWith("ln1.weight", StringComparison.Ordinal) || name.EndsWith("ln2.weight", StringComparison.Ordinal))
                for (int i = 0; i < values.Length; i++) values[i] = random.Next(10) == 0 ? 8f + 12f * (float)random.NextDouble() : 0.5f + (float)random.NextDouble();
        return DeviceGptModel.CreateInitialised(Cuda, DeviceGptModel.NativeOptions(c, vocab) with { SmoothAlpha = alpha, SmoothClasses = classes }, init);
    }

    internal static (int[] X, int[] Y) Batch(GptConfig c, CharDataset data, long step) =>
        data.Batch(false, c.BatchSize, c.Context, Hash.Key(c.Seed, step, 1));

    [TestCase(0.5f, GptLinearClasses.Qkv | GptLinearClasses.Up)]
    [TestCase(0.5f, GptLinearClasses.All)]
    [TestCase(1f, GptLinearClasses.All)]
    [TestCase(0.2f, GptLinearClasses.Proj | GptLinearClasses.Down)]
    public void Fp32_SmoothingIsExact_TheLossGradientsAndEvaluationAsWithout(float alpha, GptLinearClasses classes)
    {
        var c = Small(LinearPrecision.Fp32);
        var data = new CharDataset(BuiltInText.Text, c.ValidationFraction, c.Context);
        using var plain = Create(c, data.VocabSize, 0f, GptConfig.DefaultSmoothClasses);
        using var smoothed = Create(c, data.VocabSize, alpha, classes);
        var (x, y) = Batch(c, data, 0);
        var (vx, vy) = Batch(c, data, 1);
        var losses = new List<float>();
        foreach (var m in new[] { plain, smoothed })
        {
            // an evaluation before any training forward makes m from its own batch
            losses.Add(m.Forward(vx, vy, c.BatchSize, c.Context, 0, training: false));
            m.ZeroGrad();
            losses.Add(m.Forward(x, y, c.BatchSize, c.Context, 0, training: true));
            m.Backward();
            // an evaluation after it uses the training forward's m
            losses.Add(m.Forward(vx, vy, c.BatchSize, c.Context, 0, training: false));
        }
        for (int i = 0; i < 3; i++)
            Assert.That(losses[3 + i], Is.EqualTo(losses[i]).Within(1e-5 * losses[i]), $"loss {i} (eval, train, eval)");
        Assert.That(losses[1], Is.GreaterThan(2.0), "an untrained model's loss is near ln V");
        foreach (var t in plain.Tensors)
        {
            float[] gp = plain.Read(t.Index, NativeGptBuffer.Gradient), gs = smoothed.Read(t.Index, NativeGptBuffer.Gradient);
            Assert.That(gp.Any(v => v != 0), $"{t.Name}: gradient is all zeros");
            Assert.That(DeviceGptTests.RelErr(gs, gp), Is.LessThan(1e-4), $"{t.Name}: gradient");
        }
    }

    [TestCase(LinearPrecision.Int4HqLss, GptConfig.DefaultSmoothClasses)]
    [TestCase(LinearPrecision.Int4Lsq, GptLinearClasses.All)]
    public void Int4_WithSmoothing_MatchesTheHostModel(LinearPrecision precision, GptLinearClasses classes)
    {
        // The host model smooths with the reference (ChannelSmoothing, SmoothedLinear): the same factors (column maxima
        // exact, the double quotient rounded once), the same X' and W' bit for bit from the same X and W; the models
        // then differ as any INT4 device and host model do (Int4ModelsAlike's tolerances). G fixed: no close call in the
        // search.
        var c = Small(precision) with { SmoothAlpha = 0.5f, SmoothClasses = classes };
        if (precision == LinearPrecision.Int4HqLss) c = c with { GroupSize = 16 };
        var data = new CharDataset(BuiltInText.Text, c.ValidationFraction, c.Context);
        using var refDevice = Int4Train.Reference.ReferenceDevice.CreateCpu();
        using var backend = Int4Backend.Reference(refDevice);
        using var host = new HostGptModel(c, data.VocabSize, backend);
        using var dev = new DeviceGptModel(c, data.VocabSize, Cuda, cudaGraphs: false);
        Assert.That(dev.Native.Tensors.Select(t => t.Name), Is.EqualTo(host.Model.Parameters.Select(p => p.Name)));
        Int4ModelsAlike.TrainSideBySide(host, dev, c, s => Batch(c, data, s), steps: 6, lr: 1e-3f);
        var (vx, vy) = Batch(c, data, 1000);
        double eh = host.Forward(vx, vy, c.BatchSize, 6, training: false), ed = dev.Forward(vx, vy, c.BatchSize, 6, training: false);
        Assert.That(ed, Is.EqualTo(eh).Within(0.03 * eh), "an evaluation with the last training forward's m");
    }

    [TestCase(LinearPrecision.Int4HqLss, GptConfig.DefaultSmoothClasses)]
    [TestCase(LinearPrecision.Int4HqLss, GptLinearClasses.All)]
    [TestCase(LinearPrecision.Int4Lsq, GptConfig.DefaultSmoothClasses)]
    public void Int4_WithSmoothing_Trains_AndIsAnotherModelThanWithout(LinearPrecision precision, GptLinearClasses classes)
    {
        var c = Small(precision) with { BatchSize = 8 };
        var data = new CharDataset(BuiltInText.Text, c.ValidationFraction, c.Context);
        using var smoothed = new DeviceGptModel(c with { SmoothAlpha = 0.5f, SmoothClasses = classes }, data.VocabSize, Cuda, cudaGraphs: false);
        using var plain = new DeviceGptModel(c, data.VocabSize, Cuda, cudaGraphs: false);
        const int steps = 25;
        var ls = new double[steps];
        for (long s = 0; s < steps; s++)
        {
            var (x, y) = Batch(c, data, s);
            foreach (var m in new[] { smoothed, plain })
            {
                m.ZeroGrad();
                double loss = m.Forward(x, y, c.BatchSize, s, training: true);
                if (m == smoothed) ls[s] = loss;
                else if (s == 0) Assert.That(loss, Is.Not.EqualTo(ls[0]), "step 0: smoothing changes the INT4 result");
                Assert.That(double.IsFinite(loss), $"step {s}: loss {loss}");
                m.Backward();
                m.OptimizerStep(1e-2f);
            }
        }
        Assert.That(ls.TakeLast(3).Average(), Is.LessThan(ls.Take(3).Average()), "the smoothed model's loss falls");
        var (vx, vy) = Batch(c, data, 1000);
        double eval = smoothed.Forward(vx, vy, c.BatchSize, steps, training: false);
        Assert.That(double.IsFinite(eval) && eval < ls[0], $"an evaluation with the last training forward's m: {eval}");
        Assert.That(Int4ModelsAlike.StepSizes(smoothed), Is.All.Not.EqualTo(0f),
            "the step sizes of X' and W' are set");
    }

    [TestCase(LinearPrecision.Bf16, 0.5f, GptLinearClasses.Qkv, GptLinearClasses.All, "smooth_classes")]
    [TestCase(LinearPrecision.Int4HqLss, 0.5f, GptLinearClasses.Qkv, GptLinearClasses.Proj | GptLinearClasses.Up, "smooth_classes")]
    [TestCase(LinearPrecision.Int4HqLss, 1.5f, GptLinearClasses.Qkv, GptLinearClasses.All, "smooth_alpha")]
    [TestCase(LinearPrecision.Int4HqLss, 0.5f, GptLinearClasses.None, GptLinearClasses.All, "smooth_classes")]
    public void BadNativeSmoothing_IsOneClearError(LinearPrecision precision, float alpha, GptLinearClasses classes, GptLinearClasses int4, string names)
    {
        // an invalid-argument status reaches the caller as ArgumentException (NativeStatus.Check), as every bad option does
        var ex = Assert.Throws<ArgumentException>(() => new NativeGpt(Cuda, new NativeGptOptions
        {
            Layers = 1, Heads = 2, Width = 32, Context = 8, MaxBatch = 2, Vocab = 11,
            Linear = new Int4LinearOptions { Precision = precision }, SmoothAlpha = alpha, SmoothClasses = classes, Int4Classes = int4,
        }).Dispose());
        Assert.That(ex!.Message, Does.Contain(names));
    }
}
