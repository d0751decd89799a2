namespace Int4Train;

/// <summary>Argument checks that produce clear messages with the offending sizes (issue: bad input never
/// reaches a kernel).</summary>
internal static class Guard
{
    /// <summary>Throws unless <paramref name="length"/> equals rows·cols and both are positive.</summary>
    public static void Matrix(string name, int length, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0)
            throw new ArgumentException($"{name} must be non-empty, got {rows}×{cols}.", name);
        if ((long)rows * cols != length)
            throw new ArgumentException($"{name} has {length} elements but its shape is {rows}×{cols} ({(long)rows * cols}).", name);
    }

    /// <summary>Throws when any value is NaN or infinite, naming the first bad index.</summary>
    public static void Finite(string name, ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"{name} contains a non-finite value ({values[i]}) at index {i}.", name);
    }

    /// <summary>Throws unless <paramref name="g"/> is a power of two in [1, 1024] that divides <paramref name="rowLength"/>.</summary>
    public static void HadamardBlock(int g, int rowLength, string name = "groupSize")
    {
        if (g < 1 || g > 1024 || (g & (g - 1)) != 0)
            throw new ArgumentException($"Hadamard block size must be a power of two in [1, 1024], got {g}.", name);
        if (rowLength % g != 0)
            throw new ArgumentException($"Hadamard block size {g} does not divide the row length {rowLength}.", name);
    }

    /// <summary>Throws unless the step size is positive and finite.</summary>
    public static void Step(string name, float s)
    {
        if (!(s > 0f) || !float.IsFinite(s))
            throw new ArgumentException($"{name} must be a positive finite step size, got {s}.", name);
    }

    /// <summary>Throws unless <paramref name="value"/> is positive.</summary>
    public static void Positive(string name, int value)
    {
        if (value <= 0) throw new ArgumentException($"{name} must be positive, got {value}.", name);
    }
    /// <summary>Throws unless <paramref name="length"/> equals <paramref name="expected"/>; the message names
    /// both sizes and what the expected size is made of (<paramref name="shape"/>, e.g. "N×D = 4×8").</summary>
    public static void Length(string name, int length, long expected, string shape)
    {
        if (length != expected)
            throw new ArgumentException($"{name} has {length} elements but {shape} requires {expected}.", name);
    }

    /// <summary>Throws when <paramref name="length"/> is zero.</summary>
    public static void NonEmpty(string name, int length)
    {
        if (length <= 0) throw new ArgumentException($"{name} must be non-empty, got {length} elements.", name);
    }

    /// <summary>Throws when the scalar is NaN or infinite.</summary>
    public static void Finite(string name, float value)
    {
        if (!float.IsFinite(value))
            throw new ArgumentException($"{name} must be finite, got {value}.", name);
    }

    /// <summary>Throws unless every code lies in the signed INT4 range [−8, 7], naming the first bad index.</summary>
    public static void Int4Codes(string name, ReadOnlySpan<sbyte> codes)
    {
        CodeRange(name, codes, -8, 7);
    }

    /// <summary>Throws unless <paramref name="cols"/> is even (packed INT4 rows hold two codes per byte).</summary>
    public static void EvenRow(string name, int cols)
    {
        if (cols % 2 != 0)
            throw new ArgumentException($"{name} rows must have an even length to be packed two codes per byte, got {cols}.", name);
    }

    /// <summary>Throws unless every code lies in [<paramref name="lo"/>, <paramref name="hi"/>], naming the first
    /// bad index.</summary>
    public static void CodeRange(string name, ReadOnlySpan<sbyte> codes, int lo, int hi)
    {
        for (int i = 0; i < codes.Length; i++)
            if (codes[i] < lo || codes[i] > hi)
                throw new ArgumentException($"{name} holds {codes[i]} at index {i}, outside the code range [{lo}, {hi}].", name);
    }

    /// <summary>Throws unless every value is finite and non-negative (scores, probabilities), naming the first bad index.</summary>
    public static void NonNegativeFinite(string name, ReadOnlySpan<double> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i]) || values[i] < 0)
                throw new ArgumentException($"{name} must be finite and non-negative, got {values[i]} at index {i}.", name);
    }
}
