namespace Int4Train.Tests.Oracle;

/// <summary>
/// Independent scalar oracle of the forward-side operators (method.md §2, §3.6; conventions.md): plain C#
/// loops, no ILGPU. Integer results in long; floating steps that the contract pins down are done with the same
/// FP32 operations (so results can be compared bit for bit), everything else in double.
/// </summary>
public static class ForwardOracle
{
    /// <summary>Ties away from zero through <see cref="Math.Round(double, MidpointRounding)"/> (independent of
    /// Core's implementation; exact for float inputs).</summary>
    public static float RoundHalfAway(float x) => (float)Math.Round((double)x, MidpointRounding.AwayFromZero);

    /// <summary>The FWHT of conventions.md in the stated order, sequentially, in FP32.</summary>
    public static float[] Hadamard(float[] x, int cols, int g)
    {
        var y = (float[])x.Clone();
        float scale = (float)(1.0 / Math.Sqrt(g));
        for (int start = 0; start < y.Length; start += g)
        {
            for (int h = 1; h < g; h <<= 1)
                for (int i = 0; i < g; i++)
                    if ((i & h) == 0)
                    {
                        float a = y[start + i], b = y[start + i + h];
                        y[start + i] = a + b;
                        y[start + i + h] = a - b;
                    }
            if (g > 1)
                for (int i = 0; i < g; i++) y[start + i] *= scale;
        }
        _ = cols;
        return y;
    }

    /// <summary>H_k entry in double: 2^(−k/2)·(−1)^popcount(i&amp;j).</summary>
    public static double HEntry(int g, int i, int j)
    {
        double s = 1.0 / Math.Sqrt(g);
        return (System.Numerics.BitOperations.PopCount((uint)(i & j)) & 1) == 0 ? s : -s;
    }

    /// <summary>X·BlockDiag(H_G) by dense multiplication in double.</summary>
    public static double[] HadamardDense(float[] x, int rows, int cols, int g)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < cols; b += g)
                for (int j = 0; j < g; j++)
                {
                    double sum = 0;
                    for (int i = 0; i < g; i++) sum += x[r * cols + b + i] * HEntry(g, i, j);
                    y[r * cols + b + j] = sum;
                }
        return y;
    }

    public static sbyte[] Quantize(float[] v, float step, QuantMode mode)
    {
        var q = new sbyte[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            float r = RoundHalfAway(v[i] / step);
            q[i] = (sbyte)Math.Clamp(r, mode.Qn(), mode.Qp());
        }
        return q;
    }

    public static float[] Dequantize(sbyte[] q, float step)
    {
        var v = new float[q.Length];
        for (int i = 0; i < q.Length; i++) v[i] = step * q[i];
        return v;
    }

    public static float[] FakeQuantize(float[] v, float step, QuantMode mode) => Dequantize(Quantize(v, step, mode), step);

    public static float InitStep(float[] v)
    {
        var abs = new double[v.Length];
        for (int i = 0; i < v.Length; i++) abs[i] = Math.Abs((double)v[i]);
        double mean = CanonicalSum.Sum(abs) / v.Length;
        if (mean > 0 && mean < Math.ScaleB(1.0, -20))   // conventions.md: no absolute 1e−10 for tiny tensors
            return Math.Max((float)(2.0 * mean / Math.Sqrt(7.0)), MathF.ScaleB(1f, -120));
        return (float)(2.0 * mean / Math.Sqrt(7.0) + 1e-10);
    }

    public static (float[] Grad, double StepGrad) Backward(float[] values, float[] r, float step, QuantMode mode)
    {
        var grad = new float[values.Length];
        var terms = new double[values.Length];
        int qn = mode.Qn(), qp = mode.Qp();
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i] / step;
            double e = v < qn ? qn : v > qp ? qp : (double)(RoundHalfAway(v) - v);
            grad[i] = v >= qn && v <= qp ? r[i] : 0f;
            terms[i] = e * r[i];
        }
        return (grad, CanonicalSum.Sum(terms) / Math.Sqrt(values.Length * 7.0));
    }

    public static byte[] Pack(sbyte[] q)
    {
        var p = new byte[q.Length / 2];
        for (int j = 0; j < p.Length; j++) p[j] = (byte)(((q[2 * j + 1] & 0xF) << 4) | (q[2 * j] & 0xF));
        return p;
    }

    public static sbyte[] Unpack(byte[] p)
    {
        var q = new sbyte[p.Length * 2];
        for (int j = 0; j < p.Length; j++)
        {
            int lo = p[j] & 0xF, hi = p[j] >> 4;
            q[2 * j] = (sbyte)(lo >= 8 ? lo - 16 : lo);
            q[2 * j + 1] = (sbyte)(hi >= 8 ? hi - 16 : hi);
        }
        return q;
    }

    public static long[] Gemm(sbyte[] a, sbyte[] b, int m, int n, int k)
    {
        var c = new long[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                long s = 0;
                for (int t = 0; t < k; t++) s += (long)a[i * k + t] * b[j * k + t];
                c[i * n + j] = s;
            }
        return c;
    }

    public sealed record HqResult(float[] Y, long[] Acc, sbyte[] CodesX, sbyte[] CodesW, float[] XH, float[] WH);

    public static HqResult HqForward(float[] x, float[] w, int n, int c, int d, int g, float sx, float sw, QuantMode mode, float[]? bias)
    {
        var xh = Hadamard(x, d, g);
        var wh = Hadamard(w, d, g);
        var a = Quantize(xh, sx, mode);
        var b = Quantize(wh, sw, mode);
        var acc = Gemm(a, b, n, c, d);
        float scale = sx * sw;
        var y = new float[n * c];
        for (int i = 0; i < y.Length; i++)
        {
            float v = scale * (float)acc[i];
            y[i] = bias is null ? v : v + bias[i % c];
        }
        return new HqResult(y, acc, a, b, xh, wh);
    }

    public static (int G, List<(int G, double Score)> Scores) BlockSizeSearch(float[] x, float[] w, int d, QuantMode mode)
    {
        var scores = new List<(int, double)>();
        int best = -1;
        double bestScore = double.PositiveInfinity;
        for (int g = 1; g <= 1024 && d % g == 0; g <<= 1)
        {
            double score = Error(x, d, g, mode) * Error(w, d, g, mode);
            scores.Add((g, score));
            if (score < bestScore) { best = g; bestScore = score; }
        }
        return (best, scores);
    }

    private static double Error(float[] v, int d, int g, QuantMode mode)
    {
        var t = Hadamard(v, d, g);
        var back = Hadamard(FakeQuantize(t, InitStep(t), mode), d, g);
        var sq = new double[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            float diff = back[i] - v[i];
            sq[i] = (double)diff * diff;
        }
        return Math.Sqrt(CanonicalSum.Sum(sq));
    }
}
