using Int4Train.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>One CPU reference device shared by every test of this namespace (kernels compile once).</summary>
[SetUpFixture]
public sealed class ReferenceDeviceFixture
{
    private static ReferenceDevice? _cpu;

    /// <summary>The shared device: ILGPU's CPU accelerator, or its CUDA accelerator when the environment variable
    /// <c>INT4TRAIN_REFERENCE_CUDA=1</c> is set (the same tests then check the CUDA back end against the oracle).</summary>
    public static ReferenceDevice Cpu => _cpu ??= Environment.GetEnvironmentVariable("INT4TRAIN_REFERENCE_CUDA") == "1"
        ? ReferenceDevice.TryCreateCuda() ?? throw new InvalidOperationException("INT4TRAIN_REFERENCE_CUDA=1 but no CUDA device.")
        : ReferenceDevice.CreateCpu();

    [OneTimeTearDown]
    public void TearDown()
    {
        _cpu?.Dispose();
        _cpu = null;
    }
}

/// <summary>Seeded random test data. Gaussian entries never exactly zero; optional outlier channels.</summary>
public static class TestData
{
    public static float Gaussian(Random rng)
    {
        while (true)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            float v = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            if (v != 0f) return v;
        }
    }

    /// <summary>rows×cols Gaussian matrix; the listed columns (channels) are scaled by <paramref name="outlierScale"/>.</summary>
    public static float[] Matrix(Random rng, int rows, int cols, float outlierScale = 1f, params int[] outlierChannels)
    {
        var m = new float[rows * cols];
        for (int i = 0; i < m.Length; i++) m[i] = Gaussian(rng);
        foreach (int ch in outlierChannels)
            for (int r = 0; r < rows; r++) m[r * cols + ch] *= outlierScale;
        return m;
    }

    /// <summary>The usual test input: Gaussian with two outlier channels ×50 (when cols ≥ 4).</summary>
    public static float[] WithOutliers(Random rng, int rows, int cols) =>
        cols >= 4 ? Matrix(rng, rows, cols, 50f, 1, cols - 2) : Matrix(rng, rows, cols, 50f, 0);

    /// <summary>Uniform in ±[0.05, 1) (light tails, no outliers, never zero).</summary>
    public static float[] Uniform(Random rng, int n)
    {
        var m = new float[n];
        for (int i = 0; i < n; i++)
            m[i] = (float)((0.05 + 0.95 * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1));
        return m;
    }

    public static sbyte[] Codes(Random rng, int n, int lo = -8, int hi = 7)
    {
        var q = new sbyte[n];
        for (int i = 0; i < n; i++) q[i] = (sbyte)rng.Next(lo, hi + 1);
        return q;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<double> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static double MaxAbs(ReadOnlySpan<double> a)
    {
        double m = 0;
        foreach (double v in a) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
