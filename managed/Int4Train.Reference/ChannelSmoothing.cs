using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>
/// Per-input-channel smoothing of a linear (issue 15; docs/conventions.md "Per-input-channel smoothing"), the reference
/// of native/src/gpt/smoothing.cu: a linear with input X (n × d) and weight W (c × d) runs its unchanged arithmetic on
/// <c>X' = X·diag(1/m)</c> and <c>W' = W·diag(m)</c>, so <c>X'W'ᵀ = XWᵀ</c> in real arithmetic, with one factor per input
/// channel <c>m_k = clamp(max_t|X_tk|^α / max_c|W_ck|^(1−α), 1e-4, 1e4)</c>. Its backward maps the linear's
/// <c>∂L/∂X'</c> to <c>∂L/∂X = ∂L/∂X'·diag(1/m)</c> and adds <c>∂L/∂W'·diag(m)</c> to <c>∂L/∂W</c> (m is a constant of
/// the backward: it is made from the batch, as data).
/// </summary>
/// <remarks>
/// <para>Bit for bit as the native kernels: the column maxima are exact whatever the order (a max skips NaN, as CUDA's
/// fmaxf); each factor is <c>(float)(pow(xmax, α) / pow(wmax, 1 − α))</c> in double (1 − α in double), NaN (0/0)
/// replaced by 1, then clamped in float; every scaled element is one IEEE float division or multiplication (the added
/// gradient a product rounded, then a sum rounded: the native kernel's __fmul_rn and __fadd_rn, never an FMA). The one place the two can part is the double <c>pow</c> (CUDA's is
/// within 2 ulp, .NET's the C library's): a factor differs only where a double result lies within those ulps of a
/// float rounding boundary (about 1 in 10^8 channels).</para>
/// <para>Thread safety: as the <see cref="ReferenceDevice"/> it runs on (one thread at a time).</para>
/// </remarks>
public sealed class ChannelSmoothing
{
    /// <summary>The smallest factor: a channel zero in X gets it (X' stays 0 whatever m is).</summary>
    public const float MinFactor = 1e-4f;

    /// <summary>The largest factor: a channel zero in W (and not in X) gets it.</summary>
    public const float MaxFactor = 1e4f;

    private readonly ReferenceDevice _device;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, int> _columnAbsMax;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, int, int> _scaleColumns;

    /// <summary>Loads (once per device) the two kernels.</summary>
    public ChannelSmoothing(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _columnAbsMax = device.GetOrLoad("Smoothing.ColumnAbsMax", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, int>(ColumnAbsMaxKernel));
        _scaleColumns = device.GetOrLoad("Smoothing.ScaleColumns", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, int, int>(ScaleColumnsKernel));
    }

    /// <summary>The factors m (d) of input <paramref name="x"/> (<paramref name="rows"/> × d) and weight
    /// <paramref name="w"/> (<paramref name="outFeatures"/> × d) for α in [0, 1].</summary>
    public float[] Factors(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> w, int outFeatures, int inFeatures, float alpha)
    {
        Guard.Matrix(nameof(x), x.Length, rows, inFeatures);
        Guard.Matrix(nameof(w), w.Length, outFeatures, inFeatures);
        if (!(alpha >= 0f && alpha <= 1f)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be in [0, 1].");
        float[] xmax = ColumnAbsMax(x, inFeatures), wmax = ColumnAbsMax(w, inFeatures);
        var m = new float[inFeatures];
        for (int k = 0; k < inFeatures; k++) m[k] = Factor(xmax[k], wmax[k], alpha);
        return m;
    }

    /// <summary>One factor from a channel's maxima: a channel zero in X gets <see cref="MinFactor"/>, one zero in W
    /// <see cref="MaxFactor"/>, one zero in both (0/0) 1: any factor is exact there.</summary>
    public static float Factor(float xmax, float wmax, float alpha)
    {
        double a = alpha;
        double f = Math.Pow(xmax, a) / Math.Pow(wmax, 1.0 - a);
        float r = double.IsNaN(f) ? 1f : (float)f;
        return Math.Min(Math.Max(r, MinFactor), MaxFactor);
    }

    /// <summary>max over rows of |a[r, k]| for each column k of the row-major <paramref name="a"/> (· × cols).</summary>
    public float[] ColumnAbsMax(ReadOnlySpan<float> a, int cols)
    {
        Guard.Positive(nameof(cols), cols);
        if (a.Length % cols != 0) throw new ArgumentException($"{nameof(a)} has {a.Length} elements, not a multiple of {cols} columns.", nameof(a));
        var acc = _device.Accelerator;
        using var src = acc.Allocate1D<float>(Math.Max(1, a.Length));
        using var dst = acc.Allocate1D<float>(cols);
        if (a.Length > 0) src.View.SubView(0, a.Length).CopyFromCPU(acc.DefaultStream, a);
        _columnAbsMax(cols, dst.View, src.View.SubView(0, a.Length), cols);
        return Read(dst, cols);
    }

    /// <summary><c>A·diag(1/m)</c>: X' of the forward, and ∂L/∂X from ∂L/∂X' in the backward.</summary>
    public float[] DivideColumns(ReadOnlySpan<float> a, int rows, ReadOnlySpan<float> m) => Scale(a, rows, m, null, Divide);

    /// <summary><c>A·diag(m)</c>: W' of the forward.</summary>
    public float[] MultiplyColumns(ReadOnlySpan<float> a, int rows, ReadOnlySpan<float> m) => Scale(a, rows, m, null, Multiply);

    /// <summary><c>dst += A·diag(m)</c> in place: ∂L/∂W accumulates ∂L/∂W'·diag(m).</summary>
    public void AddMultipliedColumns(float[] dst, ReadOnlySpan<float> a, int rows, ReadOnlySpan<float> m)
    {
        ArgumentNullException.ThrowIfNull(dst);
        Guard.Length(nameof(dst), dst.Length, a.Length, "the shape of the added matrix");
        Scale(a, rows, m, dst, AddMultiplied).CopyTo(dst, 0);
    }

    private const int Divide = 0, Multiply = 1, AddMultiplied = 2;

    private float[] Scale(ReadOnlySpan<float> a, int rows, ReadOnlySpan<float> m, float[]? accumulate, int op)
    {
        Guard.NonEmpty(nameof(m), m.Length);
        Guard.Matrix(nameof(a), a.Length, rows, m.Length);
        for (int k = 0; k < m.Length; k++)
            if (!(m[k] > 0f && float.IsFinite(m[k])))
                throw new ArgumentException($"{nameof(m)}[{k}] = {m[k]}: a smoothing factor must be positive and finite.", nameof(m));
        var acc = _device.Accelerator;
        using var src = acc.Allocate1D<float>(a.Length);
        using var factors = acc.Allocate1D<float>(m.Length);
        using var dst = acc.Allocate1D<float>(a.Length);
        src.View.CopyFromCPU(acc.DefaultStream, a);
        factors.View.CopyFromCPU(acc.DefaultStream, m);
        if (accumulate is not null) dst.View.CopyFromCPU(acc.DefaultStream, accumulate);
        _scaleColumns(a.Length, dst.View, src.View, factors.View, m.Length, op);
        return Read(dst, a.Length);
    }

    private float[] Read(MemoryBuffer1D<float, Stride1D.Dense> buffer, int length)
    {
        var result = new float[length];
        _device.Accelerator.Synchronize();
        buffer.View.SubView(0, length).CopyToCPU(_device.Accelerator.DefaultStream, result.AsSpan());
        return result;
    }

    // One thread per column: the running max over the rows. |a| >= +0, and "v > m" keeps m when v is NaN (fmaxf's rule).
    private static void ColumnAbsMaxKernel(Index1D col, ArrayView1D<float, Stride1D.Dense> max, ArrayView1D<float, Stride1D.Dense> a, int cols)
    {
        float m = 0f;
        for (long e = col; e < a.Length; e += cols)
        {
            float v = Math.Abs(a[e]);
            if (v > m) m = v;
        }
        max[col] = m;
    }

    // One thread per element e of a (· × cols): its column's factor f = m[e mod cols]; one IEEE operation (the
    // accumulation two: the product rounded, then the sum; .NET never contracts them into an FMA), as
    // scale_columns_kernel in smoothing.cu.
    private static void ScaleColumnsKernel(Index1D e, ArrayView1D<float, Stride1D.Dense> dst, ArrayView1D<float, Stride1D.Dense> src,
                                           ArrayView1D<float, Stride1D.Dense> m, int cols, int op)
    {
        float f = m[e % cols];
        if (op == Divide) dst[e] = src[e] / f;
        else if (op == Multiply) dst[e] = src[e] * f;
        else dst[e] = dst[e] + src[e] * f;
    }
}
