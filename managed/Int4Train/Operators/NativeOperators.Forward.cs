namespace Int4Train;

// Forward-side operators: Hadamard (§2.2), LSQ (§2.1, §3.6), packing (§2.3), integer GEMM, HQ-MM (§2.3), search.
public sealed partial class NativeOperators
{
    /// <summary>y = x·BlockDiag(H_G) row by row (§2.2); <paramref name="y"/> may be <paramref name="x"/>.</summary>
    public void Hadamard(DeviceTensor<float> x, DeviceTensor<float> y, int group)
    {
        Same(nameof(x), x, _context);
        Check(nameof(y), y, x.Rows, x.Cols);
        Guard.HadamardBlock(group, x.Cols);
        Run(Interop.NativeMethods.int4train_hadamard(_context.Handle, x.Pointer, y.Pointer, x.Rows, x.Cols, group), "int4train_hadamard");
    }

    /// <summary>step = 2·mean|v|/√7 + 1e−10 (§2.1 initialisation); without the 1e−10 when 0 &lt; mean|v| &lt; 2^−20
    /// (conventions.md "LSQ").</summary>
    public void LsqInitStep(DeviceTensor<float> v, DeviceTensor<float> step)
    {
        Same(nameof(v), v, _context);
        Scalar(nameof(step), step);
        Run(Interop.NativeMethods.int4train_lsq_init_step(_context.Handle, v.Pointer, v.Length, step.Pointer), "int4train_lsq_init_step");
    }

    /// <summary>codes = clamp(round(v/step), Qn, 7) (§2.1).</summary>
    public void LsqQuantize(DeviceTensor<float> v, DeviceTensor<float> step, QuantMode mode, DeviceTensor<sbyte> codes)
    {
        Same(nameof(v), v, _context);
        Scalar(nameof(step), step);
        Check(nameof(codes), codes, v.Rows, v.Cols);
        Run(Interop.NativeMethods.int4train_lsq_quantize(_context.Handle, v.Pointer, v.Length, step.Pointer, (int)mode, codes.Pointer), "int4train_lsq_quantize");
    }

    /// <summary>output = step·codes.</summary>
    public void LsqDequantize(DeviceTensor<sbyte> codes, DeviceTensor<float> step, DeviceTensor<float> output)
    {
        Same(nameof(codes), codes, _context);
        Scalar(nameof(step), step);
        Check(nameof(output), output, codes.Rows, codes.Cols);
        Run(Interop.NativeMethods.int4train_lsq_dequantize(_context.Handle, codes.Pointer, codes.Length, step.Pointer, output.Pointer), "int4train_lsq_dequantize");
    }

    /// <summary>Straight-through LSQ backward (§3.6): gradV = grad ⊙ mask, gradStep = Σ e·grad/√(n·7).</summary>
    public void LsqBackward(DeviceTensor<float> v, DeviceTensor<float> grad, DeviceTensor<float> step, QuantMode mode,
                            DeviceTensor<float> gradV, DeviceTensor<float> gradStep)
    {
        Same(nameof(v), v, _context);
        Check(nameof(grad), grad, v.Rows, v.Cols);
        Scalar(nameof(step), step);
        Check(nameof(gradV), gradV, v.Rows, v.Cols);
        Scalar(nameof(gradStep), gradStep);
        Run(Interop.NativeMethods.int4train_lsq_backward(_context.Handle, v.Pointer, grad.Pointer, v.Length, step.Pointer, (int)mode, gradV.Pointer, gradStep.Pointer), "int4train_lsq_backward");
    }

    /// <summary>Packs INT4 codes two per byte (CUTLASS int4b_t order; even row length).</summary>
    public void PackInt4(DeviceTensor<sbyte> codes, DeviceTensor<byte> packed)
    {
        Same(nameof(codes), codes, _context);
        if (codes.Cols % 2 != 0) throw new ArgumentException($"packing needs an even row length, got {codes.Cols}.", nameof(codes));
        Check(nameof(packed), packed, codes.Rows, codes.Cols / 2);
        Run(Interop.NativeMethods.int4train_pack_int4(_context.Handle, codes.Pointer, packed.Pointer, codes.Rows, codes.Cols), "int4train_pack_int4");
    }

    /// <summary>Unpacks INT4 codes (inverse of <see cref="PackInt4"/>).</summary>
    public void UnpackInt4(DeviceTensor<byte> packed, DeviceTensor<sbyte> codes)
    {
        Same(nameof(codes), codes, _context);
        if (codes.Cols % 2 != 0) throw new ArgumentException($"packing needs an even row length, got {codes.Cols}.", nameof(codes));
        Check(nameof(packed), packed, codes.Rows, codes.Cols / 2);
        Run(Interop.NativeMethods.int4train_unpack_int4(_context.Handle, packed.Pointer, codes.Pointer, codes.Rows, codes.Cols), "int4train_unpack_int4");
    }

    /// <summary>c = a·bᵀ in INT32 from packed INT4 operands (a: M×K, b: N×K, packed as M×K/2 and N×K/2).</summary>
    public void GemmInt4(DeviceTensor<byte> aPacked, DeviceTensor<byte> bPacked, DeviceTensor<int> c, int m, int n, int k)
    {
        if (k % 2 != 0) throw new ArgumentException($"packed operands need an even K, got {k}.", nameof(k));
        Check(nameof(aPacked), aPacked, m, k / 2);
        Check(nameof(bPacked), bPacked, n, k / 2);
        Check(nameof(c), c, m, n);
        Run(Interop.NativeMethods.int4train_gemm_s4(_context.Handle, aPacked.Pointer, bPacked.Pointer, c.Pointer, m, n, k), "int4train_gemm_s4");
    }

    /// <summary>c = a·bᵀ in INT32 from int8 operands (a: M×K, b: N×K).</summary>
    public void GemmInt8(DeviceTensor<sbyte> a, DeviceTensor<sbyte> b, DeviceTensor<int> c)
    {
        Same(nameof(a), a, _context);
        Check(nameof(b), b, b.Rows, a.Cols);
        Check(nameof(c), c, a.Rows, b.Rows);
        Run(Interop.NativeMethods.int4train_gemm_s8(_context.Handle, a.Pointer, b.Pointer, c.Pointer, a.Rows, b.Rows, a.Cols), "int4train_gemm_s8");
    }

    /// <summary>HQ-MM forward (§2.3): y = s_X·s_W·q(XH)·q(WH)ᵀ + bias; writes the packed codes saved for the backward.</summary>
    public void HqForward(DeviceTensor<float> x, DeviceTensor<float> w, DeviceTensor<float>? bias, DeviceTensor<float> stepX,
                          DeviceTensor<float> stepW, int group, QuantMode mode, DeviceTensor<float> y,
                          DeviceTensor<byte> xPacked, DeviceTensor<byte> wPacked)
    {
        var (n, c, d) = CheckHqForward(x, w, bias, stepX, stepW, group, y, xPacked, wPacked);
        Run(Interop.NativeMethods.int4train_hq_forward(_context.Handle, x.Pointer, w.Pointer, bias?.Pointer ?? IntPtr.Zero, stepX.Pointer, stepW.Pointer,
            n, c, d, group, (int)mode, y.Pointer, xPacked.Pointer, wPacked.Pointer), "int4train_hq_forward");
    }

    /// <summary>The argument rules of HQ-MM forward for either activation type (X and Y FP32 or BF16): X N×D, W C×D,
    /// D even, G dividing D, bias 1×C, scalar steps, Y N×C, packed codes N×D/2 and C×D/2.</summary>
    private (int N, int C, int D) CheckHqForward<TAct>(DeviceTensor<TAct> x, DeviceTensor<float> w, DeviceTensor<float>? bias,
        DeviceTensor<float> stepX, DeviceTensor<float> stepW, int group, DeviceTensor<TAct> y, DeviceTensor<byte> xPacked,
        DeviceTensor<byte> wPacked) where TAct : unmanaged
    {
        var (n, c, d) = LayerShape(x, w);
        if (d % 2 != 0) throw new ArgumentException($"D must be even to pack INT4 codes, got {d}.", nameof(x));
        Guard.HadamardBlock(group, d);
        if (bias != null) Check(nameof(bias), bias, 1, c);
        Scalar(nameof(stepX), stepX);
        Scalar(nameof(stepW), stepW);
        Check(nameof(y), y, n, c);
        Check(nameof(xPacked), xPacked, n, d / 2);
        Check(nameof(wPacked), wPacked, c, d / 2);
        return (n, c, d);
    }

    /// <summary>Hadamard block-size search on a first batch (§2.2, code criterion). Synchronous.</summary>
    /// <returns>The chosen G and the score of each G = 2^k (NaN where G does not divide D).</returns>
    public (int Group, double[] Scores) BlockSizeSearch(DeviceTensor<float> x, DeviceTensor<float> w, QuantMode mode)
    {
        Same(nameof(x), x, _context);
        Same(nameof(w), w, _context);
        if (w.Cols != x.Cols) throw new ArgumentException($"x is {x.Rows}×{x.Cols} but w is {w.Rows}×{w.Cols}: D must match.", nameof(w));
        var scores = new double[11];
        int group;
        unsafe
        {
            fixed (double* p = scores)
                Run(Interop.NativeMethods.int4train_block_size_search(_context.Handle, x.Pointer, w.Pointer, x.Rows, w.Rows, x.Cols, (int)mode, out group, p), "int4train_block_size_search");
        }
        return (group, scores);
    }
}
