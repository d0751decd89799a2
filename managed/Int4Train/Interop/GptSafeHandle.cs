using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>
/// Owns an <c>int4train_gpt</c>; released with <c>int4train_gpt_destroy</c> exactly once, by an explicit dispose: its
/// owner's (<see cref="NativeGpt.Dispose"/>) or its context's (<see cref="CudaContext.Dispose"/> frees the models
/// nobody disposed, <see cref="ContextDependents"/>), each on a thread that may use the context, which the release
/// binds. The GC's finalizer thread never destroys the model: it reaches this handle only once the context is
/// unreachable too, when ILGPU may already have destroyed the CUDA context (finalization order is undefined), and
/// the destroy would then free memory and streams of a destroyed context; the device memory goes with that context.
/// </summary>
internal sealed class GptSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private CudaContext? _context;
    private bool _disposing;

    /// <summary>Created by the interop marshaller (int4train_gpt_create returns the handle directly).</summary>
    public GptSafeHandle() : base(ownsHandle: true) { }

    /// <summary>Ties the handle to its context, whose CUDA context the release binds.</summary>
    internal void Attach(CudaContext context) => _context = context;

    protected override void Dispose(bool disposing)
    {
        // false: the finalizer (see the class remarks). The release itself may come later, at the end of a call that
        // still holds the handle, on that call's thread.
        _disposing = disposing;
        base.Dispose(disposing);
    }

    protected override bool ReleaseHandle()
    {
        if (!_disposing || _context is not { IsDisposed: false } ctx) return true;
        ctx.Accelerator.Bind();
        return NativeMethods.int4train_gpt_destroy(handle) == Status.Success;
    }
}
