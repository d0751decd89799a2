namespace Int4Train;

/// <summary>What kind of native failure an <see cref="Int4TrainException"/> reports.</summary>
public enum NativeErrorKind
{
    /// <summary>A CUDA runtime call failed; the message carries CUDA's own text.</summary>
    Cuda = 3,
    /// <summary>A device allocation failed.</summary>
    OutOfMemory = 4,
    /// <summary>No CUDA device, or the device index is out of range.</summary>
    NoDevice = 5,
    /// <summary>The device lacks a feature the operator needs.</summary>
    NotSupported = 6,
    /// <summary>A bug in the library.</summary>
    Internal = 7,
}

/// <summary>A failure reported by the native library (a status code with its message), or the library's absence.</summary>
/// <remarks>Thread safety: immutable once thrown; safe to read from any thread.</remarks>
public sealed class Int4TrainException : Exception
{
    /// <summary>Creates the exception.</summary>
    public Int4TrainException(string message, NativeErrorKind kind, Exception? inner = null) : base(message, inner) => Kind = kind;

    /// <summary>The native status class.</summary>
    public NativeErrorKind Kind { get; }
}
