namespace Int4Train;

/// <summary>The linear layer in FP64 accumulation: Y = X·Wᵀ + b, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X (X: n×d, W: c×d, ∇Y: n×c).
/// The FP32 baseline of <see cref="Int4Linear"/> and the ground truth the demo measures errors against.</summary>
/// <remarks>Thread safety: stateless; safe from any number of threads (the caller must not change the arrays it passes during a call).</remarks>
internal static class Fp64Linear
{
    /// <summary>Y = X·Wᵀ + b.</summary>
    public static double[] Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int n, int c, int d)
    {
        Guard.Matrix(nameof(x), x.Length, n, d);
        Guard.Matrix(nameof(w), w.Length, c, d);
        Guard.Matrix(nameof(b), b.Length, 1, c);
        var y = new double[n * c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                double s = b[j];
                for (int k = 0; k < d; k++) s += (double)x[i * d + k] * w[j * d + k];
                y[i * c + j] = s;
            }
        return y;
    }

    /// <summary>∇X = ∇Y·W.</summary>
    public static double[] GradInput(ReadOnlySpan<float> gy, ReadOnlySpan<float> w, int n, int c, int d)
    {
        Guard.Matrix(nameof(gy), gy.Length, n, c);
        Guard.Matrix(nameof(w), w.Length, c, d);
        var gx = new double[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                double g = gy[i * c + j];
                if (g == 0) continue;
                for (int k = 0; k < d; k++) gx[i * d + k] += g * w[j * d + k];
            }
        return gx;
    }

    /// <summary>∇W = ∇Yᵀ·X.</summary>
    public static double[] GradWeight(ReadOnlySpan<float> gy, ReadOnlySpan<float> x, int n, int c, int d)
    {
        Guard.Matrix(nameof(gy), gy.Length, n, c);
        Guard.Matrix(nameof(x), x.Length, n, d);
        var gw = new double[c * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                double g = gy[i * c + j];
                if (g == 0) continue;
                for (int k = 0; k < d; k++) gw[j * d + k] += g * x[i * d + k];
            }
        return gw;
    }

    /// <summary>‖a − b‖_F / ‖b‖_F.</summary>
    public static double RelativeError(ReadOnlySpan<float> a, ReadOnlySpan<double> b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < b.Length; i++) { double e = a[i] - b[i]; num += e * e; den += b[i] * b[i]; }
        return Math.Sqrt(num / Math.Max(den, double.Epsilon));
    }
}
