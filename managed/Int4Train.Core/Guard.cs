namespace Int4Train;

/// <summary>Argument checks that produce clear messages with the offending sizes (issue: bad input never
/// reaches a kernel).</summary>
public static class Guard
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

    /// <summary>Throws unless <paramref name="actual"/> equals <paramref name="expected"/>.</summary>
    public static void Length(string name, int actual, int expected, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"{name} has {actual} elements but {expected} are required ({what}).", name);
    }
}
