using NUnit.Framework;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Int4Train.Reference;

namespace Int4Train.Tests.Reference.Backward;

/// <summary>
/// The backward-operator objects on the accelerator of <see cref="ReferenceDeviceFixture.Cpu"/> (ILGPU's CPU
/// accelerator, or its CUDA accelerator with <c>INT4TRAIN_REFERENCE_CUDA=1</c>), compiled once.
/// </summary>
public static class BackwardTestDevice
{
    private static readonly Lazy<State> Shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The accelerator.</summary>
    public static Accelerator Accelerator => Shared.Value.Accelerator;

    /// <summary>The bit splitter on <see cref="Accelerator"/>.</summary>
    public static BitSplit BitSplit => Shared.Value.BitSplit;

    /// <summary>The sampler on <see cref="Accelerator"/>.</summary>
    public static LeverageScoreSampler Sampler => Shared.Value.Sampler;

    /// <summary>LSS-MM on <see cref="Accelerator"/>.</summary>
    public static LssMatMul MatMul => Shared.Value.MatMul;

    internal static void DisposeShared()
    {
        if (Shared.IsValueCreated) Shared.Value.Dispose();
    }

    private static State Create()
    {
        return new State(ReferenceDeviceFixture.Cpu.Accelerator);
    }

    // The accelerator belongs to ReferenceDeviceFixture, which disposes it.
    private sealed class State(Accelerator accelerator) : IDisposable
    {
        public Accelerator Accelerator { get; } = accelerator;
        public BitSplit BitSplit { get; } = new(accelerator);
        public LeverageScoreSampler Sampler { get; } = new(accelerator);
        public LssMatMul MatMul { get; } = new(accelerator);

        public void Dispose() { }
    }
}

/// <summary>Disposes the shared accelerator after the backward tests.</summary>
[SetUpFixture]
public sealed class BackwardTestDeviceTeardown
{
    /// <summary>Releases the ILGPU context.</summary>
    [OneTimeTearDown]
    public void TearDown() => BackwardTestDevice.DisposeShared();
}

/// <summary>Seeded test data with the structure of real ∇Y: skewed row norms and exactly-zero rows.</summary>
public static class BackwardData
{
    /// <summary>∇Y (N×C): a few rows with large norms, many tiny ones, <paramref name="zeroRows"/> exactly-zero rows
    /// (at seeded positions), never all zero.</summary>
    public static float[] SkewedGradient(Random rng, int n, int c, int zeroRows = 3, int largeRows = 3)
    {
        var g = new float[n * c];
        var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        var zero = new HashSet<int>(order.Take(zeroRows));
        var large = new HashSet<int>(order.Skip(zeroRows).Take(largeRows));
        for (int i = 0; i < n; i++)
        {
            if (zero.Contains(i)) continue;
            double scale = large.Contains(i) ? 1.0 : Math.Pow(10, -1 - 2 * rng.NextDouble());
            for (int j = 0; j < c; j++) g[i * c + j] = (float)(scale * Gauss(rng));
        }
        return g;
    }

    /// <summary>Uniform INT4 codes in [lo, hi].</summary>
    public static sbyte[] Codes(Random rng, int count, int lo = -8, int hi = 7)
    {
        var q = new sbyte[count];
        for (int i = 0; i < count; i++) q[i] = (sbyte)rng.Next(lo, hi + 1);
        return q;
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double Gauss(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
