using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// The device GPT's fused attention (native/src/gpt/flash_attention*.cu, chosen in model_build.cu fused_attention for
/// every precision but fp32 when the head size is a multiple of 16 up to 128): it computes the function of the llm.c
/// path (attention.cu, kept behind INT4TRAIN_GPT_ATTENTION=unfused) within BF16 tolerances, with the same dropout
/// masks, on sequence lengths that are not a multiple of its 64-row tile; it is deterministic (the same bits on every
/// run, replayed CUDA graphs included); and it holds no T×T buffer (docs/conventions.md "What the device GPT keeps
/// for the backward"). A CPU emulation of the kernels against an FP64 reference: native/tests/flash_emulation.
/// </summary>
public sealed class DeviceGptAttentionTests : GpuFixture
{
    // A model created with INT4TRAIN_GPT_ATTENTION=unfused (only its creation reads the switch).
    private static T Unfused<T>(Func<T> create) => NativeEnvironment.With("INT4TRAIN_GPT_ATTENTION", "unfused", create);

    /// <summary>Bytes a model of <paramref name="c"/> allocates less with the fused attention than with the llm.c one:
    /// per block the probabilities a (B·H·T·T) less its lse₂ (B·H·T), and qkv kept as BF16 (2 bytes per element of
    /// N × 3C instead of 4: all the fused kernels read of it); once the scratch attd, datt (B·H·T·T each), qkvp, dqkvp
    /// (3·N·C each) and outp (N·C), less the backward's D (B·H·T) and, where INT4TRAIN_FLASH_TUNE has bit 1 (every
    /// head size's default has), the BF16 copy of ∂out the backward reads (N·C, 2 bytes). FP32, B the pass batch.</summary>
    internal static long FusedAttentionSavedBytes(GptConfig c)
    {
        long bht = (long)c.PassBatch * c.Heads * c.Context, bhtt = bht * c.Context, nc = (long)c.PassBatch * c.Context * c.Width;
        long doutCopy = FlashTuneBits() % 2 == 1 ? 2 * nc : 0;
        return 4 * (c.Layers * (bhtt - bht) + 2 * bhtt + 2 * 3 * nc + nc - bht) + c.Layers * 3 * nc * (4 - 2) - doutCopy;
    }

    // native/src/gpt/flash_attention.cuh tune_bits: unset = a default with bit 1 (7 or 3); else the number (decimal or 0x hex) & 15.
    private static uint FlashTuneBits()
    {
        string? v = Environment.GetEnvironmentVariable("INT4TRAIN_FLASH_TUNE");
        if (v is null) return 7;
        v = v.Trim();
        return (v.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? Convert.ToUInt32(v[2..], 16) : uint.Parse(v, System.Globalization.CultureInfo.InvariantCulture)) & 15;
    }

    // Context 200: three full 64-row tiles and a tail of 8. Width 2·hs, two heads.
    private static GptConfig Config(string precision, int headSize, float dropout) => GptConfig.Tiny with
    {
        Layers = 2, Heads = 2, Width = 2 * headSize, Context = 200, BatchSize = 2, Dropout = dropout,
        Precision = GptConfig.ParsePrecision(precision), EvalBatches = 1, LearningRate = 3e-3f, WarmupSteps = 2, Seed = 41,
    };

    private static CharDataset Data(GptConfig c) => new(BuiltInText.Text, c.ValidationFraction, c.Context);

    // One training forward and backward of batch `step` on zeroed gradients: the loss and every tensor's gradient.
    private static (double Loss, float[][] Grads) Gradients(DeviceGptModel m, GptConfig c, CharDataset data, long step)
    {
        var (x, y) = data.Batch(false, c.BatchSize, c.Context, Hash.Key(c.Seed, step, 1));
        m.ZeroGrad();
        double loss = m.Forward(x, y, c.BatchSize, step, training: true);
        m.Backward();
        return (loss, m.Native.Tensors.Select(t => m.Native.Read(t.Index, NativeGptBuffer.Gradient)).ToArray());
    }

    // Tolerances, fused against unfused. Both paths run attention on BF16 operands with FP32 sums, but round different
    // intermediates (the unfused one lets cuBLAS round the normalised probabilities a·mask; the fused one rounds the
    // unnormalised 2^(s − m)·mask and divides after, and rounds ∂s where cuBLAS rounds ∂ã): each is a few 2⁻⁹ (BF16's
    // relative rounding) from the exact function per element — the CPU emulation of the fused kernels measures
    // 0.6–4.4·10⁻³ (relative L2) on the attention's output and ∂qkv against FP64 on the same BF16-rounded q, k, v, and
    // that rounding itself adds a few 10⁻³ — so they differ by well under 10⁻², and the
    // rest of the model passes that on without amplifying it. bf16: 3·10⁻² on each gradient (relative L2), 2·10⁻³ on
    // the loss. int4: the attention output then goes through the proj linear's 4-bit quantiser and ∂qkv through the
    // qkv linear's stochastic LSS backward, whose codes and sampled rows flip where a value sits at a boundary:
    // 10⁻¹ and 5·10⁻³. A wrong tile, mask, fragment or dropout index gives errors of order 1. The INT4 step sizes'
    // gradients are sums of (round(x/s) − x/s) terms over a whole tensor, which a single flipped code moves by a full
    // step's share: not a smooth function of the rounding, checked for finiteness only.
    [TestCase("bf16", 64, 0f)]
    [TestCase("bf16", 128, 0f)]
    [TestCase("bf16", 64, 0.2f)]
    [TestCase("int4", 64, 0f)]
    [TestCase("int4", 128, 0.2f)]
    public void Fused_MatchesUnfused_LossAndGradients(string precision, int headSize, float dropout)
    {
        var c = Config(precision, headSize, dropout);
        var data = Data(c);
        using var fused = new DeviceGptModel(c, data.VocabSize, Cuda);
        using var unfused = Unfused(() => new DeviceGptModel(c, data.VocabSize, Cuda));
        Assert.That(unfused.Native.AllocatedBytes - fused.Native.AllocatedBytes, Is.EqualTo(FusedAttentionSavedBytes(c)),
            "the switch took effect");
        bool int4 = precision != "bf16";
        // int4: the BF16-level difference of the two attentions flips 4-bit codes at quantization boundaries downstream,
        // which moves whole gradients (H200: 0.13–0.17 relative on ∂wte and an MLP weight, 0.31 on a LayerNorm gain in
        // another run); a wrong tile, mask or fragment gives errors near 1 and moves the loss far beyond its bound. The
        // attention kernels themselves are held to BF16 accuracy by the bf16 cases and the self-test's FP64 check.
        double gradTol = int4 ? 0.5 : 3e-2, lossTol = int4 ? 5e-3 : 2e-3;
        for (long step = 0; step < 3; step++) // three batches (and, with dropout, three different masks)
        {
            var (lf, gf) = Gradients(fused, c, data, step);
            var (lu, gu) = Gradients(unfused, c, data, step);
            Assert.That(lf, Is.EqualTo(lu).Within(lossTol * lu), $"batch {step}: loss");
            Assert.That(lu, Is.GreaterThan(2.0), "an untrained model's loss is near ln V");
            foreach (var t in fused.Native.Tensors)
            {
                float[] a = gf[t.Index], b = gu[t.Index];
                Assert.That(a.All(float.IsFinite), Is.True, $"batch {step}: ∂L/∂{t.Name} finite");
                if (t.IsStepSize) continue;
                Assert.That(b.Any(v => v != 0), Is.True, $"batch {step}: ∂L/∂{t.Name} is not all zeros");
                Assert.That(DeviceGptTests.RelErr(a, b), Is.LessThan(gradTol), $"batch {step}: ∂L/∂{t.Name}");
            }
        }
    }

    [TestCase("bf16", 64)]
    [TestCase("int4", 128)]
    public void Fused_IsDeterministic(string precision, int headSize)
    {
        var c = Config(precision, headSize, 0.2f);
        var data = Data(c);
        using var first = new DeviceGptModel(c, data.VocabSize, Cuda);
        using var second = new DeviceGptModel(c, data.VocabSize, Cuda);
        for (long step = 0; step < 3; step++)
        {
            var (la, ga) = Gradients(first, c, data, step);
            var (lb, gb) = Gradients(second, c, data, step);
            Assert.That(BitConverter.DoubleToInt64Bits(la), Is.EqualTo(BitConverter.DoubleToInt64Bits(lb)), $"batch {step}: loss bits");
            foreach (var t in first.Native.Tensors)
                for (int i = 0; i < ga[t.Index].Length; i++)
                    if (BitConverter.SingleToInt32Bits(ga[t.Index][i]) != BitConverter.SingleToInt32Bits(gb[t.Index][i]))
                        Assert.Fail($"batch {step}: ∂L/∂{t.Name}[{i}] is {ga[t.Index][i]:R}, then {gb[t.Index][i]:R}");
            first.OptimizerStep(1e-3f); // both move on (the next batch runs on updated weights)
            second.OptimizerStep(1e-3f);
        }
    }

    [TestCase("bf16")]
    [TestCase("int4")]
    public void Fused_ReplayedSteps_AreBitIdenticalToEagerSteps(string precision)
    {
        // a short cold start and no re-initialisation in the 8 steps: the INT4 steps replay as graphs from step 3 on
        // (during the cold start they run eagerly; the H200 run with the preset's 10-step cold start replayed none)
        var c = Config(precision, 64, 0.1f) with { ColdStartSteps = 2, ReinitializeAtStep = -1 };
        using var graph = Trainer.Create(c, BuiltInText.Text, (cfg, v) => new DeviceGptModel(cfg, v, Cuda, cudaGraphs: true));
        using var eager = Trainer.Create(c, BuiltInText.Text, (cfg, v) => new DeviceGptModel(cfg, v, Cuda, cudaGraphs: false));
        var rg = graph.Run(8, 4);
        var re = eager.Run(8, 4);
        for (int i = 0; i < re.Count; i++)
        {
            Assert.That(rg[i].TrainLoss, Is.EqualTo(re[i].TrainLoss), $"loss of step {re[i].Step} (exact)");
            Assert.That(rg[i].ValidationLoss, Is.EqualTo(re[i].ValidationLoss), $"validation at step {re[i].Step}");
        }
        NativeGpt g = ((DeviceGptModel)graph.Model).Native, e = ((DeviceGptModel)eager.Model).Native;
        DeviceGptGraphTests.AssertSameState(g, e, "after 8 steps");
        Assert.That(g.StepStats.Replayed, Is.GreaterThanOrEqualTo(3), "the fused attention ran in replayed graphs");
    }

    [TestCase("bf16")]
    [TestCase("int4")]
    [TestCase("fp32")]
    public void Fused_HoldsNoTxTBuffers_AtContext1024(string precision)
    {
        var c = GptConfig.Tiny with
        {
            Layers = 2, Heads = 2, Width = 128, Context = 1024, BatchSize = 2, Precision = GptConfig.ParsePrecision(precision),
        };
        const int vocab = 50;
        using var chosen = new DeviceGptModel(c, vocab, Cuda);
        using var unfused = Unfused(() => new DeviceGptModel(c, vocab, Cuda));
        long saved = unfused.Native.AllocatedBytes - chosen.Native.AllocatedBytes;
        if (precision == "fp32")
        {
            Assert.That(saved, Is.Zero, "fp32 keeps llm.c's attention whatever the switch says");
            return;
        }
        // Exact: the model counts what it cudaMallocs. At least the T×T buffers (layers + 2 of B·H·T·T floats).
        Assert.That(saved, Is.EqualTo(FusedAttentionSavedBytes(c)), "bytes: the T×T buffers and the permuted copies");
        Assert.That(saved, Is.GreaterThan(4L * (c.Layers + 2) * c.BatchSize * c.Heads * c.Context * c.Context),
            "at least every T×T buffer");
        Assert.That(chosen.DeviceMemoryBytes, Is.LessThan(unfused.DeviceMemoryBytes), "DeviceMemoryBytes shows it");
    }
}
