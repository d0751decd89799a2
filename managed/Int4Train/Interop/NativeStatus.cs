using System.Runtime.InteropServices;

namespace Int4Train.Interop;

/// <summary>Turns a native status into an exception that carries the native message (int4train_last_error).</summary>
internal static class NativeStatus
{
    /// <summary>Throws for any status but success: <see cref="ArgumentException"/> for invalid arguments and null
    /// pointers, <see cref="Int4TrainException"/> (with <see cref="Int4TrainException.Kind"/>) for the rest.</summary>
    internal static void Check(Status status, string operation)
    {
        if (status == Status.Success) return;
        string message = $"{operation}: {LastError()} (status {status})";
        throw status switch
        {
            Status.InvalidArgument or Status.NullPointer => new ArgumentException(message),
            _ => new Int4TrainException(message, (NativeErrorKind)(int)status),
        };
    }

    internal static string LastError()
    {
        IntPtr p = NativeMethods.int4train_last_error();
        string? text = p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
        return string.IsNullOrEmpty(text) ? "no message" : text;
    }
}
