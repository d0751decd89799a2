using ILGPU.Runtime;
using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>method.md §2.2 / §9 items 1–5 for <see cref="HadamardTransform"/>.</summary>
[TestFixture]
public sealed class HadamardTransformTests
{
    private static readonly int[] AllK = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    private static HadamardTransform Hadamard => new(ReferenceDeviceFixture.Cpu);

    [TestCaseSource(nameof(AllK))]
    public void Matrix_EntriesHaveMagnitudeTwoToMinusHalfKAndPopcountSigns_IsSymmetric(int k)
    {
        int g = 1 << k;
        var h = HadamardTransform.Matrix(g);
        double mag = Math.Pow(2, -k / 2.0);
        int badMagnitude = 0, badSign = 0, asymmetric = 0;
        for (int i = 0; i < g; i++)
            for (int j = 0; j < g; j++)
            {
                float e = h[i * g + j];
                if (Math.Abs(Math.Abs(e) - mag) > 1e-7 * mag) badMagnitude++;
                int sign = (System.Numerics.BitOperations.PopCount((uint)(i & j)) & 1) == 0 ? 1 : -1;
                if (Math.Sign(e) != sign) badSign++;
                if (e != h[j * g + i]) asymmetric++;
            }
        Assert.Multiple(() =>
        {
            Assert.That(badMagnitude, Is.Zero, "entries with |H[i,j]| ≠ 2^(−k/2)");
            Assert.That(badSign, Is.Zero, "entries whose sign is not (−1)^popcount(i&j)");
            Assert.That(asymmetric, Is.Zero, "entries with H[i,j] ≠ H[j,i]");
        });
    }

    [TestCaseSource(nameof(AllK))]
    public void Matrix_IsOrthogonalAndAnInvolution(int k)
    {
        int g = 1 << k;
        var h = HadamardTransform.Matrix(g);
        // H·Hᵀ = H·H (symmetric): row i of the product is row i of H times H, computed with the exact ±1 pattern
        // in double (a fast transform of that row), so k = 10 stays cheap.
        double maxErr = 0;
        var row = new double[g];
        for (int i = 0; i < g; i++)
        {
            for (int j = 0; j < g; j++) row[j] = h[i * g + j];
            for (int s = 1; s < g; s <<= 1)
                for (int t = 0; t < g; t++)
                    if ((t & s) == 0) { double a = row[t], b = row[t + s]; row[t] = a + b; row[t + s] = a - b; }
            double hs = h[0]; // the (float) scale
            for (int j = 0; j < g; j++) maxErr = Math.Max(maxErr, Math.Abs(row[j] * hs - (i == j ? 1.0 : 0.0)));
        }
        Assert.That(maxErr, Is.LessThanOrEqualTo(1e-6), $"‖H_{k}H_{k}ᵀ − I‖_max");
    }

    [TestCaseSource(nameof(AllK))]
    public void Kernel_OnIdentityRows_GivesMatrixRowsBitForBit_AndTwiceGivesIdentity(int k)
    {
        int g = 1 << k;
        // Up to 64 basis rows e_i spread over [0, G) (all of them for G ≤ 64), including the first and the last.
        int rows = Math.Min(g, 64);
        var index = Enumerable.Range(0, rows).Select(r => rows == g ? r : (int)((long)r * (g - 1) / (rows - 1))).ToArray();
        var eye = new float[rows * g];
        for (int r = 0; r < rows; r++) eye[r * g + index[r]] = 1f;
        var h = Hadamard.Apply(eye, rows, g, g);
        var matrix = HadamardTransform.Matrix(g);
        var expected = new float[rows * g];
        for (int r = 0; r < rows; r++) Array.Copy(matrix, index[r] * g, expected, r * g, g);
        Assert.That(h, Is.EqualTo(expected).AsCollection, "e_i·H_k is row i of H_k, bit for bit");
        var back = Hadamard.Apply(h, rows, g, g);
        Assert.That(MaxDiff(back, eye), Is.LessThanOrEqualTo(1e-6), "‖e_i·H·H − e_i‖_max");
    }

    [TestCase(4, 1)]
    [TestCase(16, 4)]
    [TestCase(64, 8)]
    [TestCase(96, 32)]
    public void BlockMatrix_IsBlockDiagonalOrthogonalInvolution(int d, int g)
    {
        var eye = new float[d * d];
        for (int i = 0; i < d; i++) eye[i * d + i] = 1f;
        var hb = Hadamard.Apply(eye, d, d, g);
        var h = HadamardTransform.Matrix(g);
        var expected = new float[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                expected[i * d + j] = i / g == j / g ? h[(i % g) * g + j % g] : 0f;
        Assert.That(hb, Is.EqualTo(expected).AsCollection, "BlockDiag(H_G)");
        var twice = Hadamard.Apply(hb, d, d, g);
        Assert.That(MaxDiff(twice, eye), Is.LessThanOrEqualTo(1e-6), "‖H·H − I‖_max");
    }

    [TestCase(3, 8, 1)]
    [TestCase(5, 64, 2)]
    [TestCase(4, 96, 32)]
    [TestCase(2, 256, 64)]
    [TestCase(2, 1024, 1024)]
    [TestCase(3, 2048, 512)]
    public void Kernel_IsBitIdenticalToSequentialButterflyOracle_AndWithin1e6OfDenseMatmul(int rows, int cols, int g)
    {
        var rng = new Random(1000 + cols + g);
        var x = TestData.WithOutliers(rng, rows, cols);
        var y = Hadamard.Apply(x, rows, cols, g);
        Assert.That(y, Is.EqualTo(ForwardOracle.Hadamard(x, cols, g)).AsCollection, "bit-identical to the butterfly oracle");
        var dense = ForwardOracle.HadamardDense(x, rows, cols, g);
        double scale = TestData.MaxAbs(dense);
        Assert.That(TestData.MaxAbsDiff(y, dense), Is.LessThanOrEqualTo(1e-6 * scale), "relative to the dense matmul");
        var back = Hadamard.Apply(y, rows, cols, g);
        double maxX = x.Max(v => Math.Abs(v));
        Assert.That(MaxDiff(back, x), Is.LessThanOrEqualTo(1e-6 * maxX), "applying twice returns X");
    }

    [Test]
    public void DeviceOverload_TransformsInPlace_SameBitsAsHostOverload()
    {
        var rng = new Random(7);
        var x = TestData.WithOutliers(rng, 4, 64);
        var acc = ReferenceDeviceFixture.Cpu.Accelerator;
        using var buf = acc.Allocate1D<float>(x.Length);
        buf.View.CopyFromCPU(x);
        Hadamard.Apply(buf.View, 4, 64, 16);
        Assert.That(buf.GetAsArray1D(), Is.EqualTo(Hadamard.Apply(x, 4, 64, 16)).AsCollection);
    }

    [Test]
    public void Invariance_XH_WHt_ApproximatesXWt_ForEveryGDividingD()
    {
        const int n = 6, c = 5, d = 128;
        var rng = new Random(3);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.WithOutliers(rng, c, d);
        var exact = MatMulT(x, w, n, c, d);
        double scale = exact.Max(v => Math.Abs(v));
        foreach (int g in BlockSizeSearch.Candidates(d))
        {
            var yh = MatMulT(Hadamard.Apply(x, n, d, g), Hadamard.Apply(w, c, d, g), n, c, d);
            for (int i = 0; i < exact.Length; i++)
                Assert.That(yh[i], Is.EqualTo(exact[i]).Within(1e-5 * scale), $"G={g} entry {i}");
        }
    }

    [TestCase(2)]
    [TestCase(8)]
    [TestCase(32)]
    [TestCase(1024)]
    public void OutlierSpreading_OneHotBlockGoesFromSqrtGToOne_OneHotRowFromSqrtDToSqrtDOverG(int g)
    {
        int d = Math.Max(2 * g, 64);
        var oneHot = new float[d];
        oneHot[g / 2 + 1 < g ? g / 2 + 1 : 0] = 3f;
        Assert.That(Ratio(oneHot, 0, g), Is.EqualTo(Math.Sqrt(g)).Within(1e-9 * Math.Sqrt(g)));
        Assert.That(Ratio(oneHot, 0, d), Is.EqualTo(Math.Sqrt(d)).Within(1e-6 * Math.Sqrt(d)));
        var t = Hadamard.Apply(oneHot, 1, d, g);
        Assert.That(Ratio(t, 0, g), Is.EqualTo(1.0).Within(1e-6), "one-hot G-block becomes flat");
        Assert.That(Ratio(t, 0, d), Is.EqualTo(Math.Sqrt((double)d / g)).Within(1e-5), "one-hot D-row");
        float mag = 3f * HadamardTransform.Scale(g);
        for (int i = 0; i < g; i++) Assert.That(Math.Abs(t[i]), Is.EqualTo(mag), $"|entry {i}|");
    }

    [TestCase(16)]
    [TestCase(64)]
    public void OutlierSpreading_OutlierChannelX100_RatioDropsInEveryRow_ByAboutSqrtG(int g)
    {
        const int rows = 32, d = 128;
        var rng = new Random(11 + g);
        var x = TestData.Matrix(rng, rows, d, 100f, 5);
        var t = Hadamard.Apply(x, rows, d, g);
        double meanDrop = 0;
        for (int r = 0; r < rows; r++)
        {
            double before = Ratio(x, r * d, g), after = Ratio(t, r * d, g); // the affected block (channel 5 is in block 0)
            Assert.That(after, Is.LessThan(before), $"row {r}");
            meanDrop += before / after / rows;
        }
        Assert.That(meanDrop, Is.GreaterThan(0.5 * Math.Sqrt(g)).And.LessThan(2 * Math.Sqrt(g)), "ratio drops by about √G");
    }

    [Test]
    public void QuantizationError_WithOutlierChannels_IsSmallerInHadamardDomain_WithoutOutliers_Comparable()
    {
        const int rows = 64, d = 128, g = 32;
        var rng = new Random(5);
        var withOutliers = TestData.Matrix(rng, rows, d, 100f, 3, 77);
        double hq = HadamardQuantError(withOutliers, rows, d, g), plain = HadamardQuantError(withOutliers, rows, d, 1);
        Assert.That(hq, Is.LessThan(plain), "outliers: ‖s·int(XH/s)·H − X‖ < ‖s′·int(X/s′) − X‖");
        Assert.That(hq, Is.LessThan(0.5 * plain), "outliers: a large gain");

        var gaussian = TestData.Matrix(rng, rows, d);
        double hq2 = HadamardQuantError(gaussian, rows, d, g), plain2 = HadamardQuantError(gaussian, rows, d, 1);
        Assert.That(hq2 / plain2, Is.InRange(0.8, 1.25), "no outliers: comparable errors");
    }

    private double HadamardQuantError(float[] x, int rows, int d, int g)
    {
        var lsq = new LsqQuantizer(ReferenceDeviceFixture.Cpu);
        var t = Hadamard.Apply(x, rows, d, g);
        var back = Hadamard.Apply(lsq.FakeQuantize(t, lsq.InitStep(t)), rows, d, g);
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)(back[i] - x[i]) * (back[i] - x[i]);
        return Math.Sqrt(s);
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }

    private static double Ratio(float[] v, int start, int len)
    {
        double max = 0, sq = 0;
        for (int i = start; i < start + len; i++) { max = Math.Max(max, Math.Abs(v[i])); sq += (double)v[i] * v[i]; }
        return max / Math.Sqrt(sq / len);
    }

    internal static double[] MatMulT(float[] x, float[] w, int n, int c, int d)
    {
        var y = new double[n * c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                double s = 0;
                for (int t = 0; t < d; t++) s += (double)x[i * d + t] * w[j * d + t];
                y[i * c + j] = s;
            }
        return y;
    }
}
