using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>What <c>HqMatMul.Forward</c> returns: the output and what the layer saves for the backward
/// (conventions.md "LSQ": the packed INT4 codes of XH and WH, no floating copy; method.md §10 row 14).</summary>
/// <param name="Y">N×C output <c>(s_X·s_W)·(x̂·ŵᵀ)</c> (+ bias), row-major.</param>
/// <param name="PackedX">Codes of XH/s_X, N×D packed two per byte (N×D/2 bytes, <see cref="Int4Packing"/> order).</param>
/// <param name="PackedW">Codes of WH/s_W, C×D packed (C×D/2 bytes).</param>
/// <param name="N">Tokens (rows of X).</param>
/// <param name="C">Output features (rows of W).</param>
/// <param name="D">Input features (the reduction dimension).</param>
/// <param name="GroupSize">The Hadamard block size G used.</param>
/// <param name="StepX">s_X.</param>
/// <param name="StepW">s_W.</param>
/// <param name="Mode">The code range used.</param>
public sealed record HqForwardResult(float[] Y, byte[] PackedX, byte[] PackedW, int N, int C, int D, int GroupSize,
    float StepX, float StepW, QuantMode Mode)
{
    /// <summary>The code width b (4 unless made by the b-bit overload of <see cref="HqMatMul.Forward(ReadOnlySpan{float},
    /// ReadOnlySpan{float}, int, int, int, int, float, float, QuantMode, int, float[])"/>).</summary>
    public int Bits { get; init; } = QuantBits.Default;

    /// <summary>For b ≠ 4: the unpacked b-bit codes of XH/s_X (N×D, <c>sbyte</c>); packing is INT4-only, so
    /// <see cref="PackedX"/> is then empty. Null for b = 4 (the codes are <see cref="PackedX"/>).</summary>
    public sbyte[]? CodesX { get; init; }

    /// <summary>For b ≠ 4: the unpacked codes of WH/s_W (C×D); <see cref="PackedW"/> is then empty. Null for b = 4.</summary>
    public sbyte[]? CodesW { get; init; }
}

/// <summary>
/// The HQ-MM forward operator of method.md §2.3: (1) <c>A = X·H</c>, <c>B = W·H</c> with the block Hadamard
/// transform (<see cref="HadamardTransform"/>); (2) LSQ codes <c>a = q(A/s_X)</c>, <c>b = q(B/s_W)</c>
/// (<see cref="LsqQuantizer"/>); (3) pack two per byte (<see cref="Int4Packing"/>); (4) exact INT32 GEMM
/// <c>P = a·bᵀ</c> on the packed codes (<see cref="IntegerGemm"/>); (5) dequantize <c>Y = (s_X·s_W)·P</c> (one FP32
/// product of the float scale and the converted accumulator), then the bias in FP32; (6) return the packed
/// codes for the backward. Everything runs on the device; only inputs and results cross to the host.
/// </summary>
public sealed class HqMatMul
{
    private readonly ReferenceDevice _device;
    private readonly HadamardTransform _hadamard;
    private readonly LsqQuantizer _lsq;
    private readonly Int4Packing _packing;
    private readonly IntegerGemm _gemm;
    private readonly Action<Index1D, ArrayView1D<int, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float> _dequant;
    private readonly Action<Index1D, ArrayView1D<int, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, float, int> _dequantBias;

    /// <summary>Builds the operator (and loads its kernels once per device).</summary>
    public HqMatMul(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _hadamard = new HadamardTransform(device);
        _lsq = new LsqQuantizer(device);
        _packing = new Int4Packing(device);
        _gemm = new IntegerGemm(device);
        _dequant = device.GetOrLoad("HqMatMul.Dequantize", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<int, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float>(DequantizeKernel));
        _dequantBias = device.GetOrLoad("HqMatMul.DequantizeBias", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<int, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
            float, int>(DequantizeBiasKernel));
    }

    /// <summary>The device this operator runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary>
    /// <c>Y ≈ X·Wᵀ</c> through HQ-MM: X is N×D, W is C×D (row-major), G a power of two in [1, 1024] dividing D
    /// (D even, for packing), steps positive, optional bias of length C.
    /// </summary>
    public HqForwardResult Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int n, int c, int d, int groupSize,
        float stepX, float stepW, QuantMode mode = QuantMode.Code, float[]? bias = null)
        => Forward(x, w, n, c, d, groupSize, stepX, stepW, mode, QuantBits.Default, bias);

    /// <summary>
    /// HQ-MM with b-bit LSQ codes (<see cref="QuantModeExtensions.Qn(QuantMode, int)"/>, b in [2, 8]). b = 4 is the INT4
    /// operator above, bit for bit (packed codes, packed GEMM). For b ≠ 4 the codes stay unpacked in <c>sbyte</c>
    /// (<see cref="HqForwardResult.CodesX"/>, <see cref="HqForwardResult.CodesW"/>) and the exact INT32 GEMM runs on
    /// them (<see cref="IntegerGemm.Multiply(ArrayView1D{sbyte, Stride1D.Dense}, ArrayView1D{sbyte, Stride1D.Dense},
    /// ArrayView1D{int, Stride1D.Dense}, int, int, int)"/>, exact for D ≤ 2^31/128² = 131072 at b = 8); D need not be even.
    /// </summary>
    public HqForwardResult Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int n, int c, int d, int groupSize,
        float stepX, float stepW, QuantMode mode, int bits, float[]? bias = null)
    {
        QuantBits.Check(bits);
        bool packed = bits == QuantBits.Default;
        Guard.Matrix(nameof(x), x.Length, n, d);
        Guard.Matrix(nameof(w), w.Length, c, d);
        Guard.HadamardBlock(groupSize, d);
        if (packed) Guard.EvenRow("x and w", d);
        if (!packed && (long)d * 128 * 128 > int.MaxValue)
            throw new ArgumentException($"D = {d} is too large for exact INT32 accumulation of {bits}-bit codes.", nameof(d));
        Guard.Step(nameof(stepX), stepX);
        Guard.Step(nameof(stepW), stepW);
        Guard.Finite(nameof(x), x);
        Guard.Finite(nameof(w), w);
        if (bias is not null)
        {
            Guard.Length(nameof(bias), bias.Length, c, $"C = {c} output features");
            Guard.Finite(nameof(bias), bias);
        }
        if ((long)n * c > int.MaxValue)
            throw new ArgumentException($"The output {n}×{c} has more than {int.MaxValue} elements.", nameof(n));

        var acc = _device.Accelerator;
        using var dx = acc.Allocate1D<float>(x.Length);
        using var dw = acc.Allocate1D<float>(w.Length);
        dx.View.CopyFromCPU(acc.DefaultStream, x);
        dw.View.CopyFromCPU(acc.DefaultStream, w);

        // 1. Hadamard (in place).
        _hadamard.Run(dx.View, groupSize);
        _hadamard.Run(dw.View, groupSize);

        // 2. Quantize.
        using var qx = acc.Allocate1D<sbyte>(x.Length);
        using var qw = acc.Allocate1D<sbyte>(w.Length);
        _lsq.Quantize(dx.View, qx.View, stepX, mode, bits);
        _lsq.Quantize(dw.View, qw.View, stepW, mode, bits);

        // 3. Pack (INT4 only; wider codes stay in sbyte).
        using var px = packed ? acc.Allocate1D<byte>(x.Length / 2) : null;
        using var pw = packed ? acc.Allocate1D<byte>(w.Length / 2) : null;
        if (px is not null && pw is not null)
        {
            _packing.Pack(qx.View, px.View, n, d);
            _packing.Pack(qw.View, pw.View, c, d);
        }

        // 4. INT32 GEMM on the packed codes (or the unpacked b-bit codes).
        using var p = acc.Allocate1D<int>((long)n * c);
        if (px is not null && pw is not null) _gemm.MultiplyPacked(px.View, pw.View, p.View, n, c, d);
        else _gemm.Multiply(qx.View, qw.View, p.View, n, c, d);

        // 5. Dequantize (+ bias).
        using var y = acc.Allocate1D<float>((long)n * c);
        float scale = stepX * stepW;
        if (bias is null)
        {
            _dequant(n * c, p.View, y.View, scale);
        }
        else
        {
            using var db = acc.Allocate1D<float>(c);
            db.View.CopyFromCPU(bias);
            _dequantBias(n * c, p.View, y.View, db.View, scale, c);
            acc.Synchronize();
        }
        acc.Synchronize();

        if (px is not null && pw is not null)
            return new HqForwardResult(y.GetAsArray1D(), px.GetAsArray1D(), pw.GetAsArray1D(), n, c, d, groupSize, stepX, stepW, mode);
        return new HqForwardResult(y.GetAsArray1D(), [], [], n, c, d, groupSize, stepX, stepW, mode)
        {
            Bits = bits,
            CodesX = qx.GetAsArray1D(),
            CodesW = qw.GetAsArray1D(),
        };
    }

    private static void DequantizeKernel(Index1D i, ArrayView1D<int, Stride1D.Dense> p, ArrayView1D<float, Stride1D.Dense> y,
        float scale) => y[i] = scale * (float)p[i];

    private static void DequantizeBiasKernel(Index1D i, ArrayView1D<int, Stride1D.Dense> p, ArrayView1D<float, Stride1D.Dense> y,
        ArrayView1D<float, Stride1D.Dense> bias, float scale, int c)
    {
        float v = scale * (float)p[i];
        y[i] = v + bias[i % c];
    }
}
