using NUnit.Framework;
namespace Int4Train.Tests.Reference.Backward;

/// <summary>Philox4x32-10 known answers and the uniform maps of conventions.md "Counter-based randomness".</summary>
public sealed class BackwardPhiloxTests
{
    [Test]
    public void Philox4x32_10_KnownAnswer_CounterZeroKeyZero()
    {
        // Random123 kat_vectors: philox4x32 10, ctr {0,0,0,0}, key {0,0} → 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
        var (x0, x1) = Philox.Draw(0, 0, 0);
        Assert.Multiple(() =>
        {
            Assert.That(x0, Is.EqualTo(0x6627e8d5u));
            Assert.That(x1, Is.EqualTo(0xe169c58du));
        });
    }

    [Test]
    public void UniformMaps_CoverTheirDocumentedRanges()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Philox.U01(0u), Is.EqualTo(0f));
            Assert.That(Philox.U01(uint.MaxValue), Is.EqualTo(1f - 1f / 16777216f));
            Assert.That(Philox.U01Closed(0u), Is.EqualTo(1f / 16777216f));
            Assert.That(Philox.U01Closed(uint.MaxValue), Is.EqualTo(1f));
            Assert.That(Philox.U01Double(0u, 0u), Is.EqualTo(0.0));
            Assert.That(Philox.U01Double(uint.MaxValue, uint.MaxValue), Is.EqualTo(1.0 - Math.Pow(2, -53)));
        });
        // Draws over many counters stay in range and look uniform (mean 1/2 within 5σ).
        const int n = 200_000;
        double s = 0, sd = 0;
        for (int i = 0; i < n; i++)
        {
            var (x0, x1) = Philox.Draw(12345, (ulong)i, 1);
            float u = Philox.U01(x0), uc = Philox.U01Closed(x0);
            double ud = Philox.U01Double(x0, x1);
            if (u < 0 || u >= 1 || uc <= 0 || uc > 1 || ud < 0 || ud >= 1) Assert.Fail($"out of range at {i}");
            s += u;
            sd += ud;
        }
        double tol = 5 * Math.Sqrt(1.0 / 12 / n);
        Assert.Multiple(() =>
        {
            Assert.That(s / n, Is.EqualTo(0.5).Within(tol));
            Assert.That(sd / n, Is.EqualTo(0.5).Within(tol));
        });
    }

    [Test]
    public void Streams_AndSeeds_GiveDifferentWords()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Philox.Draw(7, 3, 0), Is.Not.EqualTo(Philox.Draw(7, 3, 1)));
            Assert.That(Philox.Draw(7, 3, 0), Is.Not.EqualTo(Philox.Draw(8, 3, 0)));
            Assert.That(Philox.Draw(7, 3, 0), Is.Not.EqualTo(Philox.Draw(7, 3UL | (1UL << 32), 0)));
        });
    }
}
