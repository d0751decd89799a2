using System.Runtime.CompilerServices;
using NUnit.Framework;

namespace Int4Train.Tests.Core;

/// <summary>The <see cref="BFloat16"/> storage type of BF16 activations: 2 bytes, exact widening, and float → BF16
/// rounding to nearest with ties to even (the GPU's <c>__float2bfloat16_rn</c>), NaN kept NaN, on the edge cases and
/// against an independent nearest-value oracle.</summary>
[TestFixture]
public class BFloat16ConversionTests
{
    private static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);
    private static ushort Narrow(uint floatBits) => ((BFloat16)F(floatBits)).RawBits;

    [Test]
    public void IsTwoBytes_TheUpperHalfOfAFloat()
    {
        Assert.That(Unsafe.SizeOf<BFloat16>(), Is.EqualTo(2), "the layout of __nv_bfloat16 in a DeviceTensor<BFloat16>");
        Assert.That((float)BFloat16.FromBits(0x3FC0), Is.EqualTo(1.5f));
        Assert.That((float)BFloat16.FromBits(0xC2F7), Is.EqualTo(-123.5f));
    }

    [Test]
    public void EveryBf16_WidensExactly_AndNarrowsBackToItself()
    {
        for (uint b = 0; b <= 0xFFFF; b++)
        {
            float wide = BFloat16.FromBits((ushort)b);
            Assert.That(BitConverter.SingleToUInt32Bits(wide), Is.EqualTo(b << 16), "widening shifts the bits up 16");
            ushort back = ((BFloat16)wide).RawBits;
            if (float.IsNaN(wide))
                Assert.That(back, Is.EqualTo(b | 0x0040), $"NaN 0x{b:X4} stays NaN (made quiet), sign and payload kept");
            else if (back != b)
                Assert.Fail($"0x{b:X4} narrowed back to 0x{back:X4}");
        }
    }

    [TestCase(0x3F80_8000u, (ushort)0x3F80, TestName = "tie between 1 and 1+2^-7 goes to the even 1")]
    [TestCase(0x3F81_8000u, (ushort)0x3F82, TestName = "tie above an odd value goes up to the even one")]
    [TestCase(0xBF81_8000u, (ushort)0xBF82, TestName = "negative tie: same magnitude rule")]
    [TestCase(0x3F80_8001u, (ushort)0x3F81, TestName = "just above a tie rounds up")]
    [TestCase(0x3F81_7FFFu, (ushort)0x3F81, TestName = "just below a tie rounds down")]
    [TestCase(0x3FFF_8000u, (ushort)0x4000, TestName = "a tie that carries into the exponent")]
    [TestCase(0x7F7F_0000u, (ushort)0x7F7F, TestName = "max finite bf16 is kept")]
    [TestCase(0x7F7F_7FFFu, (ushort)0x7F7F, TestName = "below max finite plus half a spacing: max finite")]
    [TestCase(0x7F7F_8000u, (ushort)0x7F80, TestName = "max finite plus half a spacing (a tie, odd below): +inf")]
    [TestCase(0x7F7F_FFFFu, (ushort)0x7F80, TestName = "float.MaxValue: +inf")]
    [TestCase(0xFF7F_FFFFu, (ushort)0xFF80, TestName = "float.MinValue: -inf")]
    [TestCase(0x7F80_0000u, (ushort)0x7F80, TestName = "+inf stays +inf")]
    [TestCase(0xFF80_0000u, (ushort)0xFF80, TestName = "-inf stays -inf")]
    [TestCase(0x0000_0000u, (ushort)0x0000, TestName = "+0")]
    [TestCase(0x8000_0000u, (ushort)0x8000, TestName = "-0 keeps its sign")]
    [TestCase(0x0000_0001u, (ushort)0x0000, TestName = "smallest float subnormal: +0")]
    [TestCase(0x8000_0001u, (ushort)0x8000, TestName = "smallest negative float subnormal: -0")]
    [TestCase(0x0000_8000u, (ushort)0x0000, TestName = "subnormal tie to the even 0")]
    [TestCase(0x0001_8000u, (ushort)0x0002, TestName = "subnormal tie above an odd subnormal: up")]
    [TestCase(0x0000_8001u, (ushort)0x0001, TestName = "just above a subnormal tie: the smallest bf16 subnormal")]
    [TestCase(0x007F_FFFFu, (ushort)0x0080, TestName = "largest float subnormal rounds up to the smallest normal")]
    [TestCase(0x807F_8000u, (ushort)0x8080, TestName = "negative subnormal tie above an odd one: the smallest negative normal")]
    [TestCase(0x7FC0_0000u, (ushort)0x7FC0, TestName = "quiet NaN stays")]
    [TestCase(0x7F80_0001u, (ushort)0x7FC0, TestName = "NaN with its payload only in the low half stays NaN, not inf")]
    [TestCase(0xFF80_0001u, (ushort)0xFFC0, TestName = "negative NaN keeps its sign")]
    [TestCase(0x7F81_0000u, (ushort)0x7FC1, TestName = "signalling NaN becomes quiet, payload kept")]
    [TestCase(0x7FFF_FFFFu, (ushort)0x7FFF, TestName = "NaN with every payload bit: no carry into the sign")]
    public void Narrow_EdgeCases(uint floatBits, ushort expected)
    {
        Assert.That(Narrow(floatBits), Is.EqualTo(expected), $"0x{floatBits:X8}");
        Assert.That(BitConverter.SingleToUInt32Bits(BFloat16.Round(F(floatBits))), Is.EqualTo((uint)expected << 16),
            "Round(float) is the same rounding, kept in a float");
    }

    [Test]
    public void Narrow_MatchesANearestValueOracle_OnRandomBitPatterns()
    {
        var rng = new Random(11);
        var floats = new float[200_000];
        for (int i = 0; i < floats.Length; i++)
        {
            uint bits = (uint)rng.NextInt64(0, 1L << 32);
            // one in four with a half-way low half, so ties occur often
            if (i % 4 == 0) bits = (bits & 0xFFFF_0000u) | 0x8000u;
            floats[i] = F(bits);
        }
        BFloat16[] narrowed = BFloat16.Narrow(floats);
        float[] widened = BFloat16.Widen(narrowed);
        for (int i = 0; i < floats.Length; i++)
        {
            ushort expected = Oracle(floats[i]);
            Assert.That(narrowed[i].RawBits, Is.EqualTo(expected), $"0x{BitConverter.SingleToUInt32Bits(floats[i]):X8}");
            Assert.That(BitConverter.SingleToUInt32Bits(widened[i]), Is.EqualTo((uint)expected << 16));
        }
    }

    /// <summary>Round to nearest, ties to even, by value: the two bf16 neighbours of x (truncated, and one spacing
    /// further from 0; 2^128 stands for the step past the largest finite one) compared by exact distance in double.</summary>
    private static ushort Oracle(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x0040);
        if (float.IsInfinity(x)) return (ushort)(bits >> 16);
        ushort toward0 = (ushort)(bits >> 16), away = (ushort)(toward0 + 1);
        double v = Math.Abs((double)x);
        double lo = Math.Abs((double)(float)BFloat16.FromBits(toward0));
        double hi = (away & 0x7FFF) == 0x7F80 ? Math.Pow(2, 128) : Math.Abs((double)(float)BFloat16.FromBits(away));
        double dlo = v - lo, dhi = hi - v;
        if (dlo < dhi) return toward0;
        if (dhi < dlo) return away;
        return (toward0 & 1) == 0 ? toward0 : away;
    }

    [Test]
    public void Equality_IsBitEquality()
    {
        Assert.That(BFloat16.FromBits(0x3F80), Is.EqualTo((BFloat16)1f));
        Assert.That(BFloat16.FromBits(0x8000), Is.Not.EqualTo(BFloat16.FromBits(0x0000)), "-0 and +0 differ as storage");
        Assert.That(BFloat16.FromBits(0x7FC0).Equals(BFloat16.FromBits(0x7FC0)), "the same NaN bits are equal");
        Assert.That(((BFloat16)2.5f).ToString(), Is.EqualTo("2.5"));
    }
}
