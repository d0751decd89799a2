using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>
/// Packing of INT4 codes two per byte in CUTLASS <c>int4b_t</c> order (method.md §2.3 step 3, conventions.md
/// "Layout and types"): row by row, byte j of a row is <c>(q[2j+1] &lt;&lt; 4) | (q[2j] &amp; 0xF)</c> (element 2j
/// in the low nibble, two's complement). Rows need an even length, so a packed rows×cols matrix is
/// rows×(cols/2) bytes. Unpacking sign-extends each nibble.
/// </summary>
public sealed class Int4Packing
{
    private readonly ReferenceDevice _device;
    private readonly Action<Index1D, ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<byte, Stride1D.Dense>> _pack;
    private readonly Action<Index1D, ArrayView1D<byte, Stride1D.Dense>, ArrayView1D<sbyte, Stride1D.Dense>> _unpack;

    /// <summary>Loads (once per device) the pack and unpack kernels.</summary>
    public Int4Packing(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _pack = device.GetOrLoad("Int4.Pack", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<byte, Stride1D.Dense>>(PackKernel));
        _unpack = device.GetOrLoad("Int4.Unpack", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<byte, Stride1D.Dense>, ArrayView1D<sbyte, Stride1D.Dense>>(UnpackKernel));
    }

    /// <summary>The device this packer runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary>Packs the rows×cols codes (each in [−8, 7], cols even) into rows×cols/2 bytes.</summary>
    public byte[] Pack(ReadOnlySpan<sbyte> codes, int rows, int cols)
    {
        Guard.Matrix(nameof(codes), codes.Length, rows, cols);
        Guard.EvenRow(nameof(codes), cols);
        Guard.Int4Codes(nameof(codes), codes);
        var acc = _device.Accelerator;
        using var q = acc.Allocate1D<sbyte>(codes.Length);
        q.View.CopyFromCPU(acc.DefaultStream, codes);
        using var p = acc.Allocate1D<byte>(codes.Length / 2);
        _pack(codes.Length / 2, q.View, p.View);
        acc.Synchronize();
        return p.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="Pack(ReadOnlySpan{sbyte}, int, int)"/>; <paramref name="packed"/> holds
    /// rows·cols/2 bytes.</summary>
    public void Pack(ArrayView1D<sbyte, Stride1D.Dense> codes, ArrayView1D<byte, Stride1D.Dense> packed, int rows, int cols)
    {
        _device.CheckView(nameof(codes), codes);
        _device.CheckView(nameof(packed), packed);
        Guard.Matrix(nameof(codes), codes.IntLength, rows, cols);
        Guard.EvenRow(nameof(codes), cols);
        Guard.Length(nameof(packed), packed.IntLength, (long)rows * cols / 2, $"{rows}×{cols} codes packed two per byte");
        _device.CheckInt4(nameof(codes), codes);
        _pack(packed.IntLength, codes, packed);
        _device.Accelerator.Synchronize();
    }

    /// <summary>Unpacks rows×cols/2 bytes into rows×cols sign-extended codes in [−8, 7].</summary>
    public sbyte[] Unpack(ReadOnlySpan<byte> packed, int rows, int cols)
    {
        Guard.Positive(nameof(rows), rows);
        Guard.Positive(nameof(cols), cols);
        Guard.EvenRow(nameof(packed), cols);
        Guard.Length(nameof(packed), packed.Length, (long)rows * cols / 2, $"{rows}×{cols} codes packed two per byte");
        var acc = _device.Accelerator;
        using var p = acc.Allocate1D<byte>(packed.Length);
        p.View.CopyFromCPU(acc.DefaultStream, packed);
        using var q = acc.Allocate1D<sbyte>(packed.Length * 2L);
        _unpack(packed.Length, p.View, q.View);
        acc.Synchronize();
        return q.GetAsArray1D();
    }

    /// <summary>Device version of <see cref="Unpack(ReadOnlySpan{byte}, int, int)"/>.</summary>
    public void Unpack(ArrayView1D<byte, Stride1D.Dense> packed, ArrayView1D<sbyte, Stride1D.Dense> codes, int rows, int cols)
    {
        _device.CheckView(nameof(packed), packed);
        _device.CheckView(nameof(codes), codes);
        Guard.Matrix(nameof(codes), codes.IntLength, rows, cols);
        Guard.EvenRow(nameof(codes), cols);
        Guard.Length(nameof(packed), packed.IntLength, (long)rows * cols / 2, $"{rows}×{cols} codes packed two per byte");
        _unpack(packed.IntLength, packed, codes);
        _device.Accelerator.Synchronize();
    }

    /// <summary>Low nibble of a packed byte, sign-extended (kernel helper shared with <see cref="IntegerGemm"/>).</summary>
    internal static int Low(byte b) => SignExtend4(b & 0xF);

    /// <summary>High nibble of a packed byte, sign-extended.</summary>
    internal static int High(byte b) => SignExtend4((b >> 4) & 0xF);

    // Two's-complement nibble → int in plain int arithmetic. Narrowing casts ((sbyte)(byte)(b << 4) >> 4) are
    // avoided: ILGPU's PTX backend does the shift on a 32-bit register without re-truncating, so -8 came back as 8
    // on the CUDA accelerator.
    private static int SignExtend4(int nibble) => nibble >= 8 ? nibble - 16 : nibble;

    private static void PackKernel(Index1D j, ArrayView1D<sbyte, Stride1D.Dense> q, ArrayView1D<byte, Stride1D.Dense> p)
    {
        int lo = q[2 * j];
        int hi = q[2 * j + 1];
        p[j] = (byte)((hi << 4) | (lo & 0xF));
    }

    private static void UnpackKernel(Index1D j, ArrayView1D<byte, Stride1D.Dense> p, ArrayView1D<sbyte, Stride1D.Dense> q)
    {
        byte b = p[j];
        q[2 * j] = (sbyte)Low(b);
        q[2 * j + 1] = (sbyte)High(b);
    }
}
