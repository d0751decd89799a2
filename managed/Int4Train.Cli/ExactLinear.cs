namespace Int4Train.Cli;

/// <summary>The FP64 linear layer the demo measures against: Y = X·Wᵀ + b, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X.</summary>
internal static class ExactLinear
{
    public static double[] Forward(float[] x, float[] w, float[] b, int n, int c, int d)
    {
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

    public static double[] GradInput(float[] gy, float[] w, int n, int c, int d)
    {
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

    public static double[] GradWeight(float[] gy, float[] x, int n, int c, int d)
    {
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
