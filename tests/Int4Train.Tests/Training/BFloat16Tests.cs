using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>The bfloat16 rounding of the BF16 baseline: round to nearest, ties to even; NaN and ±∞ kept.</summary>
[TestFixture]
public class BFloat16Tests
{
    private static float Bits(uint b) => BitConverter.UInt32BitsToSingle(b);

    [TestCase(1f, 1f)]
    [TestCase(-2.5f, -2.5f)]
    [TestCase(0f, 0f)]
    [TestCase(3.14159265f, 3.140625f)]       // 0x40490FDB → 0x4049 (below the half-way point)
    [TestCase(1f + 1f / 256, 1f)]            // exactly half-way between 1 and 1 + 2⁻⁷: ties to the even 1
    [TestCase(1f + 3f / 256, 1f + 4f / 256)] // half-way between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶ (even): up
    [TestCase(1f + 1f / 256 + 1f / 65536, 1f + 1f / 128)] // just above half-way: up
    [TestCase(-(1f + 3f / 256), -(1f + 4f / 256))]        // symmetric for negatives
    public void Round_IsNearestTiesToEven(float x, float expected) =>
        Assert.That(BFloat16.Round(x), Is.EqualTo(expected));

    [Test]
    public void Round_SpecialValues()
    {
        Assert.That(BFloat16.Round(float.PositiveInfinity), Is.EqualTo(float.PositiveInfinity));
        Assert.That(BFloat16.Round(float.NegativeInfinity), Is.EqualTo(float.NegativeInfinity));
        Assert.That(float.IsNaN(BFloat16.Round(float.NaN)));
        Assert.That(float.IsNaN(BFloat16.Round(Bits(0x7F80_0001u))), "a NaN whose payload sits in the low half stays NaN, not ∞");
        Assert.That(float.IsNaN(BFloat16.Round(Bits(0xFF80_0001u))) && BFloat16.Round(Bits(0xFF80_0001u)) is var n && BitConverter.SingleToUInt32Bits(n) >> 31 == 1);
        Assert.That(BFloat16.Round(float.MaxValue), Is.EqualTo(float.PositiveInfinity), "beyond the largest bfloat16: ∞");
        Assert.That(BitConverter.SingleToUInt32Bits(BFloat16.Round(-0f)), Is.EqualTo(0x8000_0000u), "−0 keeps its sign");
        Assert.That(BFloat16.Round(Bits(0x0000_8000u)), Is.EqualTo(0f), "a subnormal tie rounds to the even 0");
        Assert.That(BitConverter.SingleToUInt32Bits(BFloat16.Round(Bits(0x0001_8000u))), Is.EqualTo(0x0002_0000u));
        Assert.That(BitConverter.SingleToUInt32Bits(BFloat16.Round(Bits(0x7F7F_8000u))), Is.EqualTo(0x7F80_0000u), "tie above the largest odd value: ∞");
    }

    [Test]
    public void Round_EveryResultHasAnEmptyLowHalfAndIsTheNearest()
    {
        var rng = new Random(4);
        for (int i = 0; i < 10000; i++)
        {
            float x = (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-60, 60)));
            float r = BFloat16.Round(x);
            uint rb = BitConverter.SingleToUInt32Bits(r);
            Assert.That(rb & 0xFFFF, Is.Zero);
            uint lower = BitConverter.SingleToUInt32Bits(x) & 0xFFFF_0000u;
            double ulp = Math.Abs((double)Bits(lower + 0x10000u) - Bits(lower));
            Assert.That(Math.Abs((double)r - x), Is.LessThanOrEqualTo(ulp / 2), $"x = {x:R}");
        }
    }

    [Test]
    public void Bf16Linear_IsCloseToFp32AndExactOnBf16Inputs()
    {
        var rng = new Random(9);
        using var backend = Int4Backend.Reference(Reference.ReferenceDeviceFixture.Cpu);
        var bf = new Int4Linear(16, 8, backend, new Int4LinearOptions { Precision = LinearPrecision.Bf16 }, initSeed: 3);
        var fp = new Int4Linear(16, 8, backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }, initSeed: 3);
        float[] x = Enumerable.Range(0, 4 * 16).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] gy = Enumerable.Range(0, 4 * 8).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] yb = bf.Forward(x, 4), yf = fp.Forward(x, 4);
        double[] y64 = Fp64Linear.Forward(x, fp.Weight, fp.Bias, 4, 8, 16);
        double eb = Fp64Linear.RelativeError(yb, y64), ef = Fp64Linear.RelativeError(yf, y64);
        Assert.That(eb, Is.GreaterThan(ef).And.LessThan(1e-2), "bf16 operands lose a little precision, not much");
        float[] gxb = bf.Backward(gy);
        Assert.That(Fp64Linear.RelativeError(gxb, Fp64Linear.GradInput(gy, fp.Weight, 4, 8, 16)), Is.LessThan(1e-2));
        Assert.That(Fp64Linear.RelativeError(bf.WeightGrad, Fp64Linear.GradWeight(gy, x, 4, 8, 16)), Is.LessThan(1e-2));
        // operands already in bf16: no rounding error left but the final one
        float[] x16 = BFloat16.Round(x);
        Array.Copy(BFloat16.Round(fp.Weight), bf.Weight, bf.Weight.Length);
        Assert.That(Fp64Linear.RelativeError(bf.Forward(x16, 4), Fp64Linear.Forward(x16, bf.Weight, bf.Bias, 4, 8, 16)), Is.LessThan(1e-6));
    }
}
