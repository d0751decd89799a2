using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>What <see cref="LsqQuantizer.Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, float, QuantMode)"/>
/// returns: the straight-through gradient w.r.t. the values and the step gradient.</summary>
/// <param name="ValueGradient"><c>R ⊙ 1[Qn ≤ V/s ≤ Qp]</c>, same shape as the values.</param>
/// <param name="StepGradient"><c>g · Σ e·R</c> with <c>g = 1/sqrt(numel·7)</c>, the sum in double (CanonicalSum).</param>
public sealed record LsqBackwardResult(float[] ValueGradient, double StepGradient);

/// <summary>
/// The per-tensor LSQ quantizer of method.md §2.1 and its backward (§3.6), as conventions.md "LSQ":
/// <c>v = x / s</c> (one FP32 division), <c>q = clamp(RoundHalfAway(v), Qn, Qp)</c> (Qn = −8 in
/// <see cref="QuantMode.Code"/>, −7 in <see cref="QuantMode.Paper"/>, Qp = 7); dequantize <c>s·q</c>; step
/// init <c>(float)(2·mean|V|/sqrt(7) + 1e−10)</c> with the mean through <see cref="CanonicalSum"/>; backward
/// mask <c>1[Qn ≤ v ≤ Qp]</c> and step gradient <c>g·Σ e·R</c>, <c>g = 1/sqrt(numel·7)</c>, where
/// e = Qn below the range, Qp above, <c>RoundHalfAway(v) − v</c> inside. Elementwise work runs in ILGPU kernels;
/// the host only does the canonical sums of the per-element terms they write.
/// </summary>
public sealed class LsqQuantizer
{
    private readonly ReferenceDevice _device;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<sbyte, Stride1D.Dense>, float, int, int> _quantize;
    private readonly Action<Index1D, ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float> _dequantize;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float, int, int> _fake;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<double, Stride1D.Dense>> _abs;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, ArrayView1D<double, Stride1D.Dense>, float, int, int> _backward;

    /// <summary>Loads (once per device) the quantizer kernels.</summary>
    public LsqQuantizer(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _quantize = device.GetOrLoad("Lsq.Quantize", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<sbyte, Stride1D.Dense>, float, int, int>(QuantizeKernel));
        _dequantize = device.GetOrLoad("Lsq.Dequantize", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float>(DequantizeKernel));
        _fake = device.GetOrLoad("Lsq.FakeQuantize", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float, int, int>(FakeQuantizeKernel));
        _abs = device.GetOrLoad("Lsq.AbsTerms", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<double, Stride1D.Dense>>(AbsKernel));
        _backward = device.GetOrLoad("Lsq.Backward", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
            ArrayView1D<double, Stride1D.Dense>, float, int, int>(BackwardKernel));
    }

    /// <summary>The device this quantizer runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary>INT4 codes <c>clamp(RoundHalfAway(v / s), Qn, Qp)</c> of <paramref name="values"/>.</summary>
    public sbyte[] Quantize(ReadOnlySpan<float> values, float step, QuantMode mode = QuantMode.Code)
        => Quantize(values, step, mode, QuantBits.Default);

    /// <summary>b-bit codes <c>clamp(RoundHalfAway(v / s), Qn(b), Qp(b))</c> (<see cref="QuantModeExtensions.Qn(QuantMode, int)"/>);
    /// b = 4 is <see cref="Quantize(ReadOnlySpan{float}, float, QuantMode)"/>.</summary>
    public sbyte[] Quantize(ReadOnlySpan<float> values, float step, QuantMode mode, int bits)
    {
        CheckHost(values, nameof(values));
        Guard.Step(nameof(step), step);
        CheckMode(mode);
        QuantBits.Check(bits);
        var acc = _device.Accelerator;
        using var v = Upload(values);
        using var q = acc.Allocate1D<sbyte>(values.Length);
        _quantize(values.Length, v.View, q.View, step, mode.Qn(bits), mode.Qp(bits));
        acc.Synchronize();
        return q.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="Quantize(ReadOnlySpan{float}, float, QuantMode)"/>: writes the codes of
    /// <paramref name="values"/> into <paramref name="codes"/> (same length) and synchronises.</summary>
    public void Quantize(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<sbyte, Stride1D.Dense> codes, float step,
        QuantMode mode = QuantMode.Code)
        => Quantize(values, codes, step, mode, QuantBits.Default);

    /// <summary>Device version of <see cref="Quantize(ReadOnlySpan{float}, float, QuantMode, int)"/> (b-bit codes).</summary>
    public void Quantize(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<sbyte, Stride1D.Dense> codes, float step,
        QuantMode mode, int bits)
    {
        CheckDevice(values, nameof(values));
        _device.CheckView(nameof(codes), codes);
        Guard.Length(nameof(codes), codes.IntLength, values.Length, $"values ({values.Length} elements)");
        Guard.Step(nameof(step), step);
        CheckMode(mode);
        QuantBits.Check(bits);
        _quantize(values.IntLength, values, codes, step, mode.Qn(bits), mode.Qp(bits));
        _device.Accelerator.Synchronize();
    }

    /// <summary>Dequantized values <c>s·q</c> of INT4 codes (each in [−8, 7]).</summary>
    public float[] Dequantize(ReadOnlySpan<sbyte> codes, float step)
    {
        Guard.NonEmpty(nameof(codes), codes.Length);
        Guard.Int4Codes(nameof(codes), codes);
        Guard.Step(nameof(step), step);
        var acc = _device.Accelerator;
        using var q = acc.Allocate1D<sbyte>(codes.Length);
        q.View.CopyFromCPU(acc.DefaultStream, codes);
        using var v = acc.Allocate1D<float>(codes.Length);
        _dequantize(codes.Length, q.View, v.View, step);
        acc.Synchronize();
        return v.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="Dequantize(ReadOnlySpan{sbyte}, float)"/>.</summary>
    public void Dequantize(ArrayView1D<sbyte, Stride1D.Dense> codes, ArrayView1D<float, Stride1D.Dense> values, float step)
    {
        _device.CheckView(nameof(codes), codes);
        _device.CheckView(nameof(values), values);
        Guard.NonEmpty(nameof(codes), codes.IntLength);
        Guard.Length(nameof(values), values.IntLength, codes.Length, $"codes ({codes.Length} elements)");
        Guard.Step(nameof(step), step);
        _device.CheckInt4(nameof(codes), codes);
        _dequantize(codes.IntLength, codes, values, step);
        _device.Accelerator.Synchronize();
    }

    /// <summary>Fake quantization <c>s·clamp(RoundHalfAway(v / s), Qn, Qp)</c> (quantize then dequantize).</summary>
    public float[] FakeQuantize(ReadOnlySpan<float> values, float step, QuantMode mode = QuantMode.Code)
        => FakeQuantize(values, step, mode, QuantBits.Default);

    /// <summary>b-bit fake quantization <c>s·clamp(RoundHalfAway(v / s), Qn(b), Qp(b))</c>.</summary>
    public float[] FakeQuantize(ReadOnlySpan<float> values, float step, QuantMode mode, int bits)
    {
        CheckHost(values, nameof(values));
        Guard.Step(nameof(step), step);
        CheckMode(mode);
        QuantBits.Check(bits);
        using var v = Upload(values);
        _fake(values.Length, v.View, v.View, step, mode.Qn(bits), mode.Qp(bits));
        _device.Accelerator.Synchronize();
        return v.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="FakeQuantize(ReadOnlySpan{float}, float, QuantMode)"/>;
    /// <paramref name="output"/> may be <paramref name="values"/> itself.</summary>
    public void FakeQuantize(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<float, Stride1D.Dense> output, float step,
        QuantMode mode = QuantMode.Code)
        => FakeQuantize(values, output, step, mode, QuantBits.Default);

    /// <summary>Device version of <see cref="FakeQuantize(ReadOnlySpan{float}, float, QuantMode, int)"/>.</summary>
    public void FakeQuantize(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<float, Stride1D.Dense> output, float step,
        QuantMode mode, int bits)
    {
        CheckDevice(values, nameof(values));
        _device.CheckView(nameof(output), output);
        Guard.Length(nameof(output), output.IntLength, values.Length, $"values ({values.Length} elements)");
        Guard.Step(nameof(step), step);
        CheckMode(mode);
        QuantBits.Check(bits);
        _fake(values.IntLength, values, output, step, mode.Qn(bits), mode.Qp(bits));
        _device.Accelerator.Synchronize();
    }

    /// <summary>The LSQ step initialisation <c>(float)(2·mean|V|/sqrt(7) + 1e−10)</c>, the mean in double through
    /// <see cref="CanonicalSum"/> (§2.1 "Initialization"; apply it to the Hadamard-domain tensor); for
    /// 0 &lt; mean|V| &lt; 2^−20 without the <c>1e−10</c>: <c>max((float)(2·mean|V|/sqrt(7)), 2^−120)</c>, scale-free.</summary>
    public float InitStep(ReadOnlySpan<float> values) => InitStep(values, QuantBits.Default);

    /// <summary>The b-bit step initialisation <c>(float)(2·mean|V|/sqrt(Qp(b)) + 1e−10)</c>, Qp(b) = 2^(b−1) − 1
    /// (the same in both modes; b = 4 is exactly <see cref="InitStep(ReadOnlySpan{float})"/>).</summary>
    public float InitStep(ReadOnlySpan<float> values, int bits) => InitStep(values, bits, 1f);

    /// <summary>κ times the b-bit step rule: <c>(float)(κ·(2·mean|V|/sqrt(Qp(b))) + 1e−10)</c>, the product in double
    /// (κ = <paramref name="scale"/>, Int4LinearOptions.StepInitScale; κ = 1 is
    /// <see cref="InitStep(ReadOnlySpan{float}, int)"/> bit for bit). Native: lsq.cu step_from_sum_kernel.</summary>
    public float InitStep(ReadOnlySpan<float> values, int bits, float scale)
    {
        CheckHost(values, nameof(values));
        QuantBits.Check(bits);
        if (!(float.IsFinite(scale) && scale > 0f)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The step rule's multiple must be finite and positive.");
        using var v = Upload(values);
        return InitStepCore(v.View, bits, scale);
    }

    /// <summary>Device version of <see cref="InitStep(ReadOnlySpan{float})"/>.</summary>
    public float InitStep(ArrayView1D<float, Stride1D.Dense> values) => InitStep(values, QuantBits.Default);

    /// <summary>Device version of <see cref="InitStep(ReadOnlySpan{float}, int)"/>.</summary>
    public float InitStep(ArrayView1D<float, Stride1D.Dense> values, int bits)
    {
        CheckDevice(values, nameof(values));
        QuantBits.Check(bits);
        return InitStepCore(values, bits, 1f);
    }

    /// <summary>
    /// The LSQ backward (§3.6): given the values V (the same tensor the forward quantized, e.g. XH), the incoming
    /// gradient R w.r.t. the dequantized values and the step s, returns <c>R ⊙ 1[Qn ≤ V/s ≤ Qp]</c> and the step
    /// gradient <c>(1/sqrt(numel·7))·Σ e·R</c> (the terms <c>(double)e·(double)R</c>, exact, summed canonically).
    /// </summary>
    public LsqBackwardResult Backward(ReadOnlySpan<float> values, ReadOnlySpan<float> gradient, float step,
        QuantMode mode = QuantMode.Code)
        => Backward(values, gradient, step, mode, QuantBits.Default);

    /// <summary>The b-bit LSQ backward: mask <c>1[Qn(b) ≤ V/s ≤ Qp(b)]</c>, step gradient
    /// <c>(1/sqrt(numel·Qp(b)))·Σ e·R</c> with e = Qn(b) below, Qp(b) above the range (b = 4 is
    /// <see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, float, QuantMode)"/>).</summary>
    public LsqBackwardResult Backward(ReadOnlySpan<float> values, ReadOnlySpan<float> gradient, float step,
        QuantMode mode, int bits)
    {
        CheckHost(values, nameof(values));
        Guard.Length(nameof(gradient), gradient.Length, values.Length, $"values ({values.Length} elements)");
        Guard.Finite(nameof(gradient), gradient);
        Guard.Step(nameof(step), step);
        CheckMode(mode);
        QuantBits.Check(bits);
        using var v = Upload(values);
        using var r = Upload(gradient);
        using var outGrad = _device.Accelerator.Allocate1D<float>(values.Length);
        double stepGrad = BackwardCore(v.View, r.View, outGrad.View, step, mode, bits);
        return new LsqBackwardResult(outGrad.GetAsArray1D(), stepGrad);
    }

    /// <summary>Device version of the backward: writes the masked gradient into <paramref name="valueGradient"/>
    /// (may alias <paramref name="gradient"/>) and returns the step gradient.</summary>
    public double Backward(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<float, Stride1D.Dense> gradient,
        ArrayView1D<float, Stride1D.Dense> valueGradient, float step, QuantMode mode = QuantMode.Code)
        => Backward(values, gradient, valueGradient, step, mode, QuantBits.Default);

    /// <summary>Device version of the b-bit backward
    /// (<see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, float, QuantMode, int)"/>).</summary>
    public double Backward(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<float, Stride1D.Dense> gradient,
        ArrayView1D<float, Stride1D.Dense> valueGradient, float step, QuantMode mode, int bits)
    {
        CheckDevice(values, nameof(values));
        _device.CheckView(nameof(gradient), gradient);
        _device.CheckView(nameof(valueGradient), valueGradient);
        Guard.Length(nameof(gradient), gradient.IntLength, values.Length, $"values ({values.Length} elements)");
        Guard.Length(nameof(valueGradient), valueGradient.IntLength, values.Length, $"values ({values.Length} elements)");
        _device.CheckFinite(nameof(gradient), gradient);
        Guard.Step(nameof(step), step);
        CheckMode(mode);
        QuantBits.Check(bits);
        return BackwardCore(values, gradient, valueGradient, step, mode, bits);
    }

    private float InitStepCore(ArrayView1D<float, Stride1D.Dense> values, int bits, float scale)
    {
        int n = values.IntLength;
        using var terms = _device.Accelerator.Allocate1D<double>(n);
        _abs(n, values, terms.View);
        _device.Accelerator.Synchronize();
        double mean = CanonicalSum.Sum(terms.GetAsArray1D()) / n;
        // Qp(4) = 7: exactly the INT4 expression 2·mean/sqrt(7.0).
        double step = (double)scale * (2.0 * mean / Math.Sqrt((double)QuantMode.Code.Qp(bits)));
        // Below 2^−20 the code's absolute +1e−10 would swamp the step (a tensor of magnitude 1e−12 got s ≈ 1e−10 and
        // all-zero codes): there the step is scale-free, so 2^k·V gets 2^k·s and the same codes. At mean ≥ 2^−20 (and
        // for an all-zero tensor) the code's expression, bit for bit. Same rule in native/src/lsq.cu.
        if (mean > 0 && mean < SmallMeanLimit) return MathF.Max((float)step, MinStep);
        return (float)(step + 1e-10);
    }

    /// <summary>Below this mean|V| (2^−20) the step initialisation drops the code's absolute <c>+1e−10</c>
    /// (conventions.md "LSQ").</summary>
    public const double SmallMeanLimit = 1.0 / 1048576.0;

    /// <summary>The smallest initial step (2^−120), for tensors of magnitude near the FP32 underflow.</summary>
    public static readonly float MinStep = MathF.ScaleB(1f, -120);

    private double BackwardCore(ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<float, Stride1D.Dense> gradient,
        ArrayView1D<float, Stride1D.Dense> valueGradient, float step, QuantMode mode, int bits)
    {
        int n = values.IntLength;
        using var terms = _device.Accelerator.Allocate1D<double>(n);
        _backward(n, values, gradient, valueGradient, terms.View, step, mode.Qn(bits), mode.Qp(bits));
        _device.Accelerator.Synchronize();
        double g = 1.0 / Math.Sqrt((double)n * mode.Qp(bits));
        return g * CanonicalSum.Sum(terms.GetAsArray1D());
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(ReadOnlySpan<float> values)
    {
        var acc = _device.Accelerator;
        var buffer = acc.Allocate1D<float>(values.Length);
        buffer.View.CopyFromCPU(acc.DefaultStream, values);
        return buffer;
    }

    private static void CheckHost(ReadOnlySpan<float> values, string name)
    {
        Guard.NonEmpty(name, values.Length);
        Guard.Finite(name, values);
    }

    private void CheckDevice(ArrayView1D<float, Stride1D.Dense> values, string name)
    {
        _device.CheckView(name, values);
        Guard.NonEmpty(name, values.IntLength);
        _device.CheckFinite(name, values);
    }

    private static void CheckMode(QuantMode mode)
    {
        if (mode != QuantMode.Code && mode != QuantMode.Paper)
            throw new ArgumentException($"Unknown quantization mode {(int)mode}.", nameof(mode));
    }

    /// <summary>The one quantization rule (kernels only).</summary>
    private static float Code(float x, float step, int qn, int qp)
    {
        float r = Rounding.RoundHalfAway(x / step);
        if (r < qn) r = qn;
        if (r > qp) r = qp;
        return r;
    }

    private static void QuantizeKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> v, ArrayView1D<sbyte, Stride1D.Dense> q,
        float step, int qn, int qp) => q[i] = (sbyte)(int)Code(v[i], step, qn, qp);

    private static void DequantizeKernel(Index1D i, ArrayView1D<sbyte, Stride1D.Dense> q, ArrayView1D<float, Stride1D.Dense> v,
        float step) => v[i] = step * (float)q[i];

    private static void FakeQuantizeKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> v, ArrayView1D<float, Stride1D.Dense> o,
        float step, int qn, int qp) => o[i] = step * Code(v[i], step, qn, qp);

    private static void AbsKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> v, ArrayView1D<double, Stride1D.Dense> t)
    {
        float x = v[i];
        t[i] = x < 0f ? -(double)x : (double)x;
    }

    private static void BackwardKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> values, ArrayView1D<float, Stride1D.Dense> grad,
        ArrayView1D<float, Stride1D.Dense> gradOut, ArrayView1D<double, Stride1D.Dense> terms, float step, int qn, int qp)
    {
        float v = values[i] / step;
        float r = grad[i];
        float e;
        if (v < qn) e = qn;
        else if (v > qp) e = qp;
        else e = Rounding.RoundHalfAway(v) - v;
        bool inRange = v >= qn && v <= qp;
        gradOut[i] = inRange ? r : 0f;
        terms[i] = (double)e * (double)r;
    }
}
