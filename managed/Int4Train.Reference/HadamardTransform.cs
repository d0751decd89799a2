using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>
/// The block-diagonal Hadamard transform <c>X·BlockDiag(H_k, …, H_k)</c> of method.md §2.2 (the "H" of
/// HQ-MM, §2.3 step 1), bit-exactly as conventions.md "Hadamard transform": each G-block of a row gets the
/// unnormalised fast Walsh–Hadamard butterflies for h = 1, 2, …, G/2 (one kernel launch per stage, so the stage
/// order is kept on any accelerator), then one multiplication of every entry by
/// <c>scale(G) = (float)(1/sqrt(G))</c>. H is symmetric and an involution, so applying it twice undoes it
/// (the "transform back" of §2.2 and the ∇·H of §3.1).
/// </summary>
public sealed class HadamardTransform
{
    /// <summary>Largest supported block size G = 2^10 (method.md §2.2, <c>create_H</c>).</summary>
    public const int MaxGroupSize = 1024;

    private readonly ReferenceDevice _device;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, int, int> _butterfly;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, float> _scale;

    /// <summary>Loads (once per device) the two kernels of the transform.</summary>
    public HadamardTransform(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _butterfly = device.GetOrLoad("Hadamard.Butterfly", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, int, int>(ButterflyKernel));
        _scale = device.GetOrLoad("Hadamard.Scale", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, float>(ScaleKernel));
    }

    /// <summary>The device this transform runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary><c>scale(G) = (float)(1 / sqrt(G))</c>, computed in double and rounded once (exact for even k).</summary>
    public static float Scale(int groupSize)
    {
        Guard.HadamardBlock(groupSize, groupSize);
        return (float)(1.0 / Math.Sqrt(groupSize));
    }

    /// <summary>
    /// The dense normalised Hadamard matrix H_k (G×G, row-major, G = 2^k): entry (i, j) is
    /// <c>(−1)^popcount(i AND j) · scale(G)</c> (method.md §2.2, Sylvester form). For tests.
    /// </summary>
    public static float[] Matrix(int groupSize)
    {
        Guard.HadamardBlock(groupSize, groupSize);
        float s = Scale(groupSize);
        var h = new float[groupSize * groupSize];
        for (int i = 0; i < groupSize; i++)
            for (int j = 0; j < groupSize; j++)
                h[i * groupSize + j] = (System.Numerics.BitOperations.PopCount((uint)(i & j)) & 1) == 0 ? s : -s;
        return h;
    }

    /// <summary>Returns <c>X·BlockDiag(H_G)</c> for the row-major <paramref name="rows"/>×<paramref name="cols"/>
    /// matrix <paramref name="x"/>; G must be a power of two in [1, 1024] dividing <paramref name="cols"/>.</summary>
    public float[] Apply(ReadOnlySpan<float> x, int rows, int cols, int groupSize)
    {
        Guard.Matrix(nameof(x), x.Length, rows, cols);
        Guard.HadamardBlock(groupSize, cols);
        Guard.Finite(nameof(x), x);
        var accelerator = _device.Accelerator;
        using var buffer = accelerator.Allocate1D<float>(x.Length);
        buffer.View.CopyFromCPU(accelerator.DefaultStream, x);
        Run(buffer.View, groupSize);
        var result = new float[x.Length];
        buffer.View.CopyToCPU(accelerator.DefaultStream, result.AsSpan());
        return result;
    }

    /// <summary>Transforms the device matrix <paramref name="data"/> (rows×cols, row-major) <b>in place</b> and
    /// synchronises. The view must live on this transform's device.</summary>
    public void Apply(ArrayView1D<float, Stride1D.Dense> data, int rows, int cols, int groupSize)
    {
        _device.CheckView(nameof(data), data);
        Guard.Matrix(nameof(data), data.IntLength, rows, cols);
        Guard.HadamardBlock(groupSize, cols);
        _device.CheckFinite(nameof(data), data);
        Run(data, groupSize);
    }

    /// <summary>Launches the stages on a validated view whose length G divides.</summary>
    internal void Run(ArrayView1D<float, Stride1D.Dense> data, int groupSize)
    {
        if (groupSize == 1) return; // H_0 = [1], scale(1) = 1: the identity.
        int half = groupSize / 2;
        int butterflies = data.IntLength / 2;
        for (int h = 1; h < groupSize; h <<= 1)
            _butterfly(butterflies, data, h, half);
        _scale(data.IntLength, data, Scale(groupSize));
        _device.Accelerator.Synchronize();
    }

    /// <summary>One butterfly of stage h: pair p of its block, (a, b) → (a + b, a − b) on (x[i], x[i+h]).</summary>
    private static void ButterflyKernel(Index1D p, ArrayView1D<float, Stride1D.Dense> x, int h, int half)
    {
        int block = p / half;
        int q = p - block * half;
        int i = block * (2 * half) + (q / h) * (2 * h) + (q % h);
        float a = x[i];
        float b = x[i + h];
        x[i] = a + b;
        x[i + h] = a - b;
    }

    private static void ScaleKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> x, float scale) => x[i] = x[i] * scale;
}
