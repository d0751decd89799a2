using NUnit.Framework;

namespace Int4Train.Tests.Reference.Backward;

/// <summary>
/// The native split's digit rule (native/src/numerics/split_digits.cuh, issue 11: no division, floors through a biased
/// add rounded down) equals the convention's formula (conventions.md "Bit splitting": IEEE <c>t/14f</c>,
/// round half away, floor) bit for bit — a CPU check of the identities on a strided subset of the floats with
/// |t| ≤ 128 (denormals and ±0 included) and on every float near the places where a digit steps (t = ±(14k + 7),
/// s at the multiples of ½). The self-test sweeps every float on the GPU ("bit split digits: …").
/// .NET has no rounding-mode control: a rounded-down FMA or add is its exact value (a double sum plus its exact
/// error, TwoSum) rounded to float and stepped down when that went above it.
/// </summary>
public sealed class SplitDigitsIdentityTests
{
    private const float Bias = 12582912f;               // 1.5·2^23
    private const float Recip14 = 0.071428574621677398682f; // RN(1/14) = 0x3D924925

    /// <summary>RD(a + b) in float for doubles a, b: s + e = a + b exactly (TwoSum); RN(s) to float, one step down if
    /// it lies above a + b (the nearest float to s is the floor or one above it, as |e| is below half an ulp of s).</summary>
    private static float RoundDownSum(double a, double b)
    {
        double s = a + b, bb = s - a, e = (a - (s - bb)) + (b - bb);
        float f = (float)s;
        return (double)f - s > e ? MathF.BitDecrement(f) : f;
    }

    // split_high: |t|·y + ½ rounded down, its floor through the bias, t's sign, the clamp; r = RN(t − 14h) (one FMA).
    private static (float H, float R) FastHigh(float t, float limit)
    {
        float z = RoundDownSum(Math.Abs((double)t) * Recip14, 0.5);   // the product is exact in double
        float mag = RoundDownSum(z, Bias) - Bias;
        float signed = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(mag) | (BitConverter.SingleToInt32Bits(t) & int.MinValue));
        float h = MathF.Min(MathF.Max(signed, -limit), limit);
        return (h, MathF.FusedMultiplyAdd(-14f, h, t));
    }

    // split_low_biased, unbiased: code l = clamp(RHA(RN(s − ½)), ±6) as ±⌊RD(|w| + ½)⌋; paper clamp(floor(s), ±7).
    private static int FastLow(float s, QuantMode mode)
    {
        if (mode == QuantMode.Paper)
            return (int)MathF.Min(MathF.Max(RoundDownSum(s, Bias), Bias - 7f), Bias + 7f) - (int)Bias;
        float w = s - 0.5f;
        float a = MathF.Min(RoundDownSum(RoundDownSum(Math.Abs(w), 0.5), Bias), Bias + 6f);
        float biased = w >= 0f ? a : 2f * Bias - a;
        return (int)biased - (int)Bias;
    }

    private static (float H, float R) FormulaHigh(float t, float limit)
    {
        float h = MathF.Min(MathF.Max(Rounding.RoundHalfAway(t / 14f), -limit), limit);
        return (h, t - 14f * h);
    }

    private static int FormulaLow(float s, QuantMode mode) => mode == QuantMode.Paper
        ? (int)MathF.Min(MathF.Max(MathF.Floor(s), -7f), 7f)
        : (int)MathF.Min(MathF.Max(Rounding.RoundHalfAway(s - 0.5f), -6f), 6f);

    /// <summary>Non-negative floats up to <paramref name="max"/> (every <paramref name="stride"/>-th pattern, both
    /// signs) plus every float within 4096 ulps of each point in <paramref name="steps"/> (both signs).</summary>
    private static IEnumerable<float> Probes(float max, int stride, IEnumerable<float> steps)
    {
        int top = BitConverter.SingleToInt32Bits(max);
        for (int b = 0; b <= top; b += stride)
        {
            float v = BitConverter.Int32BitsToSingle(b);
            yield return v;
            yield return -v;
        }
        foreach (float p in steps)
        {
            float v = p;
            for (int i = 0; i < 4096; i++) v = MathF.BitDecrement(v);
            for (int i = 0; i <= 8192; i++, v = MathF.BitIncrement(v))
            {
                yield return v;
                yield return -v;
            }
        }
        yield return float.Epsilon;
        yield return -float.Epsilon;
        yield return BitConverter.Int32BitsToSingle(0x007FFFFF);  // largest denormal
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void HighDigitAndResidual_EqualTheIeeeDivisionForm(QuantMode mode)
    {
        float limit = mode.SplitLimit();
        var steps = Enumerable.Range(0, 8).Select(k => 14f * k + 7f).Append(0f);
        int checkedCount = 0;
        foreach (float t in Probes(128f, 401, steps))
        {
            var (fh, fr) = FastHigh(t, limit);
            var (h, r) = FormulaHigh(t, limit);
            // values, not bits: Rounding.RoundHalfAway gives +0 where CUDA's truncf gives −0 (t ∈ (−7, −0]), which
            // moves only the sign of a zero h or r; RN(r + U) is the same float either way (the GPU sweep compares bits)
            if (fh != h || fr != r)
                Assert.Fail($"t = {t:R} (0x{BitConverter.SingleToInt32Bits(t):X8}): fast h {fh:R}, r {fr:R}; formula h {h:R}, r {r:R}");
            checkedCount++;
        }
        Assert.That(checkedCount, Is.GreaterThan(5_000_000));
    }

    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void LowDigit_EqualsTheFormula(QuantMode mode)
    {
        // every multiple of ½ in [−16, 16]: where floor(s) and RHA(s − ½) step, and 0.5 − 2^−25 (the float that
        // breaks ⌊x + ½⌋ done with a round-to-nearest add)
        var steps = Enumerable.Range(0, 33).Select(k => 0.5f * k);
        int checkedCount = 0;
        foreach (float s in Probes(32f, 401, steps))
        {
            int fast = FastLow(s, mode), formula = FormulaLow(s, mode);
            if (fast != formula) Assert.Fail($"s = {s:R} (0x{BitConverter.SingleToInt32Bits(s):X8}): fast {fast}, formula {formula}");
            checkedCount++;
        }
        Assert.That(checkedCount, Is.GreaterThan(5_000_000));
    }
}
