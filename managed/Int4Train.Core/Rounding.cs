namespace Int4Train;

/// <summary>Rounding rules shared by the reference and the native path (conventions.md "Rounding").</summary>
public static class Rounding
{
    /// <summary>Nearest integer, ties away from zero, like CUDA <c>roundf</c> (method.md §2.1). Exact for every
    /// finite float: <c>x − trunc(x)</c> is representable.</summary>
    public static float RoundHalfAway(float x)
    {
        // |x| ≥ 2^23 is already an integer (and NaN falls through unchanged). Below that, (int)x truncates
        // toward zero exactly; MathF.Truncate is avoided because ILGPU's PTX backend lowers it to an unresolved
        // external call (ModF), so a kernel using it fails to JIT on the GPU.
        if (!(MathF.Abs(x) < 8388608f)) return x;
        float t = (int)x;
        float frac = x - t;
        if (frac >= 0.5f) return t + 1f;
        if (frac <= -0.5f) return t - 1f;
        return t;
    }

    /// <summary>Clamps an integer to [lo, hi].</summary>
    public static int Clamp(int v, int lo, int hi) => v < lo ? lo : (v > hi ? hi : v);
}
