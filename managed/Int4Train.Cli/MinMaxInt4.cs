namespace Int4Train.Cli;

/// <summary>
/// The naive baseline of the demo: per-tensor asymmetric min-max INT4 fake quantization (16 levels between the
/// tensor's min and max, nearest rounding) of X and W in the forward and of ∇Y in the backward, with the
/// products taken in FP64 on the dequantized values. What the paper improves upon (§6.4 "Per-tensor").
/// </summary>
internal static class MinMaxInt4
{
    public static float[] FakeQuantize(ReadOnlySpan<float> v)
    {
        float lo = float.MaxValue, hi = float.MinValue;
        foreach (float f in v) { lo = MathF.Min(lo, f); hi = MathF.Max(hi, f); }
        float scale = (hi - lo) / 15f;
        var r = new float[v.Length];
        if (scale == 0f) { v.CopyTo(r); return r; }
        for (int i = 0; i < v.Length; i++)
        {
            float q = MathF.Round((v[i] - lo) / scale);
            r[i] = lo + Math.Clamp(q, 0f, 15f) * scale;
        }
        return r;
    }
}
