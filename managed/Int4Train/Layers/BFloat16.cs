namespace Int4Train;

/// <summary>bfloat16 rounding of FP32 values (1 sign, 8 exponent, 7 mantissa bits: the upper half of a float), the
/// operand format of the BF16 baseline. Values stay in <see cref="float"/>; only their precision is reduced.</summary>
/// <remarks>Thread safety: stateless; safe from any thread.</remarks>
internal static class BFloat16
{
    /// <summary>The nearest bfloat16 value of <paramref name="x"/>, ties to even (as a GPU's FP32 → BF16 conversion).
    /// ±∞ stay ±∞, NaN stays a (quiet) NaN with its sign, finite values beyond the largest bfloat16 round to ±∞,
    /// subnormals round like any other value.</summary>
    public static float Round(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7F80_0000u) == 0x7F80_0000u && (bits & 0x007F_FFFFu) != 0)
            return BitConverter.UInt32BitsToSingle((bits | 0x0040_0000u) & 0xFFFF_0000u); // NaN: keep it a quiet NaN
        uint lsb = (bits >> 16) & 1u;
        bits += 0x7FFFu + lsb; // +∞ has zero low bits and stays +∞; the carry into the exponent is the correct rounding
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF_0000u);
    }

    /// <summary>A copy of <paramref name="values"/> with every element rounded to bfloat16.</summary>
    public static float[] Round(ReadOnlySpan<float> values)
    {
        var r = new float[values.Length];
        for (int i = 0; i < r.Length; i++) r[i] = Round(values[i]);
        return r;
    }
}
