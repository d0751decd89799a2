using System.Runtime.InteropServices;

namespace Int4Train.Interop;

/// <summary>
/// The P/Invoke declarations of native/include/int4train.h, one for one. Internal: the public API wraps every
/// call, validates arguments first and turns a non-success status into an exception (<see cref="NativeStatus"/>).
/// Pointers are device pointers unless the header names them h_*.
/// </summary>
internal static partial class NativeMethods
{
    internal const string Library = "int4train";

    /// <summary>act_dtype of the typed entry points (INT4TRAIN_DTYPE_*): the element type of the activations.</summary>
    internal const int INT4TRAIN_DTYPE_F32 = 0, INT4TRAIN_DTYPE_BF16 = 1;

    [LibraryImport(Library)] internal static partial IntPtr int4train_last_error();
    [LibraryImport(Library)] internal static partial int int4train_version();
    [LibraryImport(Library)] internal static partial Status int4train_device_count(out int count);

    [LibraryImport(Library)] internal static partial Status int4train_context_create(int device, out ContextSafeHandle ctx);
    [LibraryImport(Library)] internal static partial Status int4train_context_destroy(IntPtr ctx);
    [LibraryImport(Library)] internal static partial Status int4train_context_create_current(out ContextSafeHandle ctx);
    [LibraryImport(Library)] internal static partial Status int4train_context_set_stream(ContextSafeHandle ctx, IntPtr stream);
    [LibraryImport(Library)] internal static partial Status int4train_context_get_stream(ContextSafeHandle ctx, out IntPtr stream);
    [LibraryImport(Library)] internal static partial Status int4train_context_synchronize(ContextSafeHandle ctx);
    [LibraryImport(Library)] internal static unsafe partial Status int4train_context_info(ContextSafeHandle ctx, byte* name, int capacity, out int computeCapability, out nuint workspaceBytes);

    [LibraryImport(Library)] internal static partial Status int4train_hadamard(ContextSafeHandle ctx, IntPtr x, IntPtr y, int rows, int cols, int group);

    [LibraryImport(Library)] internal static partial Status int4train_lsq_init_step(ContextSafeHandle ctx, IntPtr v, long n, IntPtr step);
    [LibraryImport(Library)] internal static partial Status int4train_lsq_quantize(ContextSafeHandle ctx, IntPtr v, long n, IntPtr step, int mode, IntPtr codes);
    [LibraryImport(Library)] internal static partial Status int4train_lsq_dequantize(ContextSafeHandle ctx, IntPtr codes, long n, IntPtr step, IntPtr output);
    [LibraryImport(Library)] internal static partial Status int4train_lsq_backward(ContextSafeHandle ctx, IntPtr v, IntPtr grad, long n, IntPtr step, int mode, IntPtr gradV, IntPtr gradStep);

    [LibraryImport(Library)] internal static partial Status int4train_pack_int4(ContextSafeHandle ctx, IntPtr codes, IntPtr packed, int rows, int cols);
    [LibraryImport(Library)] internal static partial Status int4train_unpack_int4(ContextSafeHandle ctx, IntPtr packed, IntPtr codes, int rows, int cols);

    [LibraryImport(Library)] internal static partial Status int4train_gemm_s4(ContextSafeHandle ctx, IntPtr aPacked, IntPtr bPacked, IntPtr c, int m, int n, int k);
    [LibraryImport(Library)] internal static partial Status int4train_gemm_s8(ContextSafeHandle ctx, IntPtr a, IntPtr b, IntPtr c, int m, int n, int k);

    [LibraryImport(Library)]
    internal static partial Status int4train_hq_forward(ContextSafeHandle ctx, IntPtr x, IntPtr w, IntPtr bias, IntPtr stepX, IntPtr stepW,
        int n, int c, int d, int group, int mode, IntPtr y, IntPtr xPacked, IntPtr wPacked);

    [LibraryImport(Library)]
    internal static partial Status int4train_hq_forward_typed(ContextSafeHandle ctx, int actDtype, IntPtr x, IntPtr w, IntPtr bias, IntPtr stepX,
        IntPtr stepW, int n, int c, int d, int group, int mode, IntPtr y, IntPtr xPacked, IntPtr wPacked);

    [LibraryImport(Library)]
    internal static unsafe partial Status int4train_block_size_search(ContextSafeHandle ctx, IntPtr x, IntPtr w, int n, int c, int d, int mode,
        out int group, double* scores);

    [LibraryImport(Library)]
    internal static partial Status int4train_bit_split(ContextSafeHandle ctx, IntPtr grad, int rows, int cols, ulong seed, int mode,
        IntPtr high, IntPtr low, IntPtr scales);

    [LibraryImport(Library)]
    internal static partial Status int4train_lss_select(ContextSafeHandle ctx, IntPtr high, IntPtr low, IntPtr scales, IntPtr xCodes, IntPtr stepX,
        int n, int c, int d, int sampling, ulong seed, IntPtr prob, IntPtr keep, IntPtr kept);

    [LibraryImport(Library)]
    internal static partial Status int4train_lss_grad_weight(ContextSafeHandle ctx, IntPtr high, IntPtr low, IntPtr xPacked, IntPtr scales, IntPtr stepX,
        IntPtr keep, IntPtr prob, int n, int c, int d, IntPtr gradWh);

    [LibraryImport(Library)]
    internal static partial Status int4train_lss_grad_input(ContextSafeHandle ctx, IntPtr high, IntPtr low, IntPtr wPacked, IntPtr scales, IntPtr stepW,
        IntPtr keep, IntPtr prob, int n, int c, int d, IntPtr gradXh);

    [LibraryImport(Library)]
    internal static partial Status int4train_linear_backward(ContextSafeHandle ctx, IntPtr gradY, IntPtr x, IntPtr w, IntPtr xPacked, IntPtr wPacked,
        IntPtr stepX, IntPtr stepW, int n, int c, int d, int group, int mode, int sampling, ulong seed,
        IntPtr gradX, IntPtr gradW, IntPtr gradStepX, IntPtr gradStepW, IntPtr gradBias, int accumulate);

    [LibraryImport(Library)]
    internal static partial Status int4train_linear_backward_typed(ContextSafeHandle ctx, int actDtype, IntPtr gradY, IntPtr x, IntPtr w,
        IntPtr xPacked, IntPtr wPacked, IntPtr stepX, IntPtr stepW, int n, int c, int d, int group, int mode, int sampling, ulong seed,
        IntPtr gradX, IntPtr gradW, IntPtr gradStepX, IntPtr gradStepW, IntPtr gradBias, int accumulate);
}
