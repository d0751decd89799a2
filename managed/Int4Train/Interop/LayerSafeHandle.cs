using Microsoft.Win32.SafeHandles;

namespace Int4Train.Interop;

/// <summary>Owns an <c>int4train_layer</c> (native/include/int4train_layer.h); released with
/// <c>int4train_layer_destroy</c> exactly once. The layer is host memory only (its step count, block size and
/// options), so the release needs no CUDA context; the calls that use it go through its <see cref="CudaContext"/>,
/// which refuses them once disposed.</summary>
internal sealed class LayerSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public LayerSafeHandle() : base(ownsHandle: true) { }

    protected override bool ReleaseHandle() => NativeMethods.int4train_layer_destroy(handle) == Status.Success;
}
