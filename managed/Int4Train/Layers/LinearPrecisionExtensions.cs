namespace Int4Train;

/// <summary>Questions about a <see cref="LinearPrecision"/>.</summary>
/// <remarks>Thread safety: stateless; safe from any thread.</remarks>
public static class LinearPrecisionExtensions
{
    /// <summary>Whether the layer's GEMMs run on INT4 codes (and so it has LSQ step sizes and a Hadamard block size):
    /// <see cref="LinearPrecision.Int4HqLss"/> and <see cref="LinearPrecision.Int4Lsq"/>; not the FP32/BF16 baselines.</summary>
    public static bool IsInt4(this LinearPrecision precision) =>
        precision is LinearPrecision.Int4HqLss or LinearPrecision.Int4Lsq;
}
