using Microsoft.Extensions.Logging;

namespace Int4Train.Distributed;

/// <summary>
/// Starts NCCL for a launched rank: rank 0 creates the unique id and publishes it through the TCP
/// <see cref="Rendezvous"/>, the other ranks receive it, then every rank joins the communicator on its context's
/// stream. Create the context on GPU <see cref="DistributedEnvironment.LocalRank"/> first
/// (<c>CudaContext.Create(environment.LocalRank)</c>).
/// </summary>
public static class NcclBootstrap
{
    /// <summary>The communicator of this rank. A world of one needs no rendezvous (and no port).</summary>
    /// <exception cref="Int4TrainException">NCCL is missing (the message says how to install it) or failed.</exception>
    /// <exception cref="DistributedException">The rendezvous timed out or read a short or wrong-size id.</exception>
    public static async Task<NcclCommunicator> ConnectAsync(DistributedEnvironment environment, CudaContext context, TimeSpan? timeout = null,
        ILogger? logger = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(context);
        NcclLibrary.EnsureLoaded(); // before any network wait: a missing NCCL fails every rank at once, clearly
        byte[] id;
        if (environment.IsRankZero)
        {
            id = NcclCommunicator.CreateUniqueId();
            await Rendezvous.PublishAsync(environment, id, timeout, cancel).ConfigureAwait(false);
        }
        else id = await Rendezvous.ReceiveAsync(environment, NcclNative.UniqueIdBytes, timeout, cancel).ConfigureAwait(false);
        return new NcclCommunicator(context, id, environment.Rank, environment.WorldSize, logger);
    }
}
