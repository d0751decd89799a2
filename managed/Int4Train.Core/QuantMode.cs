namespace Int4Train;

/// <summary>Which of the two published variants of the method to follow (method.md §10 rows 1 and 5).</summary>
public enum QuantMode
{
    /// <summary>The released code: LSQ codes in [−8, 7]; bit-split digits clamped to ±6, low digit rounded as
    /// <c>round(r + u − 0.5)</c> with u in (0, 1].</summary>
    Code = 0,

    /// <summary>The paper: LSQ codes in [−7, 7]; bit-split digits clamped to ±7, low digit <c>floor(r + u)</c> with
    /// u in [0, 1) (exactly unbiased, zeros stay zero).</summary>
    Paper = 1,
}

/// <summary>How leverage-score sampling selects stacked rows (method.md §3.4, §10 row 6).</summary>
public enum SamplingMode
{
    /// <summary>Keep every row whose score is positive, with p = 1: the exact bit-split product (the released code).</summary>
    Nonzero = 0,

    /// <summary>Water-filled probabilities p = min(1, λc) with Σp = N and independent Bernoulli draws (the paper).</summary>
    Bernoulli = 1,
}

/// <summary>The constants of a <see cref="QuantMode"/> (conventions.md "LSQ", "Bit splitting").</summary>
public static class QuantModeExtensions
{
    /// <summary>Smallest LSQ code: −8 in code mode, −7 in paper mode (§2.1).</summary>
    public static int Qn(this QuantMode mode) => mode == QuantMode.Code ? -8 : -7;

    /// <summary>Largest LSQ code: 7 in both modes (§2.1).</summary>
    public static int Qp(this QuantMode mode) => 7;

    /// <summary>Clamp limit of both bit-split digits: 6 in code mode, 7 in paper mode (§3.3).</summary>
    public static int SplitLimit(this QuantMode mode) => mode == QuantMode.Code ? 6 : 7;

    /// <summary>Smallest LSQ code at a bit width b (§9 item 27): <c>−2^(b−1)</c> in code mode, <c>−(2^(b−1) − 1)</c>
    /// in paper mode. Equals <see cref="Qn(QuantMode)"/> for b = 4.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bits"/> outside <see cref="QuantBits.Min"/>..<see cref="QuantBits.Max"/>.</exception>
    public static int Qn(this QuantMode mode, int bits)
    {
        QuantBits.Check(bits);
        int half = 1 << (bits - 1);
        return mode == QuantMode.Code ? -half : -(half - 1);
    }

    /// <summary>Largest LSQ code at a bit width b: <c>2^(b−1) − 1</c> in both modes (7 for b = 4).</summary>
    public static int Qp(this QuantMode mode, int bits)
    {
        QuantBits.Check(bits);
        return (1 << (bits - 1)) - 1;
    }

    /// <summary>Clamp limit of both bit-split digits at a bit width b: <c>L = B/2 − 1</c> in code mode, <c>B/2</c> in
    /// paper mode, with <c>B = 2^b − 2</c> (<see cref="QuantBits.SplitBase"/>); 6 and 7 for b = 4.</summary>
    public static int SplitLimit(this QuantMode mode, int bits)
    {
        int half = QuantBits.SplitBase(bits) / 2;
        return mode == QuantMode.Code ? half - 1 : half;
    }
}

/// <summary>
/// The bit width b of the LSQ codes and of the bit-split digits (method.md §9 items 26 and 27: the layer with a
/// wider code range). The native library and the published method use <see cref="Default"/> = 4; codes always live
/// in <c>sbyte</c>, so b ∈ [<see cref="Min"/>, <see cref="Max"/>] = [2, 8]. At b = 4 every constant below equals the
/// hard-wired INT4 one (Qp = 7, B = 14, B²/2 = 98, s↑ = Mx/7, s↓ = Mx/98), so the 4-bit path is unchanged.
/// </summary>
public static class QuantBits
{
    /// <summary>The INT4 width of the method and of the native library.</summary>
    public const int Default = 4;

    /// <summary>Smallest supported width.</summary>
    public const int Min = 2;

    /// <summary>Largest supported width (codes are stored in <c>sbyte</c>).</summary>
    public const int Max = 8;

    /// <summary>Throws unless <paramref name="bits"/> is in [<see cref="Min"/>, <see cref="Max"/>].</summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of range.</exception>
    public static void Check(int bits, string name = "bits")
    {
        if (bits < Min || bits > Max)
            throw new ArgumentOutOfRangeException(name, bits, $"The bit width must be in [{Min}, {Max}] (codes are stored in sbyte), got {bits}.");
    }

    /// <summary>The bit-split base <c>B = 2^b − 2</c> (14 for b = 4): ∇Y ≈ s↓·(B·h + l).</summary>
    public static int SplitBase(int bits)
    {
        Check(bits);
        return (1 << bits) - 2;
    }

    /// <summary>The bit-split range <c>B²/2</c> (98 for b = 4): <c>t = ∇Y·(B²/2)/Mx ∈ [−B²/2, B²/2]</c>, and
    /// <c>s↓ = Mx/(B²/2)</c>.</summary>
    public static int SplitRange(int bits)
    {
        int b = SplitBase(bits);
        return b * b / 2;
    }

    /// <summary>The high-digit scale denominator <c>B/2</c> (7 for b = 4): <c>s↑ = Mx/(B/2)</c>.</summary>
    public static int SplitHalf(int bits) => SplitBase(bits) / 2;
}
