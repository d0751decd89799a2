using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference.Backward;

/// <summary>Leverage scores and selection (method.md §3.4, §3.5; §9 items 15, 18, 20, 21).</summary>
public sealed class LeverageScoreSamplerTests
{
    private static LeverageScoreSampler Op => BackwardTestDevice.Sampler;

    [TestCase(QuantMode.Code, SamplingMode.Nonzero)]
    [TestCase(QuantMode.Code, SamplingMode.Bernoulli)]
    [TestCase(QuantMode.Paper, SamplingMode.Nonzero)]
    [TestCase(QuantMode.Paper, SamplingMode.Bernoulli)]
    public void ScoresAndSelection_MatchOracle_Exactly(QuantMode qm, SamplingMode sm)
    {
        var rng = new Random(21);
        const int n = 80, c = 48, d = 40;
        float[] g = BackwardData.SkewedGradient(rng, n, c, zeroRows: 5, largeRows: 4);
        sbyte[] a = BackwardData.Codes(rng, n * d);
        for (int j = 0; j < d; j++) a[7 * d + j] = 0;           // one token with all-zero X codes
        const float sX = 0.0375f;
        var split = BackwardTestDevice.BitSplit.Split(g, n, c, qm, 9);

        Assert.That(Op.SquaredRowNorms(split.High, n, c), Is.EqualTo(BackwardOracle.SquaredNorms(split.High, n, c)));
        Assert.That(Op.SquaredRowNorms(a, n, d), Is.EqualTo(BackwardOracle.SquaredNorms(a, n, d)));

        var sw = Op.SelectForWeightGradient(split, a, d, sX, sm, 1234);
        var sx = Op.SelectForInputGradient(split, sm, 1234);
        double[] cw = BackwardOracle.WeightScores(split.High, split.Low, n, c, split.ScaleUp, split.ScaleDown, a, d, sX);
        double[] cx = BackwardOracle.InputScores(split.High, split.Low, n, c, split.ScaleUp, split.ScaleDown);
        var (pw, kw) = BackwardOracle.Select(cw, n, sm, 1234);
        var (px, kx) = BackwardOracle.Select(cx, n, sm, 1234);
        Assert.Multiple(() =>
        {
            Assert.That(sw.Scores, Is.EqualTo(cw), "∇W scores");
            Assert.That(sx.Scores, Is.EqualTo(cx), "∇X scores");
            Assert.That(sw.Probabilities, Is.EqualTo(pw), "∇W probabilities");
            Assert.That(sx.Probabilities, Is.EqualTo(px), "∇X probabilities");
            Assert.That(sw.Keep, Is.EqualTo(kw), "∇W keep mask");
            Assert.That(sx.Keep, Is.EqualTo(kx), "∇X keep mask");
            Assert.That(sw.KeptHigh, Is.EqualTo(kw.Take(n).Count(k => k)));
            Assert.That(sw.KeptLow, Is.EqualTo(kw.Skip(n).Count(k => k)));
            Assert.That(sw.GemmRowsHigh, Is.EqualTo((sw.KeptHigh + 31) / 32 * 32));
            Assert.That(sw.GemmRowsLow, Is.EqualTo((sw.KeptLow + 31) / 32 * 32));
            Assert.That(sx.GemmRowsHigh, Is.EqualTo(sx.KeptHigh));
            Assert.That(sx.GemmRowsLow, Is.EqualTo(sx.KeptLow));
            Assert.That(sw.Keep[7] || sw.Keep[n + 7], Is.False, "a token with zero X codes has ∇W score 0");
        });
    }

    private static IEnumerable<double[]> ScoreVectors()
    {
        var rng = new Random(15);
        for (int rep = 0; rep < 6; rep++)
        {
            int m = 2 * (8 + rng.Next(120));
            var c = new double[m];
            for (int i = 0; i < m; i++)
            {
                double u = rng.NextDouble();
                c[i] = u < 0.2 ? 0 : Math.Exp(6 * BackwardData.Gauss(rng));   // heavy skew and zeros
            }
            yield return c;
        }
        yield return [0, 0, 0, 0, 5, 0];                   // fewer positives than the budget
        yield return [1, 1, 1, 1, 1, 1, 1, 1];             // ties: p = 1/2
        yield return [1e300, 1e-300, 3, 0, 0, 0, 2, 2];    // extreme range
        yield return new double[10];                        // all zero
    }

    [TestCaseSource(nameof(ScoreVectors))]
    public void WaterFill_Invariants(double[] c)
    {
        // §9 item 15.
        int n = c.Length / 2;
        double[] p = LeverageScoreSampler.WaterFill(c, n, out int iters);
        int positive = c.Count(v => v > 0);
        double lambda = double.NaN;
        for (int i = 0; i < c.Length; i++)
            if (p[i] > 0 && p[i] < 1) { lambda = p[i] / c[i]; break; }
        Assert.Multiple(() =>
        {
            Assert.That(iters, Is.LessThanOrEqualTo(c.Length), "terminates within 2N rounds");
            Assert.That(p.All(v => v >= 0 && v <= 1), "0 ≤ p ≤ 1");
            Assert.That(p.Sum(), Is.EqualTo((double)Math.Min(n, positive)).Within(1e-4 * Math.Max(1, Math.Min(n, positive))), "Σp = min(N, #{c>0})");
            for (int i = 0; i < c.Length; i++)
            {
                if (c[i] == 0) Assert.That(p[i], Is.EqualTo(0.0), $"c = 0 ⇒ p = 0 at {i}");
                if (!double.IsNaN(lambda) && c[i] > 0)
                    Assert.That(p[i], Is.EqualTo(Math.Min(1, lambda * c[i])).Within(1e-9 + 1e-9 * Math.Min(1, lambda * c[i])), $"p = min(1, λc) at {i}");
                for (int j = 0; j < c.Length; j++)
                    if (c[i] < c[j]) Assert.That(p[i], Is.LessThanOrEqualTo(p[j]), $"monotone {i},{j}");
            }
        });
    }

    [Test]
    public void Optimality_WaterFilledVarianceBeatsOtherFeasibleP()
    {
        // §9 item 18 on the ∇W scores of skewed data: V(p) = Σ (1/p − 1)c² (validated empirically in the LSS-MM tests).
        var rng = new Random(18);
        const int n = 96, c = 32, d = 32;
        float[] g = BackwardData.SkewedGradient(rng, n, c, zeroRows: 6, largeRows: 40);
        sbyte[] a = BackwardData.Codes(rng, n * d);
        var split = BackwardTestDevice.BitSplit.Split(g, n, c, QuantMode.Paper, 3);
        Assert.That(split.High.Chunk(c).Count(r => r.Any(v => v != 0)) + split.Low.Chunk(c).Count(r => r.Any(v => v != 0)),
            Is.GreaterThan(n), "more positive scores than the budget, so some p < 1");
        var sel = Op.SelectForWeightGradient(split, a, d, 0.05f, SamplingMode.Bernoulli, 1);
        double[] sc = sel.Scores;
        static double Var(double[] p, double[] s) => s.Select((v, i) => v == 0 ? 0 : (1 / p[i] - 1) * v * v).Sum();
        double best = Var(sel.Probabilities, sc);
        double uniform = Var(Enumerable.Repeat(0.5, 2 * n).ToArray(), sc);
        Assert.That(best, Is.LessThanOrEqualTo(uniform));
        for (int rep = 0; rep < 50; rep++)
        {
            // A random feasible p (Σp = N, 0 < p ≤ 1) for comparison.
            double[] w = Enumerable.Range(0, 2 * n).Select(_ => 0.05 + rng.NextDouble()).ToArray();
            double[] p = LeverageScoreSampler.WaterFill(w, n, out _);
            Assert.That(best, Is.LessThanOrEqualTo(Var(p, sc) * (1 + 1e-12)), $"random p #{rep}");
        }
        TestContext.Out.WriteLine($"variance water-filled {best:E3} vs uniform p = 1/2 {uniform:E3} (ratio {uniform / best:F1})");
        Assert.That(uniform / best, Is.GreaterThan(3), "skewed rows: the gap should be large");
    }

    [TestCase(SamplingMode.Nonzero)]
    [TestCase(SamplingMode.Bernoulli)]
    public void ZeroTokenRows_AreNeverSelected(SamplingMode sm)
    {
        // §9 item 20 (selection side), in paper mode so that zero rows have exactly zero low digits.
        var rng = new Random(20);
        const int n = 64, c = 32, d = 32;
        float[] g = BackwardData.SkewedGradient(rng, n, c, zeroRows: 9, largeRows: 3);
        int[] zero = Enumerable.Range(0, n).Where(i => Enumerable.Range(0, c).All(j => g[i * c + j] == 0)).ToArray();
        Assert.That(zero, Has.Length.EqualTo(9));
        sbyte[] a = BackwardData.Codes(rng, n * d);
        for (ulong seed = 0; seed < 20; seed++)
        {
            var split = BackwardTestDevice.BitSplit.Split(g, n, c, QuantMode.Paper, seed);
            var sw = Op.SelectForWeightGradient(split, a, d, 0.1f, sm, seed);
            var sx = Op.SelectForInputGradient(split, sm, seed);
            foreach (int i in zero)
                Assert.That(sw.Keep[i] || sw.Keep[n + i] || sx.Keep[i] || sx.Keep[n + i] || sw.Probabilities[i] != 0, Is.False, $"token {i}, seed {seed}");
        }
    }

    [Test]
    public void StructuralSparsity_Measurement()
    {
        // §9 item 21: a measurement, not an invariant. No real fine-tuning batch is available to these unit tests,
        // so it is reported on the synthetic skewed ∇Y used throughout (a few large rows, many tiny, some zero).
        var rng = new Random(2121);
        const int n = 512, c = 256;
        float[] g = BackwardData.SkewedGradient(rng, n, c, zeroRows: 40, largeRows: 12);
        double[] norms = Enumerable.Range(0, n)
            .Select(i => Math.Sqrt(Enumerable.Range(0, c).Sum(j => (double)g[i * c + j] * g[i * c + j]))).ToArray();
        double total = norms.Sum(), acc = 0;
        int k = 0;
        foreach (double v in norms.OrderByDescending(v => v))
        {
            acc += v;
            k++;
            if (acc >= 0.9 * total) break;
        }
        var split = BackwardTestDevice.BitSplit.Split(g, n, c, QuantMode.Code, 1);
        var sx = Op.SelectForInputGradient(split, SamplingMode.Nonzero, 0);
        TestContext.Out.WriteLine($"synthetic ∇Y {n}×{c}: {k} of {n} tokens ({100.0 * k / n:F1}%) hold 90% of the row-norm mass; " +
            $"nonzero-mode rows kept: high {sx.KeptHigh}, low {sx.KeptLow} of {n} each");
        Assert.That(k, Is.LessThan(n / 2));
    }
}
