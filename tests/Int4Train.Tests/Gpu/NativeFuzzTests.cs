using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// A GPU fuzz of the layer (issue 13): random shapes (1-row inputs, odd widths, widths that are no multiple of 4, 32
/// or 64), Hadamard block sizes, both quantizer modes and both samplings, with outlier channels and zero gradient
/// rows. For each case the native forward and backward run against the ILGPU reference: the saved packed codes are
/// bit-identical, Y and the gradients within the layer tolerances, and nothing crashes. Every even seed also runs the
/// BF16-activation calls (int4train_*_typed) on its BF16-valued X and ∇Y and holds them to their promise, bit for bit:
/// the FP32 calls' codes, ∇W, ∇b and step gradients, and Y, ∇X rounded to nearest even. Every case prints its seed
/// on failure, so <c>INT4TRAIN_FUZZ_SEED=s INT4TRAIN_FUZZ_CASES=1</c> reproduces it; the default is 1,000 cases.
/// </summary>
public sealed class NativeFuzzTests : GpuFixture
{
    private static ReferenceDevice Ref => ReferenceDeviceFixture.Cpu;

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int v) ? v : fallback;

    [Test]
    public void RandomShapesAndOptions_NativeMatchesTheReference()
    {
        int cases = EnvInt("INT4TRAIN_FUZZ_CASES", 1000), first = EnvInt("INT4TRAIN_FUZZ_SEED", 1);
        for (int seed = first; seed < first + cases; seed++)
        {
            var rng = new Random(seed);
            int n = rng.Next(4) == 0 ? 1 : rng.Next(1, 200);
            int c = rng.Next(1, 160);
            int d = 2 * rng.Next(1, 129);
            int maxLog = 0;
            while (maxLog < 6 && d % (2 << maxLog) == 0) maxLog++;
            int g = 1 << rng.Next(0, maxLog + 1);
            var mode = rng.Next(2) == 0 ? QuantMode.Code : QuantMode.Paper;
            var sampling = rng.Next(2) == 0 ? SamplingMode.Nonzero : SamplingMode.Bernoulli;
            ulong key = (ulong)rng.NextInt64();
            bool bf16 = seed % 2 == 0;
            string what = $"fuzz seed {seed}: n={n} c={c} d={d} G={g} {mode} {sampling}{(bf16 ? " +bf16" : "")}";
            try
            {
                RunCase(rng, n, c, d, g, mode, sampling, key, bf16, what);
            }
            catch (Exception e) when (e is not AssertionException)
            {
                Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private void RunCase(Random rng, int n, int c, int d, int g, QuantMode mode, SamplingMode sampling, ulong key, bool bf16, string what)
    {
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        var gy = TestData.Matrix(rng, n, c);
        for (int i = 1; i < n; i += 3) Array.Clear(gy, i * c, c); // zero rows: the Nonzero selection drops them
        if (bf16) (x, gy) = (BFloat16.Round(x), BFloat16.Round(gy)); // BF16 values: the FP32 calls read the widened inputs
        var layer = new Int4LinearReference(Ref);
        var hadamard = new HadamardTransform(Ref);
        var lsq = new LsqQuantizer(Ref);
        float sx = lsq.InitStep(hadamard.Apply(x, n, d, g)) * 0.8f, sw = lsq.InitStep(hadamard.Apply(w, c, d, g)) * 0.8f;
        var fwd = layer.Forward(x, w, n, c, d, g, sx, sw, mode);
        var expected = layer.Backward(gy, x, w, fwd, sampling, key);

        using var dx = Cuda.Upload<float>(x, n, d);
        using var dw = Cuda.Upload<float>(w, c, d);
        using var dsx = Cuda.Upload<float>(new[] { sx }, 1, 1);
        using var dsw = Cuda.Upload<float>(new[] { sw }, 1, 1);
        using var dy = Cuda.Allocate<float>(n, c);
        using var dxp = Cuda.Allocate<byte>(n, d / 2);
        using var dwp = Cuda.Allocate<byte>(c, d / 2);
        Ops.HqForward(dx, dw, null, dsx, dsw, g, mode, dy, dxp, dwp);
        Assert.That(dxp.Download(), Is.EqualTo(fwd.PackedX), $"{what}: packed X codes");
        Assert.That(dwp.Download(), Is.EqualTo(fwd.PackedW), $"{what}: packed W codes");
        NativeBackwardTests.AssertClose(dy.Download(), fwd.Y, $"{what}: Y");

        using var dgy = Cuda.Upload<float>(gy, n, c);
        using var dgx = Cuda.Allocate<float>(n, d);
        using var dgw = Cuda.Allocate<float>(c, d);
        using var dgsx = Cuda.Allocate<float>(1, 1);
        using var dgsw = Cuda.Allocate<float>(1, 1);
        using var dgb = Cuda.Allocate<float>(1, c);
        Ops.LinearBackward(dgy, dx, dw, dxp, dwp, dsx, dsw, g, mode, sampling, key, dgx, dgw, dgsx, dgsw, dgb);
        NativeBackwardTests.AssertClose(dgx.Download(), expected.GradX, $"{what}: ∇X");
        NativeBackwardTests.AssertClose(dgw.Download(), expected.GradW, $"{what}: ∇W");
        NativeBackwardTests.AssertClose(dgb.Download(), expected.GradBias, $"{what}: ∇b");
        if (!bf16) return;

        using var dx16 = Cuda.Upload<BFloat16>(BFloat16.Narrow(x), n, d);
        using var dy16 = Cuda.Allocate<BFloat16>(n, c);
        using var dxp16 = Cuda.Allocate<byte>(n, d / 2);
        using var dwp16 = Cuda.Allocate<byte>(c, d / 2);
        Ops.HqForward(dx16, dw, null, dsx, dsw, g, mode, dy16, dxp16, dwp16);
        Assert.That(dxp16.Download(), Is.EqualTo(dxp.Download()), $"{what}: BF16 packed X codes = the FP32 call's");
        Assert.That(dwp16.Download(), Is.EqualTo(dwp.Download()), $"{what}: BF16 packed W codes = the FP32 call's");
        Assert.That(Bits(dy16.Download()), Is.EqualTo(Bits(BFloat16.Narrow(dy.Download()))), $"{what}: BF16 Y = RN(the FP32 call's Y)");

        using var dgy16 = Cuda.Upload<BFloat16>(BFloat16.Narrow(gy), n, c);
        using var dgx16 = Cuda.Allocate<BFloat16>(n, d);
        using var dgw16 = Cuda.Allocate<float>(c, d);
        using var dgsx16 = Cuda.Allocate<float>(1, 1);
        using var dgsw16 = Cuda.Allocate<float>(1, 1);
        using var dgb16 = Cuda.Allocate<float>(1, c);
        Ops.LinearBackward(dgy16, dx16, dw, dxp16, dwp16, dsx, dsw, g, mode, sampling, key, dgx16, dgw16, dgsx16, dgsw16, dgb16);
        Assert.That(Bits(dgx16.Download()), Is.EqualTo(Bits(BFloat16.Narrow(dgx.Download()))), $"{what}: BF16 ∇X = RN(the FP32 call's ∇X)");
        Assert.That(dgw16.Download(), Is.EqualTo(dgw.Download()), $"{what}: BF16 call's ∇W = the FP32 call's");
        Assert.That(dgb16.Download(), Is.EqualTo(dgb.Download()), $"{what}: BF16 call's ∇b = the FP32 call's");
        Assert.That((dgsx16.Download()[0], dgsw16.Download()[0]), Is.EqualTo((dgsx.Download()[0], dgsw.Download()[0])),
            $"{what}: BF16 call's step gradients = the FP32 call's");
    }

    private static ushort[] Bits(BFloat16[] v) => Array.ConvertAll(v, b => b.RawBits);
}
