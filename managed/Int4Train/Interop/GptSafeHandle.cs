using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>
/// Owns an <c>int4train_gpt</c>; released with <c>int4train_gpt_destroy</c> exactly once. It holds a reference on the
/// context's handle (so the native context outlives the model) and binds the CUDA context before the release, which
/// frees device memory of that context.
/// </summary>
internal sealed class GptSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly CudaContext? _context;
    private readonly bool _contextRef;

    public GptSafeHandle() : base(ownsHandle: true) { }

    internal GptSafeHandle(IntPtr handle, CudaContext context, bool contextRef) : base(ownsHandle: true)
    {
        _context = context;
        _contextRef = contextRef;
        SetHandle(handle);
    }

    protected override bool ReleaseHandle()
    {
        bool ok = true;
        if (_context is { IsDisposed: false } ctx)
        {
            ctx.Accelerator.Bind();
            ok = NativeMethods.int4train_gpt_destroy(handle) == Status.Success;
        }
        if (_contextRef) _context!.RawHandle.DangerousRelease();
        return ok;
    }
}
