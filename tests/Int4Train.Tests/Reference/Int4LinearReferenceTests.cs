using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using Int4Train.Tests.Reference.Backward;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>The whole INT4 linear layer (§3.8, operator 10): its backward equals the scalar oracles composed in the
/// code-faithful order, and its gradients approximate the FP64 linear layer on data with outliers.</summary>
[TestFixture]
public partial class Int4LinearReferenceTests
{
    private static Int4LinearReference Layer => new(ReferenceDeviceFixture.Cpu);

    private static (float[] X, float[] W, float[] Gy, float Sx, float Sw) Data(int n, int c, int d, int g, int seed)
    {
        var rng = new Random(seed);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        var gy = BackwardData.SkewedGradient(rng, n, c);
        float sx = ForwardOracle.InitStep(ForwardOracle.Hadamard(x, d, g));
        float sw = ForwardOracle.InitStep(ForwardOracle.Hadamard(w, d, g)) * 0.6f; // some weights clip
        return (x, w, gy, sx, sw);
    }

    [Test]
    public void Backward_EqualsTheOraclesComposedInOrder([Values] QuantMode mode)
    {
        const int n = 24, c = 20, d = 64, g = 16;
        const ulong seed = 17;
        var (x, w, gy, sx, sw) = Data(n, c, d, g, 3);
        var fwd = Layer.Forward(x, w, n, c, d, g, sx, sw, mode);
        var grads = Layer.Backward(gy, x, w, fwd, SamplingMode.Nonzero, seed);

        // Oracle composition (§3.8): split → exact bit-split products (nonzero mode keeps every nonzero row) →
        // LSQ backward on XH/WH → Hadamard back-transform.
        var hq = ForwardOracle.HqForward(x, w, n, c, d, g, sx, sw, mode, null);
        var split = BackwardOracle.BitSplit(gy, mode, seed);
        Assert.That(grads.Split.High, Is.EqualTo(split.High).AsCollection, "high digits");
        Assert.That(grads.Split.Low, Is.EqualTo(split.Low).AsCollection, "low digits");
        var gwh = BackwardOracle.ExactWeightGradient(split.High, split.Low, hq.CodesX, n, c, d, split.SUp, split.SDown, sx);
        var gxh = BackwardOracle.ExactInputGradient(split.High, split.Low, hq.CodesW, n, c, d, split.SUp, split.SDown, sw);
        var lsqX = ForwardOracle.Backward(hq.XH, Array.ConvertAll(gxh, v => (float)v), sx, mode);
        var lsqW = ForwardOracle.Backward(hq.WH, Array.ConvertAll(gwh, v => (float)v), sw, mode);
        float[] gx = ForwardOracle.Hadamard(lsqX.Grad, d, g), gw = ForwardOracle.Hadamard(lsqW.Grad, d, g);

        AssertClose(grads.GradX, gx, 1e-5, "∇X");
        AssertClose(grads.GradW, gw, 1e-5, "∇W");
        Assert.That(grads.GradStepX, Is.EqualTo(lsqX.StepGrad).Within(1e-5 * Math.Abs(lsqX.StepGrad) + 1e-12), "∇s_X");
        Assert.That(grads.GradStepW, Is.EqualTo(lsqW.StepGrad).Within(1e-5 * Math.Abs(lsqW.StepGrad) + 1e-12), "∇s_W");
        for (int j = 0; j < c; j++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += gy[i * c + j];
            Assert.That(grads.GradBias[j], Is.EqualTo((float)sum), $"∇b[{j}]");
        }
    }

    [Test]
    public void Backward_ZeroGradientRows_GiveExactlyZeroInputGradientRows([Values] SamplingMode sampling)
    {
        const int n = 32, c = 16, d = 64, g = 32;
        var (x, w, gy, sx, sw) = Data(n, c, d, g, 4);
        for (int j = 0; j < c; j++) gy[5 * c + j] = 0f;
        var grads = Layer.Backward(gy, x, w, Layer.Forward(x, w, n, c, d, g, sx, sw), sampling, 9);
        for (int k = 0; k < d; k++) Assert.That(grads.GradX[5 * d + k], Is.EqualTo(0f), $"∇X[5,{k}]");
        Assert.That(grads.WeightSelection.Keep[5] || grads.WeightSelection.Keep[n + 5], Is.False, "a zero row is never selected");
    }

    [Test]
    public void Gradients_ApproximateTheFp64Layer_AndBeatLsqWithoutHadamard_OnOutlierData()
    {
        const int n = 64, c = 32, d = 128, g = 32;
        var rng = new Random(12);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        var gy = BackwardData.SkewedGradient(rng, n, c);
        double[] exactGx = new double[n * d], exactGw = new double[c * d], exactY = new double[n * c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int k = 0; k < d; k++)
                {
                    exactY[i * c + j] += (double)x[i * d + k] * w[j * d + k];
                    exactGx[i * d + k] += (double)gy[i * c + j] * w[j * d + k];
                    exactGw[j * d + k] += (double)gy[i * c + j] * x[i * d + k];
                }
        (double y, double gx, double gw) Errors(int group)
        {
            float sx = ForwardOracle.InitStep(ForwardOracle.Hadamard(x, d, group)), sw = ForwardOracle.InitStep(ForwardOracle.Hadamard(w, d, group));
            var fwd = Layer.Forward(x, w, n, c, d, group, sx, sw);
            var gr = Layer.Backward(gy, x, w, fwd, SamplingMode.Nonzero, 5);
            return (Rel(fwd.Y, exactY), Rel(gr.GradX, exactGx), Rel(gr.GradW, exactGw));
        }
        var hq = Errors(g);
        var lsq = Errors(1);
        TestContext.Out.WriteLine($"HQ+LSS (G={g}): Y {hq.y:E2} ∇X {hq.gx:E2} ∇W {hq.gw:E2}; LSQ (G=1): Y {lsq.y:E2} ∇X {lsq.gx:E2} ∇W {lsq.gw:E2}");
        Assert.That(hq.y, Is.LessThan(0.35));
        Assert.That(hq.gx, Is.LessThan(0.35));
        Assert.That(hq.gw, Is.LessThan(0.35));
        Assert.That(hq.y, Is.LessThan(lsq.y), "the Hadamard helps the forward on outlier channels (§9 item 5)");
        Assert.That(hq.gw, Is.LessThan(lsq.gw), "and the weight gradient, which uses the forward's X codes");
    }

    [Test]
    public void Backward_RejectsMismatchedShapes()
    {
        var (x, w, gy, sx, sw) = Data(8, 4, 16, 4, 1);
        var fwd = Layer.Forward(x, w, 8, 4, 16, 4, sx, sw);
        var ex = Assert.Throws<ArgumentException>(() => Layer.Backward(gy.AsSpan(0, 28), x, w, fwd));
        Assert.That(ex!.Message, Does.Contain("8×4"));
        Assert.Throws<ArgumentNullException>(() => Layer.Backward(gy, x, w, null!));
        var bad = (float[])gy.Clone();
        bad[3] = float.NaN;
        Assert.Throws<ArgumentException>(() => Layer.Backward(bad, x, w, fwd));
    }

    private static double Rel(float[] a, double[] b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < b.Length; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
        return Math.Sqrt(num / den);
    }

    private static void AssertClose(float[] actual, float[] expected, double rel, string what)
    {
        double maxAbs = expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(rel * maxAbs + 1e-30), $"{what}[{i}]");
    }
}
