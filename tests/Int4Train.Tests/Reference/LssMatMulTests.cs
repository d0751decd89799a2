using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference.Backward;

/// <summary>LSS-MM for ∇W and ∇X (method.md §3.4, §3.5, §3.8; §9 items 16, 17, 19, 20).</summary>
public sealed class LssMatMulTests
{
    private static LssMatMul Op => BackwardTestDevice.MatMul;
    private static LeverageScoreSampler Sampler => BackwardTestDevice.Sampler;

    private sealed record Case(BitSplitResult Split, sbyte[] A, sbyte[] W, int N, int C, int D, float SX, float SW);

    private static Case MakeCase(int seed, QuantMode qm, int n = 72, int c = 40, int d = 24, int zeroRows = 5, int largeRows = 6)
    {
        var rng = new Random(seed);
        float[] g = BackwardData.SkewedGradient(rng, n, c, zeroRows, largeRows);
        var split = BackwardTestDevice.BitSplit.Split(g, n, c, qm, (ulong)seed);
        return new Case(split, BackwardData.Codes(rng, n * d), BackwardData.Codes(rng, c * d), n, c, d, 0.0421f, 0.0173f);
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void Nonzero_IsBitExact_AgainstFullTwoGemmProduct(QuantMode qm)
    {
        // §9 item 19: only zero rows are dropped, so the INT32 parts equal the full bit-split products exactly.
        var k = MakeCase(19, qm);
        var s = k.Split;
        var selW = Sampler.SelectForWeightGradient(s, k.A, k.D, k.SX, SamplingMode.Nonzero, 0);
        var selX = Sampler.SelectForInputGradient(s, SamplingMode.Nonzero, 0);
        var gw = Op.WeightGradient(s, k.A, k.D, k.SX, selW);
        var gx = Op.InputGradient(s, k.W, k.D, k.SW, selX);
        long[] fh = BackwardOracle.WeightProduct(s.High, k.A, k.N, k.C, k.D, _ => true);
        long[] fl = BackwardOracle.WeightProduct(s.Low, k.A, k.N, k.C, k.D, _ => true);
        long[] xh = BackwardOracle.InputProduct(s.High, k.W, k.N, k.C, k.D, _ => true);
        long[] xl = BackwardOracle.InputProduct(s.Low, k.W, k.N, k.C, k.D, _ => true);
        long[] int8 = BackwardOracle.WeightProduct(BackwardTestDevice.BitSplit.ToInt8(s), k.A, k.N, k.C, k.D, _ => true);
        Assert.Multiple(() =>
        {
            Assert.That(gw.IntegerHigh!.Select(v => (long)v), Is.EqualTo(fh), "∇W G↑");
            Assert.That(gw.IntegerLow!.Select(v => (long)v), Is.EqualTo(fl), "∇W G↓");
            Assert.That(gx.IntegerHigh.Select(v => (long)v), Is.EqualTo(xh), "∇X G↑");
            Assert.That(gx.IntegerLow.Select(v => (long)v), Is.EqualTo(xl), "∇X G↓");
            Assert.That(fh.Select((v, i) => 14 * v + fl[i]), Is.EqualTo(int8), "INT8 view: 14·G↑ + G↓");
            Assert.That(gw.Gradient, Is.EqualTo(fh.Select((v, i) => (float)((double)k.SX * ((double)s.ScaleUp * v + (double)s.ScaleDown * fl[i]))).ToArray()).Within(1).Ulps, "∇W float (1 ulp: FMA contraction on GPUs)");
            var (folded, twoPart, _) = ExpectedInputGradient(k, selX, xh, xl);
            Assert.That(gx.Gradient, Is.EqualTo(folded), "∇X float: every kept token folded, s_W·(s↓·(14·G↑ + G↓))");
            Assert.That(folded, Is.Not.EqualTo(twoPart), "the fold is observable: s↑ = Mx/7f is not 14·(Mx/98f) in float");
            Assert.That(gw.GemmRowsHigh % 32 == 0 && gw.GemmRowsLow % 32 == 0 && gw.GemmRowsHigh >= selW.KeptHigh);
            Assert.That(gx.GemmRowsHigh, Is.EqualTo(selX.KeptHigh));
            Assert.That(selW.KeptHigh + selW.KeptLow, Is.LessThan(2 * k.N), "some rows were skipped");
        });
    }

    [Test]
    public void Nonzero_IsInvariant_ToRowOrder_AndZeroPaddingOfK()
    {
        // §9 item 19: permuting tokens (digits and X codes together) or appending all-zero tokens changes nothing.
        var k = MakeCase(191, QuantMode.Code);
        var s = k.Split;
        var rng = new Random(5);
        int[] perm = Enumerable.Range(0, k.N).OrderBy(_ => rng.Next()).ToArray();
        sbyte[] Permute(sbyte[] src, int cols) => perm.SelectMany(i => src.Skip(i * cols).Take(cols)).ToArray();
        var sp = new BitSplitResult(Permute(s.High, k.C), Permute(s.Low, k.C), k.N, k.C, s.Mode, s.Mx);
        sbyte[] ap = Permute(k.A, k.D);
        const int pad = 23;
        var sz = new BitSplitResult(s.High.Concat(new sbyte[pad * k.C]).ToArray(), s.Low.Concat(new sbyte[pad * k.C]).ToArray(),
            k.N + pad, k.C, s.Mode, s.Mx);
        sbyte[] az = k.A.Concat(BackwardData.Codes(rng, pad * k.D)).ToArray();

        LssWeightGradient W(BitSplitResult x, sbyte[] a) =>
            Op.WeightGradient(x, a, k.D, k.SX, Sampler.SelectForWeightGradient(x, a, k.D, k.SX, SamplingMode.Nonzero, 0));
        var g0 = W(s, k.A);
        var g1 = W(sp, ap);
        var g2 = W(sz, az);
        Assert.Multiple(() =>
        {
            Assert.That(g1.IntegerHigh, Is.EqualTo(g0.IntegerHigh));
            Assert.That(g1.IntegerLow, Is.EqualTo(g0.IntegerLow));
            Assert.That(g2.IntegerHigh, Is.EqualTo(g0.IntegerHigh));
            Assert.That(g2.IntegerLow, Is.EqualTo(g0.IntegerLow));
            Assert.That(g2.Gradient, Is.EqualTo(g0.Gradient));
            Assert.That(g2.GemmRowsHigh, Is.EqualTo(g0.GemmRowsHigh));
        });

        // ∇X: the permuted problem gives the permuted rows.
        var x0 = Op.InputGradient(s, k.W, k.D, k.SW, Sampler.SelectForInputGradient(s, SamplingMode.Nonzero, 0));
        var x1 = Op.InputGradient(sp, k.W, k.D, k.SW, Sampler.SelectForInputGradient(sp, SamplingMode.Nonzero, 0));
        for (int r = 0; r < k.N; r++)
            Assert.That(x1.Gradient.Skip(r * k.D).Take(k.D), Is.EqualTo(x0.Gradient.Skip(perm[r] * k.D).Take(k.D)), $"row {r}");
    }

    [Test]
    public void Bernoulli_MatchesOracle_ForFixedSeed()
    {
        var k = MakeCase(160, QuantMode.Paper, largeRows: 30);
        var s = k.Split;
        var sel = Sampler.SelectForWeightGradient(s, k.A, k.D, k.SX, SamplingMode.Bernoulli, 99);
        Assert.That(sel.Probabilities.Any(p => p > 0 && p < 1), "some rows are sampled");
        var gw = Op.WeightGradient(s, k.A, k.D, k.SX, sel);
        double[] o = BackwardOracle.SampledWeightGradient(s.High, s.Low, k.A, k.N, k.C, k.D, s.ScaleUp, s.ScaleDown, k.SX, sel.Probabilities, sel.Keep);
        double scale = o.Max(Math.Abs);
        Assert.That(gw.IntegerHigh, Is.Null);
        for (int i = 0; i < o.Length; i++) Assert.That(gw.Gradient[i], Is.EqualTo(o[i]).Within(1e-6 * scale), $"entry {i}");

        // ∇X: row i = s_W·(s↑·G↑_i/p↑_i + s↓·G↓_i/p↓_i) over the kept parts, folded when every kept part has p = 1,
        // G from the oracle's integer product; this seed has tokens of both kinds
        var selX = Sampler.SelectForInputGradient(s, SamplingMode.Bernoulli, 99);
        var gx = Op.InputGradient(s, k.W, k.D, k.SW, selX);
        long[] xh = BackwardOracle.InputProduct(s.High, k.W, k.N, k.C, k.D, i => selX.Keep[i]);
        long[] xl = BackwardOracle.InputProduct(s.Low, k.W, k.N, k.C, k.D, i => selX.Keep[k.N + i]);
        Assert.That(gx.IntegerHigh.Select(v => (long)v), Is.EqualTo(xh));
        Assert.That(gx.IntegerLow.Select(v => (long)v), Is.EqualTo(xl));
        var (expected, _, foldedTokens) = ExpectedInputGradient(k, selX, xh, xl);
        int keptTokens = Enumerable.Range(0, k.N).Count(i => selX.Keep[i] || selX.Keep[k.N + i]);
        Assert.That(foldedTokens, Is.InRange(1, keptTokens - 1), "tokens folded and tokens with a part at p < 1");
        for (int e = 0; e < expected.Length; e++)
            Assert.That(gx.Gradient[e], Is.EqualTo(expected[e]), $"∇X ({e / k.D}, {e % k.D})");
    }

    /// <summary>∇(XH) by conventions.md "∇X" from the integer products: a token whose kept parts all have p = 1 is
    /// folded, <c>(float)(s_W·(s↓·(14·G↑ + G↓)))</c>; the others <c>(float)(s_W·(s↑·G↑/p↑ + s↓·G↓/p↓))</c> over the
    /// kept parts. Also the two-part form for every token, and the number of folded tokens.</summary>
    private static (float[] Expected, float[] TwoPart, int FoldedTokens) ExpectedInputGradient(Case k, LssSelection sel,
        long[] xh, long[] xl)
    {
        var s = k.Split;
        var expected = new float[k.N * k.D];
        var twoPart = new float[k.N * k.D];
        int foldedTokens = 0;
        for (int i = 0; i < k.N; i++)
        {
            bool kh = sel.Keep[i], kl = sel.Keep[k.N + i];
            double ph = sel.Probabilities[i], pl = sel.Probabilities[k.N + i];
            bool fold = (kh || kl) && (!kh || ph == 1.0) && (!kl || pl == 1.0);
            if (fold) foldedTokens++;
            for (int j = 0; j < k.D; j++)
            {
                int e = i * k.D + j;
                double hi = kh ? (double)s.ScaleUp * xh[e] / ph : 0;
                double lo = kl ? (double)s.ScaleDown * xl[e] / pl : 0;
                twoPart[e] = (float)(k.SW * (hi + lo));
                expected[e] = fold ? (float)(k.SW * ((double)s.ScaleDown * (14 * xh[e] + xl[e]))) : twoPart[e];
            }
        }
        return (expected, twoPart, foldedTokens);
    }

    private static (double MeanSq, double SdSq, double BiasSq) MonteCarlo(int draws, Func<ulong, float[]> estimate, double[] exact)
    {
        var mean = new double[exact.Length];
        var e = new double[draws];
        for (int s = 0; s < draws; s++)
        {
            float[] est = estimate((ulong)(5000 + s));
            double sq = 0;
            for (int i = 0; i < exact.Length; i++)
            {
                double diff = est[i] - exact[i];
                sq += diff * diff;
                mean[i] += est[i];
            }
            e[s] = sq;
        }
        double m = e.Average();
        double sd = Math.Sqrt(e.Sum(v => (v - m) * (v - m)) / (draws - 1));
        double bias = 0;
        for (int i = 0; i < exact.Length; i++) { double d = mean[i] / draws - exact[i]; bias += d * d; }
        return (m, sd, bias);
    }

    private static double Variance(LssSelection sel) =>
        sel.Scores.Select((c, i) => c == 0 ? 0 : (1 / sel.Probabilities[i] - 1) * c * c).Sum();

    [Test]
    public void Bernoulli_WeightGradient_IsUnbiased_WithPredictedVariance()
    {
        // §9 items 16–17 for ∇W: E‖est − exact‖² = Σ(1/p − 1)c² with c_i = ‖∇↕_i‖‖X↕_i‖, and ‖mean − exact‖² ≈ V/S.
        const int draws = 1000;
        var k = MakeCase(16, QuantMode.Paper, n: 64, c: 24, d: 16, largeRows: 24);
        var s = k.Split;
        var sel0 = Sampler.SelectForWeightGradient(s, k.A, k.D, k.SX, SamplingMode.Bernoulli, 0);
        double v = Variance(sel0);
        double[] exact = BackwardOracle.ExactWeightGradient(s.High, s.Low, k.A, k.N, k.C, k.D, s.ScaleUp, s.ScaleDown, k.SX);
        var (m, sd, bias) = MonteCarlo(draws,
            seed => Op.WeightGradient(s, k.A, k.D, k.SX, Sampler.Select(sel0.Scores, k.N, LssTarget.WeightGradient, SamplingMode.Bernoulli, seed)).Gradient,
            exact);
        TestContext.Out.WriteLine($"∇W: predicted V = {v:E4}, measured {m:E4} ± {sd / Math.Sqrt(draws):E2}; ‖mean − exact‖²·S/V = {bias * draws / v:F3}");
        Assert.Multiple(() =>
        {
            Assert.That(v, Is.GreaterThan(0));
            Assert.That(Math.Abs(m - v), Is.LessThan(4 * sd / Math.Sqrt(draws)), "variance formula");
            Assert.That(bias, Is.LessThan(3 * v / draws), "unbiased: ‖mean − exact‖² ~ V/S");
        });
    }

    [Test]
    public void Bernoulli_InputGradient_IsUnbiased_WithPredictedVariance()
    {
        // §9 items 16–17 for ∇X: with Ŵ = I and s_W = 1 the output is the sampled Î↕∇↕, whose variance is
        // Σ(1/p − 1)‖∇↕_i‖²; with a random Ŵ the mean still converges to s_W·(s↑hŴ + s↓lŴ).
        const int draws = 1000, n = 64, c = 16;
        var k = MakeCase(17, QuantMode.Paper, n: n, c: c, d: c, largeRows: 24);
        var s = k.Split;
        var eye = new sbyte[c * c];
        for (int i = 0; i < c; i++) eye[i * c + i] = 1;
        var sel0 = Sampler.SelectForInputGradient(s, SamplingMode.Bernoulli, 0);
        double v = Variance(sel0);
        double[] exactI = BackwardOracle.ExactInputGradient(s.High, s.Low, eye, n, c, c, s.ScaleUp, s.ScaleDown, 1f);
        double[] exactW = BackwardOracle.ExactInputGradient(s.High, s.Low, k.W, n, c, c, s.ScaleUp, s.ScaleDown, k.SW);
        LssSelection Sel(ulong seed) => Sampler.Select(sel0.Scores, n, LssTarget.InputGradient, SamplingMode.Bernoulli, seed);
        var (m, sd, bias) = MonteCarlo(draws, seed => Op.InputGradient(s, eye, c, 1f, Sel(seed)).Gradient, exactI);
        var (mW, _, biasW) = MonteCarlo(draws / 2, seed => Op.InputGradient(s, k.W, c, k.SW, Sel(seed)).Gradient, exactW);
        TestContext.Out.WriteLine($"∇X: predicted V = {v:E4}, measured {m:E4} ± {sd / Math.Sqrt(draws):E2}; ‖mean − exact‖²·S/V = {bias * draws / v:F3}; " +
            $"random Ŵ: ‖mean − exact‖²·S/E‖e‖² = {biasW * (draws / 2) / mW:F3}");
        Assert.Multiple(() =>
        {
            Assert.That(v, Is.GreaterThan(0));
            Assert.That(Math.Abs(m - v), Is.LessThan(4 * sd / Math.Sqrt(draws)), "variance formula");
            Assert.That(bias, Is.LessThan(3 * v / draws), "unbiased (Ŵ = I)");
            Assert.That(biasW, Is.LessThan(3 * mW / (draws / 2)), "unbiased (random Ŵ)");
        });
    }

    [TestCase(SamplingMode.Nonzero)]
    [TestCase(SamplingMode.Bernoulli)]
    public void ZeroTokenRows_GiveExactlyZeroInputGradientRows_AndGemmRowCounts(SamplingMode sm)
    {
        // §9 item 20: zero ∇Y rows are never selected, their ∇X rows are exactly 0 (no division by p = 0), and
        // the GEMM row counts are the kept count rounded up to 32 (∇W) or exact (∇X).
        var k = MakeCase(20, QuantMode.Paper, zeroRows: 11, largeRows: 20);
        var s = k.Split;
        var zero = Enumerable.Range(0, k.N).Where(i => s.High.Skip(i * k.C).Take(k.C).All(v => v == 0) && s.Low.Skip(i * k.C).Take(k.C).All(v => v == 0)).ToArray();
        Assert.That(zero, Has.Length.GreaterThanOrEqualTo(11));
        var selW = Sampler.SelectForWeightGradient(s, k.A, k.D, k.SX, sm, 4);
        var selX = Sampler.SelectForInputGradient(s, sm, 4);
        var gw = Op.WeightGradient(s, k.A, k.D, k.SX, selW);
        var gx = Op.InputGradient(s, k.W, k.D, k.SW, selX);
        Assert.Multiple(() =>
        {
            foreach (int i in zero)
            {
                Assert.That(selW.Keep[i] || selW.Keep[k.N + i] || selX.Keep[i] || selX.Keep[k.N + i], Is.False, $"token {i} selected");
                Assert.That(gx.Gradient.Skip(i * k.D).Take(k.D).All(v => v == 0f), $"∇X row {i}");
            }
            Assert.That(gx.Gradient.All(float.IsFinite) && gw.Gradient.All(float.IsFinite), "no NaN/Inf");
            Assert.That(gw.GemmRowsHigh, Is.EqualTo((selW.KeptHigh + 31) / 32 * 32));
            Assert.That(gw.GemmRowsLow, Is.EqualTo((selW.KeptLow + 31) / 32 * 32));
            Assert.That(gx.GemmRowsHigh, Is.EqualTo(selX.KeptHigh));
            Assert.That(gx.GemmRowsLow, Is.EqualTo(selX.KeptLow));
            Assert.That(selX.KeptHigh + selX.KeptLow, Is.LessThanOrEqualTo(2 * (k.N - zero.Length)));
        });
    }

    [TestCase(QuantMode.Code, SamplingMode.Nonzero)]
    [TestCase(QuantMode.Paper, SamplingMode.Bernoulli)]
    public void AllZeroGradient_KeepsNothing_AndGivesZeroGradients(QuantMode qm, SamplingMode sm)
    {
        // §9 item 14 through the whole backward: nothing kept (code mode: up to a 2^−24 event per element), all zero.
        const int n = 32, c = 16, d = 8;
        var rng = new Random(140);
        var s = BackwardTestDevice.BitSplit.Split(new float[n * c], n, c, qm, 3);
        sbyte[] a = BackwardData.Codes(rng, n * d), w = BackwardData.Codes(rng, c * d);
        var selW = Sampler.SelectForWeightGradient(s, a, d, 0.1f, sm, 1);
        var selX = Sampler.SelectForInputGradient(s, sm, 1);
        var gw = Op.WeightGradient(s, a, d, 0.1f, selW);
        var gx = Op.InputGradient(s, w, d, 0.1f, selX);
        Assert.Multiple(() =>
        {
            Assert.That(selW.KeptHigh + selW.KeptLow + selX.KeptHigh + selX.KeptLow, Is.Zero);
            Assert.That(gw.GemmRowsHigh + gw.GemmRowsLow, Is.Zero);
            Assert.That(gw.Gradient.All(v => v == 0f) && gx.Gradient.All(v => v == 0f));
            Assert.That(selW.Probabilities.All(p => p == 0));
        });
    }
}
