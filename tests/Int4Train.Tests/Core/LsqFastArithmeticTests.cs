using NUnit.Framework;

namespace Int4Train.Tests.Core;

/// <summary>
/// The identities the native register kernels of issue 11 rely on (native/src/numerics/lsq_fast.cuh), checked on the
/// CPU on strided subsets of the float bit patterns (the native self-test checks them exhaustively on the GPU, test
/// "lsq_fast rules exhaustive"): the quotient with a hoisted reciprocal and two FMA corrections equals the IEEE
/// division x / s in the fast path's range; below it the LSQ code is 0 either way; RoundHalfAway(v) =
/// trunc(RZ(v + copysign(0.5, v))); the mask Qn ≤ v ≤ 7 reads back from the residual as |e| ≤ 0.5.
/// </summary>
[TestFixture]
public class LsqFastArithmeticTests
{
    private static readonly float[] Steps =
    {
        1f, BitConverter.Int32BitsToSingle(0x3f800001), BitConverter.Int32BitsToSingle(0x3fffffff), 1.5f, 0.1f, 0.0123f,
        7.77f, 3.3e-3f, MathF.ScaleB(1.1875f, -40), MathF.ScaleB(1.4375f, 59), MathF.ScaleB(1f, -60), MathF.ScaleB(1f, 60),
    };

    /// <summary>lsq_fast.cuh's LsqQuotient.corrected: y = RN(1/s); q0 = RN(x·y); two corrections q ← RN(q − (s·q − x)·y).</summary>
    private static float Corrected(float x, float s, float y)
    {
        float q = x * y;
        float r = MathF.FusedMultiplyAdd(s, q, -x);
        q = MathF.FusedMultiplyAdd(-r, y, q);
        r = MathF.FusedMultiplyAdd(s, q, -x);
        return MathF.FusedMultiplyAdd(-r, y, q);
    }

    /// <summary>The float nearest to d in the direction of zero (FADD.RZ of an exact double sum).</summary>
    private static float RoundTowardZero(double d)
    {
        float f = (float)d;
        if (Math.Abs((double)f) > Math.Abs(d)) f = f > 0 ? MathF.BitDecrement(f) : MathF.BitIncrement(f);
        return f;
    }

    private static float RoundHalfAwayBranchFree(float v) =>
        MathF.Truncate(RoundTowardZero((double)v + (v < 0 || float.IsNegative(v) ? -0.5 : 0.5)));

    private static int Code(float v, int qn) => Rounding.Clamp((int)Rounding.RoundHalfAway(v), qn, 7);

    [Test]
    public void HoistedReciprocalQuotient_EqualsDivision_InTheFastRange()
    {
        long checkedCount = 0;
        foreach (float s in Steps)
        {
            float y = 1f / s;
            int loBits = BitConverter.SingleToInt32Bits(MathF.ScaleB(s, -40));
            int hiBits = BitConverter.SingleToInt32Bits(MathF.ScaleB(s, 40));
            for (long b = loBits; b <= hiBits; b += 1009)
                foreach (int sign in new[] { 0, unchecked((int)0x80000000) })
                {
                    float x = BitConverter.Int32BitsToSingle((int)b | sign);
                    float got = Corrected(x, s, y), want = x / s;
                    if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(want))
                        Assert.Fail($"s = {s:R}, x = {x:R}: {got:R} vs {want:R}");
                    checkedCount++;
                }
        }
        Assert.That(checkedCount, Is.GreaterThan(1_000_000));
    }

    [Test]
    public void HoistedReciprocalQuotient_BelowTheRange_GivesCodeZero_LikeTheDivision()
    {
        foreach (float s in Steps)
        {
            float y = 1f / s;
            int loBits = BitConverter.SingleToInt32Bits(MathF.ScaleB(s, -40));
            for (long b = 0; b < loBits; b += 7919)
                foreach (int mode in new[] { -8, -7 })
                {
                    float x = BitConverter.Int32BitsToSingle((int)b) * (b % 2 == 0 ? 1 : -1);
                    if (Code(Corrected(x, s, y), mode) != 0 || Code(x / s, mode) != 0)
                        Assert.Fail($"s = {s:R}, x = {x:R}: codes {Code(Corrected(x, s, y), mode)}, {Code(x / s, mode)}");
                }
        }
    }

    [Test]
    public void RoundHalfAway_BranchFreeForm_MatchesTheReference()
    {
        var probes = new List<float> { 0.5f, -0.5f, 1.5f, -2.5f, 0.49999997f, -0.49999997f, 8388607.5f, -8388607.5f, 8388608f, 0f, -0f };
        for (long b = 0; b < (1L << 32); b += 4099) probes.Add(BitConverter.Int32BitsToSingle((int)b));
        foreach (float v in probes)
        {
            if (float.IsFinite(v) && RoundHalfAwayBranchFree(v) != Rounding.RoundHalfAway(v))
                Assert.Fail($"v = {v:R}: {RoundHalfAwayBranchFree(v):R} vs {Rounding.RoundHalfAway(v):R}");
        }
    }

    [Test]
    public void ResidualMagnitude_TellsTheMask()
    {
        for (int b = 0; b <= BitConverter.SingleToInt32Bits(20f); b += 1009)
            foreach (float v in new[] { BitConverter.Int32BitsToSingle(b), -BitConverter.Int32BitsToSingle(b) })
                foreach (int qn in new[] { -8, -7 })
                {
                    bool inRange = v >= qn && v <= 7;
                    float e = v < qn ? qn : v > 7 ? 7 : Rounding.RoundHalfAway(v) - v;
                    if (!(MathF.Abs(e) > 0.5f) != inRange) Assert.Fail($"v = {v:R}, Qn = {qn}: e = {e:R}");
                }
    }
}
