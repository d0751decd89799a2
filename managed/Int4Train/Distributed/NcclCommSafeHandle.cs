using Microsoft.Win32.SafeHandles;

namespace Int4Train.Distributed;

/// <summary>Owns an ncclComm_t. Released with ncclCommDestroy (which waits for the communicator's pending work), or
/// with ncclCommAbort once <see cref="MarkFailed"/> was called: after a failure a peer may be gone, and Destroy would
/// then hang waiting for it.</summary>
internal sealed class NcclCommSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private volatile bool _failed;

    public NcclCommSafeHandle() : base(ownsHandle: true) { }

    internal NcclCommSafeHandle(IntPtr handle) : base(ownsHandle: true) => SetHandle(handle);

    /// <summary>Makes the release abort instead of destroy.</summary>
    internal void MarkFailed() => _failed = true;

    protected override bool ReleaseHandle() =>
        (_failed ? NcclNative.ncclCommAbort(handle) : NcclNative.ncclCommDestroy(handle)) == NcclResult.Success;
}
