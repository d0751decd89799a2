using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// Issue 15's diagnostic ablations of the device GPT's INT4 block linears (native/src/gpt/int4_ablation.cu,
/// docs/conventions.md "INT4 ablations (diagnostic)"). forward-only keeps the INT4 forward, so its loss is the default
/// model's bit for bit, and replaces the backward's gradient quantizer by exact FP32 products with the dequantized
/// codes, so its gradients differ from the default's by the quantizer's noise only. backward-only computes the forward in
/// FP32 (the loss is the fp32 model's up to the BF16 attention and head both INT4 models share, and does not depend on
/// the step sizes at all) and keeps the INT4 backward. none is the default model bit for bit. fine-scales (fine-x,
/// fine-w) quantize the forward's XH and WH (X's, W's only) with one LSQ step per row made from the batch instead of the
/// learned per-tensor step, and keep forward-only's exact backward: the forward reads no learned step of a per-row
/// operand, whose step gets no gradient. Replay and recomputation: DeviceGptGraphTests and DeviceGptMemoryTests have
/// ablation cases.
/// </summary>
public sealed class DeviceGptAblationTests : GpuFixture
{
    private static readonly CharDataset Data = new(BuiltInText.Text, GptConfig.Tiny.ValidationFraction, DeviceGptSmoothingTests.Small(LinearPrecision.Fp32).Context);

    // The native model of DeviceGptSmoothingTests' small configuration in a precision, with the ablation set directly
    // (null: the configuration's, not set), initialised as DeviceGptModel initialises it from the INT4 configuration's
    // draw (the fp32 model's tensors are those without the step sizes), so every model has the same weights.
    private NativeGpt Create(LinearPrecision precision, Int4Ablation? ablation, float stepInitScale = 1f)
    {
        var c = DeviceGptSmoothingTests.Small(precision) with { StepInitScale = stepInitScale };
        var options = DeviceGptModel.NativeOptions(c, Data.VocabSize);
        return DeviceGptModel.CreateInitialised(Cuda, ablation is Int4Ablation a ? options with { Int4Ablation = a } : options,
            GptInit.Draw(c with { Precision = LinearPrecision.Int4HqLss }, Data.VocabSize));
    }

    private static (int[] X, int[] Y) Batch(long step) => DeviceGptSmoothingTests.Batch(DeviceGptSmoothingTests.Small(LinearPrecision.Fp32), Data, step);

    // One training forward of the first batch (its loss) and the backward, on fresh gradients.
    private static float TrainPass(NativeGpt m)
    {
        var (x, y) = Batch(0);
        m.ZeroGrad();
        float loss = m.Forward(x, y, x.Length / m.Options.Context, m.Options.Context, 0, training: true);
        m.Backward();
        return loss;
    }

    // An evaluation forward's loss on another batch.
    private static float Evaluate(NativeGpt m)
    {
        var (x, y) = Batch(1);
        return m.Forward(x, y, x.Length / m.Options.Context, m.Options.Context, 0, training: false);
    }

    private static float[] Gradient(NativeGpt m, NativeGptTensor t) => m.Read(t.Index, NativeGptBuffer.Gradient);

    private static bool IsLinearWeight(NativeGptTensor t) =>
        t.Name.StartsWith('h') && t.Name.EndsWith(".weight", StringComparison.Ordinal) && !t.Name.Contains(".ln", StringComparison.Ordinal);

    private static bool SameBits(float[] a, float[] b) =>
        a.Length == b.Length && a.Zip(b).All(p => BitConverter.SingleToInt32Bits(p.First) == BitConverter.SingleToInt32Bits(p.Second));

    [TestCase(LinearPrecision.Int4HqLss)]
    [TestCase(LinearPrecision.Int4Lsq)]
    public void ForwardOnly_HasTheInt4Loss_AndGradientsWithoutTheGradientQuantizersNoise(LinearPrecision precision)
    {
        using var plain = Create(precision, null);
        using var ablated = Create(precision, Int4Ablation.ForwardOnly);
        float lp = TrainPass(plain), la = TrainPass(ablated);
        Assert.That(BitConverter.SingleToInt32Bits(la), Is.EqualTo(BitConverter.SingleToInt32Bits(lp)), $"the INT4 forward's loss, bit for bit: {la:R} vs {lp:R}");
        Assert.That(lp, Is.GreaterThan(2.0), "an untrained model's loss is near ln V");
        int weights = 0;
        foreach (var t in plain.Tensors)
        {
            float[] gp = Gradient(plain, t), ga = Gradient(ablated, t);
            Assert.That(ga.All(float.IsFinite), $"{t.Name}: finite gradient");
            Assert.That(ga.Any(v => v != 0), $"{t.Name}: gradient is all zeros");
            if (!IsLinearWeight(t)) continue;
            weights++;
            double rel = DeviceGptTests.RelErr(ga, gp);
            // the exact products differ from bit split + LSS by the quantizer's noise: not zero, not another gradient
            Assert.That(rel, Is.GreaterThan(0).And.LessThan(0.5), $"{t.Name}: relative L2 difference to the INT4 backward's gradient");
        }
        Assert.That(weights, Is.EqualTo(4 * plain.Options.Layers), "every block linear's weight was compared");
        // the last block's down projection gets the same ∂L/∂Y in both (everything after it is the default model's): its
        // bias gradient, the column sums of ∂L/∂Y, agrees to summation order
        var bias = plain.Tensors.Single(t => t.Name == $"h{plain.Options.Layers - 1}.down.bias");
        Assert.That(DeviceGptTests.RelErr(Gradient(ablated, bias), Gradient(plain, bias)), Is.LessThan(1e-5), "∂L/∂b of the last linear");
    }

    [TestCase(LinearPrecision.Int4HqLss)]
    [TestCase(LinearPrecision.Int4Lsq)]
    public void BackwardOnly_HasTheFp32Loss_AndTheInt4Backward(LinearPrecision precision)
    {
        using var int4 = Create(precision, null);
        using var ablated = Create(precision, Int4Ablation.BackwardOnly);
        using var fp32 = Create(LinearPrecision.Fp32, null);
        float li = TrainPass(int4), la = TrainPass(ablated), lf = TrainPass(fp32);
        Assert.That(la, Is.Not.EqualTo(li), "the forward is not the INT4 one");
        // the same weights: only the BF16 attention and head of the INT4 precisions differ from the fp32 model
        Assert.That(Math.Abs(la - lf), Is.LessThan(1e-2 * lf), $"the fp32 model's loss {lf:R}: {la:R}");
        foreach (var t in ablated.Tensors)
        {
            float[] g = Gradient(ablated, t);
            Assert.That(g.All(float.IsFinite) && g.Any(v => v != 0), $"{t.Name}: a finite, nonzero gradient (the INT4 backward's)");
        }
        // the forward reads no quantizer: step sizes × 4 leave an evaluation's loss unchanged, bit for bit, where the
        // INT4 forward's changes
        foreach (var m in new[] { int4, ablated })
        {
            float before = Evaluate(m);
            foreach (var t in m.Tensors.Where(t => t.IsStepSize))
                m.Write(t.Index, NativeGptBuffer.Value, m.Read(t.Index).Select(s => 4 * s).ToArray());
            float after = Evaluate(m);
            if (m == ablated) Assert.That(BitConverter.SingleToInt32Bits(after), Is.EqualTo(BitConverter.SingleToInt32Bits(before)), "backward-only: the step sizes do not reach the loss");
            else Assert.That(after, Is.Not.EqualTo(before), "INT4: the step sizes reach the loss");
        }
    }

    [Test]
    public void None_IsTheDefaultModel_BitForBit_AndNeitherAblation()
    {
        using var unset = Create(LinearPrecision.Int4HqLss, null);
        using var none = Create(LinearPrecision.Int4HqLss, Int4Ablation.None);
        using var forwardOnly = Create(LinearPrecision.Int4HqLss, Int4Ablation.ForwardOnly);
        using var backwardOnly = Create(LinearPrecision.Int4HqLss, Int4Ablation.BackwardOnly);
        float lu = TrainPass(unset), ln = TrainPass(none), lf = TrainPass(forwardOnly), lb = TrainPass(backwardOnly);
        Assert.That(BitConverter.SingleToInt32Bits(ln), Is.EqualTo(BitConverter.SingleToInt32Bits(lu)), "the loss");
        foreach (var t in unset.Tensors)
            Assert.That(SameBits(Gradient(none, t), Gradient(unset, t)), $"{t.Name}: the gradient, bit for bit");
        Assert.That(ln, Is.EqualTo(lf), "none's forward is the INT4 one (as forward-only's)");
        Assert.That(ln, Is.Not.EqualTo(lb), "none's forward is not backward-only's FP32 one");
        Assert.That(unset.Tensors.Where(IsLinearWeight).Any(t => !SameBits(Gradient(none, t), Gradient(forwardOnly, t))),
            "none's backward is not forward-only's");
    }

    [TestCase(LinearPrecision.Fp32, Int4Ablation.ForwardOnly)]
    [TestCase(LinearPrecision.Bf16, Int4Ablation.BackwardOnly)]
    [TestCase(LinearPrecision.Fp32, Int4Ablation.FineScales)]
    [TestCase(LinearPrecision.Bf16, Int4Ablation.FineW)]
    [TestCase(LinearPrecision.Int4HqLss, (Int4Ablation)6)]
    [TestCase(LinearPrecision.Int4HqLss, (Int4Ablation)(-1))]
    public void BadNativeAblation_IsOneClearError(LinearPrecision precision, Int4Ablation ablation)
    {
        // an invalid-argument status reaches the caller as ArgumentException (NativeStatus.Check), as every bad option does
        var ex = Assert.Throws<ArgumentException>(() => new NativeGpt(Cuda, new NativeGptOptions
        {
            Layers = 1, Heads = 2, Width = 32, Context = 8, MaxBatch = 2, Vocab = 11,
            Linear = new Int4LinearOptions { Precision = precision }, Int4Ablation = ablation,
        }).Dispose());
        Assert.That(ex!.Message, Does.Contain("int4_ablation"));
    }

    private static bool FineX(Int4Ablation a) => a is Int4Ablation.FineScales or Int4Ablation.FineX;
    private static bool FineW(Int4Ablation a) => a is Int4Ablation.FineScales or Int4Ablation.FineW;

    [TestCase(LinearPrecision.Int4HqLss, Int4Ablation.FineScales)]
    [TestCase(LinearPrecision.Int4Lsq, Int4Ablation.FineScales)]
    [TestCase(LinearPrecision.Int4HqLss, Int4Ablation.FineX)]
    [TestCase(LinearPrecision.Int4HqLss, Int4Ablation.FineW)]
    public void FineScales_HaveAnotherFiniteLoss_AndNoGradientForAPerRowOperandsStep(LinearPrecision precision, Int4Ablation ablation)
    {
        using var plain = Create(precision, null);
        using var forwardOnly = Create(precision, Int4Ablation.ForwardOnly);
        using var fine = Create(precision, ablation);
        float lp = TrainPass(plain), lo = TrainPass(forwardOnly), lf = TrainPass(fine);
        Assert.That(float.IsFinite(lf) && lf > 2.0, $"an untrained model's loss, near ln V: {lf:R}");
        Assert.That(lf, Is.Not.EqualTo(lp), "the forward is not the INT4 one (per-row steps)");
        Assert.That(lo, Is.EqualTo(lp), "forward-only's forward is the INT4 one");
        // the same weights, a finer quantizer of the same operands: the loss moves by quantization noise only
        Assert.That(Math.Abs(lf - lp), Is.LessThan(0.05 * lp), $"the INT4 loss {lp:R}: {lf:R}");
        int steps = 0;
        foreach (var t in fine.Tensors)
        {
            float[] g = Gradient(fine, t);
            Assert.That(g.All(float.IsFinite), $"{t.Name}: finite gradient");
            if (!t.IsStepSize)
            {
                Assert.That(g.Any(v => v != 0), $"{t.Name}: gradient is all zeros");
                continue;
            }
            steps++;
            bool perRow = t.Name.EndsWith(".step_x", StringComparison.Ordinal) ? FineX(ablation) : FineW(ablation);
            if (perRow) Assert.That(g, Is.All.EqualTo(0f), $"{t.Name}: a per-row operand's learned step is unused: no gradient");
            else Assert.That(g.Any(v => v != 0), $"{t.Name}: a per-tensor operand's step gets the LSQ step gradient");
        }
        Assert.That(steps, Is.EqualTo(2 * fine.LinearCount), "every INT4 linear's two steps were checked");
    }

    [TestCase(Int4Ablation.FineScales)]
    [TestCase(Int4Ablation.FineX)]
    [TestCase(Int4Ablation.FineW)]
    public void FineScales_ForwardReadsNoLearnedStepOfAPerRowOperand(Int4Ablation ablation)
    {
        // The per-row steps come from the batch: multiplying a per-row operand's learned step by 4 leaves an evaluation's
        // loss unchanged bit for bit; multiplying a per-tensor operand's changes it (its codes are the INT4 forward's).
        using var m = Create(LinearPrecision.Int4HqLss, ablation);
        TrainPass(m); // the INT4 layers' first forward sets G and the steps
        foreach (var (suffix, perRow) in new[] { (".step_x", FineX(ablation)), (".step_w", FineW(ablation)) })
        {
            float before = Evaluate(m);
            foreach (var t in m.Tensors.Where(t => t.IsStepSize && t.Name.EndsWith(suffix, StringComparison.Ordinal)))
                m.Write(t.Index, NativeGptBuffer.Value, m.Read(t.Index).Select(s => 4 * s).ToArray());
            float after = Evaluate(m);
            if (perRow) Assert.That(BitConverter.SingleToInt32Bits(after), Is.EqualTo(BitConverter.SingleToInt32Bits(before)), $"{suffix}: per row, the learned step does not reach the loss");
            else Assert.That(after, Is.Not.EqualTo(before), $"{suffix}: per tensor, the learned step reaches the loss");
        }
    }

    [Test]
    public void FineScales_SetTheirRowStepsWithTheStepRuleScale()
    {
        // --step-init-scale κ reaches the per-row steps (layer::step_rule_scale): with both operands per row the loss
        // depends on no per-tensor step, so a κ of 0.55 moves it by the finer steps' other rounding only; κ = 1 given
        // explicitly is the default model bit for bit.
        using var plain = Create(LinearPrecision.Int4HqLss, Int4Ablation.FineScales);
        using var one = Create(LinearPrecision.Int4HqLss, Int4Ablation.FineScales, 1f);
        using var small = Create(LinearPrecision.Int4HqLss, Int4Ablation.FineScales, 0.55f);
        float lp = TrainPass(plain), l1 = TrainPass(one), ls = TrainPass(small);
        Assert.That(BitConverter.SingleToInt32Bits(l1), Is.EqualTo(BitConverter.SingleToInt32Bits(lp)), "κ = 1 is the paper's rule");
        Assert.That(float.IsFinite(ls) && ls > 2.0, $"an untrained model's loss, near ln V: {ls:R}");
        Assert.That(ls, Is.Not.EqualTo(lp), "κ = 0.55: other per-row steps, another loss");
        Assert.That(Math.Abs(ls - lp), Is.LessThan(0.05 * lp), $"the κ = 1 loss {lp:R}: {ls:R}");
    }
}
