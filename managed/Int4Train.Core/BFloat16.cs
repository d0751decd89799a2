using System.Globalization;

namespace Int4Train;

/// <summary>
/// A bfloat16 value (1 sign, 8 exponent, 7 mantissa bits: the upper half of a float), stored as its 16 bits: the
/// element type of BF16 activations on the device (<c>DeviceTensor&lt;BFloat16&gt;</c>, CUDA's <c>__nv_bfloat16</c>)
/// and the operand rounding of the BF16 baseline. Widening to <see cref="float"/> is exact (the bits shifted up 16);
/// narrowing a float rounds to nearest, ties to even, as the GPU's FP32 → BF16 conversion does
/// (docs/conventions.md "BF16 activations of the INT4 layer").
/// </summary>
/// <remarks>Thread safety: an immutable value; safe from any thread. Equality is bit equality (a storage format:
/// +0 ≠ −0, and a NaN equals the same NaN bits), which is what comparing BF16 results bit for bit needs.</remarks>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    private BFloat16(ushort bits) => RawBits = bits;

    /// <summary>The 16 bits of the value (the upper half of the float it widens to).</summary>
    public ushort RawBits { get; }

    /// <summary>The value with these 16 bits.</summary>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>The nearest bfloat16 of <paramref name="value"/> (<see cref="Round(float)"/>).</summary>
    public static explicit operator BFloat16(float value) => new((ushort)(RoundBits(value) >> 16));

    /// <summary>The exact float of a bfloat16 (every bfloat16 is a float).</summary>
    public static implicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value.RawBits << 16);

    /// <summary>The nearest bfloat16 value of <paramref name="x"/>, ties to even (as a GPU's FP32 → BF16 conversion).
    /// ±∞ stay ±∞, NaN stays a (quiet) NaN with its sign, finite values from the largest bfloat16 plus half its
    /// spacing on round to ±∞, subnormals round like any other value.</summary>
    public static float Round(float x) => BitConverter.UInt32BitsToSingle(RoundBits(x));

    /// <summary>A copy of <paramref name="values"/> with every element rounded to bfloat16.</summary>
    public static float[] Round(ReadOnlySpan<float> values)
    {
        var r = new float[values.Length];
        for (int i = 0; i < r.Length; i++) r[i] = Round(values[i]);
        return r;
    }

    /// <summary>Every element of <paramref name="values"/> rounded to its nearest bfloat16 (ties to even).</summary>
    public static BFloat16[] Narrow(ReadOnlySpan<float> values)
    {
        var r = new BFloat16[values.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (BFloat16)values[i];
        return r;
    }

    /// <summary>Every element of <paramref name="values"/> widened exactly to float.</summary>
    public static float[] Widen(ReadOnlySpan<BFloat16> values)
    {
        var r = new float[values.Length];
        for (int i = 0; i < r.Length; i++) r[i] = values[i];
        return r;
    }

    /// <summary>The float bits of the rounded value (low half zero).</summary>
    private static uint RoundBits(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7F80_0000u) == 0x7F80_0000u && (bits & 0x007F_FFFFu) != 0)
            return (bits | 0x0040_0000u) & 0xFFFF_0000u; // NaN: a payload only in the low half must not become ∞
        uint lsb = (bits >> 16) & 1u;
        bits += 0x7FFFu + lsb; // +∞ has zero low bits and stays +∞; the carry into the exponent is the correct rounding
        return bits & 0xFFFF_0000u;
    }

    /// <inheritdoc />
    public bool Equals(BFloat16 other) => RawBits == other.RawBits;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => RawBits;

    /// <summary>The value as its float prints (invariant culture).</summary>
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);
}
