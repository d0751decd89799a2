using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>
/// The exact integer GEMM of method.md §2.3 step 4 (and §1's three INT4 products), "TN" as conventions.md
/// "Layout and types": <c>C[m,n] = Σ_k A[m,k]·B[n,k]</c> with A M×K and B N×K both K-contiguous and INT32
/// accumulation, one kernel thread per output. Two inputs: unpacked codes (<c>sbyte</c>, any int8 value, e.g.
/// INT4 codes or the bit split's INT8 view <c>14h + l</c>) and packed INT4 (<see cref="Int4Packing"/> order).
/// Inputs whose products could overflow INT32 are rejected, so the result always equals the int64 sum.
/// </summary>
public sealed class IntegerGemm
{
    private readonly ReferenceDevice _device;
    private readonly Action<Index1D, ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<sbyte, Stride1D.Dense>,
        ArrayView1D<int, Stride1D.Dense>, int, int> _codes;
    private readonly Action<Index1D, ArrayView1D<byte, Stride1D.Dense>, ArrayView1D<byte, Stride1D.Dense>,
        ArrayView1D<int, Stride1D.Dense>, int, int> _packed;

    /// <summary>Loads (once per device) the two GEMM kernels.</summary>
    public IntegerGemm(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _codes = device.GetOrLoad("Gemm.Codes", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<sbyte, Stride1D.Dense>,
            ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<int, Stride1D.Dense>, int, int>(CodesKernel));
        _packed = device.GetOrLoad("Gemm.Packed", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<byte, Stride1D.Dense>,
            ArrayView1D<byte, Stride1D.Dense>, ArrayView1D<int, Stride1D.Dense>, int, int>(PackedKernel));
    }

    /// <summary>The device this GEMM runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary>Returns the M×N INT32 product <c>A·Bᵀ</c> of the codes A (M×K) and B (N×K).</summary>
    public int[] Multiply(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b, int m, int n, int k)
    {
        Guard.Matrix(nameof(a), a.Length, m, k);
        Guard.Matrix(nameof(b), b.Length, n, k);
        CheckOverflow(MaxAbs(a), MaxAbs(b), k);
        var acc = _device.Accelerator;
        using var da = acc.Allocate1D<sbyte>(a.Length);
        using var db = acc.Allocate1D<sbyte>(b.Length);
        da.View.CopyFromCPU(acc.DefaultStream, a);
        db.View.CopyFromCPU(acc.DefaultStream, b);
        CheckOutput(m, n);
        using var dc = acc.Allocate1D<int>((long)m * n);
        _codes(m * n, da.View, db.View, dc.View, n, k);
        acc.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="Multiply(ReadOnlySpan{sbyte}, ReadOnlySpan{sbyte}, int, int, int)"/>:
    /// writes the M×N result into <paramref name="c"/> and synchronises.</summary>
    public void Multiply(ArrayView1D<sbyte, Stride1D.Dense> a, ArrayView1D<sbyte, Stride1D.Dense> b,
        ArrayView1D<int, Stride1D.Dense> c, int m, int n, int k)
    {
        _device.CheckView(nameof(a), a);
        _device.CheckView(nameof(b), b);
        _device.CheckView(nameof(c), c);
        Guard.Matrix(nameof(a), a.IntLength, m, k);
        Guard.Matrix(nameof(b), b.IntLength, n, k);
        Guard.Matrix(nameof(c), c.IntLength, m, n);
        if ((long)k * 128 * 128 > int.MaxValue)
            CheckOverflow(MaxAbs(a.GetAsArray1D()), MaxAbs(b.GetAsArray1D()), k);
        _codes(m * n, a, b, c, n, k);
        _device.Accelerator.Synchronize();
    }

    /// <summary>Returns <c>A·Bᵀ</c> for packed INT4 inputs: A is M×K codes as M×K/2 bytes, B is N×K codes as
    /// N×K/2 bytes (K even).</summary>
    public int[] MultiplyPacked(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int m, int n, int k)
    {
        CheckPackedShapes(a.Length, b.Length, m, n, k);
        var acc = _device.Accelerator;
        using var da = acc.Allocate1D<byte>(a.Length);
        using var db = acc.Allocate1D<byte>(b.Length);
        da.View.CopyFromCPU(acc.DefaultStream, a);
        db.View.CopyFromCPU(acc.DefaultStream, b);
        CheckOutput(m, n);
        using var dc = acc.Allocate1D<int>((long)m * n);
        _packed(m * n, da.View, db.View, dc.View, n, k / 2);
        acc.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="MultiplyPacked(ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, int, int)"/>.</summary>
    public void MultiplyPacked(ArrayView1D<byte, Stride1D.Dense> a, ArrayView1D<byte, Stride1D.Dense> b,
        ArrayView1D<int, Stride1D.Dense> c, int m, int n, int k)
    {
        _device.CheckView(nameof(a), a);
        _device.CheckView(nameof(b), b);
        _device.CheckView(nameof(c), c);
        CheckPackedShapes(a.IntLength, b.IntLength, m, n, k);
        Guard.Matrix(nameof(c), c.IntLength, m, n);
        _packed(m * n, a, b, c, n, k / 2);
        _device.Accelerator.Synchronize();
    }

    private static void CheckPackedShapes(int aBytes, int bBytes, int m, int n, int k)
    {
        Guard.Positive(nameof(m), m);
        Guard.Positive(nameof(n), n);
        Guard.Positive(nameof(k), k);
        Guard.EvenRow("k", k);
        Guard.Length("a", aBytes, (long)m * k / 2, $"M×K = {m}×{k} INT4 codes packed two per byte");
        Guard.Length("b", bBytes, (long)n * k / 2, $"N×K = {n}×{k} INT4 codes packed two per byte");
        // |a·b| ≤ 64 per term: INT32 is exact for K < 2^25.
        if (k >= 1 << 25) throw new ArgumentException($"K = {k} is too large for exact INT32 accumulation of INT4 products.", nameof(k));
    }

    private static void CheckOutput(int m, int n)
    {
        if ((long)m * n > int.MaxValue)
            throw new ArgumentException($"The output {m}×{n} has more than {int.MaxValue} elements.", nameof(m));
    }

    private static int MaxAbs(ReadOnlySpan<sbyte> v)
    {
        int max = 0;
        foreach (sbyte x in v) max = Math.Max(max, Math.Abs((int)x));
        return max;
    }

    private static void CheckOverflow(int maxA, int maxB, int k)
    {
        if ((long)maxA * maxB * k > int.MaxValue)
            throw new ArgumentException(
                $"K = {k} with max |A| = {maxA} and max |B| = {maxB} could overflow the INT32 accumulator.", nameof(k));
    }

    private static void CodesKernel(Index1D idx, ArrayView1D<sbyte, Stride1D.Dense> a, ArrayView1D<sbyte, Stride1D.Dense> b,
        ArrayView1D<int, Stride1D.Dense> c, int n, int k)
    {
        int row = idx / n;
        int col = idx - row * n;
        int aBase = row * k, bBase = col * k;
        int sum = 0;
        for (int t = 0; t < k; t++) sum += a[aBase + t] * b[bBase + t];
        c[idx] = sum;
    }

    private static void PackedKernel(Index1D idx, ArrayView1D<byte, Stride1D.Dense> a, ArrayView1D<byte, Stride1D.Dense> b,
        ArrayView1D<int, Stride1D.Dense> c, int n, int kBytes)
    {
        int row = idx / n;
        int col = idx - row * n;
        int aBase = row * kBytes, bBase = col * kBytes;
        int sum = 0;
        for (int t = 0; t < kBytes; t++)
        {
            byte x = a[aBase + t], y = b[bBase + t];
            sum += Int4Packing.Low(x) * Int4Packing.Low(y) + Int4Packing.High(x) * Int4Packing.High(y);
        }
        c[idx] = sum;
    }
}
