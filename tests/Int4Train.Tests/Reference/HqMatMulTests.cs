using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>method.md §2.3 / §9 items 9–10 for <see cref="HqMatMul"/>.</summary>
[TestFixture]
public sealed class HqMatMulTests
{
    private static HqMatMul Hq => new(ReferenceDeviceFixture.Cpu);
    private static Int4Packing Packing => new(ReferenceDeviceFixture.Cpu);

    [TestCase(8, 6, 64, 16, QuantMode.Code)]
    [TestCase(5, 7, 96, 32, QuantMode.Paper)]
    [TestCase(3, 4, 2, 1, QuantMode.Code)]
    [TestCase(4, 3, 2048, 1024, QuantMode.Code)]
    public void Forward_EqualsScalarOracle_CodesAndOutputBitForBit(int n, int c, int d, int g, QuantMode mode)
    {
        var rng = new Random(n * 31 + d + g);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.WithOutliers(rng, c, d);
        var bias = TestData.Matrix(rng, 1, c);
        var lsq = new LsqQuantizer(ReferenceDeviceFixture.Cpu);
        var h = new HadamardTransform(ReferenceDeviceFixture.Cpu);
        float sx = lsq.InitStep(h.Apply(x, n, d, g)), sw = lsq.InitStep(h.Apply(w, c, d, g));
        foreach (var b in new[] { null, bias })
        {
            var result = Hq.Forward(x, w, n, c, d, g, sx, sw, mode, b);
            var oracle = ForwardOracle.HqForward(x, w, n, c, d, g, sx, sw, mode, b);
            Assert.That(Packing.Unpack(result.PackedX, n, d), Is.EqualTo(oracle.CodesX).AsCollection, "saved codes of XH");
            Assert.That(Packing.Unpack(result.PackedW, c, d), Is.EqualTo(oracle.CodesW).AsCollection, "saved codes of WH");
            Assert.That(result.PackedX, Is.EqualTo(ForwardOracle.Pack(oracle.CodesX)).AsCollection);
            if (b is null || !ReferenceDeviceFixture.Cpu.IsCuda)
                Assert.That(result.Y, Is.EqualTo(oracle.Y).AsCollection, b is null ? "Y" : "Y + bias");
            else // on the GPU, ptxas contracts (s_X·s_W)·acc + bias into one FMA: one rounding fewer
                for (int i = 0; i < oracle.Y.Length; i++)
                    Assert.That(result.Y[i], Is.EqualTo(oracle.Y[i]).Within(2e-7f * (Math.Abs(oracle.Y[i]) + Math.Abs(b[i % c]))), $"Y + bias [{i}]");
            Assert.That((result.N, result.C, result.D, result.GroupSize, result.StepX, result.StepW, result.Mode),
                Is.EqualTo((n, c, d, g, sx, sw, mode)));
        }
    }

    [Test]
    public void SavedState_IsHalfAByteePerInputElement_NoFloatCopy()
    {
        var rng = new Random(2);
        var x = TestData.WithOutliers(rng, 6, 64);
        var w = TestData.WithOutliers(rng, 10, 64);
        var r = Hq.Forward(x, w, 6, 10, 64, 32, 0.3f, 0.4f);
        Assert.That(r.PackedX, Has.Length.EqualTo(6 * 64 / 2));
        Assert.That(r.PackedW, Has.Length.EqualTo(10 * 64 / 2));
    }

    [TestCase(1)]
    [TestCase(8)]
    [TestCase(64)]
    public void NoClipping_ElementwiseErrorBound_HoldsForEveryEntry(int g)
    {
        const int n = 12, c = 10, d = 128;
        var rng = new Random(90 + g);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.WithOutliers(rng, c, d);
        var h = new HadamardTransform(ReferenceDeviceFixture.Cpu);
        var xh = h.Apply(x, n, d, g);
        var wh = h.Apply(w, c, d, g);
        // Steps so large that nothing saturates: max|A|/s ≤ 7 · (1/1.01).
        float sx = (float)(xh.Max(v => Math.Abs(v)) / 7.0 * 1.01), sw = (float)(wh.Max(v => Math.Abs(v)) / 7.0 * 1.01);
        var r = Hq.Forward(x, w, n, c, d, g, sx, sw);
        var yExact = HadamardTransformTests.MatMulT(x, w, n, c, d);
        int violations = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                double l1A = 0, l1B = 0, nx = 0, nw = 0;
                for (int t = 0; t < d; t++)
                {
                    l1A += Math.Abs(xh[i * d + t]);
                    l1B += Math.Abs(wh[j * d + t]);
                    nx += (double)x[i * d + t] * x[i * d + t];
                    nw += (double)w[j * d + t] * w[j * d + t];
                }
                double bound = sx / 2.0 * l1B + sw / 2.0 * l1A + d * (double)sx * sw / 4;
                // Slack for FP32 rounding of the transform and of the final product only.
                double slack = 1e-5 * Math.Sqrt(nx * nw) + 1e-6 * Math.Abs(r.Y[i * c + j]);
                if (Math.Abs(r.Y[i * c + j] - yExact[i * c + j]) > bound + slack) violations++;
            }
        Assert.That(violations, Is.Zero, "entries violating |Ŷ − Y| ≤ (s_X/2)‖B_j‖₁ + (s_W/2)‖A_i‖₁ + D·s_X·s_W/4");
    }

    [Test]
    public void Dequantize_IsExactlyOneFp32ProductOfScaleAndInt32Accumulator()
    {
        const int n = 7, c = 9, d = 64;
        var rng = new Random(10);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.WithOutliers(rng, c, d);
        const float sx = 0.37f, sw = 0.053f;
        var r = Hq.Forward(x, w, n, c, d, 16, sx, sw);
        var acc = ForwardOracle.Gemm(Packing.Unpack(r.PackedX, n, d), Packing.Unpack(r.PackedW, c, d), n, c, d);
        float scale = sx * sw;
        for (int i = 0; i < acc.Length; i++)
            Assert.That(r.Y[i], Is.EqualTo(scale * (float)acc[i]), $"Y[{i}]");
    }
}
