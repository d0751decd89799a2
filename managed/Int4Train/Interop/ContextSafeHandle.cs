using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>Owns an <c>int4train_context</c>; released with <c>int4train_context_destroy</c> exactly once, even when
/// the owner forgets to dispose (the finaliser of the SafeHandle does it).</summary>
internal sealed class ContextSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public ContextSafeHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle() => NativeMethods.int4train_context_destroy(handle) == Status.Success;
}
