namespace Int4Train.Tests.Oracle;

/// <summary>
/// Independent scalar oracle of the backward operators (method.md §3.3–3.5, conventions.md): plain C# loops,
/// integers in long, scores and products in double, no ILGPU. FP32 steps of the bit split are written out as
/// conventions.md states them (MathF.Round with ties away from zero, MathF.Floor). Randomness and decision sums
/// use the contract's <see cref="Philox"/> and <see cref="CanonicalSum"/>.
/// </summary>
public static class BackwardOracle
{
    /// <summary>Bit split: digits, Mx, s↑, s↓.</summary>
    public static (sbyte[] High, sbyte[] Low, float Mx, float SUp, float SDown) BitSplit(float[] g, QuantMode mode, ulong seed)
    {
        float minG = float.PositiveInfinity, maxG = float.NegativeInfinity;
        foreach (float v in g) { minG = Math.Min(minG, v); maxG = Math.Max(maxG, v); }
        float mx = Mx(minG, maxG);
        float factor = 98f / mx;
        int lim = mode == QuantMode.Code ? 6 : 7;
        var h = new sbyte[g.Length];
        var l = new sbyte[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            float t = g[i] * factor;
            float hq = MathF.Round(t / 14f, MidpointRounding.AwayFromZero);
            int hi = (int)Math.Clamp(hq, -lim, lim);
            float r = t - 14f * hi;
            // element i: word i % 4 of counter i / 4 (written out here, independently of Philox.BitSplitWord)
            var (w0, w1, w2, w3) = Philox.Draw4(seed, (ulong)i / 4, 0);
            uint x0 = (i % 4) switch { 0 => w0, 1 => w1, 2 => w2, _ => w3 };
            float lq = mode == QuantMode.Code
                ? MathF.Round((r + ((x0 >> 8) + 1) * (1f / 16777216f)) - 0.5f, MidpointRounding.AwayFromZero)
                : MathF.Floor(r + (x0 >> 8) * (1f / 16777216f));
            h[i] = (sbyte)hi;
            l[i] = (sbyte)Math.Clamp((int)lq, -lim, lim);
        }
        return (h, l, mx, mx / 7f, mx / 98f);
    }

    /// <summary>Mx as conventions.md states it: the code's formula, applied after a power-of-two prescale 2^k that lifts
    /// a max|∇Y| below 2^−10 into [¼, ½), then scaled back by 2^−k (at least 2^−120).</summary>
    public static float Mx(float minG, float maxG)
    {
        static float Code(float lo, float hi) => Math.Max(-Math.Min(lo - 1e-8f, 0f), Math.Max(hi + 1e-8f, 0f));
        float m = Math.Max(Math.Abs(minG), Math.Abs(maxG));
        if (m == 0f || m >= 1f / 1024f) return Code(minG, maxG);
        int k = -2 - Math.ILogB(m);   // 2^k·m ∈ [¼, ½)
        return Math.Max(MathF.ScaleB(Code(MathF.ScaleB(minG, k), MathF.ScaleB(maxG, k)), -k), MathF.ScaleB(1f, -120));
    }

    /// <summary>t = g·(98f/Mx) as the kernel computes it.</summary>
    public static float T(float g, float mx) => g * (98f / mx);

    /// <summary>Σ_j q[i,j]² per row.</summary>
    public static long[] SquaredNorms(sbyte[] q, int rows, int cols)
    {
        var r = new long[rows];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) r[i] += (long)q[i * cols + j] * q[i * cols + j];
        return r;
    }

    /// <summary>The 2N ∇W scores.</summary>
    public static double[] WeightScores(sbyte[] h, sbyte[] l, int n, int c, float sUp, float sDown, sbyte[] a, int d, float sX)
    {
        long[] nh = SquaredNorms(h, n, c), nl = SquaredNorms(l, n, c), na = SquaredNorms(a, n, d);
        var s = new double[2 * n];
        for (int i = 0; i < n; i++)
        {
            double xa = (double)sX * Math.Sqrt(na[i]);
            s[i] = ((double)sUp * Math.Sqrt(nh[i])) * xa;
            s[n + i] = ((double)sDown * Math.Sqrt(nl[i])) * xa;
        }
        return s;
    }

    /// <summary>The 2N ∇X scores.</summary>
    public static double[] InputScores(sbyte[] h, sbyte[] l, int n, int c, float sUp, float sDown)
    {
        long[] nh = SquaredNorms(h, n, c), nl = SquaredNorms(l, n, c);
        var s = new double[2 * n];
        for (int i = 0; i < n; i++)
        {
            s[i] = (double)sUp * Math.Sqrt(nh[i]);
            s[n + i] = (double)sDown * Math.Sqrt(nl[i]);
        }
        return s;
    }

    /// <summary>Water-filling exactly as conventions.md (sums via CanonicalSum over all terms, 0 for excluded).</summary>
    public static double[] WaterFill(double[] c, int budget)
    {
        int m = c.Length;
        var p = new double[m];
        double total = CanonicalSum.Sum(c);
        if (total == 0) return p;
        double scale = budget / total;
        for (int i = 0; i < m; i++) p[i] = c[i] * scale;
        for (int iter = 0; iter < m; iter++)
        {
            if (p.Max() <= 1) break;
            int cnt = p.Count(v => v >= 1);
            for (int i = 0; i < m; i++) p[i] = Math.Min(p[i], 1.0);
            double small = CanonicalSum.Sum(p.Select(v => v < 1 ? v : 0.0).ToArray());
            if (small == 0) break;
            double f = (budget - cnt) / small;
            for (int i = 0; i < m; i++) if (p[i] < 1) p[i] *= f;
        }
        for (int i = 0; i < m; i++) p[i] = Math.Min(p[i], 1.0);
        return p;
    }

    /// <summary>Selection: probabilities and keep mask.</summary>
    public static (double[] P, bool[] Keep) Select(double[] c, int n, SamplingMode mode, ulong seed)
    {
        if (mode == SamplingMode.Nonzero)
            return (c.Select(v => v > 0 ? 1.0 : 0.0).ToArray(), c.Select(v => v > 0).ToArray());
        double[] p = WaterFill(c, n);
        var keep = new bool[c.Length];
        for (int i = 0; i < c.Length; i++)
        {
            var (x0, x1) = Philox.Draw(seed, (ulong)i, 1);
            keep[i] = Philox.U01Double(x0, x1) < p[i];
        }
        return (p, keep);
    }

    /// <summary>Σ_{i in rows} part_iᵀ a_i (C×D) in long, over the tokens where <paramref name="use"/> is true.</summary>
    public static long[] WeightProduct(sbyte[] part, sbyte[] a, int n, int c, int d, Func<int, bool> use)
    {
        var g = new long[c * d];
        for (int i = 0; i < n; i++)
        {
            if (!use(i)) continue;
            for (int x = 0; x < c; x++)
            {
                int pv = part[i * c + x];
                if (pv == 0) continue;
                for (int y = 0; y < d; y++) g[x * d + y] += (long)pv * a[i * d + y];
            }
        }
        return g;
    }

    /// <summary>part·Ŵ (N×D) in long, rows where <paramref name="use"/> is false are 0.</summary>
    public static long[] InputProduct(sbyte[] part, sbyte[] w, int n, int c, int d, Func<int, bool> use)
    {
        var g = new long[n * d];
        for (int i = 0; i < n; i++)
        {
            if (!use(i)) continue;
            for (int x = 0; x < c; x++)
            {
                int pv = part[i * c + x];
                if (pv == 0) continue;
                for (int y = 0; y < d; y++) g[i * d + y] += (long)pv * w[x * d + y];
            }
        }
        return g;
    }

    /// <summary>The exact (unsampled) ∇W of the split, in double: s_X·(s↑·Σ h_iᵀa_i + s↓·Σ l_iᵀa_i).</summary>
    public static double[] ExactWeightGradient(sbyte[] h, sbyte[] l, sbyte[] a, int n, int c, int d, float sUp, float sDown, float sX)
    {
        long[] gh = WeightProduct(h, a, n, c, d, _ => true), gl = WeightProduct(l, a, n, c, d, _ => true);
        return gh.Select((v, k) => (double)sX * ((double)sUp * v + (double)sDown * gl[k])).ToArray();
    }

    /// <summary>The exact ∇X of the split, in double: s_W·(s↑·h·Ŵ + s↓·l·Ŵ).</summary>
    public static double[] ExactInputGradient(sbyte[] h, sbyte[] l, sbyte[] w, int n, int c, int d, float sUp, float sDown, float sW)
    {
        long[] gh = InputProduct(h, w, n, c, d, _ => true), gl = InputProduct(l, w, n, c, d, _ => true);
        return gh.Select((v, k) => (double)sW * ((double)sUp * v + (double)sDown * gl[k])).ToArray();
    }

    /// <summary>Sampled ∇W: s_X·Σ_kept (s_part/p_i)·part_iᵀa_i, in double.</summary>
    public static double[] SampledWeightGradient(sbyte[] h, sbyte[] l, sbyte[] a, int n, int c, int d, float sUp, float sDown, float sX,
        double[] p, bool[] keep)
    {
        var r = new double[c * d];
        for (int i = 0; i < 2 * n; i++)
        {
            if (!keep[i]) continue;
            sbyte[] part = i < n ? h : l;
            int tok = i < n ? i : i - n;
            double s = (double)sX * (i < n ? sUp : sDown) / p[i];
            for (int x = 0; x < c; x++)
                for (int y = 0; y < d; y++) r[x * d + y] += s * part[tok * c + x] * a[tok * d + y];
        }
        return r;
    }
}
