using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>method.md §2.3 step 3 / §9 item 7 for <see cref="Int4Packing"/>.</summary>
[TestFixture]
public sealed class Int4PackingTests
{
    private static Int4Packing Packing => new(ReferenceDeviceFixture.Cpu);

    [Test]
    public void AllSixteenByAllSixteenNibblePairs_PackToCutlassByte_AndRoundTrip()
    {
        var codes = new sbyte[2 * 256];
        for (int lo = -8; lo <= 7; lo++)
            for (int hi = -8; hi <= 7; hi++)
            {
                int j = (lo + 8) * 16 + hi + 8;
                codes[2 * j] = (sbyte)lo;
                codes[2 * j + 1] = (sbyte)hi;
            }
        var packed = Packing.Pack(codes, 16, 32);
        for (int j = 0; j < packed.Length; j++)
            Assert.That(packed[j], Is.EqualTo((byte)((codes[2 * j + 1] << 4) | (codes[2 * j] & 0xF))), $"byte {j}");
        Assert.That(packed.Distinct().Count(), Is.EqualTo(256), "every byte value occurs once");
        Assert.That(Packing.Unpack(packed, 16, 32), Is.EqualTo(codes).AsCollection);
    }

    [TestCase(1, 2)]
    [TestCase(7, 30)]
    [TestCase(33, 64)]
    public void RandomCodes_EqualOracle_AndRoundTrip(int rows, int cols)
    {
        var codes = TestData.Codes(new Random(rows * 100 + cols), rows * cols);
        var packed = Packing.Pack(codes, rows, cols);
        Assert.That(packed, Has.Length.EqualTo(rows * cols / 2));
        Assert.That(packed, Is.EqualTo(ForwardOracle.Pack(codes)).AsCollection);
        Assert.That(Packing.Unpack(packed, rows, cols), Is.EqualTo(codes).AsCollection);
        Assert.That(Packing.Unpack(packed, rows, cols), Is.EqualTo(ForwardOracle.Unpack(packed)).AsCollection);
    }
}
