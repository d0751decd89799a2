using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>
/// The result of bit splitting ∇Y (method.md §3.3): two INT4 digit matrices (N×C, row-major, unpacked in
/// <c>sbyte</c>) and the per-tensor scales, with <c>∇Y ≈ s↑·h + s↓·l</c>.
/// </summary>
public sealed class BitSplitResult
{
    /// <summary>Builds a split from explicit digits (e.g. a permuted or zero-padded copy in tests). The scales are
    /// derived from <paramref name="mx"/> exactly as the kernel derives them: <c>s↑ = Mx/7f</c>, <c>s↓ = Mx/98f</c>.</summary>
    /// <exception cref="ArgumentException">Shapes disagree, a digit is outside ±<see cref="QuantModeExtensions.SplitLimit(QuantMode)"/>,
    /// or <paramref name="mx"/> is not positive and finite.</exception>
    public BitSplitResult(sbyte[] high, sbyte[] low, int rows, int cols, QuantMode mode, float mx)
        : this(high, low, rows, cols, mode, mx, QuantBits.Default)
    {
    }

    /// <summary>Builds a b-bit split from explicit digits: <c>s↑ = Mx/(B/2)</c>, <c>s↓ = Mx/(B²/2)</c> with
    /// <c>B = 2^b − 2</c> (<see cref="QuantBits"/>); b = 4 gives exactly <c>Mx/7f</c> and <c>Mx/98f</c>.</summary>
    /// <exception cref="ArgumentException">As the INT4 constructor, with the digit limit
    /// <see cref="QuantModeExtensions.SplitLimit(QuantMode, int)"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bits"/> outside [2, 8].</exception>
    public BitSplitResult(sbyte[] high, sbyte[] low, int rows, int cols, QuantMode mode, float mx, int bits)
    {
        ArgumentNullException.ThrowIfNull(high);
        ArgumentNullException.ThrowIfNull(low);
        QuantBits.Check(bits);
        Guard.Matrix(nameof(high), high.Length, rows, cols);
        Guard.Matrix(nameof(low), low.Length, rows, cols);
        int lim = mode.SplitLimit(bits);
        Guard.CodeRange(nameof(high), high, -lim, lim);
        Guard.CodeRange(nameof(low), low, -lim, lim);
        Guard.Step(nameof(mx), mx);
        High = high;
        Low = low;
        Rows = rows;
        Cols = cols;
        Mode = mode;
        Mx = mx;
        Bits = bits;
        ScaleUp = mx / (float)QuantBits.SplitHalf(bits);      // Mx / 7f for b = 4
        ScaleDown = mx / (float)QuantBits.SplitRange(bits);   // Mx / 98f for b = 4
    }

    /// <summary>The digit width b (4 for the method; <c>B = 2^b − 2</c>).</summary>
    public int Bits { get; }

    /// <summary>High digits h (N×C), in [−L, L] with L = <see cref="QuantModeExtensions.SplitLimit(QuantMode)"/>.</summary>
    public sbyte[] High { get; }

    /// <summary>Low digits l (N×C), in [−L, L].</summary>
    public sbyte[] Low { get; }

    /// <summary>N, the number of tokens (rows of ∇Y).</summary>
    public int Rows { get; }

    /// <summary>C, the number of output channels (columns of ∇Y).</summary>
    public int Cols { get; }

    /// <summary>The variant whose clamp and rounding produced the digits.</summary>
    public QuantMode Mode { get; }

    /// <summary><c>Mx = max(−min(minG − 1e−8f, 0), max(maxG + 1e−8f, 0))</c>, or the exact max|∇Y| (at least 2^−120)
    /// when that is below 2^−10 (<see cref="BitSplit.ComputeMx"/>).</summary>
    public float Mx { get; }

    /// <summary><c>s↑ = Mx / 7f</c> (b-bit: <c>Mx/(B/2)</c>).</summary>
    public float ScaleUp { get; }

    /// <summary><c>s↓ = Mx / 98f</c> (b-bit: <c>Mx/(B²/2)</c>).</summary>
    public float ScaleDown { get; }
}

/// <summary>
/// Bit splitting of the output gradient ∇Y into a high and a low INT4 digit (method.md §3.3; conventions.md
/// "Bit splitting of ∇Y"). <c>t = g·(98f/Mx)</c>, <c>h = clamp(RoundHalfAway(t/14f), −L, L)</c>, <c>r = t − 14h</c>;
/// the low digit is rounded stochastically with Philox4x32-10 (element i: word i % 4 of counter i / 4, stream 0):
/// <see cref="QuantMode.Code"/> <c>l = clamp(RoundHalfAway((r + U01Closed) − 0.5f), −6, 6)</c>,
/// <see cref="QuantMode.Paper"/> <c>l = clamp(floor(r + U01), −7, 7)</c>. Runs as ILGPU kernels on the given
/// accelerator (which this class does not own).
/// </summary>
public sealed class BitSplit
{
    private readonly Accelerator _acc;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> _rowMinMax;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<sbyte>, ArrayView<sbyte>, float, float, int, int, ulong> _split;
    private readonly Action<Index1D, ArrayView<sbyte>, ArrayView<sbyte>, ArrayView<sbyte>> _int8;

    /// <summary>Compiles the kernels for <paramref name="accelerator"/>.</summary>
    public BitSplit(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _acc = accelerator;
        _rowMinMax = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(RowMinMaxKernel);
        _split = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<sbyte>, ArrayView<sbyte>, float, float, int, int, ulong>(SplitKernel);
        _int8 = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<sbyte>, ArrayView<sbyte>, ArrayView<sbyte>>(Int8Kernel);
    }

    /// <summary>Below this max|∇Y| (2^−10) the code's absolute <c>+1e−8</c> in <c>Mx</c> would no longer be negligible
    /// (issue 13 item 11), so <c>Mx</c> is the exact max|∇Y| there.</summary>
    public const float SmallGradientLimit = 1f / 1024f;

    /// <summary>The smallest <c>Mx</c> (2^−120): keeps <c>98f/Mx</c> finite in FP32 for ∇Y of max magnitude below ~1e−36.</summary>
    public static readonly float MxFloor = MathF.ScaleB(1f, -120);

    /// <summary>The per-tensor scale <c>Mx</c> from the extreme values of ∇Y (conventions.md "Bit splitting"):
    /// with <c>m = max|∇Y|</c>, the code's <c>max(−min(minG − 1e−8f, 0), max(maxG + 1e−8f, 0))</c> when
    /// <c>m ≥ 2^−10</c> or ∇Y is all zero (which gives 1e−8f), else <c>max(m, 2^−120)</c>. The second branch is the
    /// first after an exact power-of-two prescale of ∇Y into [¼, ½), where the 1e−8 vanishes in FP32: so the split
    /// of 2^k·∇Y has the same digits as that of ∇Y and <c>Mx</c> scales by 2^k exactly, and the relative error of
    /// ∇X, ∇W no longer grows as ∇Y shrinks (with the absolute 1e−8 the digit grid was fixed at 1e−8/98 for tiny ∇Y).
    /// At m ≥ 2^−10 the result is the code's bit for bit.</summary>
    /// <exception cref="ArgumentException">A non-finite extreme, or <paramref name="minG"/> &gt; <paramref name="maxG"/>.</exception>
    public static float ComputeMx(float minG, float maxG)
    {
        if (!float.IsFinite(minG) || !float.IsFinite(maxG) || minG > maxG)
            throw new ArgumentException($"∇Y extremes must be finite with min ≤ max, got min {minG}, max {maxG}.", nameof(minG));
        float m = MathF.Max(-minG, maxG);   // max|∇Y|, exact
        if (m > 0f && m < SmallGradientLimit) return MathF.Max(m, MxFloor);
        return MathF.Max(-MathF.Min(minG - 1e-8f, 0f), MathF.Max(maxG + 1e-8f, 0f));
    }

    /// <summary>Splits ∇Y (N×C, row-major FP32) into high and low digits.</summary>
    /// <param name="gradY">∇Y, <paramref name="rows"/>·<paramref name="cols"/> finite values; all-zero is valid (§9 item 14).</param>
    /// <param name="rows">N (tokens).</param>
    /// <param name="cols">C (output channels).</param>
    /// <param name="mode">Clamp limit and low-digit rounding rule.</param>
    /// <param name="seed">Philox key; the low digit of element i uses word i % 4 of counter (i / 4, stream 0).</param>
    /// <exception cref="ArgumentException">Empty or mis-shaped input, or a NaN/Inf entry.</exception>
    public BitSplitResult Split(ReadOnlySpan<float> gradY, int rows, int cols, QuantMode mode, ulong seed)
        => Split(gradY, rows, cols, mode, seed, QuantBits.Default);

    /// <summary>Splits ∇Y into two b-bit digits in base <c>B = 2^b − 2</c>: <c>t = g·((B²/2)/Mx)</c>,
    /// <c>h = clamp(RoundHalfAway(t/B), ±L)</c>, <c>r = t − B·h</c>, the low digit rounded as in the INT4 split and
    /// clamped to ±L, <c>L = </c><see cref="QuantModeExtensions.SplitLimit(QuantMode, int)"/>. b = 4 is
    /// <see cref="Split(ReadOnlySpan{float}, int, int, QuantMode, ulong)"/> bit for bit (B = 14, B²/2 = 98).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bits"/> outside [2, 8].</exception>
    public BitSplitResult Split(ReadOnlySpan<float> gradY, int rows, int cols, QuantMode mode, ulong seed, int bits)
    {
        QuantBits.Check(bits);
        Guard.Matrix(nameof(gradY), gradY.Length, rows, cols);
        Guard.Finite(nameof(gradY), gradY);
        if (mode != QuantMode.Code && mode != QuantMode.Paper)
            throw new ArgumentException($"Unknown quantization mode {(int)mode}.", nameof(mode));
        int n = gradY.Length;

        using var g = _acc.Allocate1D(gradY.ToArray());
        using var mins = _acc.Allocate1D<float>(rows);
        using var maxs = _acc.Allocate1D<float>(rows);
        _rowMinMax(rows, g.View, mins.View, maxs.View, cols);
        _acc.Synchronize();
        float[] rowMin = mins.GetAsArray1D(), rowMax = maxs.GetAsArray1D();
        float minG = rowMin[0], maxG = rowMax[0];
        for (int i = 1; i < rows; i++)
        {
            minG = MathF.Min(minG, rowMin[i]);
            maxG = MathF.Max(maxG, rowMax[i]);
        }
        float mx = ComputeMx(minG, maxG);
        float factor = (float)QuantBits.SplitRange(bits) / mx;   // 98f / mx for b = 4
        float splitBase = QuantBits.SplitBase(bits);               // 14f for b = 4

        using var hi = _acc.Allocate1D<sbyte>(n);
        using var lo = _acc.Allocate1D<sbyte>(n);
        _split(n, g.View, hi.View, lo.View, factor, splitBase, mode.SplitLimit(bits), mode == QuantMode.Paper ? 1 : 0, seed);
        _acc.Synchronize();
        return new BitSplitResult(hi.GetAsArray1D(), lo.GetAsArray1D(), rows, cols, mode, mx, bits);
    }

    /// <summary>The INT8 view <c>14·h + l</c> (in [−98, 98]) used by the fast path (conventions.md).</summary>
    /// <exception cref="ArgumentException">A split of more than 4 bits (<c>B·h + l</c> does not fit in int8).</exception>
    public sbyte[] ToInt8(BitSplitResult split)
    {
        ArgumentNullException.ThrowIfNull(split);
        if (split.Bits != QuantBits.Default)
            throw new ArgumentException($"The INT8 view 14·h + l exists for 4-bit splits only, got a {split.Bits}-bit split.", nameof(split));
        int n = split.High.Length;
        using var hi = _acc.Allocate1D(split.High);
        using var lo = _acc.Allocate1D(split.Low);
        using var q = _acc.Allocate1D<sbyte>(n);
        _int8(n, hi.View, lo.View, q.View);
        _acc.Synchronize();
        return q.GetAsArray1D();
    }

    private static void RowMinMaxKernel(Index1D row, ArrayView<float> g, ArrayView<float> mins, ArrayView<float> maxs, int cols)
    {
        long start = (long)row.X * cols;
        float mn = g[start], mx = g[start];
        for (int j = 1; j < cols; j++)
        {
            float v = g[start + j];
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
        mins[row] = mn;
        maxs[row] = mx;
    }

    /// <summary>One element of the split. <paramref name="splitBase"/> = B (14f at b = 4) and <paramref name="limit"/>
    /// = L (6 code / 7 paper at b = 4): t/B and B·h are the same IEEE operations as the INT4 kernel's t/14f and 14f·h
    /// (B·h is exact: |B·h| ≤ 2^15).</summary>
    private static void SplitKernel(Index1D i, ArrayView<float> g, ArrayView<sbyte> hi, ArrayView<sbyte> lo,
        float factor, float splitBase, int limit, int paper, ulong seed)
    {
        float t = g[i] * factor;
        int h = Clamp(RoundHalfAwayToInt(t / splitBase), -limit, limit);
        float r = t - splitBase * h;
        uint x0 = Philox.BitSplitWord(seed, (ulong)i.X);
        int l;
        if (paper != 0)
        {
            float v = r + Philox.U01(x0);
            int f = (int)v;                 // trunc; |v| ≤ B/2 + 2 (9 at b = 4) so exact
            if (v < f) f -= 1;              // floor
            l = Clamp(f, -limit, limit);
        }
        else
        {
            float u = Philox.U01Closed(x0);
            l = Clamp(RoundHalfAwayToInt((r + u) - 0.5f), -limit, limit);
        }
        hi[i] = (sbyte)h;
        lo[i] = (sbyte)l;
    }

    private static void Int8Kernel(Index1D i, ArrayView<sbyte> hi, ArrayView<sbyte> lo, ArrayView<sbyte> q) =>
        q[i] = (sbyte)(14 * hi[i] + lo[i]);

    /// <summary><see cref="Rounding.RoundHalfAway"/> for |x| &lt; 2^31, as an int (kernel-friendly: no MathF calls).
    /// <c>trunc</c> via the int conversion; <c>x − trunc(x)</c> is exact.</summary>
    private static int RoundHalfAwayToInt(float x)
    {
        int t = (int)x;
        float frac = x - t;
        if (frac >= 0.5f) return t + 1;
        if (frac <= -0.5f) return t - 1;
        return t;
    }

    private static int Clamp(int v, int lo, int hi) => v < lo ? lo : (v > hi ? hi : v);
}
