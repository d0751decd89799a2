using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>Which backward GEMM a selection feeds (it decides the scores and the GEMM row counts).</summary>
public enum LssTarget
{
    /// <summary>∇W = s_X·∇Yᵀ X̂ (§3.4): scores include ‖s_X·a_i‖; kept counts are padded to a multiple of 32 (K of the GEMM).</summary>
    WeightGradient = 0,

    /// <summary>∇X = s_W·∇Y Ŵ (§3.5): scores are ‖∇↕_i‖; kept counts are exact (M of the GEMM).</summary>
    InputGradient = 1,
}

/// <summary>The stacked-row selection of leverage score sampling (method.md §3.4, §3.5). Stacked rows
/// 0..N−1 are the high parts of tokens 0..N−1, rows N..2N−1 the low parts.</summary>
public sealed class LssSelection
{
    internal LssSelection(LssTarget target, SamplingMode mode, int tokens, double[] scores, double[] probabilities,
        bool[] keep, int waterFillIterations)
    {
        Target = target;
        Mode = mode;
        Tokens = tokens;
        Scores = scores;
        Probabilities = probabilities;
        Keep = keep;
        WaterFillIterations = waterFillIterations;
        for (int i = 0; i < tokens; i++)
        {
            if (keep[i]) KeptHigh++;
            if (keep[tokens + i]) KeptLow++;
        }
        GemmRowsHigh = target == LssTarget.WeightGradient ? RoundUp32(KeptHigh) : KeptHigh;
        GemmRowsLow = target == LssTarget.WeightGradient ? RoundUp32(KeptLow) : KeptLow;
    }

    /// <summary>The GEMM this selection feeds.</summary>
    public LssTarget Target { get; }

    /// <summary>Nonzero (p = 1[c &gt; 0]) or Bernoulli (water-filled p, Philox stream 1).</summary>
    public SamplingMode Mode { get; }

    /// <summary>N, the number of tokens; every per-row array has 2N entries.</summary>
    public int Tokens { get; }

    /// <summary>The 2N leverage scores c_i (double).</summary>
    public double[] Scores { get; }

    /// <summary>The 2N keep probabilities p_i ∈ [0, 1] (double).</summary>
    public double[] Probabilities { get; }

    /// <summary>The 2N keep decisions.</summary>
    public bool[] Keep { get; }

    /// <summary>Number of kept high-part rows (stacked rows 0..N−1).</summary>
    public int KeptHigh { get; }

    /// <summary>Number of kept low-part rows (stacked rows N..2N−1).</summary>
    public int KeptLow { get; }

    /// <summary>Rows handed to the high-part GEMM: <see cref="KeptHigh"/> rounded up to a multiple of 32 for ∇W
    /// (zero-row padding of K), exact for ∇X (§9 item 20).</summary>
    public int GemmRowsHigh { get; }

    /// <summary>Rows handed to the low-part GEMM (see <see cref="GemmRowsHigh"/>).</summary>
    public int GemmRowsLow { get; }

    /// <summary>Rounds of the water-filling loop that ran (0 in Nonzero mode).</summary>
    public int WaterFillIterations { get; }

    private static int RoundUp32(int n) => (n + 31) / 32 * 32;
}

/// <summary>
/// Leverage score sampling of the 2N stacked bit-split rows (method.md §3.4 for ∇W, §3.5 for ∇X;
/// conventions.md "Leverage scores and selection"). Integer squared row norms (int64) and the double scores
/// are computed in ILGPU kernels; <see cref="SamplingMode.Nonzero"/> keeps rows with c &gt; 0 with p = 1;
/// <see cref="SamplingMode.Bernoulli"/> water-fills p = min(1, λc) with Σp = N on the host (every sum
/// <see cref="CanonicalSum"/>) and draws keep ⇔ U01Double(Philox(seed, i, stream 1)) &lt; p_i in a kernel.
/// </summary>
public sealed class LeverageScoreSampler
{
    private readonly Accelerator _acc;
    private readonly Action<Index1D, ArrayView<sbyte>, ArrayView<long>, int> _sqNorm;
    private readonly Action<Index1D, ArrayView<long>, ArrayView<long>, ArrayView<long>, ArrayView<double>, double, double, double, int> _weightScores;
    private readonly Action<Index1D, ArrayView<long>, ArrayView<long>, ArrayView<double>, double, double, int> _inputScores;
    private readonly Action<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<byte>> _nonzero;
    private readonly Action<Index1D, ArrayView<double>, ArrayView<byte>, ulong> _bernoulli;

    /// <summary>Compiles the kernels for <paramref name="accelerator"/> (not owned).</summary>
    public LeverageScoreSampler(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _acc = accelerator;
        _sqNorm = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<sbyte>, ArrayView<long>, int>(SquaredNormKernel);
        _weightScores = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, ArrayView<long>, ArrayView<long>, ArrayView<double>, double, double, double, int>(WeightScoreKernel);
        _inputScores = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, ArrayView<long>, ArrayView<double>, double, double, int>(InputScoreKernel);
        _nonzero = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<byte>>(NonzeroKernel);
        _bernoulli = _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<byte>, ulong>(BernoulliKernel);
    }

    /// <summary>Integer squared row norms Σ_j q[i,j]² (int64) of a row-major sbyte matrix.</summary>
    /// <exception cref="ArgumentException">Empty or mis-shaped input.</exception>
    public long[] SquaredRowNorms(ReadOnlySpan<sbyte> codes, int rows, int cols)
    {
        Guard.Matrix(nameof(codes), codes.Length, rows, cols);
        using var q = _acc.Allocate1D(codes.ToArray());
        using var norms = _acc.Allocate1D<long>(rows);
        _sqNorm(rows, q.View, norms.View, cols);
        _acc.Synchronize();
        return norms.GetAsArray1D();
    }

    /// <summary>The 2N ∇W scores <c>c_i = (s↑·sqrt(nh_i))·(s_X·sqrt(na_i))</c> and <c>(s↓·sqrt(nl_i))·(s_X·sqrt(na_i))</c> (§3.4).</summary>
    /// <param name="split">The bit split of ∇Y (N×C).</param>
    /// <param name="xCodes">The forward's X codes X̂ (N×D, in [−8, 7]; b-bit codes for a b-bit split).</param>
    /// <param name="d">D (input channels).</param>
    /// <param name="sX">The activation step size s_X.</param>
    /// <exception cref="ArgumentException">Mis-shaped or out-of-range codes, or a non-positive step.</exception>
    public double[] WeightGradientScores(BitSplitResult split, ReadOnlySpan<sbyte> xCodes, int d, float sX)
    {
        ArgumentNullException.ThrowIfNull(split);
        ValidateXCodes(split, xCodes, d, sX);
        int n = split.Rows;
        using var nh = Norms(split.High, n, split.Cols);
        using var nl = Norms(split.Low, n, split.Cols);
        using var q = _acc.Allocate1D(xCodes.ToArray());
        using var na = _acc.Allocate1D<long>(n);
        _sqNorm(n, q.View, na.View, d);
        using var c = _acc.Allocate1D<double>(2 * n);
        _weightScores(n, nh.View, nl.View, na.View, c.View, split.ScaleUp, split.ScaleDown, sX, n);
        _acc.Synchronize();
        return c.GetAsArray1D();
    }

    /// <summary>The 2N ∇X scores <c>c_i = s↑·sqrt(nh_i)</c> and <c>s↓·sqrt(nl_i)</c> (§3.5).</summary>
    public double[] InputGradientScores(BitSplitResult split)
    {
        ArgumentNullException.ThrowIfNull(split);
        int n = split.Rows;
        using var nh = Norms(split.High, n, split.Cols);
        using var nl = Norms(split.Low, n, split.Cols);
        using var c = _acc.Allocate1D<double>(2 * n);
        _inputScores(n, nh.View, nl.View, c.View, split.ScaleUp, split.ScaleDown, n);
        _acc.Synchronize();
        return c.GetAsArray1D();
    }

    /// <summary>Scores and selection for the ∇W GEMM (§3.4).</summary>
    /// <param name="split">The bit split of ∇Y.</param>
    /// <param name="xCodes">X̂ (N×D).</param>
    /// <param name="d">D.</param>
    /// <param name="sX">s_X.</param>
    /// <param name="mode">Nonzero or Bernoulli.</param>
    /// <param name="seed">Philox key of the Bernoulli draws (stream 1); unused in Nonzero mode.</param>
    public LssSelection SelectForWeightGradient(BitSplitResult split, ReadOnlySpan<sbyte> xCodes, int d, float sX,
        SamplingMode mode, ulong seed) =>
        Select(WeightGradientScores(split, xCodes, d, sX), split.Rows, LssTarget.WeightGradient, mode, seed);

    /// <summary>Scores and selection for the ∇X GEMM (§3.5).</summary>
    public LssSelection SelectForInputGradient(BitSplitResult split, SamplingMode mode, ulong seed) =>
        Select(InputGradientScores(split), split.Rows, LssTarget.InputGradient, mode, seed);

    /// <summary>Selection from given 2N scores (budget B = N): Nonzero keeps c &gt; 0 with p = 1; Bernoulli
    /// water-fills (<see cref="WaterFill"/>) and draws with Philox(seed, i, stream 1).</summary>
    /// <exception cref="ArgumentException">Scores not of length 2·<paramref name="tokens"/>, negative, NaN or Inf.</exception>
    public LssSelection Select(ReadOnlySpan<double> scores, int tokens, LssTarget target, SamplingMode mode, ulong seed)
    {
        Guard.Positive(nameof(tokens), tokens);
        Guard.Length(nameof(scores), scores.Length, 2 * tokens, $"2N stacked rows for N = {tokens}");
        Guard.NonNegativeFinite(nameof(scores), scores);
        if (target != LssTarget.WeightGradient && target != LssTarget.InputGradient)
            throw new ArgumentException($"Unknown LSS target {(int)target}.", nameof(target));
        int m = 2 * tokens;
        double[] c = scores.ToArray();
        using var cBuf = _acc.Allocate1D(c);
        using var pBuf = _acc.Allocate1D<double>(m);
        using var keepBuf = _acc.Allocate1D<byte>(m);
        double[] p;
        int iterations = 0;
        switch (mode)
        {
            case SamplingMode.Nonzero:
                _nonzero(m, cBuf.View, pBuf.View, keepBuf.View);
                _acc.Synchronize();
                p = pBuf.GetAsArray1D();
                break;
            case SamplingMode.Bernoulli:
                p = WaterFill(c, tokens, out iterations);
                pBuf.View.CopyFromCPU(p);
                _bernoulli(m, pBuf.View, keepBuf.View, seed);
                _acc.Synchronize();
                break;
            default:
                throw new ArgumentException($"Unknown sampling mode {(int)mode}.", nameof(mode));
        }
        byte[] k = keepBuf.GetAsArray1D();
        var keep = new bool[m];
        for (int i = 0; i < m; i++) keep[i] = k[i] != 0;
        return new LssSelection(target, mode, tokens, c, p, keep, iterations);
    }

    /// <summary>
    /// Water-filling (conventions.md, §3.4 App. A.2): <c>p = min(1, λc)</c> with <c>Σp = min(B, #{c &gt; 0})</c>.
    /// <c>total = Σc</c>; zero total keeps nothing; <c>p_i = c_i·(B/total)</c>; at most 2N rounds of: stop if
    /// max p ≤ 1; cnt = #{p ≥ 1}; clamp to ≤ 1; small = Σ_{p&lt;1} p (stop if 0); p_i *= (B − cnt)/small for p_i &lt; 1;
    /// finally clamp. Each sum is a <see cref="CanonicalSum"/> over all 2N per-row terms (0.0 for excluded rows).
    /// </summary>
    /// <param name="scores">The 2N non-negative scores.</param>
    /// <param name="budget">B (N, the number of tokens).</param>
    /// <param name="iterations">Rounds of the loop body that ran (the "max p ≤ 1" check of a round counts it).</param>
    public static double[] WaterFill(ReadOnlySpan<double> scores, int budget, out int iterations)
    {
        Guard.Positive(nameof(budget), budget);
        if (scores.Length == 0) throw new ArgumentException("scores must be non-empty.", nameof(scores));
        Guard.NonNegativeFinite(nameof(scores), scores);
        int m = scores.Length;
        var p = new double[m];
        iterations = 0;
        double total = CanonicalSum.Sum(scores);
        if (total == 0) return p;
        double b = budget;
        double scale = b / total;
        for (int i = 0; i < m; i++) p[i] = scores[i] * scale;
        var terms = new double[m];
        for (int iter = 0; iter < m; iter++)
        {
            iterations = iter + 1;
            double max = 0;
            for (int i = 0; i < m; i++) max = Math.Max(max, p[i]);
            if (max <= 1) break;
            int cnt = 0;
            for (int i = 0; i < m; i++)
            {
                if (p[i] >= 1) cnt++;
                if (p[i] > 1) p[i] = 1;
            }
            for (int i = 0; i < m; i++) terms[i] = p[i] < 1 ? p[i] : 0.0;
            double small = CanonicalSum.Sum(terms);
            if (small == 0) break;
            double f = (b - cnt) / small;
            for (int i = 0; i < m; i++)
                if (p[i] < 1) p[i] *= f;
        }
        for (int i = 0; i < m; i++)
            if (p[i] > 1) p[i] = 1;
        return p;
    }

    private MemoryBuffer1D<long, Stride1D.Dense> Norms(sbyte[] codes, int rows, int cols)
    {
        using var q = _acc.Allocate1D(codes);
        var norms = _acc.Allocate1D<long>(rows);
        _sqNorm(rows, q.View, norms.View, cols);
        _acc.Synchronize();
        return norms;
    }

    internal static void ValidateXCodes(BitSplitResult split, ReadOnlySpan<sbyte> xCodes, int d, float sX)
    {
        Guard.Positive(nameof(d), d);
        if ((long)split.Rows * d != xCodes.Length)
            throw new ArgumentException(
                $"xCodes has {xCodes.Length} elements but must be N×D = {split.Rows}×{d} ({(long)split.Rows * d}) to match ∇Y's {split.Rows} tokens.",
                nameof(xCodes));
        CheckCodes(nameof(xCodes), xCodes, split.Bits);
        Guard.Step(nameof(sX), sX);
    }

    /// <summary>The forward codes that go with a b-bit split are b-bit codes: [−8, 7] for b = 4 (the INT4 check),
    /// [−2^(b−1), 2^(b−1) − 1] otherwise. For b &gt; 4 the reduction length is bounded so that the INT32 GEMMs
    /// (|digit·code| ≤ 127·128) stay exact.</summary>
    internal static void CheckCodes(string name, ReadOnlySpan<sbyte> codes, int bits)
    {
        if (bits == QuantBits.Default)
        {
            Guard.CodeRange(name, codes, -8, 7);
            return;
        }
        Guard.CodeRange(name, codes, QuantMode.Code.Qn(bits), QuantMode.Code.Qp(bits));
    }

    /// <summary>Throws when a b-bit (b &gt; 4) digit-by-code GEMM with reduction length <paramref name="k"/> could
    /// overflow INT32 (the INT4 path is unchanged: |h·a| ≤ 56, exact far beyond any shape it accepts).</summary>
    internal static void CheckWideReduction(string name, int k, int bits)
    {
        if (bits > QuantBits.Default && (long)k * 127 * 128 > int.MaxValue)
            throw new ArgumentException($"{name} = {k} is too large for exact INT32 accumulation of {bits}-bit digits and codes.", name);
    }

    private static void SquaredNormKernel(Index1D row, ArrayView<sbyte> q, ArrayView<long> norms, int cols)
    {
        long start = (long)row.X * cols;
        long s = 0;
        for (int j = 0; j < cols; j++)
        {
            int v = q[start + j];
            s += v * v;
        }
        norms[row] = s;
    }

    private static void WeightScoreKernel(Index1D i, ArrayView<long> nh, ArrayView<long> nl, ArrayView<long> na,
        ArrayView<double> c, double sUp, double sDown, double sX, int n)
    {
        double xa = sX * Math.Sqrt((double)na[i]);
        c[i] = (sUp * Math.Sqrt((double)nh[i])) * xa;
        c[n + i.X] = (sDown * Math.Sqrt((double)nl[i])) * xa;
    }

    private static void InputScoreKernel(Index1D i, ArrayView<long> nh, ArrayView<long> nl, ArrayView<double> c,
        double sUp, double sDown, int n)
    {
        c[i] = sUp * Math.Sqrt((double)nh[i]);
        c[n + i.X] = sDown * Math.Sqrt((double)nl[i]);
    }

    private static void NonzeroKernel(Index1D i, ArrayView<double> c, ArrayView<double> p, ArrayView<byte> keep)
    {
        bool k = c[i] > 0;
        p[i] = k ? 1.0 : 0.0;
        keep[i] = k ? (byte)1 : (byte)0;
    }

    private static void BernoulliKernel(Index1D i, ArrayView<double> p, ArrayView<byte> keep, ulong seed)
    {
        var (x0, x1) = Philox.Draw(seed, (ulong)i.X, Philox.StreamSampling);
        keep[i] = Philox.U01Double(x0, x1) < p[i] ? (byte)1 : (byte)0;
    }
}
