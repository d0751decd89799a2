using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// The device GPT's training step as one CUDA graph (int4train_gpt_train_step, native/src/gpt/step_graph.cu): a
/// replayed step must give the parameters, AdamW moments, layer progress and losses of the eager step bit for bit,
/// in every precision, through the learning-rate schedule, with dropout, across the INT4 layers' cold start and
/// re-initialisation (eager steps between replays), with gradient accumulation and when the batch shape changes.
/// Each test also checks that graphs were really captured and replayed, so a silent fallback to eager cannot pass.
/// </summary>
public sealed class DeviceGptGraphTests : GpuFixture
{
    private static GptConfig Config(string precision, int microBatch = 0) => GptConfig.Tiny with
    {
        Layers = 2, Heads = 2, Width = 64, Context = 32, BatchSize = 4, MicroBatch = microBatch, Dropout = 0.1f,
        Precision = GptConfig.ParsePrecision(precision), ColdStartSteps = 2, ReinitializeAtStep = 7, EvalBatches = 1,
        LearningRate = 3e-3f, WarmupSteps = 4, Seed = 77,
    };

    private Trainer Create(GptConfig c, bool graphs) =>
        Trainer.Create(c, BuiltInText.Text, (cfg, v) => new DeviceGptModel(cfg, v, Cuda, graphs));

    private static NativeGpt Native(Trainer t) => ((DeviceGptModel)t.Model).Native;

    // Every tensor's values and AdamW moments, bit for bit, and the layers' progress.
    internal static void AssertSameState(NativeGpt graph, NativeGpt eager, string when)
    {
        foreach (var t in eager.Tensors)
            foreach (var buffer in new[] { NativeGptBuffer.Value, NativeGptBuffer.AdamM, NativeGptBuffer.AdamV })
            {
                float[] a = graph.Read(t.Index, buffer), b = eager.Read(t.Index, buffer);
                for (int i = 0; i < a.Length; i++)
                    if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                        Assert.Fail($"{when}: {t.Name} {buffer}[{i}] is {a[i]:R} replayed, {b[i]:R} eager");
                Assert.That(graph.AdamSteps(t.Index), Is.EqualTo(eager.AdamSteps(t.Index)), $"{when}: {t.Name} AdamW steps");
            }
        for (int l = 0; l < eager.LinearCount; l++)
            Assert.That(graph.GetLayerProgress(l), Is.EqualTo(eager.GetLayerProgress(l)), $"{when}: linear {l} progress");
    }

    [TestCase("fp32")]
    [TestCase("bf16")]
    [TestCase("int4")]
    [TestCase("int4-lsq")]
    // Bernoulli LSS: an eager backward sizes its GEMMs by the kept-row counts (one wait), a captured one for every row
    // (native/src/ops/lss_compact.cu); both must give the same bits
    [TestCase("int4", SamplingMode.Bernoulli)]
    // --int4-layers: the bf16 classes' weight copies refreshed inside the graph, only the INT4 linears' policy decides
    // replayability; proj bf16 (the attention's backward reads its BF16 copy of the output) and INT4 (remade)
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.Up | GptLinearClasses.Down)]
    [TestCase("int4-lsq", SamplingMode.Nonzero, GptLinearClasses.Proj)]
    // --smooth: every training forward makes its factors m on the device (the validations use the last one's)
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.All, 0.5f)]
    [TestCase("int4-lsq", SamplingMode.Nonzero, GptLinearClasses.All, 0.5f, GptLinearClasses.All)]
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.Up | GptLinearClasses.Down, 0.5f, GptLinearClasses.Up)]
    // --int4-ablation: forward-only's backward carves its dequantized operands from the context workspace, which the
    // eager step before a capture must have grown; backward-only's forward adds an FP32 GEMM after the INT4 one
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.All, 0f, GptConfig.DefaultSmoothClasses, Int4Ablation.ForwardOnly)]
    [TestCase("int4-lsq", SamplingMode.Nonzero, GptLinearClasses.All, 0f, GptConfig.DefaultSmoothClasses, Int4Ablation.ForwardOnly)]
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.All, 0f, GptConfig.DefaultSmoothClasses, Int4Ablation.BackwardOnly)]
    // fine-scales: the forward carves its per-row operands from the workspace too, and its backward makes them again
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.All, 0f, GptConfig.DefaultSmoothClasses, Int4Ablation.FineScales)]
    [TestCase("int4-lsq", SamplingMode.Nonzero, GptLinearClasses.All, 0f, GptConfig.DefaultSmoothClasses, Int4Ablation.FineX)]
    [TestCase("int4", SamplingMode.Nonzero, GptLinearClasses.All, 0.5f, GptLinearClasses.All, Int4Ablation.FineW)]
    public void ReplayedSteps_AreBitIdenticalToEagerSteps(string precision, SamplingMode sampling = SamplingMode.Nonzero,
        GptLinearClasses int4Classes = GptLinearClasses.All, float smooth = 0f, GptLinearClasses smoothClasses = GptConfig.DefaultSmoothClasses,
        Int4Ablation ablation = Int4Ablation.None)
    {
        var c = Config(precision) with
        {
            Sampling = sampling, Int4Classes = int4Classes, SmoothAlpha = smooth, SmoothClasses = smoothClasses, Int4Ablation = ablation,
        };
        using var graph = Create(c, graphs: true);
        using var eager = Create(c, graphs: false);
        // 14 steps: warm-up then cosine (the learning rate changes every step), the INT4 cold start (steps 1–2) and
        // re-initialisation (step 8) run eagerly between replays; a validation at 7 and 14 runs eval forwards between.
        var rg = graph.Run(14, 7);
        var re = eager.Run(14, 7);
        Assert.That(rg.Select(r => r.LearningRate).Distinct().Count(), Is.GreaterThan(10), "the schedule moves");
        for (int i = 0; i < re.Count; i++)
        {
            Assert.That(rg[i].TrainLoss, Is.EqualTo(re[i].TrainLoss), $"loss of step {re[i].Step} (exact)");
            Assert.That(rg[i].ValidationLoss, Is.EqualTo(re[i].ValidationLoss), $"validation at step {re[i].Step}");
        }
        Assert.That(re[0].TrainLoss, Is.GreaterThan(2.0), "an untrained model's loss is near ln V");
        AssertSameState(Native(graph), Native(eager), "after 14 steps");
        var (_, captured, replayed) = Native(graph).StepStats;
        Assert.That(captured, Is.GreaterThanOrEqualTo(1), "a graph was captured");
        Assert.That(replayed, Is.GreaterThanOrEqualTo(5), "and replayed");
        Assert.That(Native(eager).StepStats, Is.EqualTo((14L, 0L, 0L)), "--graph off runs every step eagerly");
    }

    [TestCase("fp32")]
    [TestCase("int4")]
    public void QueuedSteps_EqualTheSeparateCalls(string precision)
    {
        // The queued step (one small kernel writes the step's values to the device) against the established path of
        // ZeroGrad, Forward, Backward, OptimizerStep with host-side keys and learning rate.
        var c = Config(precision, microBatch: 2);
        using var queued = Create(c, graphs: true);
        using var calls = Create(c, graphs: false);
        var rq = queued.Run(10, 10);
        var losses = Enumerable.Range(0, 10).Select(_ => calls.TrainStep(10)).ToArray();
        Assert.That(rq.Select(r => r.TrainLoss), Is.EqualTo(losses), "losses (exact)");
        AssertSameState(Native(queued), Native(calls), "after 10 steps");
        Assert.That(Native(queued).StepStats.Replayed, Is.GreaterThanOrEqualTo(3));
    }

    [TestCase("fp32")]
    [TestCase("bf16")]
    [TestCase("int4")]
    public void MicroBatches_InAGraph_EqualEager(string precision)
    {
        var c = Config(precision, microBatch: 1); // 4 passes a step, each with its own dropout masks and INT4 keys
        using var graph = Create(c, graphs: true);
        using var eager = Create(c, graphs: false);
        var rg = graph.Run(10, 5);
        var re = eager.Run(10, 5);
        Assert.That(rg.Select(r => r.TrainLoss), Is.EqualTo(re.Select(r => r.TrainLoss)), "losses (exact)");
        AssertSameState(Native(graph), Native(eager), "after 10 steps of 4 passes");
        Assert.That(Native(graph).StepStats.Replayed, Is.GreaterThanOrEqualTo(3));
        if (c.Precision is LinearPrecision.Int4HqLss)
            Assert.That(graph.Model.LayerProgress.Select(p => p.StepCount), Is.All.EqualTo(40), "every pass counts a forward");
    }

    [Test]
    public void ChangingTheBatchShape_CapturesAgain_AndKeepsBothGraphs()
    {
        var c = Config("fp32");
        const int vocab = 50;
        using var graph = new DeviceGptModel(c, vocab, Cuda, cudaGraphs: true);
        using var eager = new DeviceGptModel(c, vocab, Cuda, cudaGraphs: false);
        var rng = new Random(5);
        int[] shapes = [32, 32, 32, 32, 16, 16, 16, 16, 32, 32, 32, 32]; // t per step; 4 sequences each
        for (int step = 0; step < shapes.Length; step++)
        {
            int n = c.BatchSize * shapes[step];
            int[] x = Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
            int[] y = Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
            float lr = 1e-3f * (1 + step);
            graph.QueueStep(x, y, c.BatchSize, 1, step, lr);
            eager.QueueStep(x, y, c.BatchSize, 1, step, lr);
        }
        var lg = graph.ReadLosses();
        Assert.That(lg, Has.Count.EqualTo(shapes.Length), "one loss per step");
        Assert.That(lg, Is.EqualTo(eager.ReadLosses()), "losses (exact)");
        Assert.That(graph.ReadLosses(), Is.Empty, "read once");
        AssertSameState(graph.Native, eager.Native, "after 12 steps in two shapes");
        // t = 32: eager (warm-up), captured, replayed ×2; t = 16: the same; t = 32 again: its graph, replayed ×4
        Assert.That(graph.Native.StepStats, Is.EqualTo((2L, 2L, 8L)));
    }

    [Test]
    public void AStepSizeLrScale_ReplaysAsItRunsEagerly()
    {
        // the replayed AdamW reads the learning rate from the step's scalars on the device, then scales it for the
        // step sizes: the same bits as the eager step, which is given the rate
        var c = Config("int4") with { StepSizeLrScale = 0.1f };
        using var graph = Create(c, graphs: true);
        using var eager = Create(c, graphs: false);
        Assert.That(graph.Run(10, 10).Select(r => r.TrainLoss), Is.EqualTo(eager.Run(10, 10).Select(r => r.TrainLoss)), "losses (exact)");
        AssertSameState(Native(graph), Native(eager), "after 10 steps at step-size lr × 0.1");
        Assert.That(Native(graph).StepStats.Replayed, Is.GreaterThanOrEqualTo(3), "replayed");
    }

    [Test]
    public void MorePassesThanOneNativeStepTakes_RunAsSeparateCalls()
    {
        var wide = GptConfig.Tiny with // 258 passes a step: more than the native step takes
        {
            Layers = 1, Heads = 2, Width = 16, Context = 8, BatchSize = NativeGpt.MaxPassesPerStep + 2, MicroBatch = 1,
            Dropout = 0.1f, Precision = LinearPrecision.Fp32, EvalBatches = 1, Seed = 3,
        };
        using var queued = Create(wide, graphs: true);
        using var calls = Create(wide, graphs: true);
        // two steps: the second starts from the first's AdamW moments and step count. No more: under racecheck every
        // pass costs about a second of tool time, and this case's ~1,300 passes (two models, the validation) are the
        // longest of the suite (tests/results/sanitizer-coverage.md)
        var rq = queued.Run(2, 2);
        var losses = Enumerable.Range(0, 2).Select(_ => calls.TrainStep(2)).ToArray();
        Assert.That(rq.Select(r => r.TrainLoss), Is.EqualTo(losses), "losses (exact)");
        AssertSameState(Native(queued), Native(calls), "after 2 steps of 258 passes");
        Assert.That(Native(queued).StepStats, Is.EqualTo((0L, 0L, 0L)), "no native train step ran");
    }

    [Test]
    public void BadInput_IsOneClearError()
    {
        var c = Config("fp32");
        using var model = new DeviceGptModel(c, 50, Cuda);
        int[] x = new int[c.BatchSize * c.Context], y = new int[x.Length];
        y[3] = 50;
        Assert.That(() => model.QueueStep(x, y, c.BatchSize, 1, 0, 1e-3f), Throws.ArgumentException.With.Message.Contains("outside [0, 50)"));
        Assert.That(() => model.QueueStep(x, y, c.BatchSize, 3, 0, 1e-3f), Throws.ArgumentException.With.Message.Contains("passes"));
        Assert.That(model.ReadLosses(), Is.Empty, "a refused step logs nothing");
    }
}
