namespace Int4Train.Interop;

/// <summary>Owns an <c>int4train_context</c>; released with <c>int4train_context_destroy</c> exactly once, by
/// <see cref="CudaContext.Dispose"/> (with the CUDA context current, after the context's models, before ILGPU destroys
/// the CUDA context). Not by the GC's finalizer thread (<see cref="DisposeReleasedSafeHandle"/>): the native context's
/// few host bytes are left instead.</summary>
internal sealed class ContextSafeHandle : DisposeReleasedSafeHandle
{
    protected override bool ReleaseDisposed() => NativeMethods.int4train_context_destroy(handle) == Status.Success;
}
