using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>The INT4 layer on BF16 activations through the C# API (<c>int4train_*_typed</c>, docs/conventions.md "BF16
/// activations of the INT4 layer") against the reference: packed codes bit-identical; Y and ∇X the round-to-nearest-even
/// BF16 of the reference's FP32 results, within the FP32 native-vs-reference tolerance applied before rounding; ∇W, ∇b
/// and the step gradients as the FP32 tests check them — and all of it, bit for bit, the FP32 call's on the widened
/// inputs. Bad input fails as on the FP32 overloads.</summary>
public sealed class NativeBf16ActivationTests : GpuFixture
{
    private static ReferenceDevice Ref => ReferenceDeviceFixture.Cpu;

    private static uint[] Bits(BFloat16[] v) => Array.ConvertAll(v, b => (uint)b.RawBits);

    /// <summary>Each BF16 value is one that some FP32 result within <paramref name="tolerance"/> of the reference's
    /// rounds to: between RN(ref − tol) and RN(ref + tol) (rounding is monotone). Where the tolerance stays inside one
    /// rounding interval that is exactly RN(ref).</summary>
    private static void AssertRoundedWithin(BFloat16[] actual, float[] reference, Func<int, double> tolerance, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(reference.Length), what);
        int exact = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            float a = actual[i];
            Assert.That(float.IsFinite(a), $"{what}[{i}] is {a}");
            double tol = tolerance(i);
            float lo = BFloat16.Round((float)(reference[i] - tol)), hi = BFloat16.Round((float)(reference[i] + tol));
            Assert.That(a, Is.InRange(lo, hi), $"{what}[{i}]: reference FP32 {reference[i]:R} ± {tol:G3}");
            if (actual[i].Equals((BFloat16)reference[i])) exact++;
        }
        Assert.That(exact, Is.GreaterThan(reference.Length / 2), $"{what}: most values are RN(reference) exactly (the check is not vacuous)");
    }

    [Test]
    public void Bf16Tensor_UploadsAndDownloadsItsBits()
    {
        var values = BFloat16.Narrow(TestData.WithOutliers(new Random(2), 7, 33));
        using var t = Cuda.Upload<BFloat16>(values, 7, 33);
        Assert.That(Bits(t.Download()), Is.EqualTo(Bits(values)));
        t.Clear();
        Assert.That(t.Download().All(v => v.RawBits == 0), "Clear writes +0");
    }

    [Test]
    public void HqForwardBf16_CodesBitIdentical_YIsTheRoundedFp32Y([Values] QuantMode mode, [Values(1, 32, 256)] int g)
    {
        int n = 150, c = 72, d = 512;
        var rng = new Random(g * 5 + (int)mode);
        var x = BFloat16.Narrow(TestData.WithOutliers(rng, n, d));
        float[] xWide = BFloat16.Widen(x);
        var w = TestData.Matrix(rng, c, d);
        var bias = TestData.Matrix(rng, 1, c);
        float sx = new LsqQuantizer(Ref).InitStep(new HadamardTransform(Ref).Apply(xWide, n, d, g));
        float sw = new LsqQuantizer(Ref).InitStep(new HadamardTransform(Ref).Apply(w, c, d, g));
        var expected = new Int4LinearReference(Ref).ForwardBf16(x, w, n, c, d, g, sx, sw, mode, bias);

        using var dx16 = Cuda.Upload<BFloat16>(x, n, d);
        using var dy16 = Cuda.Allocate<BFloat16>(n, c);
        using var bf16 = new HqForwardOperands(Cuda, w, bias, sx, sw, n, c, d);
        bf16.Run(Ops, dx16, g, mode, dy16);
        using var dx = Cuda.Upload<float>(xWide, n, d);
        using var dy = Cuda.Allocate<float>(n, c);
        using var fp32 = new HqForwardOperands(Cuda, w, bias, sx, sw, n, c, d);
        fp32.Run(Ops, dx, g, mode, dy);

        Assert.That(bf16.PackedX.Download(), Is.EqualTo(expected.Fp32.PackedX), "packed X codes = the reference's");
        Assert.That(bf16.PackedW.Download(), Is.EqualTo(expected.Fp32.PackedW), "packed W codes = the reference's");
        Assert.That(bf16.PackedX.Download(), Is.EqualTo(fp32.PackedX.Download()), "packed X codes = the FP32 call's on the widened X");
        BFloat16[] y16 = dy16.Download();
        Assert.That(Bits(y16), Is.EqualTo(Bits(BFloat16.Narrow(dy.Download()))), "Y = RN_bf16(the FP32 call's Y), bits");
        AssertRoundedWithin(y16, expected.Fp32.Y, i => NativeForwardTests.YTolerance(expected.Fp32.Y[i], bias[i % c]), "Y");
    }

    [Test]
    public void LinearBackwardBf16_MatchesTheReference_AndTheFp32CallOnTheWidenedInputs([Values] SamplingMode sampling, [Values] QuantMode mode)
    {
        int n = 128, c = 96, d = 256, g = 32;
        var rng = new Random(27);
        var x = BFloat16.Round(TestData.WithOutliers(rng, n, d)); // BF16 values: the FP32 run reads the same layer input
        var w = TestData.Matrix(rng, c, d);
        var gy = BFloat16.Round(NativeBackwardTests.Gradient(n, c, 5));
        using var run = new LayerBackwardCase(Cuda, Ref, x, w, gy, n, c, d, g, mode, sampling, 43);
        using var grads16 = run.AllocateGradients<BFloat16>();
        run.RunNativeBf16(Ops, grads16);
        using var grads = run.AllocateGradients<float>();
        run.RunNative(Ops, grads);

        // the header's promise: the FP32 call on the widened inputs, bit for bit; ∇X rounded to nearest even
        BFloat16[] gx16 = grads16.GradX.Download();
        Assert.That(Bits(gx16), Is.EqualTo(Bits(BFloat16.Narrow(grads.GradX.Download()))), "∇X = RN_bf16(the FP32 call's ∇X), bits");
        Assert.That(grads16.GradW.Download(), Is.EqualTo(grads.GradW.Download()), "∇W = the FP32 call's");
        Assert.That(grads16.GradBias!.Download(), Is.EqualTo(grads.GradBias!.Download()), "∇b = the FP32 call's");
        Assert.That(grads16.GradStepX.Download(), Is.EqualTo(grads.GradStepX.Download()), "∇s_X = the FP32 call's");
        Assert.That(grads16.GradStepW.Download(), Is.EqualTo(grads.GradStepW.Download()), "∇s_W = the FP32 call's");

        // against the reference (the FP32 layer on the widened ∇Y and X), with the FP32 tests' tolerances; ∇X: their
        // per-entry rule, applied before rounding
        double maxAbs = run.Expected.GradX.Max(v => Math.Abs(v));
        AssertRoundedWithin(gx16, run.Expected.GradX, _ => 1e-4 * maxAbs + 1e-30, "∇X");
        run.AssertWeightSideGradientsMatchTheReference(grads16);
        run.AssertAccumulates(rng, grads16, acc => run.RunNativeBf16(Ops, acc, accumulate: true));
    }

    /// <summary>The BF16 overloads share the FP32 overloads' argument rules: the same exception type and message.</summary>
    [Test]
    public void Bf16Overloads_RefuseBadInput_AsTheFp32Overloads()
    {
        const int n = 4, c = 6, d = 32, g = 8;
        using var x = Cuda.Allocate<float>(n, d);
        using var x16 = Cuda.Allocate<BFloat16>(n, d);
        using var y = Cuda.Allocate<float>(n, c);
        using var y16 = Cuda.Allocate<BFloat16>(n, c);
        using var yBad = Cuda.Allocate<float>(n, c + 1);
        using var yBad16 = Cuda.Allocate<BFloat16>(n, c + 1);
        using var gxBad = Cuda.Allocate<float>(n, d - 2);
        using var gxBad16 = Cuda.Allocate<BFloat16>(n, d - 2);
        using var w = Cuda.Allocate<float>(c, d);
        using var wBad = Cuda.Allocate<float>(c, d + 2);
        using var bias = Cuda.Allocate<float>(1, c);
        using var s = Cuda.Allocate<float>(1, 1);
        using var s2 = Cuda.Allocate<float>(1, 1);
        using var s3 = Cuda.Allocate<float>(1, 1);
        using var s4 = Cuda.Allocate<float>(1, 1);
        using var xp = Cuda.Allocate<byte>(n, d / 2);
        using var wp = Cuda.Allocate<byte>(c, d / 2);
        using var gw = Cuda.Allocate<float>(c, d);

        void Forward(DeviceTensor<float> xs, DeviceTensor<float> ws, DeviceTensor<float> ys, int group) =>
            Ops.HqForward(xs, ws, bias, s, s2, group, QuantMode.Code, ys, xp, wp);
        void Forward16(DeviceTensor<BFloat16> xs, DeviceTensor<float> ws, DeviceTensor<BFloat16> ys, int group) =>
            Ops.HqForward(xs, ws, bias, s, s2, group, QuantMode.Code, ys, xp, wp);
        void Backward(DeviceTensor<float> gys, DeviceTensor<float> xs, DeviceTensor<float> ws, DeviceTensor<float> gxs, int group) =>
            Ops.LinearBackward(gys, xs, ws, xp, wp, s, s2, group, QuantMode.Code, SamplingMode.Nonzero, 1, gxs, gw, s3, s4, null);
        void Backward16(DeviceTensor<BFloat16> gys, DeviceTensor<BFloat16> xs, DeviceTensor<float> ws, DeviceTensor<BFloat16> gxs, int group) =>
            Ops.LinearBackward(gys, xs, ws, xp, wp, s, s2, group, QuantMode.Code, SamplingMode.Nonzero, 1, gxs, gw, s3, s4, null);

        AssertSame<ArgumentException>(() => Forward16(x16, w, yBad16, g), () => Forward(x, w, yBad, g), "forward: Y of the wrong shape");
        AssertSame<ArgumentException>(() => Forward16(x16, wBad, y16, g), () => Forward(x, wBad, y, g), "forward: W with another D");
        AssertSame<ArgumentException>(() => Forward16(x16, w, y16, 64), () => Forward(x, w, y, 64), "forward: G does not divide D");
        AssertSame<ArgumentException>(() => Backward16(yBad16, x16, w, x16, g), () => Backward(yBad, x, w, x, g), "backward: ∇Y of the wrong shape");
        AssertSame<ArgumentException>(() => Backward16(y16, x16, w, gxBad16, g), () => Backward(y, x, w, gxBad, g), "backward: ∇X of the wrong shape");
        AssertSame<ArgumentNullException>(() => Forward16(null!, w, y16, g), () => Forward(null!, w, y, g), "forward: no X");
        AssertSame<ArgumentNullException>(() => Backward16(y16, x16, w, null!, g), () => Backward(y, x, w, null!, g), "backward: no ∇X");

        var gone = Cuda.Allocate<BFloat16>(n, d);
        gone.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Forward16(gone, w, y16, g), "forward: a disposed X");
        Assert.Throws<ObjectDisposedException>(() => Backward16(y16, x16, w, gone, g), "backward: a disposed ∇X");

        var other = CudaContext.Create();
        try
        {
            var otherOps = new NativeOperators(other);
            var ex = Assert.Throws<ArgumentException>(() => otherOps.HqForward(x16, w, bias, s, s2, g, QuantMode.Code, y16, xp, wp))!;
            Assert.That(ex.Message, Does.Contain("belongs to another CudaContext"), "forward: tensors of another context");
            ex = Assert.Throws<ArgumentException>(() => otherOps.LinearBackward(y16, x16, w, xp, wp, s, s2, g, QuantMode.Code,
                SamplingMode.Nonzero, 1, x16, gw, s3, s4, null))!;
            Assert.That(ex.Message, Does.Contain("belongs to another CudaContext"), "backward: tensors of another context");
        }
        finally
        {
            other.Dispose();
            Cuda.Accelerator.Bind(); // the fixture's context current again for the tensors disposed below
        }
    }

    private static void AssertSame<TException>(Action bf16, Action fp32, string what) where TException : Exception
    {
        var expected = Assert.Throws<TException>(fp32, $"{what}: the FP32 overload refuses it")!;
        var actual = Assert.Throws<TException>(bf16, $"{what}: the BF16 overload refuses it")!;
        Assert.That(actual.Message, Is.EqualTo(expected.Message), what);
    }
}
