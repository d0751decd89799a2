using CommunityToolkit.HighPerformance;
using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Layers;

/// <summary>The public <see cref="Int4Linear"/> layer on the ILGPU reference backend (CPU).</summary>
[TestFixture]
public class Int4LinearTests
{
    private static Int4Backend Backend => _backend ??= Int4Backend.Reference(ReferenceDeviceFixture.Cpu);
    private static Int4Backend? _backend;

    [OneTimeTearDown]
    public void TearDown() { _backend?.Dispose(); _backend = null; }

    [Test]
    public void Fp32Layer_GradientsMatchFiniteDifferences()
    {
        const int n = 5, d = 6, c = 4;
        var layer = new Int4Linear(d, c, Backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }, initSeed: 1);
        var rng = new Random(2);
        var x = TestData.Matrix(rng, n, d);
        var g = TestData.Matrix(rng, n, c); // L = Σ g ⊙ Y
        double Loss(float[] xx) { var y = layer.Forward(xx, n); double s = 0; for (int i = 0; i < y.Length; i++) s += g[i] * y[i]; return s; }
        Loss(x);
        float[] gx = layer.Backward(g);
        const float h = 1e-2f;
        for (int k = 0; k < x.Length; k += 7)
        {
            var xp = (float[])x.Clone(); xp[k] += h;
            var xm = (float[])x.Clone(); xm[k] -= h;
            Assert.That(gx[k], Is.EqualTo((Loss(xp) - Loss(xm)) / (2 * h)).Within(1e-3), $"∂L/∂x[{k}]");
        }
        for (int k = 0; k < layer.Weight.Length; k += 5)
        {
            float w0 = layer.Weight[k];
            layer.Weight[k] = w0 + h; double lp = Loss(x);
            layer.Weight[k] = w0 - h; double lm = Loss(x);
            layer.Weight[k] = w0;
            Assert.That(layer.WeightGrad[k], Is.EqualTo((lp - lm) / (2 * h)).Within(1e-3), $"∂L/∂W[{k}]");
        }
    }

    [Test]
    public void Int4Layer_FirstBatchChoosesTheBlockSize_AndInitialisesTheSteps()
    {
        const int n = 64, d = 128, c = 32;
        var layer = new Int4Linear(d, c, Backend, initSeed: 3);
        var x = TestData.WithOutliers(new Random(4), n, d);
        Assert.That(layer.GroupSize, Is.Null);
        layer.Forward(x, n);
        var expected = new BlockSizeSearch(ReferenceDeviceFixture.Cpu).Search(x, layer.Weight, n, c, d);
        Assert.That(layer.GroupSize, Is.EqualTo(expected.GroupSize));
        Assert.That(layer.GroupSize, Is.GreaterThan(1), "outlier channels make the Hadamard worth it (§9 item 28)");
        var h = new HadamardTransform(ReferenceDeviceFixture.Cpu);
        Assert.That(layer.StepX, Is.EqualTo(new LsqQuantizer(ReferenceDeviceFixture.Cpu).InitStep(h.Apply(x, n, d, layer.GroupSize!.Value))));
    }

    [Test]
    public void StepInitScale_ScalesTheStepRule_AndOneIsThePapersRuleBitForBit()
    {
        const int n = 64, d = 128, c = 32;
        var x = TestData.WithOutliers(new Random(41), n, d);
        var paper = new Int4Linear(d, c, Backend, new Int4LinearOptions { GroupSize = 32 }, initSeed: 3);
        var one = new Int4Linear(d, c, Backend, new Int4LinearOptions { GroupSize = 32, StepInitScale = 1f }, initSeed: 3);
        var scaled = new Int4Linear(d, c, Backend, new Int4LinearOptions { GroupSize = 32, StepInitScale = 0.55f }, initSeed: 3);
        paper.Forward(x, n); one.Forward(x, n); scaled.Forward(x, n);
        Assert.That((one.StepX, one.StepW), Is.EqualTo((paper.StepX, paper.StepW)), "κ = 1 is the paper's rule bit for bit");
        var h = new HadamardTransform(ReferenceDeviceFixture.Cpu);
        var lsq = new LsqQuantizer(ReferenceDeviceFixture.Cpu);
        var xh = h.Apply(x, n, d, 32);
        Assert.That(scaled.StepX, Is.EqualTo(lsq.InitStep(xh, QuantBits.Default, 0.55f)));
        Assert.That(scaled.StepX / paper.StepX, Is.EqualTo(0.55).Within(1e-6), "κ·s");
        Assert.That(scaled.StepW / paper.StepW, Is.EqualTo(0.55).Within(1e-6), "κ·s for W too");
    }

    [Test]
    public void StepRuleScale_OfAboutHalf_QuantizesHadamardDomainDataWithLessError()
    {
        // Why the option exists (issue 15): the Hadamard transform makes a block of outlier-laden data close to
        // Gaussian, and 2·mean|V|/√7 is about 1.8× the MSE-optimal 4-bit step of a Gaussian; κ = 0.55 brings the
        // quantization error of the transformed data down by more than half.
        const int n = 256, d = 256;
        var h = new HadamardTransform(ReferenceDeviceFixture.Cpu);
        var lsq = new LsqQuantizer(ReferenceDeviceFixture.Cpu);
        var vh = h.Apply(TestData.WithOutliers(new Random(42), n, d), n, d, 128);
        double Mse(float step)
        {
            var q = lsq.FakeQuantize(vh, step);
            double e = 0;
            for (int i = 0; i < q.Length; i++) e += ((double)q[i] - vh[i]) * ((double)q[i] - vh[i]);
            return e / q.Length;
        }
        double paper = Mse(lsq.InitStep(vh)), scaled = Mse(lsq.InitStep(vh, QuantBits.Default, 0.55f));
        Assert.That(scaled, Is.LessThan(0.5 * paper), $"MSE κ = 0.55: {scaled:E3}, κ = 1: {paper:E3}");
    }

    [TestCase(0f)]
    [TestCase(-1f)]
    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(16.5f)]
    public void StepInitScale_OutsideItsRange_IsRefused(float scale)
    {
        var e = Assert.Throws<ArgumentException>(() => new Int4LinearOptions { StepInitScale = scale }.Validate(32));
        Assert.That(e!.Message, Does.Contain("StepInitScale must be in (0, 16]"));
        if (!(scale > 0f && float.IsFinite(scale))) // the reference rule itself takes any finite positive multiple
            Assert.Throws<ArgumentOutOfRangeException>(() => new LsqQuantizer(ReferenceDeviceFixture.Cpu).InitStep(new float[] { 1f, -2f }, QuantBits.Default, scale));
    }

    [Test]
    public void ColdStart_ResetsTheStepsEveryStep_ThenLetsThemBeLearned()
    {
        const int n = 16, d = 32, c = 8;
        var layer = new Int4Linear(d, c, Backend, new Int4LinearOptions { ColdStartSteps = 2, GroupSize = 8 });
        var rng = new Random(5);
        layer.Forward(TestData.Matrix(rng, n, d), n);
        Assert.That(layer.StepsAreLearned, Is.False);
        float first = layer.StepX;
        layer.Forward(TestData.Matrix(rng, n, d, 10f, 0, 1, 2, 3, 4, 5, 6, 7), n);
        Assert.That(layer.StepX, Is.Not.EqualTo(first), "re-initialised from the new batch (App. A.4)");
        layer.StepX = 0.123f;
        layer.Forward(TestData.Matrix(rng, n, d), n);
        Assert.That(layer.StepsAreLearned, Is.True);
        Assert.That(layer.StepX, Is.EqualTo(0.123f), "after the cold start the step is the learned parameter");
    }

    [Test]
    public void Int4Gradients_PointLikeTheFp32Gradients()
    {
        const int n = 64, d = 64, c = 32;
        var rng = new Random(6);
        var x = TestData.WithOutliers(rng, n, d);
        var g = TestData.Matrix(rng, n, c);
        var fp = new Int4Linear(d, c, Backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }, initSeed: 7);
        var q = new Int4Linear(d, c, Backend, initSeed: 7);
        fp.Forward(x, n); var gxFp = fp.Backward(g);
        q.Forward(x, n); var gxQ = q.Backward(g);
        Assert.That(Cosine(gxQ, gxFp), Is.GreaterThan(0.95), "∇X");
        Assert.That(Cosine(q.WeightGrad, fp.WeightGrad), Is.GreaterThan(0.95), "∇W");
        Assert.That(q.BiasGrad, Is.EqualTo(fp.BiasGrad).Within(1e-5f));
        Assert.That(q.StepXGrad, Is.Not.EqualTo(0.0));
    }

    [Test]
    public void TinyRegression_LossFalls_InEveryPrecision([Values] LinearPrecision precision)
    {
        // Learn a fixed linear map with SGD: the loss must fall by a clear factor within 60 steps.
        const int n = 64, d = 32, c = 16;
        var rng = new Random(8);
        var target = new Int4Linear(d, c, Backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }, initSeed: 99);
        var layer = new Int4Linear(d, c, Backend, new Int4LinearOptions { Precision = precision, GroupSize = precision == LinearPrecision.Int4Lsq ? null : 16 }, initSeed: 1);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            var x = TestData.Matrix(rng, n, d);
            var yt = target.Forward(x, n);
            var y = layer.Forward(x, n);
            var gy = new float[y.Length];
            double loss = 0;
            for (int i = 0; i < y.Length; i++) { float e = y[i] - yt[i]; loss += e * e / n; gy[i] = 2 * e / n; }
            if (step == 0) first = loss;
            last = loss;
            layer.ZeroGrad();
            layer.Backward(gy);
            for (int i = 0; i < layer.Weight.Length; i++) layer.Weight[i] -= 0.05f * layer.WeightGrad[i];
            for (int i = 0; i < layer.Bias.Length; i++) layer.Bias[i] -= 0.05f * layer.BiasGrad[i];
        }
        TestContext.Out.WriteLine($"{precision}: loss {first:F4} → {last:F4}");
        Assert.That(last, Is.LessThan(first / 4), $"{precision}: loss {first} → {last}");
    }

    [Test]
    public void Span2DOverloads_AcceptAPitchedSlice_AndEqualTheDenseCall()
    {
        const int n = 16, d = 32, c = 8;
        var big = TestData.Matrix(new Random(10), n, d + 7);                 // a wider host matrix
        var slice = new ReadOnlyMemory2D<float>(big, 3, n, d, 7).Span; // columns 3..34 of every row
        var dense = new float[n * d];
        slice.CopyTo(dense);
        var a = new Int4Linear(d, c, Backend, new Int4LinearOptions { GroupSize = 16 }, initSeed: 2);
        var b = new Int4Linear(d, c, Backend, new Int4LinearOptions { GroupSize = 16 }, initSeed: 2);
        Memory2D<float> ya = a.Forward(slice);
        float[] yb = b.Forward(dense, n);
        Assert.That((ya.Height, ya.Width), Is.EqualTo((n, c)));
        Assert.That(ya.ToArray().Cast<float>(), Is.EqualTo(yb));
        var gy = TestData.Matrix(new Random(11), n, c);
        Memory2D<float> gxa = a.Backward(new ReadOnlySpan2D<float>(gy, n, c));
        Assert.That(gxa.ToArray().Cast<float>(), Is.EqualTo(b.Backward(gy)));
    }

    [Test]
    public void BadInput_IsRejectedClearly()
    {
        var layer = new Int4Linear(8, 4, Backend);
        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(new float[7], 1));
        Assert.That(ex!.Message, Does.Contain("1×8"));
        Assert.Throws<InvalidOperationException>(() => layer.Backward(new float[4]));
        Assert.Throws<ArgumentException>(() => new Int4Linear(7, 4, Backend));
        Assert.Throws<ArgumentException>(() => new Int4Linear(48, 4, Backend, new Int4LinearOptions { GroupSize = 32 }));
    }

    private static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }
}
