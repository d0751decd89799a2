using Int4Train.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>The per-row LSQ steps of the fine-scale INT4 ablations (docs/conventions.md "INT4 ablations (diagnostic)",
/// <c>--int4-ablation fine-scales</c>): the step of a row of XH is <see cref="LsqQuantizer.InitStep(ReadOnlySpan{float})"/>
/// of that row, which is what the native row quantizer computes bit for bit. The device model's arithmetic is checked
/// by the GPU tests (DeviceGptAblationTests).</summary>
[TestFixture]
public sealed class PerRowLsqTests
{
    [Test]
    public void PerRowSteps_QuantizeXHCloserThanOnePerTensorStep_OnTokensOfDifferentScales()
    {
        // The C# model of the native per-row quantizer (native/src/gpt/row_quantizer.cu: the LSQ rule of each row, its
        // codes with it) on the reference: activations whose tokens differ in scale (a few 30× tokens, a few outlier channels), as
        // LayerNorm outputs times outlier gains do. One step per token fits each token's range; the per-tensor step is
        // set by the large tokens and rounds the small ones to few codes. The fine-scale ablation measures what that
        // is worth in training.
        var hadamard = new HadamardTransform(ReferenceDeviceFixture.Cpu);
        var lsq = new LsqQuantizer(ReferenceDeviceFixture.Cpu);
        const int n = 64, d = 256, g = 64;
        var random = new Random(15);
        var x = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            float scale = r % 16 == 3 ? 30f : 1f;
            for (int k = 0; k < d; k++)
                x[r * d + k] = scale * (float)(random.NextDouble() * 2 - 1) * (k % 37 == 5 ? 12f : 1f);
        }
        float[] xh = hadamard.Apply(x, n, d, g);
        float[] perTensor = lsq.FakeQuantize(xh, lsq.InitStep(xh));
        var perRow = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            var row = xh.AsSpan(r * d, d);
            lsq.FakeQuantize(row, lsq.InitStep(row)).CopyTo(perRow.AsSpan(r * d, d));
        }
        double ErrorOfSmallTokens(float[] q) => Enumerable.Range(0, n * d).Where(i => (i / d) % 16 != 3).Sum(i => Math.Pow(q[i] - xh[i], 2));
        double tensorError = ErrorOfSmallTokens(perTensor), rowError = ErrorOfSmallTokens(perRow);
        Assert.That(rowError, Is.LessThan(0.25 * tensorError), $"squared error of the unit tokens: per row {rowError:G4}, per tensor {tensorError:G4}");
        double total(float[] q) => Enumerable.Range(0, n * d).Sum(i => Math.Pow(q[i] - xh[i], 2));
        Assert.That(total(perRow), Is.LessThan(total(perTensor)), "and over every token");
    }
}
