using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>Owns an <c>int4train_context</c>; released with <c>int4train_context_destroy</c> exactly once, by
/// <see cref="CudaContext.Dispose"/> (with the CUDA context current, after the context's models, before ILGPU destroys
/// the CUDA context). Not by the GC's finalizer thread: an undisposed <see cref="CudaContext"/> is finalized in no
/// defined order with ILGPU's accelerator, and the destroy would then synchronise and destroy streams of a destroyed
/// CUDA context (a crash, not an error); the native context's few host bytes are left instead.</summary>
internal sealed class ContextSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private bool _disposing;

    public ContextSafeHandle() : base(ownsHandle: true) { }

    protected override void Dispose(bool disposing)
    {
        _disposing = disposing; // false: the finalizer
        base.Dispose(disposing);
    }

    protected override bool ReleaseHandle() => !_disposing || NativeMethods.int4train_context_destroy(handle) == Status.Success;
}
