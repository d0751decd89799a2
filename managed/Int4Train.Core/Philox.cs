namespace Int4Train;

/// <summary>
/// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11). A draw depends only on
/// (seed, index, stream), so the CPU reference and the GPU produce the same stochastic rounding and the same
/// samples bit for bit (conventions.md "Counter-based randomness"). Only integer operations: usable inside
/// ILGPU kernels.
/// </summary>
public static class Philox
{
    /// <summary>Stream of the bit-split low-digit rounding: element i of ∇Y (flat index) uses word i % 4 of counter
    /// i / 4 (<see cref="BitSplitWord"/>), so one Philox evaluation serves four consecutive elements.</summary>
    public const uint StreamBitSplit = 0;

    /// <summary>Stream of the Bernoulli row sampling (index = stacked row index).</summary>
    public const uint StreamSampling = 1;

    private const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    /// <summary>Returns the first two output words of Philox4x32-10 for key = seed, counter = (index, stream, 0).</summary>
    public static (uint X0, uint X1) Draw(ulong seed, ulong index, uint stream)
    {
        var (x0, x1, _, _) = Draw4(seed, index, stream);
        return (x0, x1);
    }

    /// <summary>The random word of element <paramref name="elementIndex"/> of the bit split: word i % 4 of counter
    /// (i / 4, <see cref="StreamBitSplit"/>, 0).</summary>
    public static uint BitSplitWord(ulong seed, ulong elementIndex)
    {
        var (x0, x1, x2, x3) = Draw4(seed, elementIndex >> 2, StreamBitSplit);
        int word = (int)(elementIndex & 3);
        return word == 0 ? x0 : word == 1 ? x1 : word == 2 ? x2 : x3;
    }

    /// <summary>All four output words of Philox4x32-10 for key = seed, counter = (index, stream, 0).</summary>
    public static (uint X0, uint X1, uint X2, uint X3) Draw4(ulong seed, ulong index, uint stream)
    {
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        uint c0 = (uint)index, c1 = (uint)(index >> 32), c2 = stream, c3 = 0;
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            uint n0 = hi1 ^ c1 ^ k0;
            uint n1 = lo1;
            uint n2 = hi0 ^ c3 ^ k1;
            uint n3 = lo0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0; k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>Uniform in [0, 1): <c>(x &gt;&gt; 8)·2^−24</c> (exact in FP32).</summary>
    public static float U01(uint x) => (x >> 8) * (1.0f / 16777216.0f);

    /// <summary>Uniform in (0, 1]: <c>((x &gt;&gt; 8) + 1)·2^−24</c>, the range of <c>curand_uniform</c> (method.md §3.3).</summary>
    public static float U01Closed(uint x) => ((x >> 8) + 1) * (1.0f / 16777216.0f);

    /// <summary>Uniform double in [0, 1) from 53 random bits.</summary>
    public static double U01Double(uint x0, uint x1) => ((x0 >> 5) * 67108864.0 + (x1 >> 6)) * (1.0 / 9007199254740992.0);
}
