using Int4Train.Reference;
using Int4Train.Tests.Reference.Backward;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>
/// End-to-end properties of the whole layer (<see cref="Int4LinearReference"/> forward + backward) against an FP64
/// <c>nn.Linear</c> (method.md §9 items 26 and 27), through the b-bit overloads (<see cref="QuantBits"/>), and the
/// guarantee that b = 4 through those overloads is the INT4 layer bit for bit (the native contract).
/// Data: X Gaussian with two ×50 outlier channels, W Gaussian, ∇Y with skewed row norms and exactly-zero rows.
/// </summary>
[TestFixture]
public sealed class LayerEndToEndTests
{
    private const int N = 128, D = 128, C = 64, G = 32;

    private static ReferenceDevice Device => ReferenceDeviceFixture.Cpu;

    private sealed record Case(float[] X, float[] W, float[] Bias, float[] GradY, double[] Y, double[] GradX, double[] GradW, double[] GradBias);

    /// <summary>Fresh seeded data and the FP64 nn.Linear: Y = XWᵀ + b, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X, ∇b = Σ_n ∇Y.</summary>
    private static Case MakeCase(int seed)
    {
        var rng = new Random(seed);
        float[] x = TestData.WithOutliers(rng, N, D);
        float[] w = TestData.Matrix(rng, C, D);
        for (int i = 0; i < w.Length; i++) w[i] *= 0.1f;
        float[] bias = TestData.Matrix(rng, 1, C);
        float[] gy = BackwardData.SkewedGradient(rng, N, C, zeroRows: 4, largeRows: 8);

        var y = new double[N * C];
        var gx = new double[N * D];
        var gw = new double[C * D];
        var gb = new double[C];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < C; j++)
            {
                double s = bias[j];
                for (int k = 0; k < D; k++) s += (double)x[i * D + k] * w[j * D + k];
                y[i * C + j] = s;
            }
        for (int i = 0; i < N; i++)
            for (int k = 0; k < D; k++)
            {
                double s = 0;
                for (int j = 0; j < C; j++) s += (double)gy[i * C + j] * w[j * D + k];
                gx[i * D + k] = s;
            }
        for (int j = 0; j < C; j++)
            for (int k = 0; k < D; k++)
            {
                double s = 0;
                for (int i = 0; i < N; i++) s += (double)gy[i * C + j] * x[i * D + k];
                gw[j * D + k] = s;
            }
        for (int j = 0; j < C; j++)
        {
            double s = 0;
            for (int i = 0; i < N; i++) s += gy[i * C + j];
            gb[j] = s;
        }
        return new Case(x, w, bias, gy, y, gx, gw, gb);
    }

    /// <summary>‖est − exact‖_F / ‖exact‖_F.</summary>
    private static double RelErr(ReadOnlySpan<float> est, ReadOnlySpan<double> exact)
    {
        double num = 0, den = 0;
        for (int i = 0; i < est.Length; i++)
        {
            double e = est[i] - exact[i];
            num += e * e;
            den += exact[i] * exact[i];
        }
        return Math.Sqrt(num / den);
    }

    private static (double Y, double GX, double GW) Errors(Case k, HqForwardResult fwd, Int4LinearGradients grads) =>
        (RelErr(fwd.Y, k.Y), RelErr(grads.GradX, k.GradX), RelErr(grads.GradW, k.GradW));

    /// <summary>§9 item 27: with LSQ-init steps on the Hadamard-domain tensors, Nonzero sampling and G = 32 | D, the
    /// relative error against FP64 of Y, ∇X and ∇W falls monotonically for b = 4 → 6 → 8 on fixed data.</summary>
    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void ErrorAgainstFp64_FallsMonotonically_WithBitWidth(QuantMode mode)
    {
        var k = MakeCase(2706);
        var layer = new Int4LinearReference(Device);
        var hadamard = new HadamardTransform(Device);
        var lsq = new LsqQuantizer(Device);
        float[] xh = hadamard.Apply(k.X, N, D, G), wh = hadamard.Apply(k.W, C, D, G);

        int[] widths = [4, 6, 8];
        var errs = new (double Y, double GX, double GW)[widths.Length];
        TestContext.Out.WriteLine($"{mode}: relative Frobenius error vs FP64 nn.Linear (N={N}, D={D}, C={C}, G={G}, Nonzero)");
        TestContext.Out.WriteLine("  b   s_X        s_W        Y          ∇X         ∇W");
        for (int t = 0; t < widths.Length; t++)
        {
            int b = widths[t];
            float sX = lsq.InitStep(xh, b), sW = lsq.InitStep(wh, b);
            var fwd = layer.Forward(k.X, k.W, N, C, D, G, sX, sW, mode, b, k.Bias);
            var grads = layer.Backward(k.GradY, k.X, k.W, fwd, SamplingMode.Nonzero, seed: 11);
            errs[t] = Errors(k, fwd, grads);
            TestContext.Out.WriteLine($"  {b}   {sX,-10:G4} {sW,-10:G4} {errs[t].Y,-10:E3} {errs[t].GX,-10:E3} {errs[t].GW,-10:E3}");
        }
        for (int t = 1; t < widths.Length; t++)
        {
            // LSQ init s ∝ 1/√Qp roughly halves the step per two bits; ask for a clear fall, not just any.
            Assert.That(errs[t].Y, Is.LessThan(errs[t - 1].Y / 1.5), $"Y: b = {widths[t]} vs {widths[t - 1]}");
            Assert.That(errs[t].GX, Is.LessThan(errs[t - 1].GX / 1.5), $"∇X: b = {widths[t]} vs {widths[t - 1]}");
            Assert.That(errs[t].GW, Is.LessThan(errs[t - 1].GW / 1.5), $"∇W: b = {widths[t]} vs {widths[t - 1]}");
        }
    }

    /// <summary>The smallest float step s with max|v|/s ≤ Qp in FP32 (the kernel's division), so no code clips.</summary>
    private static float NoClipStep(ReadOnlySpan<float> v, int qp)
    {
        float max = 0;
        foreach (float e in v) max = MathF.Max(max, MathF.Abs(e));
        float s = (float)(max / (double)qp);
        while (max / s > qp) s = MathF.BitIncrement(s);
        return s;
    }

    /// <summary>The block Hadamard transform in double (H symmetric: also its inverse).</summary>
    private static double[] HadamardDouble(double[] m, int rows, int cols, int g)
    {
        var r = (double[])m.Clone();
        double scale = 1.0 / Math.Sqrt(g);
        for (int i = 0; i < rows; i++)
            for (int b0 = 0; b0 < cols; b0 += g)
            {
                int o = i * cols + b0;
                for (int h = 1; h < g; h *= 2)
                    for (int t = 0; t < g; t++)
                        if ((t & h) == 0)
                        {
                            double a = r[o + t], c = r[o + t + h];
                            r[o + t] = a + c;
                            r[o + t + h] = a - c;
                        }
                for (int t = 0; t < g; t++) r[o + t] *= scale;
            }
        return r;
    }

    private static double RelErr(ReadOnlySpan<float> est, double[] exact) => RelErr(est, exact.AsSpan());

    private static double FrobSq(ReadOnlySpan<float> m)
    {
        double s = 0;
        foreach (float v in m) s += (double)v * v;
        return s;
    }

    /// <summary>
    /// §9 item 26, "quantizers disabled", at the widest width the sbyte codes allow: b = 8 with steps
    /// s = max|V_H|/Qp(8) so that nothing clips (every LSQ mask is 1, asserted). 8 bits are not FP16: with two ×50
    /// outlier channels what is left is the 8-bit rounding noise of XH and WH (measured: Y 1.4e−2, ∇X 9e−3, ∇W 8e−3
    /// relative Frobenius error; FP16 would be ≈ 5e−4). So the test checks three things instead of one FP16 tolerance:
    /// (1) against the FP64 nn.Linear Y = XWᵀ + b, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X: relative error &lt; 2e−2, and within ±15 % of
    /// the error that independent uniform rounding of the operands predicts (‖ΔY‖² = N·s_X²/12·‖W‖² + C·s_W²/12·‖X‖²,
    /// ‖Δ∇X‖² = D·s_W²/12·‖∇Y‖², ‖Δ∇W‖² = D·s_X²/12·‖∇Y‖²): no mask, scale or sign error hides in it;
    /// (2) against FP64 nn.Linear on the dequantized operands X̄ = s_X·x̂·H, W̄ = s_W·ŵ·H, ∇̄Y = s↑h + s↓l: relative
    /// error &lt; 1e−6 (FP32 level; measured ≈ 4e−8..8e−8) for Y, ∇X, ∇W — with the rounding taken out the layer is nn.Linear;
    /// (3) ∇b = the FP64 column sums of ∇Y within half a float ulp.
    /// </summary>
    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void EightBitsWithoutClipping_MatchesFp64Linear(QuantMode mode)
    {
        const int b = 8;
        var k = MakeCase(2606);
        var layer = new Int4LinearReference(Device);
        var hadamard = new HadamardTransform(Device);
        float[] xh = hadamard.Apply(k.X, N, D, G), wh = hadamard.Apply(k.W, C, D, G);
        int qn = mode.Qn(b), qp = mode.Qp(b);
        float sX = NoClipStep(xh, qp), sW = NoClipStep(wh, qp);
        foreach (float v in xh) Assert.That(v / sX, Is.InRange((float)qn, (float)qp), "no X code clips");
        foreach (float v in wh) Assert.That(v / sW, Is.InRange((float)qn, (float)qp), "no W code clips");

        var fwd = layer.Forward(k.X, k.W, N, C, D, G, sX, sW, mode, b, k.Bias);
        var grads = layer.Backward(k.GradY, k.X, k.W, fwd, SamplingMode.Nonzero, seed: 5);
        var (ey, egx, egw) = Errors(k, fwd, grads);

        // (1) The rounding-noise prediction.
        double gy2 = FrobSq(k.GradY);
        double py = Math.Sqrt((N * (double)sX * sX / 12 * FrobSq(k.W) + C * (double)sW * sW / 12 * FrobSq(k.X))
            / k.Y.Sum(v => v * v));
        double pgx = Math.Sqrt(D * (double)sW * sW / 12 * gy2 / k.GradX.Sum(v => v * v));
        double pgw = Math.Sqrt(D * (double)sX * sX / 12 * gy2 / k.GradW.Sum(v => v * v));

        // (2) nn.Linear in FP64 on the dequantized operands.
        sbyte[] qx = fwd.CodesX!, qw = fwd.CodesW!;
        var split = grads.Split;
        var xbar = HadamardDouble(qx.Select(q => (double)sX * q).ToArray(), N, D, G);
        var wbar = HadamardDouble(qw.Select(q => (double)sW * q).ToArray(), C, D, G);
        var gbar = new double[N * C];
        for (int i = 0; i < gbar.Length; i++) gbar[i] = (double)split.ScaleUp * split.High[i] + (double)split.ScaleDown * split.Low[i];
        var y = new double[N * C];
        var gx = new double[N * D];
        var gw = new double[C * D];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < C; j++)
            {
                double s = k.Bias[j];
                for (int t = 0; t < D; t++) s += xbar[i * D + t] * wbar[j * D + t];
                y[i * C + j] = s;
                double gij = gbar[i * C + j];
                if (gij == 0) continue;
                for (int t = 0; t < D; t++)
                {
                    gx[i * D + t] += gij * wbar[j * D + t];
                    gw[j * D + t] += gij * xbar[i * D + t];
                }
            }
        double dy = RelErr(fwd.Y, y), dgx = RelErr(grads.GradX, gx), dgw = RelErr(grads.GradW, gw);

        TestContext.Out.WriteLine($"{mode}, b = 8, no clipping (s_X {sX:G4}, s_W {sW:G4}):");
        TestContext.Out.WriteLine($"  vs FP64 nn.Linear:            Y {ey:E3}  ∇X {egx:E3}  ∇W {egw:E3}");
        TestContext.Out.WriteLine($"  rounding-noise prediction:    Y {py:E3}  ∇X {pgx:E3}  ∇W {pgw:E3}");
        TestContext.Out.WriteLine($"  vs nn.Linear on dequantized:  Y {dy:E3}  ∇X {dgx:E3}  ∇W {dgw:E3}");

        Assert.Multiple(() =>
        {
            Assert.That(ey, Is.LessThan(2e-2), "Y vs FP64");
            Assert.That(egx, Is.LessThan(2e-2), "∇X vs FP64");
            Assert.That(egw, Is.LessThan(2e-2), "∇W vs FP64");
            Assert.That(ey / py, Is.InRange(0.85, 1.15), "Y error / rounding-noise prediction");
            Assert.That(egx / pgx, Is.InRange(0.85, 1.15), "∇X error / rounding-noise prediction");
            Assert.That(egw / pgw, Is.InRange(0.85, 1.15), "∇W error / rounding-noise prediction");
            Assert.That(dy, Is.LessThan(1e-6), "Y vs nn.Linear on the dequantized operands");
            Assert.That(dgx, Is.LessThan(1e-6), "∇X vs nn.Linear on the dequantized operands");
            Assert.That(dgw, Is.LessThan(1e-6), "∇W vs nn.Linear on the dequantized operands");
            Assert.That(split.Bits, Is.EqualTo(b));
            for (int j = 0; j < C; j++)
            {
                // ∇b in double, rounded once: within half a float ulp of the FP64 column sum.
                double exact = k.GradBias[j];
                double halfUlp = (MathF.BitIncrement(MathF.Abs((float)exact)) - MathF.Abs((float)exact)) / 2.0;
                Assert.That(Math.Abs(grads.GradBias[j] - exact), Is.LessThanOrEqualTo(halfUlp * (1 + 1e-9)), $"∇b[{j}]");
            }
        });
    }

    private static void AssertBitEqual(float[] a, float[] b, string what)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length), what);
        for (int i = 0; i < a.Length; i++)
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                Assert.Fail($"{what}: element {i} differs ({a[i]:R} vs {b[i]:R})");
    }

    /// <summary>b = 4 through the b-bit overloads is the INT4 layer bit for bit: Y, the packed codes, the split digits
    /// and scales, the selections, ∇X, ∇W, both step gradients and ∇b (both modes, both sampling modes).</summary>
    [TestCase(QuantMode.Code, SamplingMode.Nonzero)]
    [TestCase(QuantMode.Paper, SamplingMode.Bernoulli)]
    public void FourBitsThroughTheBitWidthPath_IsBitIdenticalToTheInt4Api(QuantMode mode, SamplingMode sampling)
    {
        var k = MakeCase(2707);
        var layer = new Int4LinearReference(Device);
        var hadamard = new HadamardTransform(Device);
        var lsq = new LsqQuantizer(Device);
        float[] xh = hadamard.Apply(k.X, N, D, G), wh = hadamard.Apply(k.W, C, D, G);
        float sX = lsq.InitStep(xh), sW = lsq.InitStep(wh);
        Assert.That(lsq.InitStep(xh, 4), Is.EqualTo(sX), "InitStep(…, 4) = InitStep");
        Assert.That(lsq.InitStep(wh, 4), Is.EqualTo(sW), "InitStep(…, 4) = InitStep");

        var f4 = layer.Forward(k.X, k.W, N, C, D, G, sX, sW, mode, k.Bias);
        var fb = layer.Forward(k.X, k.W, N, C, D, G, sX, sW, mode, 4, k.Bias);
        var g4 = layer.Backward(k.GradY, k.X, k.W, f4, sampling, seed: 77);
        var gb = layer.Backward(k.GradY, k.X, k.W, fb, sampling, seed: 77);

        AssertBitEqual(f4.Y, fb.Y, "Y");
        Assert.That(fb.PackedX, Is.EqualTo(f4.PackedX), "packed X codes");
        Assert.That(fb.PackedW, Is.EqualTo(f4.PackedW), "packed W codes");
        Assert.That(fb.Bits, Is.EqualTo(4));
        Assert.That(fb.CodesX, Is.Null, "the INT4 result keeps packed codes only");
        Assert.That(gb.Split.High, Is.EqualTo(g4.Split.High), "high digits");
        Assert.That(gb.Split.Low, Is.EqualTo(g4.Split.Low), "low digits");
        Assert.That(gb.Split.ScaleUp, Is.EqualTo(g4.Split.Mx / 7f), "s↑ = Mx/7f");
        Assert.That(gb.Split.ScaleDown, Is.EqualTo(g4.Split.Mx / 98f), "s↓ = Mx/98f");
        Assert.That(gb.WeightSelection.Keep, Is.EqualTo(g4.WeightSelection.Keep), "∇W selection");
        Assert.That(gb.InputSelection.Keep, Is.EqualTo(g4.InputSelection.Keep), "∇X selection");
        AssertBitEqual(g4.GradX, gb.GradX, "∇X");
        AssertBitEqual(g4.GradW, gb.GradW, "∇W");
        AssertBitEqual(g4.GradBias, gb.GradBias, "∇b");
        Assert.That(BitConverter.DoubleToInt64Bits(gb.GradStepX), Is.EqualTo(BitConverter.DoubleToInt64Bits(g4.GradStepX)), "∇s_X");
        Assert.That(BitConverter.DoubleToInt64Bits(gb.GradStepW), Is.EqualTo(BitConverter.DoubleToInt64Bits(g4.GradStepW)), "∇s_W");

        // The operator overloads themselves.
        var split = new BitSplit(Device.Accelerator);
        var s4 = split.Split(k.GradY, N, C, mode, 3);
        var sb = split.Split(k.GradY, N, C, mode, 3, 4);
        Assert.That(sb.High, Is.EqualTo(s4.High));
        Assert.That(sb.Low, Is.EqualTo(s4.Low));
        Assert.That(split.ToInt8(sb), Is.EqualTo(split.ToInt8(s4)));
        Assert.That(lsq.Quantize(xh, sX, mode, 4), Is.EqualTo(lsq.Quantize(xh, sX, mode)));
        AssertBitEqual(lsq.FakeQuantize(xh, sX, mode), lsq.FakeQuantize(xh, sX, mode, 4), "fake quantize");
    }

    /// <summary>The b-bit operators keep their contracts for every width: codes in [Qn(b), Qp(b)], Y equals
    /// <c>s_X·s_W·(x̂·ŵᵀ)</c> from the exact integer product (+ bias), digits in ±L(b) with
    /// <c>|∇Y − (s↑h + s↓l)| ≤ s↓</c> in paper mode, and the INT8 view is refused for b &gt; 4.</summary>
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(8)]
    public void WideCodes_ExactIntegerForward_AndBoundedSplit(int b)
    {
        const int n = 32, c = 16, d = 64, g = 16;
        var rng = new Random(100 + b);
        float[] x = TestData.WithOutliers(rng, n, d), w = TestData.Matrix(rng, c, d);
        float[] gy = BackwardData.SkewedGradient(rng, n, c);
        var hq = new HqMatMul(Device);
        var hadamard = new HadamardTransform(Device);
        var lsq = new LsqQuantizer(Device);
        const QuantMode mode = QuantMode.Paper;
        float sX = lsq.InitStep(hadamard.Apply(x, n, d, g), b), sW = lsq.InitStep(hadamard.Apply(w, c, d, g), b);
        var fwd = hq.Forward(x, w, n, c, d, g, sX, sW, mode, b);
        Assert.That(fwd.Bits, Is.EqualTo(b));
        Assert.That(fwd.PackedX, Is.Empty);
        sbyte[] qx = fwd.CodesX!, qw = fwd.CodesW!;
        Assert.That(qx.Min(), Is.GreaterThanOrEqualTo(mode.Qn(b)));
        Assert.That(qx.Max(), Is.LessThanOrEqualTo(mode.Qp(b)));
        Assert.That(qx.Any(q => q < -7 || q > 7) || b < 5, Is.True, "b ≥ 5 codes leave the INT4 range");
        float scale = sX * sW;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                long p = 0;
                for (int t = 0; t < d; t++) p += qx[i * d + t] * qw[j * d + t];
                Assert.That(fwd.Y[i * c + j], Is.EqualTo(scale * (float)p), $"Y[{i},{j}]");
            }

        var split = new BitSplit(Device.Accelerator).Split(gy, n, c, mode, 9, b);
        int lim = mode.SplitLimit(b), bb = QuantBits.SplitBase(b);
        Assert.That(lim, Is.EqualTo(bb / 2));
        Assert.That(split.ScaleDown, Is.EqualTo(split.Mx / (float)(bb * bb / 2)));
        for (int i = 0; i < gy.Length; i++)
        {
            Assert.That((int)split.High[i], Is.InRange(-lim, lim));
            Assert.That((int)split.Low[i], Is.InRange(-lim, lim));
            double rec = (double)split.ScaleUp * split.High[i] + (double)split.ScaleDown * split.Low[i];
            Assert.That(Math.Abs(gy[i] - rec), Is.LessThanOrEqualTo(split.ScaleDown * (1 + 1e-5)), $"reconstruction {i}");
        }
        if (b > 4) Assert.Throws<ArgumentException>(() => new BitSplit(Device.Accelerator).ToInt8(split));
        Assert.Throws<ArgumentOutOfRangeException>(() => lsq.InitStep(x, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => hq.Forward(x, w, n, c, d, g, sX, sW, mode, 1));
    }

    /// <summary>
    /// An independent finite-difference check of the layer's step gradient ∇s_X (4-bit layer, both modes; §9 item 24
    /// at the layer level). With ∇̄Y = s↑h + s↓l (the split the backward used), L(s) = Σ ∇̄Y ⊙ Y(s_X = s) is linear in s
    /// while no X code changes, with slope Σ q·R, R = s_W·∇̄Y·Ŵ = ∇(XH) before the mask. LSQ's straight-through
    /// gradient is Σ e·R with e = q − v inside the range and e = q outside, so
    /// <c>∇s_X / g = dL/ds − Σ_{Qn ≤ v ≤ Qp} v·R</c>, g = 1/√(N·D·7). dL/ds comes from two forward calls at s ± h, h
    /// small enough that no code changes; the outlier channels make some codes clip.
    /// </summary>
    [TestCase(QuantMode.Code)]
    [TestCase(QuantMode.Paper)]
    public void StepGradientOfX_MatchesFiniteDifferenceOfTheForward(QuantMode mode)
    {
        const int n = 8, d = 32, c = 16, g = 16;
        var rng = new Random(2424);
        float[] x = TestData.WithOutliers(rng, n, d), w = TestData.Matrix(rng, c, d);
        float[] gy = BackwardData.SkewedGradient(rng, n, c, zeroRows: 1, largeRows: 3);
        var layer = new Int4LinearReference(Device);
        var hadamard = new HadamardTransform(Device);
        var lsq = new LsqQuantizer(Device);
        float[] xh = hadamard.Apply(x, n, d, g), wh = hadamard.Apply(w, c, d, g);
        float s = lsq.InitStep(xh) * 0.35f, sW = lsq.InitStep(wh);   // a small step, so that some codes clip
        int qn = mode.Qn(), qp = mode.Qp();

        var fwd = layer.Forward(x, w, n, c, d, g, s, sW, mode);
        var grads = layer.Backward(gy, x, w, fwd, SamplingMode.Nonzero, seed: 1);
        var split = grads.Split;
        sbyte[] wq = new Int4Packing(Device).Unpack(fwd.PackedW, c, d);

        // R = s_W·∇̄Y·Ŵ in double; the straight-through term Σ_in v·R with the kernel's FP32 ratio v = xh/s.
        double ste = 0;
        int clipped = 0;
        double hMax = double.MaxValue;
        for (int i = 0; i < n; i++)
            for (int t = 0; t < d; t++)
            {
                double r = 0;
                for (int j = 0; j < c; j++)
                    r += ((double)split.ScaleUp * split.High[i * c + j] + (double)split.ScaleDown * split.Low[i * c + j]) * wq[j * d + t];
                r *= sW;
                float v = xh[i * d + t] / s;
                if (v >= qn && v <= qp) ste += v * r;
                else clipped++;
                // Codes change where v crosses a half-integer inside [Qn − 0.5, Qp + 0.5]; |dv/ds| = |v|/s.
                double rounded = Math.Clamp(Math.Round((double)v, MidpointRounding.AwayFromZero), qn, qp);
                double dist = Math.Abs(Math.Abs(v - rounded) - 0.5);
                if (Math.Abs(v) > 0) hMax = Math.Min(hMax, dist * s / Math.Abs(v));
            }
        Assert.That(clipped, Is.GreaterThan(0), "the outlier channels exercise the clipped branch");

        double Loss(float step)
        {
            var y = layer.Forward(x, w, n, c, d, g, step, sW, mode).Y;
            double l = 0;
            for (int e = 0; e < y.Length; e++)
                l += ((double)split.ScaleUp * split.High[e] + (double)split.ScaleDown * split.Low[e]) * y[e];
            return l;
        }
        float sPlus = (float)(s + 0.4 * hMax), sMinus = (float)(s - 0.4 * hMax);
        Assert.That(lsq.Quantize(xh, sPlus, mode), Is.EqualTo(lsq.Quantize(xh, sMinus, mode)), "no code changes over [s − h, s + h]");
        double fd = (Loss(sPlus) - Loss(sMinus)) / ((double)sPlus - sMinus);
        double gScale = 1 / Math.Sqrt(n * d * 7.0);
        double expected = fd - ste;
        TestContext.Out.WriteLine($"{mode}: ∇s_X/g = {grads.GradStepX / gScale:R}, FD − Σ_in v·R = {expected:R} (h/s = {0.4 * hMax / s:E2}, {clipped} clipped)");
        Assert.That(grads.GradStepX / gScale, Is.EqualTo(expected).Within(1e-3 * (Math.Abs(fd) + Math.Abs(ste))));
    }
}
