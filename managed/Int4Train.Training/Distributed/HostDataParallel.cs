using Int4Train.Distributed;

namespace Int4Train.Training;

/// <summary>
/// Data parallelism for the host model (<see cref="HostGptModel"/>): every parameter's gradient, the INT4 step sizes
/// included, is averaged over ranks through a <see cref="DataParallel"/> before the identical AdamW step. Replaces
/// <see cref="HostGptModel.OptimizerStep"/> in a data-parallel run: call <see cref="ReduceAndStep"/> after the
/// backward. (The host backward has no per-tensor hook, so the buckets go out after it; the device model is where
/// overlap pays, see docs/scaling.md.)
/// </summary>
public sealed class HostDataParallel
{
    private readonly HostGptModel _model;

    /// <summary>Averages <paramref name="model"/>'s gradients over the ranks of <paramref name="comm"/>.</summary>
    public HostDataParallel(HostGptModel model, IAllReduce comm, long bucketBytes = GradientBuckets.DefaultBucketBytes)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        var parameters = model.Model.Parameters;
        Gradients = new DataParallel(comm, parameters.Select(p => new GradientTensor(p.Name, p.Grad.Length)).ToArray(),
            i => ReduceBuffer.OnHost(parameters[i].Grad), bucketBytes);
    }

    /// <summary>The bucketed all-reduce of the gradients.</summary>
    public DataParallel Gradients { get; }

    /// <summary>Averages the gradients over ranks, then clips (the averaged gradients are the same on every rank, so
    /// the local norm is the global one) and takes the AdamW step: HostGptModel.OptimizerStep with the all-reduce
    /// between reading the step sizes' gradients from their layers and the update.</summary>
    public void ReduceAndStep(float learningRate)
    {
        _model.Model.PullSteps();
        Gradients.ReduceAll();
        _model.Optimizer.Step(_model.Model.Parameters, _model.Config, learningRate);
        _model.Model.PushSteps();
    }

    /// <summary>The mean over ranks of a per-rank value, such as the loss of its shard (equal shards: the global
    /// batch's mean loss).</summary>
    public double MeanOverRanks(double value) =>
        DataParallel.SumOverRanks(Gradients.Communicator, value) / Gradients.Communicator.WorldSize;
}
