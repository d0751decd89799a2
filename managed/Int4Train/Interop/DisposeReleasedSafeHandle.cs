using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>
/// A handle whose native release runs only after an explicit <c>Dispose()</c>, never from the GC's
/// finalizer thread: handles that free state of a CUDA context (<see cref="ContextSafeHandle"/>, <see cref="GptSafeHandle"/>)
/// are finalized in no defined order with ILGPU's accelerator, which may already have destroyed that context, and a
/// release there would synchronise, free and destroy streams of a destroyed context (a crash, not an error). A
/// finalized handle leaves its native object instead (its device memory goes with the context). The release itself may
/// come after the Dispose, at the end of a call that still holds the handle, on that call's thread.
/// </summary>
internal abstract class DisposeReleasedSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private bool _disposing;

    protected DisposeReleasedSafeHandle() : base(ownsHandle: true) { }

    protected sealed override void Dispose(bool disposing)
    {
        _disposing = disposing; // false: the finalizer
        base.Dispose(disposing);
    }

    protected sealed override bool ReleaseHandle() => !_disposing || ReleaseDisposed();

    /// <summary>The native release, after an explicit dispose; false reports a failed release.</summary>
    protected abstract bool ReleaseDisposed();
}
