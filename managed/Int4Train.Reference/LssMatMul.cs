using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>The weight-gradient product of LSS-MM (method.md §3.4), before the LSQ mask.</summary>
public sealed class LssWeightGradient
{
    internal LssWeightGradient(float[] gradient, int[]? high, int[]? low, int rows, int cols, int kHigh, int kLow)
    {
        Gradient = gradient;
        IntegerHigh = high;
        IntegerLow = low;
        Rows = rows;
        Cols = cols;
        GemmRowsHigh = kHigh;
        GemmRowsLow = kLow;
    }

    /// <summary>∇(WH) (C×D, row-major): <c>(float)(s_X·(s↑·A↑ + s↓·A↓))</c> with <c>A = Σ_{kept k} (part_k ⊗ a_k)/p_k</c>
    /// accumulated in double (A = G exactly in Nonzero mode).</summary>
    public float[] Gradient { get; }

    /// <summary>G↑ = Σ_{kept high rows} h_iᵀ a_i (C×D, INT32): Nonzero mode only (null for Bernoulli, whose 1/p
    /// scales the reduction dimension and is not an integer GEMM, §10 row 6).</summary>
    public int[]? IntegerHigh { get; }

    /// <summary>G↓ = Σ_{kept low rows} l_iᵀ a_i (C×D, INT32): Nonzero mode only.</summary>
    public int[]? IntegerLow { get; }

    /// <summary>C.</summary>
    public int Rows { get; }

    /// <summary>D.</summary>
    public int Cols { get; }

    /// <summary>K of the high-part GEMM (kept rows padded with zero rows to a multiple of 32).</summary>
    public int GemmRowsHigh { get; }

    /// <summary>K of the low-part GEMM.</summary>
    public int GemmRowsLow { get; }
}

/// <summary>The activation-gradient product of LSS-MM (method.md §3.5), before the LSQ mask.</summary>
public sealed class LssInputGradient
{
    internal LssInputGradient(float[] gradient, int[] high, int[] low, int rows, int cols, int mHigh, int mLow)
    {
        Gradient = gradient;
        IntegerHigh = high;
        IntegerLow = low;
        Rows = rows;
        Cols = cols;
        GemmRowsHigh = mHigh;
        GemmRowsLow = mLow;
    }

    /// <summary>∇(XH) (N×D): row i = <c>(float)(s_W·(s↑·G↑_i/p↑_i + s↓·G↓_i/p↓_i))</c> in double, a dropped
    /// part contributing 0 (so p = 0 never divides); a token whose kept parts all have p = 1 folded as
    /// <c>(float)(s_W·(s↓·(B·G↑_i + G↓_i)))</c> (B = 14 for b = 4; conventions.md "∇X").</summary>
    public float[] Gradient { get; }

    /// <summary>G↑ (N×D, INT32): row i = h_i·Ŵ for kept high rows, scattered back; 0 for dropped rows.</summary>
    public int[] IntegerHigh { get; }

    /// <summary>G↓ (N×D, INT32): row i = l_i·Ŵ for kept low rows; 0 for dropped rows.</summary>
    public int[] IntegerLow { get; }

    /// <summary>N.</summary>
    public int Rows { get; }

    /// <summary>D.</summary>
    public int Cols { get; }

    /// <summary>M of the high-part GEMM (the exact kept count).</summary>
    public int GemmRowsHigh { get; }

    /// <summary>M of the low-part GEMM.</summary>
    public int GemmRowsLow { get; }
}

/// <summary>
/// LSS-MM, the two backward products from bit-split digits and a leverage-score selection (method.md §3.4
/// "LSS-MM procedure for ∇W", §3.5 "Implementation", §3.8 steps 3–4; conventions.md "Leverage scores and
/// selection"). ∇W: kept rows are gathered, zero-padded to a multiple of 32 and transposed K-major, then a TN
/// integer GEMM (Nonzero) or a 1/p-weighted double accumulation (Bernoulli). ∇X: kept rows are gathered
/// (exact count), multiplied by Ŵ (transposed to D×C), scattered into zero-filled N×D and dequantized with the
/// per-row 1/p epilogue. All of it runs in ILGPU kernels; the host builds the kept-index lists.
/// </summary>
public sealed class LssMatMul
{
    private readonly Accelerator _acc;
    private readonly Action<Index1D, ArrayView<sbyte>, ArrayView<int>, ArrayView<sbyte>, int, int, int> _gatherT;
    private readonly Action<Index2D, ArrayView<sbyte>, ArrayView<sbyte>, ArrayView<double>, ArrayView<int>, ArrayView<double>, int, int, int> _gemmTN;
    private readonly Action<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, double, double, double> _dequantW;
    private readonly Action<Index1D, ArrayView<sbyte>, ArrayView<int>, ArrayView<sbyte>, int, int> _gatherRows;
    private readonly Action<Index2D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int> _scatter;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<byte>, ArrayView<double>, ArrayView<float>, double, double, double, int, int, int> _dequantX;

    /// <summary>Compiles the kernels for <paramref name="accelerator"/> (not owned).</summary>
    public LssMatMul(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _acc = accelerator;
        _gatherT = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<sbyte>, ArrayView<int>, ArrayView<sbyte>, int, int, int>(GatherTransposeKernel);
        _gemmTN = _acc.LoadAutoGroupedStreamKernel<Index2D, ArrayView<sbyte>, ArrayView<sbyte>, ArrayView<double>, ArrayView<int>, ArrayView<double>, int, int, int>(GemmTNKernel);
        _dequantW = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, double, double, double>(DequantWeightKernel);
        _gatherRows = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<sbyte>, ArrayView<int>, ArrayView<sbyte>, int, int>(GatherRowsKernel);
        _scatter = _acc.LoadAutoGroupedStreamKernel<Index2D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int>(ScatterRowsKernel);
        _dequantX = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<byte>, ArrayView<double>, ArrayView<float>, double, double, double, int, int, int>(DequantInputKernel);
    }

    /// <summary>∇(WH) = s_X·Σ_{kept i} (s_part/p_i)·part_iᵀ a_i (C×D), §3.4.</summary>
    /// <param name="split">The bit split of ∇Y (N×C).</param>
    /// <param name="xCodes">X̂, the forward's X codes (N×D, in [−8, 7]; b-bit codes for a b-bit split).</param>
    /// <param name="d">D.</param>
    /// <param name="sX">s_X.</param>
    /// <param name="selection">A <see cref="LssTarget.WeightGradient"/> selection over the same N tokens.</param>
    /// <exception cref="ArgumentException">Mismatched shapes, out-of-range codes, bad step, or a selection for
    /// the other GEMM / another N / a kept row with p ≤ 0.</exception>
    public LssWeightGradient WeightGradient(BitSplitResult split, ReadOnlySpan<sbyte> xCodes, int d, float sX, LssSelection selection)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(selection);
        LeverageScoreSampler.ValidateXCodes(split, xCodes, d, sX);
        ValidateSelection(split, selection, LssTarget.WeightGradient);
        LeverageScoreSampler.CheckWideReduction("N", split.Rows, split.Bits);
        int n = split.Rows, c = split.Cols;
        bool integer = selection.Mode == SamplingMode.Nonzero;

        using var h = _acc.Allocate1D(split.High);
        using var l = _acc.Allocate1D(split.Low);
        using var a = _acc.Allocate1D(xCodes.ToArray());

        var (accHigh, intHigh, kHigh) = WeightPart(h, a, selection, 0, n, c, d, selection.GemmRowsHigh);
        var (accLow, intLow, kLow) = WeightPart(l, a, selection, n, n, c, d, selection.GemmRowsLow);
        using (accHigh)
        using (accLow)
        {
            using var outBuf = _acc.Allocate1D<float>((long)c * d);
            _dequantW(c * d, accHigh.View, accLow.View, outBuf.View, sX, split.ScaleUp, split.ScaleDown);
            _acc.Synchronize();
            return new LssWeightGradient(outBuf.GetAsArray1D(), integer ? intHigh : null, integer ? intLow : null,
                c, d, kHigh, kLow);
        }
    }

    /// <summary>∇(XH)_i = s_W·(s↑·G↑_i/p↑_i + s↓·G↓_i/p↓_i) (N×D) over the kept parts, §3.5.</summary>
    /// <param name="split">The bit split of ∇Y (N×C).</param>
    /// <param name="wCodes">Ŵ, the forward's W codes (C×D, in [−8, 7]; b-bit codes for a b-bit split).</param>
    /// <param name="d">D.</param>
    /// <param name="sW">s_W.</param>
    /// <param name="selection">A <see cref="LssTarget.InputGradient"/> selection over the same N tokens.</param>
    /// <exception cref="ArgumentException">Mismatched shapes, out-of-range codes, bad step, or a bad selection.</exception>
    public LssInputGradient InputGradient(BitSplitResult split, ReadOnlySpan<sbyte> wCodes, int d, float sW, LssSelection selection)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(selection);
        Guard.Positive(nameof(d), d);
        int n = split.Rows, c = split.Cols;
        if ((long)c * d != wCodes.Length)
            throw new ArgumentException(
                $"wCodes has {wCodes.Length} elements but must be C×D = {c}×{d} ({(long)c * d}) to match ∇Y's {c} columns.",
                nameof(wCodes));
        LeverageScoreSampler.CheckCodes(nameof(wCodes), wCodes, split.Bits);
        LeverageScoreSampler.CheckWideReduction("C", c, split.Bits);
        Guard.Step(nameof(sW), sW);
        ValidateSelection(split, selection, LssTarget.InputGradient);

        // Ŵ "column-major C×D" = D×C row-major (K = C contiguous), made by the same gather-transpose kernel.
        var all = new int[c];
        for (int j = 0; j < c; j++) all[j] = j;
        using var w = _acc.Allocate1D(wCodes.ToArray());
        using var allIdx = _acc.Allocate1D(all);
        using var wT = _acc.Allocate1D<sbyte>((long)d * c);
        _gatherT(d * c, w.View, allIdx.View, wT.View, d, d, c);

        using var h = _acc.Allocate1D(split.High);
        using var l = _acc.Allocate1D(split.Low);
        using var gHigh = InputPart(h, wT, selection, 0, n, c, d);
        using var gLow = InputPart(l, wT, selection, n, n, c, d);
        using var p = _acc.Allocate1D(selection.Probabilities);
        using var keep = _acc.Allocate1D(selection.Keep.Select(k => k ? (byte)1 : (byte)0).ToArray());
        using var outBuf = _acc.Allocate1D<float>((long)n * d);
        _dequantX(n * d, gHigh.View, gLow.View, keep.View, p.View, outBuf.View, sW, split.ScaleUp, split.ScaleDown,
            QuantBits.SplitBase(split.Bits), n, d);
        _acc.Synchronize();
        return new LssInputGradient(outBuf.GetAsArray1D(), gHigh.GetAsArray1D(), gLow.GetAsArray1D(), n, d,
            selection.GemmRowsHigh, selection.GemmRowsLow);
    }

    private (MemoryBuffer1D<double, Stride1D.Dense> Acc, int[] Int, int K) WeightPart(
        MemoryBuffer1D<sbyte, Stride1D.Dense> part, MemoryBuffer1D<sbyte, Stride1D.Dense> a, LssSelection sel,
        int offset, int n, int c, int d, int k)
    {
        var idx = new int[Math.Max(k, 1)];
        var w = new double[Math.Max(k, 1)];
        int kept = 0;
        for (int i = 0; i < n; i++)
            if (sel.Keep[offset + i])
            {
                idx[kept] = i;
                w[kept] = 1.0 / sel.Probabilities[offset + i];
                kept++;
            }
        for (int t = kept; t < idx.Length; t++) { idx[t] = -1; w[t] = 0.0; }   // zero rows padding K to 32

        var acc = _acc.Allocate1D<double>((long)c * d);
        using var g = _acc.Allocate1D<int>((long)c * d);
        if (k == 0)
        {
            acc.MemSetToZero();
            g.MemSetToZero();
            _acc.Synchronize();
            return (acc, new int[c * d], k);
        }
        using var idxBuf = _acc.Allocate1D(idx);
        using var wBuf = _acc.Allocate1D(w);
        using var partT = _acc.Allocate1D<sbyte>((long)c * k);
        using var aT = _acc.Allocate1D<sbyte>((long)d * k);
        _gatherT(c * k, part.View, idxBuf.View, partT.View, c, c, k);
        _gatherT(d * k, a.View, idxBuf.View, aT.View, d, d, k);
        _gemmTN(new Index2D(c, d), partT.View, aT.View, wBuf.View, g.View, acc.View, k, d, 1);
        _acc.Synchronize();
        return (acc, g.GetAsArray1D(), k);
    }

    private MemoryBuffer1D<int, Stride1D.Dense> InputPart(MemoryBuffer1D<sbyte, Stride1D.Dense> part,
        MemoryBuffer1D<sbyte, Stride1D.Dense> wT, LssSelection sel, int offset, int n, int c, int d)
    {
        var full = _acc.Allocate1D<int>((long)n * d);
        full.MemSetToZero();
        var idx = new List<int>();
        for (int i = 0; i < n; i++)
            if (sel.Keep[offset + i]) idx.Add(i);
        int m = idx.Count;
        if (m == 0)
        {
            _acc.Synchronize();
            return full;
        }
        using var idxBuf = _acc.Allocate1D(idx.ToArray());
        using var rows = _acc.Allocate1D<sbyte>((long)m * c);
        _gatherRows(m * c, part.View, idxBuf.View, rows.View, c, m);
        using var g = _acc.Allocate1D<int>((long)m * d);
        using var unused = _acc.Allocate1D<double>(1);
        _gemmTN(new Index2D(m, d), rows.View, wT.View, unused.View, g.View, unused.View, c, d, 0);
        _scatter(new Index2D(m, d), g.View, idxBuf.View, full.View, d);
        _acc.Synchronize();
        return full;
    }

    private static void ValidateSelection(BitSplitResult split, LssSelection sel, LssTarget target)
    {
        if (sel.Target != target)
            throw new ArgumentException($"The selection was made for {sel.Target} but is used for {target}.", "selection");
        if (sel.Tokens != split.Rows)
            throw new ArgumentException($"The selection covers {sel.Tokens} tokens but ∇Y has {split.Rows} rows.", "selection");
        for (int i = 0; i < 2 * sel.Tokens; i++)
            if (sel.Keep[i] && !(sel.Probabilities[i] > 0 && sel.Probabilities[i] <= 1))
                throw new ArgumentException($"Stacked row {i} is kept with probability {sel.Probabilities[i]} (must be in (0, 1]).", "selection");
    }

    /// <summary>dst[r, k] = src[idx[k], r] (dst R×K row-major, K contiguous), 0 where idx[k] &lt; 0 (padding).</summary>
    private static void GatherTransposeKernel(Index1D e, ArrayView<sbyte> src, ArrayView<int> idx, ArrayView<sbyte> dst,
        int srcCols, int r, int k)
    {
        int row = e.X / k, kk = e.X % k;
        int s = idx[kk];
        dst[e] = s < 0 ? (sbyte)0 : src[(long)s * srcCols + row];
    }

    /// <summary>TN GEMM: g[m, n] = Σ_k A[m,k]·B[n,k] (INT32); when <paramref name="weighted"/> ≠ 0 also
    /// acc[m, n] = Σ_k (A[m,k]·B[n,k])·w[k] in double (the 1/p weights along K).</summary>
    private static void GemmTNKernel(Index2D ix, ArrayView<sbyte> a, ArrayView<sbyte> b, ArrayView<double> w,
        ArrayView<int> g, ArrayView<double> acc, int k, int nCols, int weighted)
    {
        long aRow = (long)ix.X * k, bRow = (long)ix.Y * k;
        int s = 0;
        double sw = 0;
        for (int t = 0; t < k; t++)
        {
            int prod = a[aRow + t] * b[bRow + t];
            s += prod;
            if (weighted != 0) sw += prod * w[t];
        }
        long o = (long)ix.X * nCols + ix.Y;
        g[o] = s;
        if (weighted != 0) acc[o] = sw;
    }

    private static void DequantWeightKernel(Index1D e, ArrayView<double> accHigh, ArrayView<double> accLow, ArrayView<float> output,
        double sX, double sUp, double sDown) =>
        output[e] = (float)(sX * (sUp * accHigh[e] + sDown * accLow[e]));

    /// <summary>dst[m, j] = src[idx[m], j] (row gather).</summary>
    private static void GatherRowsKernel(Index1D e, ArrayView<sbyte> src, ArrayView<int> idx, ArrayView<sbyte> dst, int cols, int m)
    {
        int row = e.X / cols, j = e.X % cols;
        dst[e] = src[(long)idx[row] * cols + j];
    }

    /// <summary>full[idx[m], j] = g[m, j] (scatter back into zero-filled N×D).</summary>
    private static void ScatterRowsKernel(Index2D ix, ArrayView<int> g, ArrayView<int> idx, ArrayView<int> full, int d) =>
        full[(long)idx[ix.X] * d + ix.Y] = g[(long)ix.X * d + ix.Y];

    /// <summary>Row i of ∇(XH): folded (every kept part of token i at p = 1, conventions.md "∇X") as
    /// <c>(float)(s_W·(s↓·(B·G↑ + G↓)))</c> with <c>s↑ = B·s↓</c> (B = 14 for b = 4), else
    /// <c>(float)(s_W·(s↑·G↑/p↑ + s↓·G↓/p↓))</c>; a dropped part's G is 0 (scattered) and contributes 0.</summary>
    private static void DequantInputKernel(Index1D e, ArrayView<int> gHigh, ArrayView<int> gLow, ArrayView<byte> keep,
        ArrayView<double> p, ArrayView<float> output, double sW, double sUp, double sDown, int splitBase, int n, int d)
    {
        int i = e.X / d;
        bool kh = keep[i] != 0, kl = keep[n + i] != 0;
        double ph = p[i], pl = p[n + i];
        if ((kh || kl) && (!kh || ph == 1.0) && (!kl || pl == 1.0))
        {
            output[e] = (float)(sW * (sDown * (double)((long)splitBase * gHigh[e] + gLow[e])));
            return;
        }
        double hi = kh ? sUp * gHigh[e] / ph : 0.0;
        double lo = kl ? sDown * gLow[e] / pl : 0.0;
        output[e] = (float)(sW * (hi + lo));
    }
}
