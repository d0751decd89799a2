using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>Native CUDA forward-side operators against the ILGPU reference on the same inputs (docs/conventions.md):
/// integer outputs bit-identical, floats within stated tolerances. Shapes include awkward ones.</summary>
public sealed class NativeForwardTests : GpuFixture
{
    private static ReferenceDevice Ref => ReferenceDeviceFixture.Cpu;

    private static readonly (int Rows, int Cols, int G)[] HadamardShapes =
        { (37, 96, 32), (5, 1024, 1024), (64, 48, 16), (3, 10, 2), (129, 256, 1), (17, 2048, 128) };

    [Test]
    public void Hadamard_IsBitIdenticalToReference_ForEveryBlockSize([Values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)] int k)
    {
        int g = 1 << k, rows = 19, cols = Math.Max(g, 64) * 2;
        var x = TestData.WithOutliers(new Random(100 + k), rows, cols);
        float[] expected = new HadamardTransform(Ref).Apply(x, rows, cols, g);
        using var dx = Cuda.Upload<float>(x, rows, cols);
        using var dy = Cuda.Allocate<float>(rows, cols);
        Ops.Hadamard(dx, dy, g);
        Assert.That(dy.Download(), Is.EqualTo(expected), $"G = {g}");
    }

    [Test]
    public void Hadamard_AwkwardShapes_AndInPlace()
    {
        foreach (var (rows, cols, g) in HadamardShapes)
        {
            var x = TestData.WithOutliers(new Random(rows * cols), rows, cols);
            float[] expected = new HadamardTransform(Ref).Apply(x, rows, cols, g);
            using var dx = Cuda.Upload<float>(x, rows, cols);
            Ops.Hadamard(dx, dx, g);
            Assert.That(dx.Download(), Is.EqualTo(expected), $"{rows}×{cols}, G = {g}");
        }
    }

    [Test]
    public void LsqInitStep_OfTinyAndHugeTensors_MatchesReference([Values(1e-30, 1e-12, 1e-6, 1e30)] double scale)
    {
        // Issue 13 (sibling of item 11): below mean|V| = 2^−20 the step has no absolute 1e−10, on both paths.
        var v = Array.ConvertAll(TestData.WithOutliers(new Random(8), 64, 96), x => (float)(x * scale));
        using var dv = Cuda.Upload<float>(v, 64, 96);
        using var ds = Cuda.Allocate<float>(1, 1);
        Ops.LsqInitStep(dv, ds);
        Assert.That(ds.Download()[0], Is.EqualTo(new LsqQuantizer(Ref).InitStep(v)));
    }

    [Test]
    public void LsqInitQuantizeDequantize_MatchReference([Values] QuantMode mode)
    {
        int rows = 333, cols = 160;
        var v = TestData.WithOutliers(new Random(7 + (int)mode), rows, cols);
        var lsq = new LsqQuantizer(Ref);
        float step = lsq.InitStep(v);
        sbyte[] codes = lsq.Quantize(v, step * 0.6f, mode); // a smaller step so some values clip
        float[] deq = lsq.Dequantize(codes, step * 0.6f);

        using var dv = Cuda.Upload<float>(v, rows, cols);
        using var ds = Cuda.Allocate<float>(1, 1);
        Ops.LsqInitStep(dv, ds);
        Assert.That(ds.Download()[0], Is.EqualTo(step), "init step (CanonicalSum order)");
        ds.CopyFrom(new[] { step * 0.6f });
        using var dc = Cuda.Allocate<sbyte>(rows, cols);
        Ops.LsqQuantize(dv, ds, mode, dc);
        Assert.That(dc.Download(), Is.EqualTo(codes), "codes");
        using var dd = Cuda.Allocate<float>(rows, cols);
        Ops.LsqDequantize(dc, ds, dd);
        Assert.That(dd.Download(), Is.EqualTo(deq), "dequantized");
    }

    [Test]
    public void LsqBackward_MaskIsExact_StepGradientWithinTolerance([Values] QuantMode mode)
    {
        int rows = 250, cols = 96;
        var rng = new Random(31);
        var v = TestData.WithOutliers(rng, rows, cols);
        var grad = TestData.Matrix(rng, rows, cols);
        var lsq = new LsqQuantizer(Ref);
        float step = lsq.InitStep(v) * 0.5f;
        var expected = lsq.Backward(v, grad, step, mode);

        using var dv = Cuda.Upload<float>(v, rows, cols);
        using var dg = Cuda.Upload<float>(grad, rows, cols);
        using var ds = Cuda.Upload<float>(new[] { step }, 1, 1);
        using var dgv = Cuda.Allocate<float>(rows, cols);
        using var dgs = Cuda.Allocate<float>(1, 1);
        Ops.LsqBackward(dv, dg, ds, mode, dgv, dgs);
        Assert.That(dgv.Download(), Is.EqualTo(expected.ValueGradient));
        Assert.That(dgs.Download()[0], Is.EqualTo(expected.StepGradient).Within(1e-6 * Math.Max(1, Math.Abs(expected.StepGradient))));
    }

    [Test]
    public void PackAndUnpack_AreBitIdentical()
    {
        int rows = 77, cols = 130;
        var codes = TestData.Codes(new Random(3), rows * cols);
        byte[] expected = new Int4Packing(Ref).Pack(codes, rows, cols);
        using var dc = Cuda.Upload<sbyte>(codes, rows, cols);
        using var dp = Cuda.Allocate<byte>(rows, cols / 2);
        Ops.PackInt4(dc, dp);
        Assert.That(dp.Download(), Is.EqualTo(expected));
        using var du = Cuda.Allocate<sbyte>(rows, cols);
        Ops.UnpackInt4(dp, du);
        Assert.That(du.Download(), Is.EqualTo(codes));
    }

    private static readonly (int M, int N, int K)[] GemmShapes =
        { (1, 1, 2), (37, 50, 70), (128, 256, 128), (300, 4, 1030), (256, 260, 512), (1000, 1000, 96), (64, 1536, 4096) };

    [Test]
    public void GemmInt4_IsExactInInt32_OnAwkwardShapes()
    {
        var gemm = new IntegerGemm(Ref);
        var pack = new Int4Packing(Ref);
        foreach (var (m, n, k) in GemmShapes)
        {
            var rng = new Random(m * 7 + n * 13 + k);
            var a = TestData.Codes(rng, m * k);
            var b = TestData.Codes(rng, n * k);
            int[] expected = gemm.Multiply(a, b, m, n, k);
            using var da = Cuda.Upload<byte>(pack.Pack(a, m, k), m, k / 2);
            using var db = Cuda.Upload<byte>(pack.Pack(b, n, k), n, k / 2);
            using var dc = Cuda.Allocate<int>(m, n);
            Ops.GemmInt4(da, db, dc, m, n, k);
            Assert.That(dc.Download(), Is.EqualTo(expected), $"M={m} N={n} K={k}");
        }
    }

    [Test]
    public void GemmInt8_IsExactInInt32_WithBitSplitDigitRange()
    {
        var gemm = new IntegerGemm(Ref);
        foreach (var (m, n, k) in GemmShapes)
        {
            var rng = new Random(m + n + k);
            var a = TestData.Codes(rng, m * k, -98, 98); // the 14h+l view of bit-split digits
            var b = TestData.Codes(rng, n * k);
            int[] expected = gemm.Multiply(a, b, m, n, k);
            using var da = Cuda.Upload<sbyte>(a, m, k);
            using var db = Cuda.Upload<sbyte>(b, n, k);
            using var dc = Cuda.Allocate<int>(m, n);
            Ops.GemmInt8(da, db, dc);
            Assert.That(dc.Download(), Is.EqualTo(expected), $"M={m} N={n} K={k}");
        }
    }

    [Test]
    public void HqForward_CodesBitIdentical_YWithinOneRounding([Values] QuantMode mode, [Values(1, 32, 256)] int g)
    {
        int n = 150, c = 72, d = 512;
        var rng = new Random(g * 3 + (int)mode);
        var x = TestData.WithOutliers(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        var bias = TestData.Matrix(rng, 1, c);
        var hadamard = new HadamardTransform(Ref);
        var lsq = new LsqQuantizer(Ref);
        float sx = lsq.InitStep(hadamard.Apply(x, n, d, g)), sw = lsq.InitStep(hadamard.Apply(w, c, d, g));
        var expected = new HqMatMul(Ref).Forward(x, w, n, c, d, g, sx, sw, mode, bias);

        using var dx = Cuda.Upload<float>(x, n, d);
        using var dy = Cuda.Allocate<float>(n, c);
        using var operands = new HqForwardOperands(Cuda, w, bias, sx, sw, n, c, d);
        operands.Run(Ops, dx, g, mode, dy);
        Assert.That(operands.PackedX.Download(), Is.EqualTo(expected.PackedX), "packed X codes");
        Assert.That(operands.PackedW.Download(), Is.EqualTo(expected.PackedW), "packed W codes");
        float[] y = dy.Download();
        for (int i = 0; i < y.Length; i++)
            Assert.That(y[i], Is.EqualTo(expected.Y[i]).Within(YTolerance(expected.Y[i], bias[i % c])), $"Y[{i}]");
    }

    /// <summary>How far the native FP32 Y may be from the reference's: Y = (s_X·s_W)·acc + b is one FP32 product and
    /// one add (an FMA on the GPU may round once less).</summary>
    internal static float YTolerance(float referenceY, float bias) => 2e-6f * (Math.Abs(referenceY) + Math.Abs(bias) + 1e-3f);

    [Test]
    public void BlockSizeSearch_ChoosesTheReferenceGroup([Values(false, true)] bool outliers)
    {
        int n = 96, c = 64, d = 256;
        var rng = new Random(outliers ? 5 : 6);
        var x = outliers ? TestData.WithOutliers(rng, n, d) : TestData.Matrix(rng, n, d);
        var w = TestData.Matrix(rng, c, d);
        var expected = new BlockSizeSearch(Ref).Search(x, w, n, c, d);
        using var dx = Cuda.Upload<float>(x, n, d);
        using var dw = Cuda.Upload<float>(w, c, d);
        var (group, scores) = Ops.BlockSizeSearch(dx, dw, QuantMode.Code);
        Assert.That(group, Is.EqualTo(expected.GroupSize));
        foreach (var s in expected.Scores)
            Assert.That(scores[System.Numerics.BitOperations.Log2((uint)s.GroupSize)], Is.EqualTo(s.Score).Within(1e-9 * s.Score), $"G = {s.GroupSize}");
    }
}
