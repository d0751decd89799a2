using ILGPU.Runtime;
using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>method.md §2.1, §3.6 / §9 items 6, 22–25 for <see cref="LsqQuantizer"/>.</summary>
[TestFixture]
public sealed class LsqQuantizerTests
{
    private static LsqQuantizer Lsq => new(ReferenceDeviceFixture.Cpu);

    private static float[] Data(int seed, int n = 2000)
    {
        var v = TestData.WithOutliers(new Random(seed), n / 50, 50);
        // Include exact ties (±k.5 steps) so ties-away-from-zero is exercised.
        for (int i = 0; i < 20; i++) v[i * 7] = 0.25f * (2 * (i - 10) + 1);
        return v;
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void Quantize_EqualsScalarOracle_CodesInModeRange(QuantMode mode)
    {
        var v = Data(1);
        const float step = 0.5f; // ties at ±k.5·0.5 land exactly on .5 ratios
        var q = Lsq.Quantize(v, step, mode);
        Assert.That(q, Is.EqualTo(ForwardOracle.Quantize(v, step, mode)).AsCollection);
        Assert.That(q.Min(), Is.EqualTo((sbyte)mode.Qn()), "the outliers saturate at Qn");
        Assert.That(q.Max(), Is.EqualTo((sbyte)7), "the outliers saturate at Qp");
        Assert.That(q.All(c => c >= mode.Qn() && c <= 7), Is.True);
    }

    [Test]
    public void Quantize_RoundsTiesAwayFromZero()
    {
        float[] v = [0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f];
        Assert.That(Lsq.Quantize(v, 1f), Is.EqualTo(new sbyte[] { 1, -1, 2, -2, 3, -3, 0, 0 }).AsCollection);
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void DequantizeAndFakeQuantize_EqualOracle_AndQuantizeIsIdempotent(QuantMode mode)
    {
        var v = Data(2);
        float step = Lsq.InitStep(v);
        var q = Lsq.Quantize(v, step, mode);
        var vhat = Lsq.Dequantize(q, step);
        Assert.That(vhat, Is.EqualTo(ForwardOracle.Dequantize(q, step)).AsCollection);
        Assert.That(Lsq.FakeQuantize(v, step, mode), Is.EqualTo(vhat).AsCollection, "fake = dequantize(quantize)");
        Assert.That(Lsq.Quantize(vhat, step, mode), Is.EqualTo(q).AsCollection, "quantizing V̂ again gives the same codes");
        Assert.That(Lsq.FakeQuantize(vhat, step, mode), Is.EqualTo(vhat).AsCollection, "V̂ is a fixed point");
    }

    [Test]
    public void InitStep_IsTwoMeanAbsOverSqrt7PlusEpsilon_EqualsOracle_Positive()
    {
        var v = Data(3, 10000); // > 4096: chunked canonical sum
        float s = Lsq.InitStep(v);
        Assert.That(s, Is.EqualTo(ForwardOracle.InitStep(v)), "bit-identical to the oracle");
        double mean = v.Average(x => Math.Abs((double)x));
        Assert.That(s, Is.EqualTo(2 * mean / Math.Sqrt(7) + 1e-10).Within(1e-4).Percent);
        float tiny = Lsq.InitStep([1e-30f, -1e-30f]);
        Assert.That(tiny, Is.GreaterThan(0f));
        // Issue 13 (sibling of item 11): no absolute 1e−10 for tiny tensors, so the step scales with them.
        Assert.That(tiny, Is.EqualTo((float)(2e-30 / Math.Sqrt(7))));
        float s40 = Lsq.InitStep(Array.ConvertAll(v, x => MathF.ScaleB(x, -40)));
        Assert.That(Lsq.InitStep(Array.ConvertAll(v, x => MathF.ScaleB(x, -90))), Is.EqualTo(MathF.ScaleB(s40, -50)), "2^k·V gets 2^k·s");
        Assert.That(s40, Is.EqualTo(MathF.ScaleB(s, -40)).Within(1e-6).Percent, "the same step as at scale 1, scaled");
        Assert.That(Lsq.InitStep(new float[4]), Is.EqualTo(1e-10f), "an all-zero tensor keeps the code's 1e−10");
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void Backward_EqualsOracle_MaskIsExactlyZeroOutsideRange(QuantMode mode)
    {
        var v = Data(4);
        var r = TestData.Matrix(new Random(40), 1, v.Length);
        float step = Lsq.InitStep(v);
        var result = Lsq.Backward(v, r, step, mode);
        var (grad, stepGrad) = ForwardOracle.Backward(v, r, step, mode);
        Assert.That(result.ValueGradient, Is.EqualTo(grad).AsCollection);
        Assert.That(result.StepGradient, Is.EqualTo(stepGrad).Within(1e-12 * Math.Abs(stepGrad)));
        int outside = 0;
        for (int i = 0; i < v.Length; i++)
        {
            float ratio = v[i] / step;
            bool inRange = ratio >= mode.Qn() && ratio <= mode.Qp();
            if (!inRange) outside++;
            Assert.That(result.ValueGradient[i], Is.EqualTo(inRange ? r[i] : 0f), $"STE at {i}");
        }
        Assert.That(outside, Is.GreaterThan(0), "the outlier channels exercise the clipped branch");
    }

    [Test]
    public void StepGradient_MatchesClosedForm_AndFiniteDifferenceOfStraightThroughSurrogate()
    {
        const QuantMode mode = QuantMode.Code;
        var v = Data(5);
        var r = TestData.Matrix(new Random(50), 1, v.Length);
        // A step away from rounding and clipping boundaries.
        float step = Lsq.InitStep(v) * 1.0123f;
        int qn = mode.Qn(), qp = mode.Qp();
        var stepGrad = Lsq.Backward(v, r, step, mode).StepGradient;

        double g = 1 / Math.Sqrt(v.Length * 7.0);
        double closed = 0;
        var delta = new double[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            double ratio = (double)v[i] / step;
            double e = ratio < qn ? qn : ratio > qp ? qp : Math.Round(ratio, MidpointRounding.AwayFromZero) - ratio;
            closed += e * r[i];
            delta[i] = ratio < qn || ratio > qp ? 0 : Math.Round(ratio, MidpointRounding.AwayFromZero) - ratio;
        }
        Assert.That(stepGrad, Is.EqualTo(g * closed).Within(1e-5 * Math.Abs(g * closed)), "closed form with g = 1/√(numel·7)");

        // Surrogate with the STE: V̂(s) = s·clamp(V/s) + s·δ (δ = round(v) − v frozen at s0); d/ds = e exactly.
        double Loss(double s)
        {
            double l = 0;
            for (int i = 0; i < v.Length; i++) l += r[i] * (s * Math.Clamp(v[i] / s, qn, qp) + s * delta[i]);
            return l;
        }
        double h = 1e-6 * step;
        double fd = (Loss(step + h) - Loss(step - h)) / (2 * h);
        Assert.That(stepGrad / g, Is.EqualTo(fd).Within(1e-4 * Math.Abs(fd) + 1e-6), "finite difference, g factored out");

        // The true function s·q(s) is piecewise linear in s with slope Σ q·R; the LSQ gradient differs from it by
        // the straight-through term −Σ_in v·R.
        double Actual(double s)
        {
            double l = 0;
            for (int i = 0; i < v.Length; i++)
                l += r[i] * s * Math.Clamp(Math.Round(v[i] / s, MidpointRounding.AwayFromZero), qn, qp);
            return l;
        }
        double fdActual = (Actual(step + h) - Actual(step - h)) / (2 * h);
        double inRangeVR = 0;
        for (int i = 0; i < v.Length; i++)
        {
            double ratio = (double)v[i] / step;
            if (ratio >= qn && ratio <= qp) inRangeVR += ratio * r[i];
        }
        Assert.That(stepGrad / g, Is.EqualTo(fdActual - inRangeVR).Within(1e-4 * Math.Abs(fdActual) + 1e-6));
    }

    [Test]
    public void DeviceOverloads_MatchHostOverloads()
    {
        var v = Data(6, 500);
        var r = TestData.Matrix(new Random(60), 1, v.Length);
        var acc = ReferenceDeviceFixture.Cpu.Accelerator;
        using var dv = acc.Allocate1D<float>(v.Length);
        dv.View.CopyFromCPU(v);
        using var dr = acc.Allocate1D<float>(v.Length);
        dr.View.CopyFromCPU(r);
        using var dq = acc.Allocate1D<sbyte>(v.Length);
        using var dg = acc.Allocate1D<float>(v.Length);
        float step = Lsq.InitStep(dv.View);
        Assert.That(step, Is.EqualTo(Lsq.InitStep(v)));
        Lsq.Quantize(dv.View, dq.View, step);
        Assert.That(dq.GetAsArray1D(), Is.EqualTo(Lsq.Quantize(v, step)).AsCollection);
        double sg = Lsq.Backward(dv.View, dr.View, dg.View, step);
        var host = Lsq.Backward(v, r, step);
        Assert.That(sg, Is.EqualTo(host.StepGradient));
        Assert.That(dg.GetAsArray1D(), Is.EqualTo(host.ValueGradient).AsCollection);
    }
}
