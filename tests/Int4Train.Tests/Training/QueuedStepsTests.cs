using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>The trainer's queued path (<see cref="IQueuedSteps"/>, taken by the device GPT): steps are queued and their
/// losses read only at log lines and validations, yet the records, the loss curve and the checkpoint are those of the
/// step-by-step path; a diverged loss still stops the run with the step it happened at.</summary>
[TestFixture]
public class QueuedStepsTests
{
    private static readonly GptConfig Config = GptConfig.Tiny with
    {
        Layers = 1, Heads = 2, Width = 16, Context = 16, BatchSize = 2, MicroBatch = 1, Dropout = 0.1f,
        Precision = LinearPrecision.Fp32, Seed = 31, EvalBatches = 1, WarmupSteps = 3,
    };

    /// <summary>The host model behind <see cref="IQueuedSteps"/>: a queued step is the separate calls, its loss kept
    /// until read (as the device keeps it); counts the reads.</summary>
    private sealed class QueuedHostModel(IGptModel inner, double? poison = null) : IGptModel, IQueuedSteps
    {
        private readonly List<double> _unread = [];
        public int Reads { get; private set; }
        public int MostUnread { get; private set; }

        public void QueueStep(int[] tokens, int[] targets, int passBatch, int passes, long step, float learningRate)
        {
            int len = tokens.Length / passes;
            inner.ZeroGrad();
            double loss = 0;
            for (int i = 0; i < passes; i++)
            {
                loss += inner.Forward(tokens[(i * len)..((i + 1) * len)], targets[(i * len)..((i + 1) * len)], passBatch, Trainer.DropoutStep(step, i), true);
                inner.Backward(1f / passes);
            }
            inner.OptimizerStep(learningRate);
            _unread.Add(step == 4 && poison is double p ? p : loss / passes);
            MostUnread = Math.Max(MostUnread, _unread.Count);
        }

        public IReadOnlyList<double> ReadLosses()
        {
            Reads++;
            var r = _unread.ToArray();
            _unread.Clear();
            return r;
        }

        public GptConfig Config => inner.Config;
        public int VocabSize => inner.VocabSize;
        public long ParameterCount => inner.ParameterCount;
        public string Description => inner.Description;
        public double Forward(int[] tokens, int[]? targets, int batch, long step, bool training) => inner.Forward(tokens, targets, batch, step, training);
        public void Backward(float lossScale = 1f) => inner.Backward(lossScale);
        public void ZeroGrad() => inner.ZeroGrad();
        public void OptimizerStep(float learningRate) => inner.OptimizerStep(learningRate);
        public float[] NextTokenProbabilities(int sequence) => inner.NextTokenProbabilities(sequence);
        public IReadOnlyList<TensorState> ExportState() => inner.ExportState();
        public void ImportState(IReadOnlyList<TensorState> state) => inner.ImportState(state);
        public IReadOnlyList<LayerProgress> LayerProgress { get => inner.LayerProgress; set => inner.LayerProgress = value; }
        public void Dispose() => inner.Dispose();
    }

    private static Trainer Queued(double? poison = null) => Trainer.Create(Config, BuiltInText.Text, (c, v) =>
        new QueuedHostModel(Trainer.HostModel(TrainingFixture.Backend)(c, v), poison));

    [Test]
    public void QueuedRun_WritesTheRecordsCurveAndCheckpointOfTheStepByStepRun()
    {
        string dir = Path.Combine(Path.GetTempPath(), "int4train-queued-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var plain = Trainer.Create(Config, BuiltInText.Text, TrainingFixture.Backend);
            using var queued = Queued();
            var model = (QueuedHostModel)queued.Model;
            var a = plain.Run(23, 11, Path.Combine(dir, "plain"));
            var b = queued.Run(23, 11, Path.Combine(dir, "queued"));
            Assert.That(b.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss, r.LearningRate)),
                Is.EqualTo(a.Select(r => (r.Step, r.TrainLoss, r.ValidationLoss, r.LearningRate))), "every step's record");
            Assert.That(model.Reads, Is.LessThan(23), "losses are read at log lines, not every step");
            Assert.That(model.MostUnread, Is.GreaterThan(1).And.LessThanOrEqualTo(Trainer.LogEvery), "at most a log interval waits");
            static string[] Curve(string run) => File.ReadAllLines(Path.Combine(run, "loss.csv"))
                .Select(l => string.Join(',', l.Split(',').SkipLast(1))).ToArray(); // tokens/s differs
            Assert.That(Curve(Path.Combine(dir, "queued")), Is.EqualTo(Curve(Path.Combine(dir, "plain"))), "loss.csv");
            Assert.That(Checkpoint.ReadHeader(Path.Combine(dir, "queued", "checkpoint.bin")).Step, Is.EqualTo(23));
            Assert.That(File.ReadAllBytes(Path.Combine(dir, "queued", "checkpoint.bin")),
                Is.EqualTo(File.ReadAllBytes(Path.Combine(dir, "plain", "checkpoint.bin"))), "checkpoint");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void TrainSteps_QueuedOrNot_AreTheStepsTrainStepTakes()
    {
        using var plain = Trainer.Create(Config, BuiltInText.Text, TrainingFixture.Backend);
        using var host = Trainer.Create(Config, BuiltInText.Text, TrainingFixture.Backend);
        using var queued = Queued();
        var model = (QueuedHostModel)queued.Model;
        double[] expected = Enumerable.Range(0, 5).Select(_ => plain.TrainStep(40)).ToArray();
        Assert.That(host.TrainSteps(2, 40).Concat(host.TrainSteps(3, 40)), Is.EqualTo(expected), "a model without a queue");
        int reads = model.Reads;
        Assert.That(queued.TrainSteps(2, 40).Concat(queued.TrainSteps(3, 40)), Is.EqualTo(expected), "queued");
        Assert.That(model.MostUnread, Is.EqualTo(3), "each call queues its steps before reading");
        Assert.That(queued.Step, Is.EqualTo(5));
        Assert.That(() => queued.TrainSteps(0, 40), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(model.Reads - reads, Is.EqualTo(4), "one read before and one after each call's steps");
    }

    [Test]
    public void QueuedRun_StopsAtADivergedLoss_NamingItsStep()
    {
        using var queued = Queued(poison: double.NaN);
        Assert.That(() => queued.Run(12, 12), Throws.InvalidOperationException.With.Message.Contains("at step 5: training diverged"));
    }
}
