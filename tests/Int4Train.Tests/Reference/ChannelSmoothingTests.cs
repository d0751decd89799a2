using Int4Train.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>
/// The reference of per-input-channel smoothing (<see cref="ChannelSmoothing"/>; docs/conventions.md "Per-input-channel
/// smoothing"), on fresh random data with outlier channels: the factors follow their rule (column maxima, α, the clamp,
/// the zero channels), the product is unchanged (X'W'ᵀ = XWᵀ to FP32 rounding), α = ½ gives each channel of X' and W'
/// the same range, and each scaled element is the one IEEE operation the native kernel does.
/// </summary>
[TestFixture]
public sealed class ChannelSmoothingTests
{
    private static ChannelSmoothing Smoothing => new(ReferenceDeviceFixture.Cpu);

    [TestCase(0.5f, 1)]
    [TestCase(0.25f, 2)]
    [TestCase(1f, 3)]
    [TestCase(0f, 4)]
    public void Factors_AreTheRuleOnTheColumnMaxima(float alpha, int seed)
    {
        const int n = 40, c = 24, d = 64;
        var rng = new Random(seed);
        float[] x = TestData.WithOutliers(rng, n, d), w = TestData.WithOutliers(rng, c, d);
        float[] m = Smoothing.Factors(x, n, w, c, d, alpha);
        for (int k = 0; k < d; k++)
        {
            double xmax = Enumerable.Range(0, n).Max(t => Math.Abs((double)x[t * d + k]));
            double wmax = Enumerable.Range(0, c).Max(o => Math.Abs((double)w[o * d + k]));
            double rule = Math.Clamp(Math.Pow(xmax, alpha) / Math.Pow(wmax, 1.0 - alpha), ChannelSmoothing.MinFactor, ChannelSmoothing.MaxFactor);
            Assert.That(m[k], Is.EqualTo(rule).Within(1e-6 * rule), $"channel {k}");
            Assert.That(m[k], Is.EqualTo(ChannelSmoothing.Factor((float)xmax, (float)wmax, alpha)), "Factor is the rule Factors applies");
        }
        Assert.That(m.Distinct().Count(), Is.GreaterThan(d / 2), "the factors follow the channels (not one value)");
    }

    [Test]
    public void TheColumnMaxima_AreExact_AndSkipNaN_AsCudasFmaxf()
    {
        var rng = new Random(5);
        float[] a = TestData.WithOutliers(rng, 33, 10);
        float[] max = Smoothing.ColumnAbsMax(a, 10);
        for (int k = 0; k < 10; k++)
            Assert.That(max[k], Is.EqualTo(Enumerable.Range(0, 33).Max(r => Math.Abs(a[r * 10 + k]))), $"column {k}");
        a[7 * 10 + 3] = float.NaN;
        Assert.That(Smoothing.ColumnAbsMax(a, 10)[3], Is.EqualTo(Enumerable.Range(0, 33).Where(r => r != 7).Max(r => Math.Abs(a[r * 10 + 3]))));
    }

    [TestCase(0f, 2f, 0.5f, ChannelSmoothing.MinFactor)]   // zero in X: X' stays 0 whatever m is
    [TestCase(3f, 0f, 0.5f, ChannelSmoothing.MaxFactor)]   // zero in W
    [TestCase(0f, 0f, 0.5f, 1f)]                           // zero in both (0/0): any factor is exact
    [TestCase(0f, 0f, 1f, ChannelSmoothing.MinFactor)]     // α = 1: m = xmax (W's power is 1 even for 0)
    [TestCase(1e30f, 1e-30f, 0.5f, ChannelSmoothing.MaxFactor)]
    [TestCase(1e-30f, 1e30f, 0.5f, ChannelSmoothing.MinFactor)]
    [TestCase(9f, 4f, 0.5f, 1.5f)]                         // √9 / √4
    [TestCase(5f, 123f, 1f, 5f)]
    [TestCase(7f, 0.25f, 0f, 4f)]                          // α = 0: 1 / wmax
    public void AFactor_FollowsTheZeroAndClampRules(float xmax, float wmax, float alpha, float expected) =>
        Assert.That(ChannelSmoothing.Factor(xmax, wmax, alpha), Is.EqualTo(expected));

    [TestCase(0.5f, 11)]
    [TestCase(0.8f, 12)]
    public void TheProduct_IsUnchanged_AndHalfBalancesEachChannel(float alpha, int seed)
    {
        const int n = 16, c = 12, d = 32;
        var rng = new Random(seed);
        float[] x = TestData.WithOutliers(rng, n, d), w = TestData.Uniform(rng, c * d); // outlier channels in X alone, as after a LayerNorm
        var s = Smoothing;
        float[] m = s.Factors(x, n, w, c, d, alpha);
        float[] xs = s.DivideColumns(x, n, m), ws = s.MultiplyColumns(w, c, m);
        for (int t = 0; t < n; t++)
            for (int o = 0; o < c; o++)
            {
                double plain = 0, smoothed = 0, scale = 0;
                for (int k = 0; k < d; k++)
                {
                    plain += (double)x[t * d + k] * w[o * d + k];
                    smoothed += (double)xs[t * d + k] * ws[o * d + k];
                    scale += Math.Abs((double)x[t * d + k] * w[o * d + k]);
                }
                Assert.That(smoothed, Is.EqualTo(plain).Within(2e-7 * scale), $"y[{t},{o}]");
            }
        float[] xsMax = s.ColumnAbsMax(xs, d), wsMax = s.ColumnAbsMax(ws, d);
        float[] xMax = s.ColumnAbsMax(x, d);
        if (alpha == 0.5f)
            for (int k = 0; k < d; k++) Assert.That(xsMax[k], Is.EqualTo(wsMax[k]).Within(1e-6 * wsMax[k]), $"α = ½: channel {k}'s X' and W' ranges");
        // the outlier channels of X (1 and d − 2) shrink towards the others
        double Spread(float[] v) => v.Max() / v.Min();
        Assert.That(Spread(xsMax), Is.LessThan(Spread(xMax) / 2), "X' has evener channels than X");
    }

    [Test]
    public void EachScaledElement_IsOneIeeeOperation()
    {
        const int rows = 9, cols = 7;
        var rng = new Random(21);
        float[] a = TestData.WithOutliers(rng, rows, cols), m = TestData.Uniform(rng, cols).Select(Math.Abs).ToArray();
        float[] acc = TestData.Uniform(rng, rows * cols);
        var s = Smoothing;
        float[] div = s.DivideColumns(a, rows, m), mul = s.MultiplyColumns(a, rows, m);
        float[] added = (float[])acc.Clone();
        s.AddMultipliedColumns(added, a, rows, m);
        for (int e = 0; e < a.Length; e++)
        {
            Assert.That(div[e], Is.EqualTo(a[e] / m[e % cols]));
            Assert.That(mul[e], Is.EqualTo(a[e] * m[e % cols]));
            float product = a[e] * m[e % cols];
            Assert.That(added[e], Is.EqualTo(acc[e] + product), "the product rounded, then the sum (the native __fmul_rn, __fadd_rn)");
        }
    }

    [Test]
    public void BadShapes_AreOneClearError()
    {
        var s = Smoothing;
        Assert.That(() => s.Factors(new float[6], 2, new float[6], 2, 3, 1.5f), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("α must be in [0, 1]"));
        Assert.That(() => s.Factors(new float[6], 2, new float[5], 2, 3, 0.5f), Throws.ArgumentException.With.Message.Contains("w"));
        Assert.That(() => s.DivideColumns(new float[6], 2, new float[4]), Throws.ArgumentException.With.Message.Contains("a"));
        Assert.That(() => s.AddMultipliedColumns(new float[5], new float[6], 2, new float[3]), Throws.ArgumentException.With.Message.Contains("dst"));
        Assert.That(() => s.ColumnAbsMax(new float[7], 3), Throws.ArgumentException.With.Message.Contains("not a multiple of 3"));
        foreach (float bad in new[] { 0f, -1f, float.NaN, float.PositiveInfinity })
            Assert.That(() => s.MultiplyColumns(new float[6], 2, [1f, bad, 2f]), Throws.ArgumentException.With.Message.StartWith("m[1] = "), $"{bad}");
    }
}
