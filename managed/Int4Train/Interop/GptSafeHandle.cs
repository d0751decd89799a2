namespace Int4Train.Interop;

/// <summary>
/// Owns an <c>int4train_gpt</c>; released with <c>int4train_gpt_destroy</c> exactly once, by an explicit dispose: its
/// owner's (<see cref="NativeGpt.Dispose"/>) or its context's (<see cref="CudaContext.Dispose"/> frees the models
/// nobody disposed, <see cref="ContextDependents"/>), each on a thread that may use the context, which the release
/// binds. The GC's finalizer thread never destroys the model (<see cref="DisposeReleasedSafeHandle"/>): it reaches this
/// handle only once the context is unreachable too.
/// </summary>
internal sealed class GptSafeHandle : DisposeReleasedSafeHandle
{
    private CudaContext? _context;

    /// <summary>Created by the interop marshaller (int4train_gpt_create returns the handle directly).</summary>
    public GptSafeHandle() { }

    /// <summary>Ties the handle to its context, whose CUDA context the release binds.</summary>
    internal void Attach(CudaContext context) => _context = context;

    protected override bool ReleaseDisposed()
    {
        if (_context is not { IsDisposed: false } ctx) return true;
        ctx.Accelerator.Bind();
        return NativeMethods.int4train_gpt_destroy(handle) == Status.Success;
    }
}
