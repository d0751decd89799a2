namespace Int4Train;

/// <summary>
/// The one NaN/Inf policy of <see cref="Int4Linear"/>, the same in every <see cref="LinearPrecision"/> (issue 13
/// item 10): a non-finite value never flows silently into an output. Before, the INT4 precisions threw deep in a
/// kernel while <see cref="LinearPrecision.Fp32"/> and <see cref="LinearPrecision.Bf16"/> returned NaN. Three cases,
/// each naming the tensor and the first bad index:
/// <list type="bullet">
/// <item>an argument (X, ∇Y) → <see cref="ArgumentException"/> with the argument's name;</item>
/// <item>the layer's state (<see cref="Int4Linear.Weight"/>, <see cref="Int4Linear.Bias"/>, the accumulated
/// gradients) → <see cref="InvalidOperationException"/> (the caller or an optimiser wrote it);</item>
/// <item>a result that left the FP32 range although everything going in was finite (Y, ∇X, ∇W, ∇b, the step
/// gradients, also after accumulation) → <see cref="InvalidOperationException"/>; a backward then accumulates nothing.</item>
/// </list>
/// </summary>
internal static class NonFinitePolicy
{
    /// <summary>An argument of Forward/Backward.</summary>
    public static void Argument(string name, ReadOnlySpan<float> values) => Guard.Finite(name, values);

    /// <summary>A tensor the layer owns and the caller may write (parameters, accumulated gradients).</summary>
    public static void State(string name, ReadOnlySpan<float> values)
    {
        int i = FirstNonFinite(values);
        if (i >= 0)
            throw new InvalidOperationException(
                $"Int4Linear.{name} holds a non-finite value ({values[i]}) at index {i}: the layer's tensors must be finite " +
                "in every precision (an optimiser step diverged, or NaN/Inf was written into it).");
    }

    /// <summary>A scalar the layer owns (an accumulated step-size gradient).</summary>
    public static void State(string name, double value)
    {
        if (!double.IsFinite(value))
            throw new InvalidOperationException($"Int4Linear.{name} is {value}: the layer's accumulated gradients must be finite.");
    }

    /// <summary>A result computed from finite inputs: a non-finite value means it overflowed FP32.</summary>
    public static void Result(string operation, string name, ReadOnlySpan<float> values)
    {
        int i = FirstNonFinite(values);
        if (i >= 0) throw Overflow(operation, name, $"{values[i]} at index {i}");
    }

    /// <summary>A scalar result (an accumulated step-size gradient).</summary>
    public static void Result(string operation, string name, double value)
    {
        if (!double.IsFinite(value)) throw Overflow(operation, name, value.ToString());
    }

    /// <summary>The overflow error for a non-finite intermediate an operator reported (<paramref name="inner"/>).</summary>
    public static InvalidOperationException Overflow(string operation, string name, Exception inner) =>
        new(OverflowMessage(operation, name, inner.Message), inner);

    private static InvalidOperationException Overflow(string operation, string name, string what) =>
        new(OverflowMessage(operation, name, what));

    private static string OverflowMessage(string operation, string name, string what) =>
        $"Int4Linear.{operation} produced a non-finite {name} ({what}) from finite inputs: the result overflowed " +
        "the FP32 range (|v| > 3.4e38). Scale the inputs, the weights or the loss down.";

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
