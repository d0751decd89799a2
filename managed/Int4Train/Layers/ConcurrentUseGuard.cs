namespace Int4Train;

/// <summary>
/// Turns overlapping calls into an object that is not thread-safe into one clear <see cref="InvalidOperationException"/>
/// instead of mixed state and wrong results (issue 13 item 12). One <see cref="Interlocked.CompareExchange(ref int, int, int)"/>
/// per call: cheap enough to keep on every call. It detects overlap, not every misuse: callers still follow the
/// type's documented contract.
/// </summary>
internal sealed class ConcurrentUseGuard(string owner)
{
    private int _busy;

    /// <summary>Marks the object busy until the returned scope is disposed.</summary>
    /// <exception cref="InvalidOperationException">Another call is still running on the same object.</exception>
    public Scope Enter(string operation)
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            throw new InvalidOperationException(
                $"{owner}.{operation} was called while another call on the same {owner} was still running on another thread. " +
                $"{owner} is not thread-safe: give each thread its own instance, or serialise the calls (e.g. with a lock).");
        return new Scope(this);
    }

    /// <summary>Releases the guard.</summary>
    public readonly struct Scope(ConcurrentUseGuard guard) : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => Volatile.Write(ref guard._busy, 0);
    }
}
