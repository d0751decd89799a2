using Int4Train.Reference;
using Int4Train.Tests.Oracle;
using Int4Train.Tests.Reference.Backward;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

// The reference of the INT4 layer on BF16 activations (docs/conventions.md "BF16 activations of the INT4 layer"): the
// FP32 layer on the exactly widened X and ∇Y, with Y and ∇X rounded to nearest even. Integer codes and digits, ∇W, ∇b
// and the step gradients are the FP32 path's bit for bit; bad input fails as on the FP32 path.
public partial class Int4LinearReferenceTests
{
    private sealed record Bf16Case(BFloat16[] X, float[] W, float[] Bias, BFloat16[] GradY, float Sx, float Sw, int N, int C, int D, int G);

    /// <summary>BF16 X with two ×50 outlier channels, FP32 W and bias, a BF16 ∇Y with a few large rows; steps at
    /// 0.7× their initial value so some codes clip.</summary>
    private static Bf16Case Bf16Data(int n, int c, int d, int g, int seed)
    {
        var rng = new Random(seed);
        var x = BFloat16.Narrow(TestData.WithOutliers(rng, n, d));
        var w = TestData.Matrix(rng, c, d);
        var bias = TestData.Matrix(rng, 1, c);
        var gy = BFloat16.Narrow(BackwardData.SkewedGradient(rng, n, c, zeroRows: 0));
        float sx = ForwardOracle.InitStep(ForwardOracle.Hadamard(BFloat16.Widen(x), d, g)) * 0.7f;
        float sw = ForwardOracle.InitStep(ForwardOracle.Hadamard(w, d, g)) * 0.7f;
        return new Bf16Case(x, w, bias, gy, sx, sw, n, c, d, g);
    }

    private static uint[] Bits(BFloat16[] v) => Array.ConvertAll(v, b => (uint)b.RawBits);

    [Test]
    public void ForwardBf16_IsTheFp32ForwardOnTheWidenedX_RoundedToNearestEven([Values] QuantMode mode, [Values(1, 16, 64)] int g)
    {
        var k = Bf16Data(48, 40, 128, g, 5 + g + (int)mode);
        var bf16 = Layer.ForwardBf16(k.X, k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw, mode, k.Bias);
        float[] xWide = BFloat16.Widen(k.X);
        var fp32 = Layer.Forward(xWide, k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw, mode, k.Bias);

        // codes: bit for bit the FP32 path's on the widened X, and the scalar oracle's
        Assert.That(bf16.Fp32.PackedX, Is.EqualTo(fp32.PackedX), "packed X codes");
        Assert.That(bf16.Fp32.PackedW, Is.EqualTo(fp32.PackedW), "packed W codes");
        var oracle = ForwardOracle.HqForward(xWide, k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw, mode, k.Bias);
        Assert.That(bf16.Fp32.PackedX, Is.EqualTo(ForwardOracle.Pack(oracle.CodesX)), "X codes = the scalar oracle's");
        Assert.That(oracle.CodesX.Distinct().Count(), Is.GreaterThan(8), "the data exercises most of the code range");

        Assert.That(bf16.Fp32.Y, Is.EqualTo(fp32.Y), "the FP32 Y the BF16 Y comes from");
        Assert.That(Bits(bf16.Y), Is.EqualTo(Bits(BFloat16.Narrow(fp32.Y))), "Y = RN_bf16(FP32 Y), bits");
        for (int i = 0; i < fp32.Y.Length; i++)
        {
            float y = fp32.Y[i];
            if (y == 0f) { Assert.That((float)bf16.Y[i], Is.Zero, $"Y[{i}]"); continue; }
            double halfSpacing = Math.ScaleB(1.0, Math.ILogB(y) - 8); // 8 significant bits: spacing 2^(e−7)
            Assert.That(Math.Abs((float)bf16.Y[i] - (double)y), Is.LessThanOrEqualTo(halfSpacing), $"Y[{i}] within half a BF16 spacing");
        }
        Assert.That(bf16.Y.Count(v => (float)v != 0f), Is.GreaterThan(bf16.Y.Length * 9 / 10), "Y is not mostly zero");
    }

    [Test]
    public void BackwardBf16_IsTheFp32BackwardOnTheWidenedInputs_GradXRounded([Values] SamplingMode sampling, [Values] QuantMode mode)
    {
        const ulong seed = 23;
        var k = Bf16Data(40, 24, 64, 16, 9 + (int)sampling + 3 * (int)mode);
        var layer = Layer;
        var fwd = layer.ForwardBf16(k.X, k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw, mode, k.Bias);
        var bf16 = layer.BackwardBf16(k.GradY, k.X, k.W, fwd.Fp32, sampling, seed);
        var fp32 = layer.Backward(BFloat16.Widen(k.GradY), BFloat16.Widen(k.X), k.W, fwd.Fp32, sampling, seed);

        Assert.That(bf16.Fp32.Split.High, Is.EqualTo(fp32.Split.High), "high digits");
        Assert.That(bf16.Fp32.Split.Low, Is.EqualTo(fp32.Split.Low), "low digits");
        Assert.That(bf16.Fp32.Split.Mx, Is.EqualTo(fp32.Split.Mx), "Mx");
        Assert.That(bf16.Fp32.WeightSelection.Keep, Is.EqualTo(fp32.WeightSelection.Keep), "∇W selection");
        Assert.That(bf16.Fp32.InputSelection.Keep, Is.EqualTo(fp32.InputSelection.Keep), "∇X selection");
        Assert.That(bf16.Fp32.GradW, Is.EqualTo(fp32.GradW), "∇W (FP32, bits)");
        Assert.That(bf16.Fp32.GradBias, Is.EqualTo(fp32.GradBias), "∇b (FP32, bits)");
        Assert.That(bf16.Fp32.GradStepX, Is.EqualTo(fp32.GradStepX), "∇s_X");
        Assert.That(bf16.Fp32.GradStepW, Is.EqualTo(fp32.GradStepW), "∇s_W");
        Assert.That(bf16.Fp32.GradX, Is.EqualTo(fp32.GradX), "the FP32 ∇X the BF16 ∇X comes from");
        Assert.That(Bits(bf16.GradX), Is.EqualTo(Bits(BFloat16.Narrow(fp32.GradX))), "∇X = RN_bf16(FP32 ∇X), bits");
        Assert.That(fp32.GradX.Count(v => v != 0f), Is.GreaterThan(fp32.GradX.Length / 2), "∇X is not mostly zero");
    }

    [Test]
    public void Bf16_BadInput_FailsAsTheFp32Path()
    {
        var k = Bf16Data(8, 6, 32, 8, 3);
        var layer = Layer;
        var fwd = layer.ForwardBf16(k.X, k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw).Fp32;
        float[] xWide = BFloat16.Widen(k.X), gyWide = BFloat16.Widen(k.GradY);
        BFloat16[] xShort = k.X[..^1], gyShort = k.GradY[..^2];

        AssertSameBf16Failure(() => layer.ForwardBf16(xShort, k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw),
                          () => layer.Forward(xWide[..^1], k.W, k.N, k.C, k.D, k.G, k.Sx, k.Sw), "X one element short");
        AssertSameBf16Failure(() => layer.ForwardBf16(k.X, k.W, k.N, k.C, k.D, 64, k.Sx, k.Sw),
                          () => layer.Forward(xWide, k.W, k.N, k.C, k.D, 64, k.Sx, k.Sw), "G does not divide D");
        AssertSameBf16Failure(() => layer.ForwardBf16(k.X, k.W, k.N, k.C, k.D, k.G, -1f, k.Sw),
                          () => layer.Forward(xWide, k.W, k.N, k.C, k.D, k.G, -1f, k.Sw), "negative step");
        AssertSameBf16Failure(() => layer.BackwardBf16(gyShort, k.X, k.W, fwd),
                          () => layer.Backward(gyWide[..^2], xWide, k.W, fwd), "∇Y two elements short");
        AssertSameBf16Failure(() => layer.BackwardBf16(k.GradY, xShort, k.W, fwd),
                          () => layer.Backward(gyWide, xWide[..^1], k.W, fwd), "X one element short");
        var gyNaN = (BFloat16[])k.GradY.Clone();
        gyNaN[5] = BFloat16.FromBits(0x7FC0);
        var gyNaNWide = BFloat16.Widen(gyNaN);
        AssertSameBf16Failure(() => layer.BackwardBf16(gyNaN, k.X, k.W, fwd), () => layer.Backward(gyNaNWide, xWide, k.W, fwd), "NaN in ∇Y");
        Assert.Throws<ArgumentNullException>(() => layer.BackwardBf16(k.GradY, k.X, k.W, null!), "no forward result");
    }

    private static void AssertSameBf16Failure(Action bf16, Action fp32, string what)
    {
        var expected = Assert.Throws(Is.InstanceOf<ArgumentException>(), fp32, $"{what}: the FP32 path refuses it")!;
        var actual = Assert.Throws(Is.InstanceOf<ArgumentException>(), bf16, $"{what}: the BF16 path refuses it")!;
        Assert.That(actual.GetType(), Is.EqualTo(expected.GetType()), what);
        Assert.That(actual.Message, Is.EqualTo(expected.Message), what);
    }
}
