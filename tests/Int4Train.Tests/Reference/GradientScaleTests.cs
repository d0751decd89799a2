using Int4Train.Reference;
using Int4Train.Tests.Reference.Backward;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>
/// Issue 13 item 11: the INT4 backward's error against FP64 must not depend on the scale of ∇Y. Before the fix the
/// bit split's <c>Mx</c> carried an absolute <c>+1e−8</c>, so for max|∇Y| ≪ 1e−8 the digit grid was fixed at
/// 1e−8/98 and ∇X, ∇W came out as noise (relative error ~12 at 1e−12). Data: X Gaussian with ×50 outlier channels,
/// ∇Y with skewed row norms (a few large rows, exactly-zero rows).
/// </summary>
[TestFixture]
public sealed class GradientScaleTests
{
    private const int N = 64, D = 128, C = 64, G = 32;

    private static ReferenceDevice Device => ReferenceDeviceFixture.Cpu;

    private static (float[] X, float[] W, float[] GradY) MakeData(int seed)
    {
        var rng = new Random(seed);
        float[] x = TestData.WithOutliers(rng, N, D);
        float[] w = TestData.Matrix(rng, C, D);
        for (int i = 0; i < w.Length; i++) w[i] *= 0.1f;
        float[] gy = BackwardData.SkewedGradient(rng, N, C, zeroRows: 4, largeRows: 4);
        return (x, w, gy);
    }

    private static (double Gx, double Gw, Int4LinearGradients Grads) Errors(float[] x, float[] w, float[] gy, SamplingMode sampling, ulong seed)
    {
        var layer = new Int4LinearReference(Device);
        var hadamard = new HadamardTransform(Device);
        var lsq = new LsqQuantizer(Device);
        float sx = lsq.InitStep(hadamard.Apply(x, N, D, G)), sw = lsq.InitStep(hadamard.Apply(w, C, D, G));
        var fwd = layer.Forward(x, w, N, C, D, G, sx, sw);
        var grads = layer.Backward(gy, x, w, fwd, sampling, seed);
        return (Fp64Linear.RelativeError(grads.GradX, Fp64Linear.GradInput(gy, w, N, C, D)),
                Fp64Linear.RelativeError(grads.GradW, Fp64Linear.GradWeight(gy, x, N, C, D)), grads);
    }

    private static float[] Scaled(float[] g, double scale) => Array.ConvertAll(g, v => (float)(v * scale));

    [Test]
    public void RelativeError_IsIndependentOfTheGradientScale([Values] SamplingMode sampling, [Values(21)] int seed)
    {
        var (x, w, gy) = MakeData(seed);
        var (gx1, gw1, _) = Errors(x, w, gy, sampling, (ulong)seed);
        TestContext.Out.WriteLine($"{sampling} scale 1: ∇X {gx1:E3}, ∇W {gw1:E3}");
        Assert.That(gx1, Is.LessThan(0.5), "the scale-1 error is the method's usual one");
        foreach (double scale in new[] { 1e-30, 1e-12, 1e-9, 1e-3, 1e12, 1e30 })
        {
            var (gx, gw, _) = Errors(x, w, Scaled(gy, scale), sampling, (ulong)seed);
            TestContext.Out.WriteLine($"{sampling} scale {scale:E0}: ∇X {gx:E3}, ∇W {gw:E3}");
            // Scaling by a non-power of two changes the mantissas, hence the digits: a band, not equality.
            Assert.That(gx, Is.InRange(gx1 / 1.5, gx1 * 1.5), $"∇X relative error at scale {scale:E0}");
            Assert.That(gw, Is.InRange(gw1 / 1.5, gw1 * 1.5), $"∇W relative error at scale {scale:E0}");
        }
    }

    [Test]
    public void ForwardRelativeError_IsIndependentOfTheInputScale()
    {
        // The forward sibling: the LSQ step init carried an absolute +1e−10, so X of magnitude 1e−12 got all-zero codes.
        var (x, w, _) = MakeData(24);
        var layer = new Int4LinearReference(Device);
        var hadamard = new HadamardTransform(Device);
        var lsq = new LsqQuantizer(Device);
        float sw = lsq.InitStep(hadamard.Apply(w, C, D, G));
        double Error(float[] xs)
        {
            float sx = lsq.InitStep(hadamard.Apply(xs, N, D, G));
            var fwd = layer.Forward(xs, w, N, C, D, G, sx, sw);
            return Fp64Linear.RelativeError(fwd.Y, Fp64Linear.Forward(xs, w, new float[C], N, C, D));
        }
        double e1 = Error(x);
        Assert.That(e1, Is.LessThan(0.5));
        foreach (double scale in new[] { 1e-30, 1e-12, 1e-9, 1e12, 1e30 })
            Assert.That(Error(Scaled(x, scale)), Is.InRange(e1 / 1.5, e1 * 1.5), $"Y relative error at input scale {scale:E0}");
    }

    [Test]
    public void PowerOfTwoScales_GiveTheSameDigits_AndExactlyScaledGradients([Values] SamplingMode sampling)
    {
        var (x, w, gy) = MakeData(23);
        var (_, _, g1) = Errors(x, w, gy, sampling, 5);
        foreach (int k in new[] { -80, -40, -20, 20, 64 })
        {
            var (_, _, gk) = Errors(x, w, Scaled(gy, Math.ScaleB(1.0, k)), sampling, 5);
            Assert.That(gk.Split.High, Is.EqualTo(g1.Split.High), $"high digits at 2^{k}");
            Assert.That(gk.Split.Low, Is.EqualTo(g1.Split.Low), $"low digits at 2^{k}");
            Assert.That(gk.Split.Mx, Is.EqualTo(MathF.ScaleB(g1.Split.Mx, k)), $"Mx at 2^{k}");
            Assert.That(gk.InputSelection.Probabilities, Is.EqualTo(g1.InputSelection.Probabilities), $"∇X probabilities at 2^{k}");
            Assert.That(gk.WeightSelection.Probabilities, Is.EqualTo(g1.WeightSelection.Probabilities), $"∇W probabilities at 2^{k}");
            Assert.That(gk.GradW, Is.EqualTo(Array.ConvertAll(g1.GradW, v => MathF.ScaleB(v, k))), $"∇W at 2^{k}");
            Assert.That(gk.GradX, Is.EqualTo(Array.ConvertAll(g1.GradX, v => MathF.ScaleB(v, k))), $"∇X at 2^{k}");
        }
    }
}
