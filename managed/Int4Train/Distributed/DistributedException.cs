namespace Int4Train.Distributed;

/// <summary>A multi-process setup problem with one clear message: a bad launch variable, a rendezvous timeout or
/// short read, a failed rank. (NCCL's own failures are <see cref="Int4TrainException"/>s.)</summary>
public sealed class DistributedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DistributedException(string message, Exception? inner = null) : base(message, inner) { }
}
