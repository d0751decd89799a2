using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>
/// Owns an <c>int4train_gpt</c>; released with <c>int4train_gpt_destroy</c> exactly once. It holds a reference on the
/// context's handle (so the native context outlives the model) and binds the CUDA context before the release, which
/// frees device memory of that context.
/// </summary>
internal sealed class GptSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private CudaContext? _context;
    private bool _contextRef;

    /// <summary>Created by the interop marshaller (int4train_gpt_create returns the handle directly).</summary>
    public GptSafeHandle() : base(ownsHandle: true) { }

    /// <summary>Ties the handle to its context: the release binds it, and drops the reference taken on its handle
    /// (<paramref name="contextRef"/>: whether one was taken).</summary>
    internal void Attach(CudaContext context, bool contextRef)
    {
        _context = context;
        _contextRef = contextRef;
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
