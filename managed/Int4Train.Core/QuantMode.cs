namespace Int4Train;

/// <summary>Which of the two published variants of the method to follow (algorithm.md §10 rows 1 and 5).</summary>
public enum QuantMode
{
    /// <summary>The released code: LSQ codes in [−8, 7]; bit-split digits clamped to ±6, low digit rounded as
    /// <c>round(r + u − 0.5)</c> with u in (0, 1].</summary>
    Code = 0,

    /// <summary>The paper: LSQ codes in [−7, 7]; bit-split digits clamped to ±7, low digit <c>floor(r + u)</c> with
    /// u in [0, 1) (exactly unbiased, zeros stay zero).</summary>
    Paper = 1,
}

/// <summary>How leverage-score sampling selects stacked rows (algorithm.md §3.4, §10 row 6).</summary>
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
}
