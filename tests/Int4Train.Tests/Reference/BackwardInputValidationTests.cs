using Int4Train.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Reference.Backward;

/// <summary>Bad input never reaches a kernel: clear ArgumentExceptions naming the sizes or the bad value.</summary>
public sealed class BackwardInputValidationTests
{
    private static BitSplit Split => BackwardTestDevice.BitSplit;
    private static LeverageScoreSampler Sampler => BackwardTestDevice.Sampler;
    private static LssMatMul MatMul => BackwardTestDevice.MatMul;

    private static void Throws(Action code, params string[] fragments)
    {
        var ex = Assert.Throws<ArgumentException>(code)!;
        foreach (string f in fragments) Assert.That(ex.Message, Does.Contain(f));
    }

    private static BitSplitResult Small(int n = 4, int c = 8) =>
        Split.Split(Enumerable.Range(0, n * c).Select(i => (float)Math.Sin(i + 1)).ToArray(), n, c, QuantMode.Code, 1);

    [Test]
    public void BitSplit_RejectsBadShapes_NonFiniteValues_AndUnknownMode()
    {
        Throws(() => Split.Split(new float[10], 3, 4, QuantMode.Code, 0), "10 elements", "3×4", "(12)");
        Throws(() => Split.Split(Array.Empty<float>(), 0, 4, QuantMode.Code, 0), "non-empty", "0×4");
        Throws(() => Split.Split(new float[] { 1, float.NaN, 0, 0 }, 2, 2, QuantMode.Paper, 0), "non-finite", "NaN", "index 1");
        Throws(() => Split.Split(new float[] { 1, 0, float.PositiveInfinity, 0 }, 2, 2, QuantMode.Paper, 0), "non-finite", "index 2");
        Throws(() => Split.Split(new float[4], 2, 2, (QuantMode)7, 0), "mode");
        Throws(() => BitSplit.ComputeMx(1f, -1f), "min ≤ max");
        Throws(() => BitSplit.ComputeMx(float.NaN, 1f), "finite");
        Assert.That(BitSplit.ComputeMx(0f, 0f), Is.EqualTo(1e-8f));
        Assert.That(BitSplit.ComputeMx(-3f, 2f), Is.EqualTo(3f + 1e-8f));
        // Issue 13 item 11: tiny gradients get the exact max|∇Y| (the absolute 1e−8 used to swamp it).
        Assert.That(BitSplit.ComputeMx(-3e-12f, 2e-12f), Is.EqualTo(3e-12f));
        Assert.That(BitSplit.ComputeMx(0f, 1e-40f), Is.EqualTo(MathF.ScaleB(1f, -120)), "floor keeps 98/Mx finite");
        Assert.That(BitSplit.ComputeMx(-0.01f, 0.02f), Is.EqualTo(0.02f + 1e-8f), "the code's rule, bit for bit, at ≥ 2^−10");
    }

    [Test]
    public void BitSplitResult_RejectsOutOfRangeDigits_AndBadScale()
    {
        Throws(() => _ = new BitSplitResult(new sbyte[] { 7, 0 }, new sbyte[2], 1, 2, QuantMode.Code, 1f), "high", "7", "[-6, 6]");
        Throws(() => _ = new BitSplitResult(new sbyte[2], new sbyte[] { 0, -8 }, 1, 2, QuantMode.Paper, 1f), "low", "-8", "[-7, 7]");
        Throws(() => _ = new BitSplitResult(new sbyte[2], new sbyte[3], 1, 2, QuantMode.Paper, 1f), "low", "3 elements", "1×2");
        Throws(() => _ = new BitSplitResult(new sbyte[2], new sbyte[2], 1, 2, QuantMode.Paper, 0f), "mx", "positive");
        Throws(() => _ = new BitSplitResult(new sbyte[2], new sbyte[2], 1, 2, QuantMode.Paper, float.NaN), "mx");
    }

    [Test]
    public void Sampler_RejectsMismatchedCodes_BadStep_AndBadScores()
    {
        var s = Small();
        Throws(() => Sampler.WeightGradientScores(s, new sbyte[4 * 8 - 1], 8, 0.1f), "xCodes", "31 elements", "4×8");
        Throws(() => Sampler.WeightGradientScores(s, Enumerable.Repeat((sbyte)9, 32).ToArray(), 8, 0.1f), "xCodes", "9", "[-8, 7]");
        Throws(() => Sampler.WeightGradientScores(s, new sbyte[32], 8, 0f), "sX", "positive");
        Throws(() => Sampler.WeightGradientScores(s, new sbyte[32], 8, float.PositiveInfinity), "sX");
        Throws(() => Sampler.WeightGradientScores(s, new sbyte[32], 0, 0.1f), "d", "positive");
        Throws(() => Sampler.SquaredRowNorms(new sbyte[5], 2, 3), "5 elements", "2×3");
        Throws(() => Sampler.Select(new double[7], 4, LssTarget.InputGradient, SamplingMode.Nonzero, 0), "7 elements", "requires 8");
        Throws(() => Sampler.Select(new double[] { 1, -1 }, 1, LssTarget.InputGradient, SamplingMode.Bernoulli, 0), "non-negative", "-1", "index 1");
        Throws(() => Sampler.Select(new double[] { double.NaN, 1 }, 1, LssTarget.InputGradient, SamplingMode.Bernoulli, 0), "NaN", "index 0");
        Throws(() => Sampler.Select(new double[2], 0, LssTarget.InputGradient, SamplingMode.Bernoulli, 0), "tokens", "positive");
        Throws(() => Sampler.Select(new double[2], 1, LssTarget.InputGradient, (SamplingMode)5, 0), "sampling mode");
        Throws(() => LeverageScoreSampler.WaterFill(Array.Empty<double>(), 1, out _), "non-empty");
        Throws(() => LeverageScoreSampler.WaterFill(new double[] { double.PositiveInfinity }, 1, out _), "finite");
    }

    [Test]
    public void MatMul_RejectsWrongSelection_AndMismatchedOperands()
    {
        var s = Small();
        var a = new sbyte[4 * 6];
        var selW = Sampler.SelectForWeightGradient(s, a.Select((_, i) => (sbyte)(i % 3)).ToArray(), 6, 0.1f, SamplingMode.Nonzero, 0);
        var selX = Sampler.SelectForInputGradient(s, SamplingMode.Nonzero, 0);
        var other = Sampler.SelectForInputGradient(Small(n: 5), SamplingMode.Nonzero, 0);
        Throws(() => MatMul.WeightGradient(s, a, 6, 0.1f, selX), "InputGradient", "WeightGradient");
        Throws(() => MatMul.InputGradient(s, new sbyte[8 * 6], 6, 0.1f, selW), "WeightGradient", "InputGradient");
        Throws(() => MatMul.InputGradient(s, new sbyte[8 * 6], 6, 0.1f, other), "5 tokens", "4 rows");
        Throws(() => MatMul.InputGradient(s, new sbyte[8 * 5], 6, 0.1f, selX), "wCodes", "40 elements", "8×6");
        Throws(() => MatMul.InputGradient(s, new sbyte[8 * 6], 6, -1f, selX), "sW", "positive");
        Throws(() => MatMul.WeightGradient(s, new sbyte[3 * 6], 6, 0.1f, selW), "xCodes", "18 elements", "4×6");
        Throws(() => MatMul.WeightGradient(s, Enumerable.Repeat((sbyte)-9, 24).ToArray(), 6, 0.1f, selW), "-9");
        Assert.Throws<ArgumentNullException>(() => MatMul.WeightGradient(null!, a, 6, 0.1f, selW));
    }
}
