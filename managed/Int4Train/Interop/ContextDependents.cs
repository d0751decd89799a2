using System.Runtime.InteropServices;

namespace Int4Train.Interop;

/// <summary>
/// The live native handles that allocate in a <see cref="CudaContext"/>'s CUDA context (the models), held strongly
/// until their owner disposes them or the context does. Two consequences, both on purpose: a model its owner forgot
/// to dispose is never released by the GC's finalizer thread while its context lives (a release there would run
/// cudaFree, cuBLAS and CUDA graph teardown concurrently with the owner's thread on the same stream), and the
/// context frees such a model itself, with its CUDA context current and before it destroys that context and its
/// native <c>int4train_context</c> (a release after that would use a destroyed stream: the SIGSEGV of the H200 GPU
/// suite of 2026-12-02, see <see cref="GptSafeHandle"/>).
/// </summary>
internal sealed class ContextDependents
{
    private readonly HashSet<SafeHandle> _live = [];
    private readonly Lock _lock = new();

    /// <summary>How many dependents are live (neither disposed by their owner nor by the context).</summary>
    public int Count
    {
        get { lock (_lock) return _live.Count; }
    }

    /// <summary>Registers a handle just created in the context.</summary>
    public void Add(SafeHandle handle)
    {
        lock (_lock) _live.Add(handle);
    }

    /// <summary>Forgets a handle its owner disposes.</summary>
    public void Remove(SafeHandle handle)
    {
        lock (_lock) _live.Remove(handle);
    }

    /// <summary>Disposes every handle still registered (the caller has the CUDA context current); returns how many.</summary>
    public int DisposeAll()
    {
        SafeHandle[] left;
        lock (_lock)
        {
            left = [.. _live];
            _live.Clear();
        }
        foreach (var h in left) h.Dispose();
        return left.Length;
    }
}
