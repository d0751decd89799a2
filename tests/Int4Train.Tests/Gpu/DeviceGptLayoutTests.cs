using Int4Train.Reference;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// The device GPT against the one C# description of the model: its tensor table (names, counts, weight-decay group,
/// step sizes) and layer keys are those of <see cref="GptTensorTable"/>, and its INT4 layers walk the same step counts
/// and keys as the host model's through evaluations (both follow the layer policy of docs/conventions.md).
/// </summary>
public sealed class DeviceGptLayoutTests : GpuFixture
{
    private static readonly string Text = BuiltInText.Text;

    private static GptConfig Config(LinearPrecision precision) => GptConfig.Tiny with
    {
        Layers = 2, Heads = 2, Width = 32, Context = 16, BatchSize = 2, Dropout = 0f, Precision = precision,
        ColdStartSteps = 2, ReinitializeAtStep = 3, EvalBatches = 1, Seed = 17,
    };

    [TestCase(LinearPrecision.Int4HqLss)]
    [TestCase(LinearPrecision.Int4Lsq)]
    [TestCase(LinearPrecision.Fp32)]
    [TestCase(LinearPrecision.Int4HqLss, GptLinearClasses.Up | GptLinearClasses.Down)] // step sizes of the INT4 classes only
    [TestCase(LinearPrecision.Int4Lsq, GptLinearClasses.Qkv)]
    public void NativeTensorTableAndKeys_AreTheCSharpTable(LinearPrecision precision, GptLinearClasses classes = GptLinearClasses.All)
    {
        var cfg = Config(precision) with { Int4Classes = classes };
        const int vocab = 13;
        using var dev = new DeviceGptModel(cfg, vocab, Cuda);
        var table = GptTensorTable.Tensors(cfg, vocab);
        Assert.That(dev.Native.Tensors.Select(t => (t.Name, t.Count, t.Decay, t.IsStepSize)),
            Is.EqualTo(table.Select(t => (t.Name, t.Count, t.Decay, t.IsStepSize))), "names, counts, decay group, step sizes in order");
        var linears = GptTensorTable.Linears(cfg);
        Assert.That(Enumerable.Range(0, dev.Native.LinearCount).Select(dev.Native.LayerKey), Is.EqualTo(linears.Select(l => l.Key)),
            "native host_key = Hash.Key(seed, layer, k)");
        var init = GptInit.Draw(cfg, vocab);
        foreach (var t in dev.Native.Tensors.Where(t => !t.IsStepSize))
            Assert.That(dev.Native.Read(t.Index), Is.EqualTo(init[t.Name]), $"{t.Name}: initial values");
    }

    [TestCase(LinearPrecision.Int4HqLss)]
    [TestCase(LinearPrecision.Int4Lsq)]
    [TestCase(LinearPrecision.Int4HqLss, GptLinearClasses.Proj | GptLinearClasses.Down)] // qkv, up run bf16: no policy
    public void HostAndDevice_WalkTheSameStepsAndKeysThroughEvaluations(LinearPrecision precision, GptLinearClasses classes = GptLinearClasses.All)
    {
        // A fixed block size keeps the walk independent of a close call in the search between the two models (whose
        // attention and head differ: FP32 on the host, BF16 operands on the device).
        var cfg = Config(precision) with { Int4Classes = classes };
        if (precision == LinearPrecision.Int4HqLss) cfg = cfg with { Linear = cfg.Linear with { GroupSize = 16 } };
        var data = new CharDataset(Text, cfg.ValidationFraction, cfg.Context);
        int vocab = data.Vocab.Length;
        using var refDevice = ReferenceDevice.CreateCpu();
        using var backend = Int4Backend.Reference(refDevice);
        using var host = new HostGptModel(cfg, vocab, backend);
        using var dev = new DeviceGptModel(cfg, vocab, Cuda);
        int[] StepCounts(IGptModel m) => m.LayerProgress.Select(p => p.StepCount).ToArray();
        float[] StepSizes(IReadOnlyList<TensorState> s) => s.Where(t => t.Name.Contains(".step_")).Select(t => t.Data[0]).ToArray();
        for (long s = 0; s < 6; s++)
        {
            var (x, y) = data.Batch(false, cfg.BatchSize, cfg.Context, Hash.Key(cfg.Seed, s, 1));
            foreach (var m in new IGptModel[] { host, dev })
            {
                m.ZeroGrad();
                m.Forward(x, y, cfg.BatchSize, s, training: true);
                m.Backward();
                m.OptimizerStep(1e-4f); // small: a learned step size differs between the two by at most a few lr
            }
            // evaluations between the training steps, as the trainer does: they must not move either model's layers
            for (int e = 0; e < 2; e++)
            {
                var (vx, vy) = data.Batch(true, cfg.BatchSize, cfg.Context, Hash.Key(cfg.Seed, s, 100 + e));
                double lh = host.Forward(vx, vy, cfg.BatchSize, 0, training: false);
                double ld = dev.Forward(vx, vy, cfg.BatchSize, 0, training: false);
                Assert.That(ld, Is.EqualTo(lh).Within(0.03 * lh), $"step {s}: evaluation loss");
            }
            string at = $"after training step {s} and two evaluations";
            Assert.That(StepCounts(host), Is.EqualTo(Enumerable.Range(0, 4 * cfg.Layers).Select(i => cfg.RunsInt4(i % 4) ? (int)s + 1 : 0)),
                at + ": host counts training forwards only (in its INT4 layers)");
            Assert.That(dev.LayerProgress, Is.EqualTo(host.LayerProgress), at + ": step counts and block sizes");
            var int4 = Enumerable.Range(0, 4 * cfg.Layers).Where(i => cfg.RunsInt4(i % 4)).ToArray();
            var keys = host.Model.Linears.Where((_, i) => cfg.RunsInt4(i % 4)).Select(l => l.BackwardKey!.Value).ToArray();
            var devKeys = int4.Select(i => dev.Native.LayerKey(i) + (ulong)dev.LayerProgress[i].StepCount);
            Assert.That(devKeys, Is.EqualTo(keys), at + ": backward keys (layer key + training forwards)");
            float[] sh = StepSizes(host.ExportState()), sd = StepSizes(dev.ExportState());
            for (int i = 0; i < sh.Length; i++)
                Assert.That(sd[i], Is.EqualTo(sh[i]).Within(0.05 * Math.Abs(sh[i]) + 1e-3), $"{at}: step size {i}");
            var adam = host.ExportState().Zip(dev.ExportState()).Where(p => p.First.Name.Contains(".step_"));
            Assert.That(adam.All(p => p.First.AdamSteps == p.Second.AdamSteps), Is.True, at + ": steps learned after the same cold start");
        }
    }
}
