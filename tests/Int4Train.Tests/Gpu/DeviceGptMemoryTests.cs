using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// What the device GPT keeps between forward and backward (docs/conventions.md "What the device GPT keeps for the
/// backward", native/src/gpt/linear_inputs.cu; the whole breakdown: docs/memory.md): the INT4 precisions keep no FP32
/// copy of three block linears' inputs X (LN₁(x), LN₂(x2), GELU(h)) but make each again in the backward into one
/// shared buffer (the attention output, proj's X, is kept: making it again is a whole attention forward), and an
/// INT4 up linear makes its output h again too (into one shared buffer), and
/// that must change nothing: a model that recomputes trains bit for bit as one that keeps X and h
/// (INT4TRAIN_GPT_KEEP_INPUTS=1, read by int4train_gpt_create), eagerly and in CUDA graphs, with dropout, gradient
/// accumulation, the cold start and the re-initialisation.
/// </summary>
public sealed class DeviceGptMemoryTests : GpuFixture
{
    private static GptConfig Config(string precision, int microBatch) => GptConfig.Tiny with
    {
        Layers = 2, Heads = 2, Width = 64, Context = 32, BatchSize = 4, MicroBatch = microBatch, Dropout = 0.1f,
        Precision = GptConfig.ParsePrecision(precision), ColdStartSteps = 2, ReinitializeAtStep = 5, EvalBatches = 1,
        LearningRate = 3e-3f, WarmupSteps = 3, Seed = 91,
    };

    // A model created with INT4TRAIN_GPT_KEEP_INPUTS=1 (only its creation reads the switch).
    private static T KeepingInputs<T>(Func<T> create) => NativeEnvironment.With("INT4TRAIN_GPT_KEEP_INPUTS", "1", create);

    private Trainer Create(GptConfig c, bool graphs) =>
        Trainer.Create(c, BuiltInText.Text, (cfg, v) => new DeviceGptModel(cfg, v, Cuda, graphs));

    [TestCase("int4")]
    [TestCase("int4-lsq")]
    public void Int4_DropsTheFp32LinearInputs(string precision)
    {
        var c = Config(precision, microBatch: 2);
        const int vocab = 50;
        using var recompute = new DeviceGptModel(c, vocab, Cuda);
        using var keep = KeepingInputs(() => new DeviceGptModel(c, vocab, Cuda));
        // Each block drops ln1, ln2 (N × C each), g (N × 4C) and h (N × 4C), N = pass batch × context,
        // FP32; all blocks share one N × 4C buffer for the inputs and one for h instead. Exact: the model counts what
        // it cudaMallocs.
        Assert.That(keep.Native.AllocatedBytes - recompute.Native.AllocatedBytes, Is.EqualTo(SavedByRemaking(c)),
            "bytes saved: the dropped inputs and h less the two shared buffers");
        Assert.That(recompute.DeviceMemoryBytes, Is.LessThan(keep.DeviceMemoryBytes), "DeviceMemoryBytes shows it");

        // The switch is the INT4 precisions': the BF16 baseline keeps its BF16 copies of X whatever it says, and INT4
        // holds less than it (DeviceGptBf16Tests: what bf16 holds).
        var bf16 = c with { Precision = LinearPrecision.Bf16 };
        using var baseline = new DeviceGptModel(bf16, vocab, Cuda);
        using var baselineKeep = KeepingInputs(() => new DeviceGptModel(bf16, vocab, Cuda));
        Assert.That(baseline.Native.AllocatedBytes, Is.EqualTo(baselineKeep.Native.AllocatedBytes), "BF16 keeps its BF16 X either way");
        Assert.That(recompute.Native.AllocatedBytes, Is.LessThan(baseline.Native.AllocatedBytes),
            "INT4 (packed codes, X made again) holds less than BF16 (BF16 X, BF16 weight copy)");
    }

    /// <summary>Bytes an INT4 model (every class INT4) holds less than the same model keeping FP32 X and h: per
    /// block ln1, ln2 (N × C), g and h (N × 4C), less the shared N × 4C input buffer and the shared h.</summary>
    public static long SavedByRemaking(GptConfig c)
    {
        long n = (long)c.PassBatch * c.Context, width = c.Width;
        long dropped = c.Layers * n * width * 4 * (DroppedWidths.Sum() + 4), shared = 2 * n * 4 * width * 4;
        return dropped - shared;
    }

    /// <summary>The width, in C, of the FP32 input an INT4 linear of class k (qkv, proj, up, down) does not keep: LN₁(x),
    /// LN₂(x2) and GELU(h) are made again; proj keeps the attention output (native/src/gpt/model_build.cu kept_input).</summary>
    private static readonly int[] DroppedWidths = { 1, 0, 1, 4 };

    [TestCase(GptLinearClasses.Up | GptLinearClasses.Down, true)]  // h remade: one shared buffer
    [TestCase(GptLinearClasses.Qkv | GptLinearClasses.Proj, false)] // up a bf16 linear: every block keeps its h
    [TestCase(GptLinearClasses.Up, true)]                           // down a bf16 linear: h remade all the same
    public void TheUpProjection_IsKeptUnlessAnInt4UpLinearMakesItAgain(GptLinearClasses classes, bool remade)
    {
        var c = Config("int4", microBatch: 2) with { Int4Classes = classes };
        const int vocab = 50;
        using var recompute = new DeviceGptModel(c, vocab, Cuda);
        using var keep = KeepingInputs(() => new DeviceGptModel(c, vocab, Cuda));
        long n = (long)c.PassBatch * c.Context, width = c.Width, perBlock = n * 4 * width * 4;
        // the INT4 classes' FP32 inputs (ln1, ln2: C; g: 4C; proj keeps its) are dropped; the shared input buffer
        // exists in both models (the bf16 linears use it)
        long inputs = 0;
        for (int k = 0; k < 4; k++)
            if (c.RunsInt4(k)) inputs += c.Layers * n * width * DroppedWidths[k] * 4;
        long hidden = remade ? c.Layers * perBlock - perBlock : 0;
        Assert.That(keep.Native.AllocatedBytes - recompute.Native.AllocatedBytes, Is.EqualTo(inputs + hidden),
            "bytes saved: the INT4 linears' FP32 inputs, and h of every block but one when up is INT4");
    }

    // The INT4 layers' block-size search needs two FP32 temporaries as large as the widest input (N × 4C, down's X),
    // the step initialisation one: the model lends them its backward gradient buffers (model_build.cu), so the
    // context workspace no longer grows to 2·N·4C floats in the first forward (and stays there: it only grows).
    // Bound for the SM90 path with Nonzero sampling (lss_folded.cu), whose backward needs far less; the general path's
    // ∇X product alone (2N × 4C INT32) is as large as the two temporaries.
    [TestCase("int4")]
    [TestCase("int4-lsq")]
    public void TheWorkspace_DoesNotHoldThePolicyTemporaries(string precision)
    {
        if (Cuda.ComputeCapability < 90) Assert.Ignore("the bound is the SM90 folded backward's (this device: sm_" + Cuda.ComputeCapability + ")");
        var c = GptConfig.Tiny with
        {
            Layers = 2, Heads = 2, Width = 128, Context = 256, BatchSize = 8, MicroBatch = 8,
            Precision = GptConfig.ParsePrecision(precision), Sampling = SamplingMode.Nonzero, GroupSize = null,
            ColdStartSteps = 2, ReinitializeAtStep = 3, Seed = 17,
        };
        const int vocab = 50;
        using var context = CudaContext.Create(); // a fresh workspace: the fixture's has grown for other tests
        using var model = new DeviceGptModel(c, vocab, context);
        var random = new Random(5);
        int tokens = c.BatchSize * c.Context;
        for (long step = 0; step < 5; step++) // the search (first forward), the cold start, the re-initialisation
        {
            int[] x = Enumerable.Range(0, tokens).Select(_ => random.Next(vocab)).ToArray();
            int[] y = Enumerable.Range(0, tokens).Select(_ => random.Next(vocab)).ToArray();
            model.ZeroGrad();
            Assert.That(model.Forward(x, y, c.BatchSize, step, training: true), Is.GreaterThan(2.0), $"step {step}: loss near ln V");
            model.Backward();
            model.OptimizerStep(1e-3f);
        }
        long n = (long)c.PassBatch * c.Context, searchTemporaries = 2 * n * 4 * c.Width * sizeof(float);
        Assert.That(context.WorkspaceBytes, Is.GreaterThan(0), "the INT4 operators ran in the workspace");
        Assert.That(context.WorkspaceBytes, Is.LessThan(searchTemporaries),
            $"workspace {context.WorkspaceBytes} bytes: the search's two N × 4C FP32 temporaries ({searchTemporaries}) live in the model's buffers");
    }

    [TestCase("int4", false)]
    [TestCase("int4", true)]
    [TestCase("int4-lsq", false)]
    [TestCase("int4-lsq", true)]
    [TestCase("int4", true, GptLinearClasses.Up)] // h remade while down (a bf16 linear) keeps its BF16 X
    // --smooth: the backward makes X' = X/m and W' = W·m again from the remade X (and h with the kept m)
    [TestCase("int4", false, GptLinearClasses.All, 0.5f)]
    [TestCase("int4", true, GptLinearClasses.All, 0.5f)]
    // --int4-ablation backward-only: the remade h is the FP32 product again (linear_forward_again), not the INT4 one;
    // forward-only: its backward reads the remade X for the LSQ mask
    [TestCase("int4", false, GptLinearClasses.All, 0f, Int4Ablation.BackwardOnly)]
    [TestCase("int4", true, GptLinearClasses.All, 0f, Int4Ablation.ForwardOnly)]
    // fine-scales: the remade h is the per-row FP32 product again, and the backward makes the per-row operands again
    [TestCase("int4", false, GptLinearClasses.All, 0f, Int4Ablation.FineScales)]
    [TestCase("int4", true, GptLinearClasses.All, 0f, Int4Ablation.FineScales)]
    public void Recomputing_TheInputs_TrainsBitForBitAsKeepingThem(string precision, bool graphs,
        GptLinearClasses classes = GptLinearClasses.All, float smooth = 0f, Int4Ablation ablation = Int4Ablation.None)
    {
        // 2 passes a step: each pass's backward remakes its own forward's X and h
        var c = Config(precision, microBatch: 2) with { Int4Classes = classes, Int4Ablation = ablation };
        if (smooth > 0) c = c with { SmoothAlpha = smooth, SmoothClasses = GptLinearClasses.All };
        using var recompute = Create(c, graphs);
        using var keep = KeepingInputs(() => Create(c, graphs));
        Assert.That(((DeviceGptModel)recompute.Model).Native.AllocatedBytes,
            Is.LessThan(((DeviceGptModel)keep.Model).Native.AllocatedBytes), "the switch took effect");
        // 10 steps with the INT4 cold start and re-initialisation, a validation at 5 and 10
        var rr = recompute.Run(10, 5);
        var rk = keep.Run(10, 5);
        for (int i = 0; i < rk.Count; i++)
        {
            Assert.That(rr[i].TrainLoss, Is.EqualTo(rk[i].TrainLoss), $"loss of step {rk[i].Step} (exact)");
            Assert.That(rr[i].ValidationLoss, Is.EqualTo(rk[i].ValidationLoss), $"validation at step {rk[i].Step}");
        }
        Assert.That(rk[0].TrainLoss, Is.GreaterThan(2.0), "an untrained model's loss is near ln V");
        NativeGpt a = ((DeviceGptModel)recompute.Model).Native, b = ((DeviceGptModel)keep.Model).Native;
        DeviceGptGraphTests.AssertSameState(a, b, $"{precision} after 10 steps");
        foreach (var t in b.Tensors)
        {
            float[] ga = a.Read(t.Index, NativeGptBuffer.Gradient), gb = b.Read(t.Index, NativeGptBuffer.Gradient);
            for (int i = 0; i < ga.Length; i++)
                if (BitConverter.SingleToInt32Bits(ga[i]) != BitConverter.SingleToInt32Bits(gb[i]))
                    Assert.Fail($"∂L/∂{t.Name}[{i}] is {ga[i]:R} recomputing X, {gb[i]:R} keeping it");
        }
        if (graphs) Assert.That(a.StepStats.Replayed, Is.GreaterThanOrEqualTo(3), "the recomputation ran in replayed graphs");
    }
}
