using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>Native CUDA backward-side operators against the ILGPU reference: the same seed gives the same stochastic
/// rounding and the same samples; digits, keep masks and counts bit-identical, probabilities and gradients within
/// tolerance.</summary>
public sealed class NativeBackwardTests : GpuFixture
{
    private static ReferenceDevice Ref => ReferenceDeviceFixture.Cpu;

    private static readonly (int N, int C, int D)[] Shapes = { (96, 64, 128), (37, 50, 96), (200, 136, 64), (512, 256, 512) };

    /// <summary>A gradient with skewed row norms, some exactly-zero rows and one huge entry (clamping in code mode).</summary>
    internal static float[] Gradient(int n, int c, int seed)
    {
        var rng = new Random(seed);
        var g = new float[n * c];
        for (int i = 0; i < n; i++)
        {
            double rowScale = i % 9 == 4 ? 0 : Math.Exp(2.5 * TestData.Gaussian(rng));
            for (int j = 0; j < c; j++) g[i * c + j] = (float)(rowScale * TestData.Gaussian(rng));
        }
        return g;
    }

    [Test]
    public void BitSplit_DigitsAndScalesAreBitIdentical([Values] QuantMode mode)
    {
        foreach (var (n, c, _) in Shapes)
            AssertSplitMatchesReference(Gradient(n, c, n + c), n, c, mode, 1234);
    }

    private void AssertSplitMatchesReference(float[] g, int n, int c, QuantMode mode, ulong seed)
    {
        var expected = new BitSplit(Ref.Accelerator).Split(g, n, c, mode, seed);
        using var dg = Cuda.Upload<float>(g, n, c);
        using var dh = Cuda.Allocate<sbyte>(n, c);
        using var dl = Cuda.Allocate<sbyte>(n, c);
        using var ds = Cuda.Allocate<float>(1, 3);
        Ops.BitSplit(dg, seed, mode, dh, dl, ds);
        Assert.That(dh.Download(), Is.EqualTo(expected.High), $"high {n}×{c}");
        Assert.That(dl.Download(), Is.EqualTo(expected.Low), $"low {n}×{c}");
        Assert.That(ds.Download(), Is.EqualTo(new[] { expected.Mx, expected.ScaleUp, expected.ScaleDown }));
    }

    [Test]
    public void BitSplit_TinyAndHugeGradients_AreBitIdentical([Values] QuantMode mode, [Values(1e-30, 1e-12, 1e-9, 1e30)] double scale)
    {
        // Issue 13 item 11: below max|∇Y| = 2^−10 Mx is the exact max|∇Y| (no absolute 1e−8), on both paths.
        var (n, c, _) = Shapes[1];
        AssertSplitMatchesReference(Array.ConvertAll(Gradient(n, c, 77), v => (float)(v * scale)), n, c, mode, 99);
    }

    [Test]
    public void BitSplit_AllZeroGradient_GivesZeroDigits()
    {
        using var dg = Cuda.Allocate<float>(64, 32);
        dg.Clear();
        using var dh = Cuda.Allocate<sbyte>(64, 32);
        using var dl = Cuda.Allocate<sbyte>(64, 32);
        using var ds = Cuda.Allocate<float>(1, 3);
        Ops.BitSplit(dg, 9, QuantMode.Paper, dh, dl, ds);
        Assert.That(dh.Download(), Is.All.EqualTo((sbyte)0));
        Assert.That(dl.Download(), Is.All.EqualTo((sbyte)0));
        Assert.That(ds.Download()[0], Is.EqualTo(1e-8f));
    }

    [Test]
    public void LssSelect_KeepMasksCountsAndProbabilitiesMatch([Values] SamplingMode sampling, [Values] bool forWeight)
    {
        foreach (var (n, c, d) in Shapes)
        {
            var g = Gradient(n, c, 3 * n + c);
            var split = new BitSplit(Ref.Accelerator).Split(g, n, c, QuantMode.Code, 77);
            var xCodes = TestData.Codes(new Random(n), n * d);
            for (int k = 0; k < d; k++) xCodes[5 * d + k] = 0; // a token whose activations are all zero (score 0 for ∇W)
            const float sx = 0.031f;
            var sampler = new LeverageScoreSampler(Ref.Accelerator);
            var expected = forWeight ? sampler.SelectForWeightGradient(split, xCodes, d, sx, sampling, 99)
                                     : sampler.SelectForInputGradient(split, sampling, 99);

            using var dh = Cuda.Upload<sbyte>(split.High, n, c);
            using var dl = Cuda.Upload<sbyte>(split.Low, n, c);
            using var ds = Cuda.Upload<float>(new[] { split.Mx, split.ScaleUp, split.ScaleDown }, 1, 3);
            using var dx = Cuda.Upload<sbyte>(xCodes, n, d);
            using var dsx = Cuda.Upload<float>(new[] { sx }, 1, 1);
            using var dp = Cuda.Allocate<double>(1, 2 * n);
            using var dk = Cuda.Allocate<byte>(1, 2 * n);
            using var dkept = Cuda.Allocate<int>(1, 2);
            Ops.LssSelect(dh, dl, ds, forWeight ? dx : null, forWeight ? dsx : null, sampling, 99, dp, dk, dkept);

            byte[] keep = dk.Download();
            Assert.That(keep.Select(b => b != 0).ToArray(), Is.EqualTo(expected.Keep), $"keep {n}×{c}×{d}");
            Assert.That(dkept.Download(), Is.EqualTo(new[] { expected.KeptHigh, expected.KeptLow }), "kept counts");
            double[] p = dp.Download();
            for (int i = 0; i < p.Length; i++)
                Assert.That(p[i], Is.EqualTo(expected.Probabilities[i]).Within(1e-12), $"p[{i}]");
        }
    }

    [Test]
    public void LssGradients_MatchReference_InBothModes([Values] SamplingMode sampling)
    {
        foreach (var (n, c, d) in Shapes)
        {
            var rng = new Random(n * 5 + d);
            var g = Gradient(n, c, n * 11 + c);
            var split = new BitSplit(Ref.Accelerator).Split(g, n, c, QuantMode.Code, 5);
            var xCodes = TestData.Codes(rng, n * d);
            var wCodes = TestData.Codes(rng, c * d);
            const float sx = 0.05f, sw = 0.02f;
            var sampler = new LeverageScoreSampler(Ref.Accelerator);
            var lss = new LssMatMul(Ref.Accelerator);
            var selW = sampler.SelectForWeightGradient(split, xCodes, d, sx, sampling, 8);
            var selX = sampler.SelectForInputGradient(split, sampling, 8);
            float[] expW = lss.WeightGradient(split, xCodes, d, sx, selW).Gradient;
            float[] expX = lss.InputGradient(split, wCodes, d, sw, selX).Gradient;

            var pack = new Int4Packing(Ref);
            using var dh = Cuda.Upload<sbyte>(split.High, n, c);
            using var dl = Cuda.Upload<sbyte>(split.Low, n, c);
            using var ds = Cuda.Upload<float>(new[] { split.Mx, split.ScaleUp, split.ScaleDown }, 1, 3);
            using var dxp = Cuda.Upload<byte>(pack.Pack(xCodes, n, d), n, d / 2);
            using var dwp = Cuda.Upload<byte>(pack.Pack(wCodes, c, d), c, d / 2);
            using var dsx = Cuda.Upload<float>(new[] { sx }, 1, 1);
            using var dsw = Cuda.Upload<float>(new[] { sw }, 1, 1);
            using var dkw = Cuda.Upload<byte>(selW.Keep.Select(k => (byte)(k ? 1 : 0)).ToArray(), 1, 2 * n);
            using var dpw = Cuda.Upload<double>(selW.Probabilities, 1, 2 * n);
            using var dkx = Cuda.Upload<byte>(selX.Keep.Select(k => (byte)(k ? 1 : 0)).ToArray(), 1, 2 * n);
            using var dpx = Cuda.Upload<double>(selX.Probabilities, 1, 2 * n);
            using var dgw = Cuda.Allocate<float>(c, d);
            using var dgx = Cuda.Allocate<float>(n, d);
            Ops.LssGradWeight(dh, dl, dxp, ds, dsx, dkw, dpw, dgw);
            Ops.LssGradInput(dh, dl, dwp, ds, dsw, dkx, dpx, dgx);
            AssertClose(dgw.Download(), expW, $"∇(WH) {n}×{c}×{d}");
            AssertClose(dgx.Download(), expX, $"∇(XH) {n}×{c}×{d}");
            // ∇X's arithmetic is the reference's (conventions.md "Leverage scores and selection", ∇X: tokens whose
            // kept parts all have p = 1 folded, the others per part; no product feeds an add, so no FMA contraction)
            Assert.That(dgx.Download(), Is.EqualTo(expX), $"∇(XH) {n}×{c}×{d}: bit for bit");
        }
    }

    [Test]
    public void LinearBackward_MatchesTheReferenceLayer([Values] SamplingMode sampling, [Values] QuantMode mode)
    {
        int n = 128, c = 96, d = 256, g = 32;
        var rng = new Random(21);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        using var run = new LayerBackwardCase(Cuda, Ref, x, w, Gradient(n, c, 4), n, c, d, g, mode, sampling, 42);
        using var grads = run.AllocateGradients<float>();
        run.RunNative(Ops, grads);
        AssertClose(grads.GradX.Download(), run.Expected.GradX, "∇X");
        run.AssertWeightSideGradientsMatchTheReference(grads);
        run.AssertAccumulates(rng, grads, acc => run.RunNative(Ops, acc, accumulate: true));
    }

    /// <summary>The Bernoulli layer on gradients with many zero rows, whose native GEMMs run over the compacted kept
    /// rows only (native/src/ops/lss_compact.cu): the same function as the reference — the tokens whose ∇X row is
    /// exactly zero (nothing kept by the ∇X selection) are the same set bit for bit, the gradients within
    /// tolerance.</summary>
    [Test]
    public void LinearBackward_Bernoulli_ManyZeroRows_MatchesTheReference(
        [Values("every other row", "70% random rows", "one row", "all rows")] string zeros, [Values] QuantMode mode)
    {
        int n = zeros == "one row" ? 1 : 129, c = 72, d = 128, g = 16;
        var rng = new Random(zeros.Length * 7 + (int)mode);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        var gy = Gradient(n, c, 9 + zeros.Length);
        for (int i = 0; i < n; i++)
        {
            bool zero = zeros switch
            {
                "every other row" => i % 2 == 1,
                "70% random rows" => rng.NextDouble() < 0.7,
                "all rows" => true,
                _ => false,
            };
            if (zero) Array.Clear(gy, i * c, c);
        }
        using var run = new LayerBackwardCase(Cuda, Ref, x, w, gy, n, c, d, g, mode, SamplingMode.Bernoulli, 77);
        var expected = run.Expected;
        using var grads = run.AllocateGradients<float>(bias: false);
        run.RunNative(Ops, grads);
        float[] gx = grads.GradX.Download(), gw = grads.GradW.Download();

        static int[] ZeroRows(float[] m, int rows, int cols) =>
            Enumerable.Range(0, rows).Where(i => Enumerable.Range(0, cols).All(j => m[i * cols + j] == 0f)).ToArray();
        int[] zeroRows = ZeroRows(expected.GradX, n, d);
        Assert.That(ZeroRows(gx, n, d), Is.EqualTo(zeroRows), "tokens whose ∇X row is exactly zero");
        if (zeros == "all rows")
        {
            Assert.That(gx.All(v => v == 0f) && gw.All(v => v == 0f), "an all-zero ∇Y keeps nothing: ∇X = ∇W = 0 exactly");
            Assert.That(expected.GradX.All(v => v == 0f) && expected.GradW.All(v => v == 0f), "reference: ∇X = ∇W = 0");
            return;
        }
        if (n > 1) Assert.That(zeroRows.Length, Is.LessThan(n), "some token is kept");
        AssertClose(gx, expected.GradX, "∇X");
        run.AssertWeightSideGradientsMatchTheReference(grads);
    }

    /// <summary>Relative Frobenius error ≤ 1e−5 and every entry within 1e−4 of the largest magnitude.</summary>
    internal static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.That(float.IsFinite(actual[i]), $"{what}[{i}] is {actual[i]}");
            double e = actual[i] - (double)expected[i];
            num += e * e; den += (double)expected[i] * expected[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(expected[i]));
        }
        Assert.That(Math.Sqrt(num / Math.Max(den, 1e-300)), Is.LessThanOrEqualTo(1e-5), $"{what}: relative Frobenius error");
        for (int i = 0; i < expected.Length; i++)
            Assert.That(Math.Abs(actual[i] - expected[i]), Is.LessThanOrEqualTo(1e-4 * maxAbs + 1e-30), $"{what}[{i}]");
    }
}
