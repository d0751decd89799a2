using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Int4Train.Training;

/// <summary>One row of the loss curve.</summary>
/// <remarks>Thread safety: immutable; safe to share.</remarks>
public sealed record TrainRecord(long Step, double TrainLoss, double? ValidationLoss, float LearningRate, double TokensPerSecond);

/// <summary>
/// The training loop: batches keyed by (seed, step), forward, backward, AdamW with clipping on the warm-up + cosine
/// schedule, the INT4 step sizes learned once their layer's cold start is over, periodic validation, a CSV of the
/// loss curve and a checkpoint. Everything is a function of the seed and the step, so a resumed run continues
/// exactly as an uninterrupted one.
/// </summary>
/// <remarks>Thread safety: not thread-safe; it drives one model and writes its run folder. Run one trainer per thread, each with its own model, backend and output folder.</remarks>
public sealed class Trainer : IDisposable
{
    private readonly ILogger _log;
    private string? _home; // the run folder whose loss.csv and checkpoint match this state (resumed from, or last written)

    private Trainer(GptConfig config, CharDataset data, IGptModel model, ILogger? logger)
    {
        Config = config; Data = data; Model = model;
        _log = logger ?? NullLogger.Instance;
    }

    /// <summary>The configuration.</summary>
    public GptConfig Config { get; }
    /// <summary>The data.</summary>
    public CharDataset Data { get; }
    /// <summary>The model (owned: disposed with the trainer).</summary>
    public IGptModel Model { get; }
    /// <summary>Optimiser steps taken.</summary>
    public long Step { get; private set; }

    /// <summary>The factory of the host model (<see cref="HostGptModel"/>) on a borrowed INT4 backend.</summary>
    public static Func<GptConfig, int, IGptModel> HostModel(Int4Backend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return (config, vocab) => new HostGptModel(config, vocab, backend);
    }

    /// <summary>A fresh run on a text with the model a factory builds from (configuration, vocabulary size).</summary>
    public static Trainer Create(GptConfig config, string text, Func<GptConfig, int, IGptModel> modelFactory, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(modelFactory);
        config.Validate();
        var data = new CharDataset(text, config.ValidationFraction, config.Context);
        config.Validate(data.VocabSize); // every size product before anything is allocated
        var model = modelFactory(config, data.VocabSize);
        return new Trainer(config, data, model, logger);
    }

    /// <summary>A fresh run on a text with the host model on an INT4 backend.</summary>
    public static Trainer Create(GptConfig config, string text, Int4Backend backend, ILogger? logger = null) =>
        Create(config, text, HostModel(backend), logger);

    /// <summary>Continues the run a checkpoint saved, on the same text (its configuration comes from the checkpoint),
    /// with the model a factory builds (a checkpoint of either model kind resumes on either).</summary>
    public static Trainer Resume(string checkpoint, string text, Func<GptConfig, int, IGptModel> modelFactory, ILogger? logger = null)
    {
        var (config, vocab, _) = Checkpoint.ReadHeader(checkpoint);
        var t = Create(config, text, modelFactory, logger);
        try
        {
            if (t.Data.Vocab != vocab) throw new InvalidDataException($"{checkpoint} was trained on a text with a different character set.");
            t.Step = Checkpoint.Load(checkpoint, t.Model);
            t._home = RunFolder.Of(checkpoint);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Continues a run with the host model on an INT4 backend.</summary>
    public static Trainer Resume(string checkpoint, string text, Int4Backend backend, ILogger? logger = null) =>
        Resume(checkpoint, text, HostModel(backend), logger);

    /// <summary>The model and vocabulary of a checkpoint (for sampling); the caller disposes the model.</summary>
    public static (IGptModel Model, string Vocab) LoadModel(string checkpoint, Func<GptConfig, int, IGptModel> modelFactory)
    {
        ArgumentNullException.ThrowIfNull(modelFactory);
        var (config, vocab, _) = Checkpoint.ReadHeader(checkpoint);
        var model = modelFactory(config, CharDataset.Symbols(vocab).Length);
        try
        {
            Checkpoint.Load(checkpoint, model);
            return (model, vocab);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The host model and vocabulary of a checkpoint.</summary>
    public static (IGptModel Model, string Vocab) LoadModel(string checkpoint, Int4Backend backend) => LoadModel(checkpoint, HostModel(backend));

    /// <summary>One optimiser step; returns the training loss of its batch. The batch runs as
    /// <see cref="GptConfig.PassesPerStep"/> forward+backward passes of <see cref="GptConfig.PassBatch"/> sequences (gradient
    /// accumulation): each pass's gradient is scaled by its share M/B, so the step sees the gradient of the whole batch's
    /// mean loss (equal to one pass of B up to float summation order), and the returned loss is the mean of the passes'.</summary>
    public double TrainStep(long decaySteps)
    {
        var (x, y) = Data.Batch(false, Config.BatchSize, Config.Context, Hash.Key(Config.Seed, Step, 1));
        Model.ZeroGrad();
        int passes = Config.PassesPerStep;
        double loss = 0;
        for (int i = 0; i < passes; i++)
        {
            var (px, py) = Pass(x, y, i);
            loss += Model.Forward(px, py, Config.PassBatch, DropoutStep(Step, i), training: true);
            Model.Backward(1f / passes);
        }
        Model.OptimizerStep(AdamW.LearningRate(Config, Step, decaySteps));
        Step++;
        return loss / passes;
    }

    /// <summary><paramref name="count"/> optimiser steps as <see cref="TrainStep"/> would take them, queued on the device
    /// where the model allows it (<see cref="IQueuedSteps"/>: one host synchronisation at the end); returns their
    /// training losses, oldest first.</summary>
    public IReadOnlyList<double> TrainSteps(int count, long decaySteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (Model is not IQueuedSteps queue)
        {
            var losses = new double[count];
            for (int i = 0; i < count; i++) losses[i] = TrainStep(decaySteps);
            return losses;
        }
        queue.ReadLosses(); // anything queued before is not this call's
        for (int i = 0; i < count; i++) QueueStep(queue, decaySteps);
        return queue.ReadLosses();
    }

    /// <summary>Queues one optimiser step on a model that runs it without a host round trip; its loss comes with
    /// <see cref="IQueuedSteps.ReadLosses"/>. The same batch, passes, dropout keys and learning rate as <see cref="TrainStep"/>.</summary>
    private void QueueStep(IQueuedSteps queue, long decaySteps)
    {
        var (x, y) = Data.Batch(false, Config.BatchSize, Config.Context, Hash.Key(Config.Seed, Step, 1));
        queue.QueueStep(x, y, Config.PassBatch, Config.PassesPerStep, Step, AdamW.LearningRate(Config, Step, decaySteps));
        Step++;
    }

    /// <summary>Steps between log lines; a model with queued steps (<see cref="IQueuedSteps"/>) hands its losses to the
    /// host at these lines (and at each validation) and not in between.</summary>
    public const int LogEvery = 10;

    /// <summary>The sequences of pass <paramref name="i"/> of a batch (rows i·M … (i+1)·M − 1; the whole batch with one pass).</summary>
    private (int[] X, int[] Y) Pass(int[] x, int[] y, int i)
    {
        if (Config.PassesPerStep == 1) return (x, y);
        int len = Config.PassBatch * Config.Context;
        return (x[(i * len)..((i + 1) * len)], y[(i * len)..((i + 1) * len)]);
    }

    /// <summary>The step value that keys pass <paramref name="i"/>'s dropout masks: the step itself for the first pass (so a
    /// run without accumulation keeps its masks), a value no real step reaches for the others (2⁴⁰·i + step), so the
    /// passes of a step draw independent masks.</summary>
    internal static long DropoutStep(long step, int i) => i == 0 ? step : step + ((long)i << 40);

    /// <summary>Mean loss over <see cref="GptConfig.EvalBatches"/> fixed batches of a split, without dropout.</summary>
    public double Evaluate(bool validation = true)
    {
        double sum = 0;
        for (int i = 0; i < Config.EvalBatches; i++)
        {
            var (x, y) = Data.Batch(validation, Config.BatchSize, Config.Context, Hash.Key(Config.Seed, i, validation ? 2 : 3));
            for (int j = 0; j < Config.PassesPerStep; j++) // the passes are equal in size: the mean of their means is the batch's
            {
                var (px, py) = Pass(x, y, j);
                sum += Model.Forward(px, py, Config.PassBatch, 0, training: false);
            }
        }
        return sum / ((double)Config.EvalBatches * Config.PassesPerStep);
    }

    /// <summary>Trains until <paramref name="totalSteps"/> (the cosine schedule's length), validating every
    /// <paramref name="evalEvery"/> steps and at the end; writes loss.csv and checkpoint.bin into
    /// <paramref name="outDir"/> when given (see <see cref="LossLog"/> for how they stay consistent after a crash).
    /// A folder holding another run is refused with a <see cref="RunExistsException"/> unless
    /// <paramref name="overwrite"/>; the folder this trainer was resumed from is continued. Nothing is written before
    /// the first step is done. <paramref name="onStep"/> (a UI's hook) gets every record as it happens.</summary>
    public IReadOnlyList<TrainRecord> Run(long totalSteps, int evalEvery, string? outDir = null, Action<TrainRecord>? onStep = null, bool overwrite = false)
    {
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "Steps must be positive.");
        if (evalEvery < 1) throw new ArgumentOutOfRangeException(nameof(evalEvery), evalEvery, "eval-every must be positive.");
        LossLog? lossLog = null;
        string? ckpt = null;
        bool continuing = false;
        if (outDir is not null)
        {
            continuing = _home is not null && RunFolder.Same(outDir, _home);
            if (!continuing) RunFolder.EnsureFree(outDir, overwrite);
            // the rows up to this step come from the run this state continues (none for a fresh run)
            lossLog = LossLog.Continue(RunFolder.LossPath(outDir), Step, _home is null ? null : RunFolder.LossPath(_home));
            ckpt = RunFolder.CheckpointPath(outDir);
        }
        _log.LogInformation("model: {Description}", Model.Description);
        _log.LogInformation("GPT: {Layers} layers, {Heads} heads, {Width} wide, context {Context}, batch {Batch} ({Passes} × {Micro} a pass), vocab {Vocab}, {Params:N0} parameters; block linears {Precision}",
            Config.Layers, Config.Heads, Config.Width, Config.Context, Config.BatchSize, Config.PassesPerStep, Config.PassBatch, Model.VocabSize, Model.ParameterCount, Config.LinearDescription);
        var records = new List<TrainRecord>();
        var clock = Stopwatch.StartNew();
        var session = Stopwatch.StartNew();
        long tokensSince = 0, firstStep = Step;
        var sinceLog = Stopwatch.StartNew();
        var queue = Model as IQueuedSteps;
        var pending = new List<(long Step, float Lr, double Loss)>(); // steps done whose records are not written yet
        while (Step < totalSteps)
        {
            float lr = AdamW.LearningRate(Config, Step, totalSteps);
            if (queue is null) pending.Add((Step + 1, lr, TrainStep(totalSteps)));
            else
            {
                QueueStep(queue, totalSteps);
                pending.Add((Step, lr, double.NaN));
            }
            tokensSince += (long)Config.BatchSize * Config.Context;
            bool eval = Step % evalEvery == 0 || Step == totalSteps;
            bool logLine = eval || Step % LogEvery == 0 || sinceLog.Elapsed.TotalSeconds >= 10; // slow runs (CPU reference) still show progress
            if (queue is not null && !logLine) continue; // the queued steps' losses are read at the next line
            if (queue is not null) FillLosses(pending, queue.ReadLosses());
            double tps = tokensSince / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            double? val = eval ? Evaluate() : null;
            foreach (var (step, stepLr, loss) in pending)
            {
                bool last = step == Step;
                var rec = new TrainRecord(step, loss, last ? val : null, stepLr, tps);
                records.Add(rec);
                if (last && logLine)
                {
                    sinceLog.Restart();
                    LogStep(rec, totalSteps, TrainFormat.Remaining(session.Elapsed, Step - firstStep, totalSteps - Step));
                }
                if (lossLog is not null && ckpt is not null)
                {
                    if (records.Count == 1) // the first step is done: only now is anything written
                    {
                        Directory.CreateDirectory(outDir!);
                        if (!continuing && File.Exists(ckpt)) File.Delete(ckpt); // an overwritten run's checkpoint must not outlive it
                    }
                    // at a validation the curve is committed first, then the checkpoint: a crash in between leaves rows
                    // past the checkpoint, which a resume drops
                    if (last && eval) { lossLog.AppendAndCommit(rec); Save(ckpt); }
                    else lossLog.Append(rec);
                    _home = outDir;
                }
                onStep?.Invoke(rec);
            }
            pending.Clear();
            if (eval) { clock.Restart(); tokensSince = 0; }
        }
        if (ckpt is not null) _log.LogInformation("checkpoint {Path}, loss curve {Csv}", ckpt, lossLog!.Path);
        return records;
    }

    // The queued steps' losses, in order, into their pending records; a non-finite one stops the run as a host step would.
    private static void FillLosses(List<(long Step, float Lr, double Loss)> pending, IReadOnlyList<double> losses)
    {
        if (losses.Count != pending.Count)
            throw new InvalidOperationException($"The model reported {losses.Count} losses for {pending.Count} queued steps.");
        for (int i = 0; i < pending.Count; i++)
        {
            if (!double.IsFinite(losses[i])) throw new InvalidOperationException($"The loss is {losses[i]} at step {pending[i].Step}: training diverged.");
            pending[i] = (pending[i].Step, pending[i].Lr, losses[i]);
        }
    }

    private void LogStep(TrainRecord r, long totalSteps, TimeSpan? eta)
    {
        string lr = TrainFormat.Scientific(r.LearningRate), left = eta is TimeSpan e ? TrainFormat.Duration(e) : "–";
        if (r.ValidationLoss is double val)
            _log.LogInformation("step {Step}/{Total}  loss {Loss:F4}  val loss {Val:F4}  lr {Lr}  {Tps:F0} tokens/s  eta {Eta}",
                r.Step, totalSteps, r.TrainLoss, val, lr, r.TokensPerSecond, left);
        else
            _log.LogInformation("step {Step}/{Total}  loss {Loss:F4}  lr {Lr}  {Tps:F0} tokens/s  eta {Eta}",
                r.Step, totalSteps, r.TrainLoss, lr, r.TokensPerSecond, left);
    }

    /// <summary>Writes a checkpoint.</summary>
    public void Save(string path) => Checkpoint.Save(path, Model, Data.Vocab, Step);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();

    /// <summary>Samples <paramref name="count"/> characters after a prompt (temperature 1, context cropped to T);
    /// <paramref name="onCharacter"/> gets each one as it is generated (to stream it). A prompt with characters
    /// outside the vocabulary (or an empty one) starts from the first symbol.</summary>
    public static string Generate(IGptModel model, string vocab, int count, string prompt = "\n", int seed = 0, Action<string>? onCharacter = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocab);
        ArgumentNullException.ThrowIfNull(prompt);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "Token count cannot be negative.");
        var symbols = CharDataset.Symbols(vocab);
        var tokens = new List<int>(prompt.Length == 0 || !CharDataset.Covers(vocab, prompt) ? [0] : CharDataset.Encode(vocab, prompt));
        var rng = new Random(seed);
        var output = new System.Text.StringBuilder();
        for (int i = 0; i < count; i++)
        {
            int[] ctx = tokens.Skip(Math.Max(0, tokens.Count - model.Config.Context)).ToArray();
            model.Forward(ctx, null, 1, 0, training: false);
            float[] probs = model.NextTokenProbabilities(0);
            int v = model.VocabSize;
            double u = rng.NextDouble(), acc = 0;
            int next = v - 1;
            for (int j = 0; j < v; j++) { acc += probs[j]; if (u < acc) { next = j; break; } }
            tokens.Add(next);
            string ch = symbols[next].ToString();
            output.Append(ch);
            onCharacter?.Invoke(ch);
        }
        return output.ToString();
    }
}
