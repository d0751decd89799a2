using NUnit.Framework;
using Int4Train.Reference;
using Int4Train.Tests.Oracle;

namespace Int4Train.Tests.Reference.Backward;

/// <summary>Bit splitting (method.md §3.3; §9 items 6, 11–14) against the scalar oracle and its statistics.</summary>
public sealed class BitSplitTests
{
    private static BitSplit Op => BackwardTestDevice.BitSplit;

    /// <summary>Skewed data plus one row spread uniformly over [−M, M] (so |t| &gt; 91 occurs) and one row whose
    /// residuals sit at |r| ∈ (6, 7] (the code mode's clipped band).</summary>
    private static float[] EdgeData(Random rng, int n, int c)
    {
        float[] g = BackwardData.SkewedGradient(rng, n, c);
        float m = g.Max(Math.Abs);
        for (int j = 0; j < c; j++) g[j] = m * (2f * j / (c - 1) - 1f);
        double[] rs = [6.3, 6.7, 6.95, -6.3, -6.7, -6.95];
        for (int j = 0; j < c; j++)
        {
            int k = j % 11 - 5;                  // high digit −5..5
            double r = rs[j % rs.Length] * (k == 0 ? 1 : Math.Sign(k));
            g[c + j] = (float)((14 * k + r) * m / 98.0);
        }
        return g;
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void Split_MatchesOracle_BitForBit_AndDigitsInRange(QuantMode mode)
    {
        var rng = new Random(101);
        const int n = 48, c = 64;
        float[] g = EdgeData(rng, n, c);
        foreach (ulong seed in new ulong[] { 0, 1, 0xDEADBEEFCAFEUL })
        {
            var s = Op.Split(g, n, c, mode, seed);
            var o = BackwardOracle.BitSplit(g, mode, seed);
            int lim = mode.SplitLimit();
            sbyte[] q8 = Op.ToInt8(s);
            Assert.Multiple(() =>
            {
                Assert.That(s.Mx, Is.EqualTo(o.Mx));
                Assert.That(s.ScaleUp, Is.EqualTo(o.SUp));
                Assert.That(s.ScaleDown, Is.EqualTo(o.SDown));
                Assert.That(s.High, Is.EqualTo(o.High), "high digits");
                Assert.That(s.Low, Is.EqualTo(o.Low), "low digits");
                Assert.That(s.High.All(v => v >= -lim && v <= lim) && s.Low.All(v => v >= -lim && v <= lim), "§9 item 6 range");
                Assert.That(q8, Is.EqualTo(s.High.Select((h, i) => (sbyte)(14 * h + s.Low[i])).ToArray()), "INT8 view 14h+l");
                Assert.That(q8.All(v => Math.Abs((int)v) <= 14 * lim + lim));
            });
        }
    }

    [Test]
    public void TinyGradient_MatchesOracle_AndSplitsLikeTheUnscaledGradient([Values] QuantMode mode,
        [Values(-30, -12, -9, -4)] int exponent)
    {
        // Issue 13 item 11: with the absolute 1e−8 in Mx a ∇Y of 1e−12 became h = 0 and l ∈ {−1, 0, 1} (noise).
        var rng = new Random(102);
        const int n = 16, c = 32;
        float[] g = EdgeData(rng, n, c);
        float[] tiny = Array.ConvertAll(g, v => (float)(v * Math.Pow(10, exponent)));
        var s = Op.Split(tiny, n, c, mode, 9);
        var o = BackwardOracle.BitSplit(tiny, mode, 9);
        Assert.That(s.Mx, Is.EqualTo(o.Mx));
        Assert.That(s.High, Is.EqualTo(o.High), "high digits");
        Assert.That(s.Low, Is.EqualTo(o.Low), "low digits");
        Assert.That(s.Mx, Is.EqualTo(tiny.Max(MathF.Abs)), "Mx = max|∇Y| below 2^−10");
        var unscaled = Op.Split(g, n, c, mode, 9);
        int same = s.High.Where((h, i) => h == unscaled.High[i]).Count();
        Assert.That(same, Is.GreaterThan(0.9 * g.Length), "the high digits barely depend on the scale");
        Assert.That(s.High.Count(h => h != 0), Is.GreaterThan(g.Length / 4), "not all-zero high digits");
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void HighPart_IsDeterministic_NearestRoundingOfTOver14(QuantMode mode)
    {
        // §9 item 11: h = clamp(round(t/14)) with t = 98·g/Mx, the same for every seed.
        var rng = new Random(11);
        const int n = 32, c = 32;
        float[] g = EdgeData(rng, n, c);
        var a = Op.Split(g, n, c, mode, 1);
        var b = Op.Split(g, n, c, mode, 2);
        int lim = mode.SplitLimit();
        Assert.That(a.High, Is.EqualTo(b.High));
        for (int i = 0; i < g.Length; i++)
        {
            double t = BackwardOracle.T(g[i], a.Mx);
            int expect = (int)Math.Clamp(Math.Round(t / 14, MidpointRounding.AwayFromZero), -lim, lim);
            Assert.That((int)a.High[i], Is.EqualTo(expect), $"element {i}, t = {t}");
        }
        Assert.That(a.Low, Is.Not.EqualTo(b.Low), "the low digit must depend on the seed");
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void Reconstruction_ErrorBound(QuantMode mode)
    {
        // §9 item 12: |g − (s↑h + s↓l)| ≤ s↓; in code mode for |t| > 91 the error is exactly (|t| − 90)·s↓.
        var rng = new Random(12);
        const int n = 40, c = 64;
        float[] g = EdgeData(rng, n, c);
        int beyond = 0;
        for (ulong seed = 0; seed < 4; seed++)
        {
            var s = Op.Split(g, n, c, mode, seed);
            double sd = s.ScaleDown;
            for (int i = 0; i < g.Length; i++)
            {
                double err = Math.Abs(g[i] - ((double)s.ScaleUp * s.High[i] + sd * s.Low[i]));
                double t = Math.Abs((double)BackwardOracle.T(g[i], s.Mx));
                if (mode == QuantMode.Code && t > 91)
                {
                    beyond++;
                    Assert.That(err, Is.EqualTo((t - 90) * sd).Within(1e-4 * sd), $"element {i}, |t| = {t}");
                }
                else
                {
                    Assert.That(err, Is.LessThanOrEqualTo(sd * (1 + 1e-4)), $"element {i}, |t| = {t}");
                }
            }
        }
        if (mode == QuantMode.Code) Assert.That(beyond, Is.GreaterThan(0), "data must exercise |t| > 91");
    }

    [TestCase(QuantMode.Code, 1500)]
    [TestCase(QuantMode.Paper, 1500)]
    public void Reconstruction_IsUnbiased_ExceptCodeModeClippedResiduals(QuantMode mode, int draws)
    {
        // §9 item 13. Per entry z = (mean − g)/σ with σ = s↓·sqrt(f(1−f)/S), f = frac(r): the aggregate Σz² must be
        // within 4σ of its χ² mean and no |z| beyond 5. Code mode: entries with |r| ∈ (6, 7] have the
        // deterministic bias −(|r| − 6)·s↓·sign(r); entries with |t| > 90 are excluded (clamped, item 12).
        var rng = new Random(13);
        const int n = 8, c = 48;
        float[] g = EdgeData(rng, n, c);
        var sum = new double[g.Length];
        BitSplitResult? first = null;
        for (int s = 0; s < draws; s++)
        {
            var r = Op.Split(g, n, c, mode, (ulong)(1000 + s));
            first ??= r;
            for (int i = 0; i < g.Length; i++) sum[i] += (double)r.ScaleUp * r.High[i] + (double)r.ScaleDown * r.Low[i];
        }
        double sdn = first!.ScaleDown;
        double chi2 = 0, maxZ = 0;
        int dof = 0, biased = 0;
        for (int i = 0; i < g.Length; i++)
        {
            double mean = sum[i] / draws;
            double t = BackwardOracle.T(g[i], first.Mx);
            double res = t - 14.0 * first.High[i];
            if (mode == QuantMode.Code && Math.Abs(t) > 90) continue;
            if (mode == QuantMode.Code && Math.Abs(res) > 6)
            {
                biased++;
                Assert.That(mean - g[i], Is.EqualTo(-(Math.Abs(res) - 6) * sdn * Math.Sign(res)).Within(1e-4 * sdn), $"element {i}, r = {res}");
                continue;
            }
            double f = res - Math.Floor(res);
            double sigma = sdn * Math.Sqrt(f * (1 - f) / draws);
            if (sigma < 1e-3 * sdn / Math.Sqrt(draws))
            {
                Assert.That(mean, Is.EqualTo((double)g[i]).Within(1e-3 * sdn), $"element {i} (r integral)");
                continue;
            }
            double z = (mean - g[i]) / sigma;
            chi2 += z * z;
            maxZ = Math.Max(maxZ, Math.Abs(z));
            dof++;
        }
        TestContext.Out.WriteLine($"{mode}: {dof} entries, chi2 = {chi2:F1}, max|z| = {maxZ:F2}, clipped-band entries = {biased}");
        Assert.Multiple(() =>
        {
            Assert.That(dof, Is.GreaterThan(100));
            Assert.That(Math.Abs(chi2 - dof), Is.LessThan(4 * Math.Sqrt(2.0 * dof)), "aggregate bias (χ²)");
            Assert.That(maxZ, Is.LessThan(5.0), "per-entry bias");
            if (mode == QuantMode.Code) Assert.That(biased, Is.GreaterThan(10), "data must exercise |r| ∈ (6, 7]");
        });
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void AllZeroGradient_GivesTinyMx_ZeroDigits_NoNaN(QuantMode mode)
    {
        // §9 item 14: Mx = 1e−8, h = 0, outputs 0. Code mode: l = +1 only where U01Closed = 1 (probability 2^−24).
        const int n = 16, c = 32;
        var s = Op.Split(new float[n * c], n, c, mode, 77);
        Assert.Multiple(() =>
        {
            Assert.That(s.Mx, Is.EqualTo(1e-8f));
            Assert.That(float.IsFinite(s.ScaleUp) && float.IsFinite(s.ScaleDown) && s.ScaleDown > 0);
            Assert.That(s.High.All(v => v == 0));
            for (int i = 0; i < n * c; i++)
            {
                int expect = mode == QuantMode.Code && Philox.U01Closed(Philox.BitSplitWord(77, (ulong)i)) == 1f ? 1 : 0;
                Assert.That((int)s.Low[i], Is.EqualTo(expect));
            }
        });
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void SingleNonzeroEntry_Reconstructs(QuantMode mode)
    {
        // §9 item 14: paper mode within s↓; code mode the entry has |t| ≈ 98 and error exactly (|t| − 90)·s↓ (item 12).
        const int n = 4, c = 8;
        foreach (float v in new[] { 3.5e-3f, -2.0f, 1e-30f })
        {
            var g = new float[n * c];
            g[13] = v;
            var s = Op.Split(g, n, c, mode, 5);
            double rec = (double)s.ScaleUp * s.High[13] + (double)s.ScaleDown * s.Low[13];
            double t = Math.Abs((double)BackwardOracle.T(v, s.Mx));
            Assert.Multiple(() =>
            {
                if (mode == QuantMode.Paper || t <= 91) Assert.That(Math.Abs(rec - v), Is.LessThanOrEqualTo(s.ScaleDown * (1 + 1e-4)));
                else Assert.That(Math.Abs(rec - v), Is.EqualTo((t - 90) * s.ScaleDown).Within(1e-4 * s.ScaleDown));
                for (int i = 0; i < n * c; i++)
                    if (i != 13) Assert.That(s.High[i] == 0 && s.Low[i] == 0, $"zero entry {i}");
            });
        }
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void SignSymmetry_HighNegates_LowDistributedAsMinusLow(QuantMode mode)
    {
        // §9 item 14: split(−g) gives −h exactly and the same Mx; E[l(−g)] = −E[l(g)] (two-sample z-test).
        var rng = new Random(14);
        const int n = 6, c = 32, draws = 600;
        float[] g = BackwardData.SkewedGradient(rng, n, c, zeroRows: 1, largeRows: 2);
        float[] neg = g.Select(v => -v).ToArray();
        var sumP = new double[g.Length];
        var sumN = new double[g.Length];
        BitSplitResult? p0 = null, n0 = null;
        for (int s = 0; s < draws; s++)
        {
            var p = Op.Split(g, n, c, mode, (ulong)s);
            var q = Op.Split(neg, n, c, mode, (ulong)(s + 1_000_000));
            p0 ??= p;
            n0 ??= q;
            for (int i = 0; i < g.Length; i++) { sumP[i] += p.Low[i]; sumN[i] += q.Low[i]; }
        }
        Assert.That(n0!.Mx, Is.EqualTo(p0!.Mx));
        Assert.That(n0.High, Is.EqualTo(p0.High.Select(h => (sbyte)-h).ToArray()));
        double maxZ = 0;
        for (int i = 0; i < g.Length; i++)
        {
            double diff = (sumP[i] + sumN[i]) / draws;     // should be ≈ 0
            double var = 0.25 * 2 / draws;                 // Bernoulli variance ≤ 1/4 per sample
            maxZ = Math.Max(maxZ, Math.Abs(diff) / Math.Sqrt(var));
        }
        Assert.That(maxZ, Is.LessThan(5.0));
    }
}
