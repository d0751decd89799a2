using ILGPU.Runtime;
using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>method.md §2.3 step 4 / §9 item 8 for <see cref="IntegerGemm"/>.</summary>
[TestFixture]
public sealed class IntegerGemmTests
{
    private static IntegerGemm Gemm => new(ReferenceDeviceFixture.Cpu);
    private static Int4Packing Packing => new(ReferenceDeviceFixture.Cpu);

    [TestCase(1, 1, 1)]
    [TestCase(3, 5, 7)]
    [TestCase(8, 4, 32)]
    [TestCase(16, 12, 50)]
    [TestCase(17, 20, 64)]
    [TestCase(9, 8, 96)]
    [TestCase(32, 32, 130)]
    public void Int32Result_EqualsInt64Oracle_Exactly(int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        var a = TestData.Codes(rng, m * k);
        var b = TestData.Codes(rng, n * k);
        var c = Gemm.Multiply(a, b, m, n, k);
        var expected = ForwardOracle.Gemm(a, b, m, n, k);
        Assert.That(c.Select(v => (long)v), Is.EqualTo(expected).AsCollection);
        if (k % 2 == 0)
        {
            var packed = Gemm.MultiplyPacked(Packing.Pack(a, m, k), Packing.Pack(b, n, k), m, n, k);
            Assert.That(packed, Is.EqualTo(c).AsCollection, "packed overload");
        }
    }

    [Test]
    public void ExtremeCodes_AllMinusEight_GiveSixtyFourK()
    {
        const int k = 1000;
        var a = Enumerable.Repeat((sbyte)-8, 2 * k).ToArray();
        var c = Gemm.Multiply(a, a, 2, 2, k);
        Assert.That(c, Is.All.EqualTo(64 * k));
    }

    [Test]
    public void Int8BitSplitView_TimesInt4Codes_EqualsOracle()
    {
        var rng = new Random(77);
        const int m = 6, n = 5, k = 40;
        var a = TestData.Codes(rng, m * k, -98, 98);
        var b = TestData.Codes(rng, n * k);
        Assert.That(Gemm.Multiply(a, b, m, n, k).Select(v => (long)v), Is.EqualTo(ForwardOracle.Gemm(a, b, m, n, k)).AsCollection);
    }

    [TestCase(5, 3, 30)]
    [TestCase(7, 9, 50)]
    public void ZeroPadding_KToMultipleOf32_AndMAndNRows_DoesNotChangeResult(int m, int n, int k)
    {
        var rng = new Random(m + n + k);
        var a = TestData.Codes(rng, m * k);
        var b = TestData.Codes(rng, n * k);
        var c = Gemm.Multiply(a, b, m, n, k);
        int kp = (k + 31) / 32 * 32, mp = (m + 31) / 32 * 32, np = (n + 3) / 4 * 4 + 4;
        var ap = Pad(a, m, k, mp, kp);
        var bp = Pad(b, n, k, np, kp);
        var cp = Gemm.MultiplyPacked(Packing.Pack(ap, mp, kp), Packing.Pack(bp, np, kp), mp, np, kp);
        for (int i = 0; i < mp; i++)
            for (int j = 0; j < np; j++)
                Assert.That(cp[i * np + j], Is.EqualTo(i < m && j < n ? c[i * n + j] : 0), $"C[{i},{j}]");
    }

    [Test]
    public void DeviceOverloads_MatchHostOverloads()
    {
        var rng = new Random(8);
        const int m = 4, n = 6, k = 34;
        var a = TestData.Codes(rng, m * k);
        var b = TestData.Codes(rng, n * k);
        var acc = ReferenceDeviceFixture.Cpu.Accelerator;
        using var da = acc.Allocate1D<sbyte>(a.Length);
        using var db = acc.Allocate1D<sbyte>(b.Length);
        using var dc = acc.Allocate1D<int>(m * n);
        da.View.CopyFromCPU(a);
        db.View.CopyFromCPU(b);
        Gemm.Multiply(da.View, db.View, dc.View, m, n, k);
        var expected = Gemm.Multiply(a, b, m, n, k);
        Assert.That(dc.GetAsArray1D(), Is.EqualTo(expected).AsCollection);
        using var pa = acc.Allocate1D<byte>(a.Length / 2);
        using var pb = acc.Allocate1D<byte>(b.Length / 2);
        Packing.Pack(da.View, pa.View, m, k);
        Packing.Pack(db.View, pb.View, n, k);
        dc.MemSetToZero();
        Gemm.MultiplyPacked(pa.View, pb.View, dc.View, m, n, k);
        Assert.That(dc.GetAsArray1D(), Is.EqualTo(expected).AsCollection);
    }

    private static sbyte[] Pad(sbyte[] x, int rows, int cols, int rowsP, int colsP)
    {
        var y = new sbyte[rowsP * colsP];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) y[r * colsP + c] = x[r * cols + c];
        return y;
    }
}
