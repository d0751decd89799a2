namespace Int4Train.Reference;

/// <summary>The gradients of one INT4 linear layer and the intermediate results a test may inspect.</summary>
public sealed record Int4LinearGradients(
    float[] GradX, float[] GradW, double GradStepX, double GradStepW, float[] GradBias,
    BitSplitResult Split, LssSelection WeightSelection, LssSelection InputSelection);

/// <summary>
/// One INT4 linear layer <c>Y = X·Wᵀ + b</c>, forward and backward, composed from the reference operators
/// (method.md §3.8, the code-faithful order):
/// forward = HQ-MM (§2.3); backward = bit split of ∇Y (§3.3) → leverage scores and selection for ∇W and for ∇X
/// (§3.4, §3.5) → LSS-MM → LSQ backward (masks and step gradients, §3.6) → Hadamard back-transform → ∇b.
/// The backward recomputes the LSQ ratios from X and W (docs/conventions.md "LSQ"); the GEMM operands are the
/// packed codes saved by the forward.
/// </summary>
/// <remarks>Thread safety: not thread-safe; it runs on its <see cref="ReferenceDevice"/>, which is used from one thread at a time. The results it returns are independent objects.</remarks>
public sealed partial class Int4LinearReference
{
    private readonly ReferenceDevice _device;
    private readonly HqMatMul _hq;
    private readonly HadamardTransform _hadamard;
    private readonly LsqQuantizer _lsq;
    private readonly Int4Packing _packing;
    private readonly BitSplit _bitSplit;
    private readonly LeverageScoreSampler _sampler;
    private readonly LssMatMul _lss;

    /// <summary>Creates the layer's operators on a reference device.</summary>
    public Int4LinearReference(ReferenceDevice device)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _hq = new HqMatMul(device);
        _hadamard = new HadamardTransform(device);
        _lsq = new LsqQuantizer(device);
        _packing = new Int4Packing(device);
        _bitSplit = new BitSplit(device.Accelerator);
        _sampler = new LeverageScoreSampler(device.Accelerator);
        _lss = new LssMatMul(device.Accelerator);
    }

    /// <summary>The device the layer runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary>HQ-MM forward (§2.3): X (N×D), W (C×D), optional bias (C) → Y (N×C) and the saved packed codes.</summary>
    public HqForwardResult Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int n, int c, int d, int groupSize,
        float stepX, float stepW, QuantMode mode = QuantMode.Code, float[]? bias = null)
        => _hq.Forward(x, w, n, c, d, groupSize, stepX, stepW, mode, bias);

    /// <summary>
    /// The forward with b-bit LSQ codes (b in [2, 8]; method.md §9 items 26 and 27). b = 4 is
    /// <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, int, float, float, QuantMode, float[])"/>
    /// bit for bit; for b ≠ 4 the result keeps unpacked codes (<see cref="HqForwardResult.CodesX"/>) and
    /// <see cref="Backward"/> then splits ∇Y into b-bit digits too (<see cref="HqForwardResult.Bits"/>).
    /// </summary>
    public HqForwardResult Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int n, int c, int d, int groupSize,
        float stepX, float stepW, QuantMode mode, int bits, float[]? bias = null)
        => _hq.Forward(x, w, n, c, d, groupSize, stepX, stepW, mode, bits, bias);

    /// <summary>The backward of §3.8 from ∇Y (N×C), the layer input X and weight W, and the forward's result. The bit
    /// width is the forward's (<see cref="HqForwardResult.Bits"/>): b-bit split digits (base 2^b − 2), b-bit LSQ masks
    /// and step gradients (g = 1/sqrt(numel·Qp(b))); b = 4 is the INT4 layer.</summary>
    public Int4LinearGradients Backward(ReadOnlySpan<float> gradY, ReadOnlySpan<float> x, ReadOnlySpan<float> w,
        HqForwardResult forward, SamplingMode sampling = SamplingMode.Nonzero, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(forward);
        int n = forward.N, c = forward.C, d = forward.D, g = forward.GroupSize;
        QuantMode mode = forward.Mode;
        int bits = forward.Bits;
        QuantBits.Check(bits, nameof(forward));
        Guard.Matrix(nameof(gradY), gradY.Length, n, c);
        Guard.Matrix(nameof(x), x.Length, n, d);
        Guard.Matrix(nameof(w), w.Length, c, d);
        Guard.Finite(nameof(gradY), gradY);

        // §3.3: one bit split of ∇Y shared by both backward GEMMs (§3.5 last paragraph).
        BitSplitResult split = _bitSplit.Split(gradY, n, c, mode, seed, bits);
        sbyte[] xCodes, wCodes;
        if (bits == QuantBits.Default)
        {
            xCodes = _packing.Unpack(forward.PackedX, n, d);
            wCodes = _packing.Unpack(forward.PackedW, c, d);
        }
        else
        {
            xCodes = forward.CodesX ?? throw new ArgumentException($"A {bits}-bit forward result must carry its unpacked codes (CodesX).", nameof(forward));
            wCodes = forward.CodesW ?? throw new ArgumentException($"A {bits}-bit forward result must carry its unpacked codes (CodesW).", nameof(forward));
        }

        // §3.4: ∇(WH) = s_X·Σ_kept (s_part/p)·part_iᵀ a_i, scores use ‖a_i‖.
        LssSelection selW = _sampler.SelectForWeightGradient(split, xCodes, d, forward.StepX, sampling, seed);
        float[] gradWh = _lss.WeightGradient(split, xCodes, d, forward.StepX, selW).Gradient;

        // §3.5: ∇(XH) rows from the kept digit rows against Ŵ, 1/p per output row. Both selections draw from
        // Philox(seed, stacked row, stream 1), as the native layer does (conventions.md "Leverage scores").
        LssSelection selX = _sampler.SelectForInputGradient(split, sampling, seed);
        float[] gradXh = _lss.InputGradient(split, wCodes, d, forward.StepW, selX).Gradient;

        // §3.6: LSQ masks and step gradients on the Hadamard-domain values, recomputed from X and W.
        float[] xh = _hadamard.Apply(x, n, d, g);
        float[] wh = _hadamard.Apply(w, c, d, g);
        LsqBackwardResult lsqX = _lsq.Backward(xh, gradXh, forward.StepX, mode, bits);
        LsqBackwardResult lsqW = _lsq.Backward(wh, gradWh, forward.StepW, mode, bits);

        // §3.1: ∇X = ∇(XH)·Hᵀ = ∇(XH)·H (H symmetric), the same for W.
        float[] gradX = _hadamard.Apply(lsqX.ValueGradient, n, d, g);
        float[] gradW = _hadamard.Apply(lsqW.ValueGradient, c, d, g);

        return new Int4LinearGradients(gradX, gradW, lsqX.StepGradient, lsqW.StepGradient, BiasGradient(gradY, n, c),
            split, selW, selX);
    }

    /// <summary>∇b = Σ_tokens ∇Y (§3.6 last bullet), in double, rounded once.</summary>
    public static float[] BiasGradient(ReadOnlySpan<float> gradY, int n, int c)
    {
        var sum = new double[c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++) sum[j] += gradY[i * c + j];
        var result = new float[c];
        for (int j = 0; j < c; j++) result[j] = (float)sum[j];
        return result;
    }
}
