namespace Int4Train.Training;

/// <summary>
/// A model that runs a whole training step on its device without reading anything back (<see cref="DeviceGptModel"/>:
/// one CUDA graph per step once the INT4 layers allow it). The <see cref="Trainer"/> queues its steps through it and
/// reads their losses every few steps (at each log line and validation) instead of synchronising on every step.
/// </summary>
/// <remarks>Thread safety: as the model: one thread at a time.</remarks>
public interface IQueuedSteps
{
    /// <summary>Queues one optimiser step: ZeroGrad, <paramref name="passes"/> passes of <paramref name="passBatch"/>
    /// sequences (Forward with dropout keyed by <see cref="Trainer.DropoutStep"/>(step, pass), Backward(1/passes)), and
    /// OptimizerStep at <paramref name="learningRate"/>: the same arithmetic as those calls, without a host round trip.</summary>
    void QueueStep(int[] tokens, int[] targets, int passBatch, int passes, long step, float learningRate);

    /// <summary>The mean training loss of every queued step not read yet, oldest first (synchronises).</summary>
    IReadOnlyList<double> ReadLosses();
}
