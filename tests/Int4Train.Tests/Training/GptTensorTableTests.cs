using Int4Train.Tests.Reference;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>
/// The GPT's one tensor table (<see cref="GptTensorTable"/>): the host model's parameters are exactly its rows, the
/// initialisation is drawn from it, and the layer keys are pinned (the native model derives the same ones; the GPU
/// test DeviceGptLayoutTests compares the device's table and keys with it). Host evaluations do not advance the INT4
/// layers.
/// </summary>
[TestFixture]
public class GptTensorTableTests
{
    // borrows the shared reference device: nothing of its own to dispose
    private static Int4Backend Backend => Int4Backend.Reference(ReferenceDeviceFixture.Cpu);

    private static GptConfig Config(LinearPrecision precision) => new()
    {
        Layers = 2, Heads = 2, Width = 16, Context = 8, BatchSize = 2, Precision = precision, ColdStartSteps = 1, Seed = 21,
    };

    [TestCase(LinearPrecision.Int4HqLss)]
    [TestCase(LinearPrecision.Fp32)]
    public void HostParameters_AreTheTableRows(LinearPrecision precision)
    {
        var cfg = Config(precision);
        var table = GptTensorTable.Tensors(cfg, vocabSize: 11);
        var model = new Gpt(cfg, 11, Backend);
        Assert.That(model.Parameters.Select(p => (p.Name, (long)p.Data.Length, p.Decay, p.StepOwner is not null)),
            Is.EqualTo(table.Select(t => (t.Name, t.Count, t.Decay, t.IsStepSize))));
        int steps = precision.IsInt4() ? 2 * 4 * cfg.Layers : 0;
        Assert.That(table.Count, Is.EqualTo(2 + cfg.Layers * (4 + 8) + steps + 2));
        Assert.That(table.Where(t => t.Decay).Select(t => t.Name), Is.EqualTo(new[] { "wte", "wpe" }.Concat(
            Enumerable.Range(0, cfg.Layers).SelectMany(l => new[] { "qkv", "proj", "up", "down" }.Select(k => $"h{l}.{k}.weight")))));
        foreach (var (t, p) in table.Zip(model.Parameters))
        {
            if (t.Init == GptTensorInit.One) Assert.That(p.Data.All(v => v == 1f), Is.True, t.Name);
            if (t.Init == GptTensorInit.Zero) Assert.That(p.Data.All(v => v == 0f), Is.True, t.Name);
            if (t.Init == GptTensorInit.Normal)
            {
                double rms = Math.Sqrt(p.Data.Average(v => (double)v * v));
                Assert.That(rms, Is.EqualTo(t.Std).Within(0.25 * t.Std), $"{t.Name}: N(0, {t.Std}²)");
            }
        }
        var init = GptInit.Draw(cfg, 11);
        foreach (var p in model.Parameters.Where(p => p.StepOwner is null))
            Assert.That(p.Data, Is.EqualTo(init[p.Name]), $"{p.Name}: the host model starts from GptInit's draw");
    }

    [Test]
    public void LayerKeys_ArePinned()
    {
        // SplitMix64(SplitMix64(SplitMix64(a) ^ b) ^ c), computed independently; native host_key is the same formula
        Assert.That(Hash.Key(1337, 0, 0), Is.EqualTo(0x5ac0d68b3d7993a3UL));
        Assert.That(Hash.Key(1337, 0, 3), Is.EqualTo(0x44ad7d42c20a9616UL));
        Assert.That(Hash.Key(1337, 5, 2), Is.EqualTo(0x8e3facbf3cb17a84UL));
        Assert.That(Hash.Key(5, 1, 1), Is.EqualTo(0xeb37568742ffa26bUL));
        var cfg = Config(LinearPrecision.Int4HqLss);
        var model = new Gpt(cfg, 11, Backend);
        var linears = GptTensorTable.Linears(cfg);
        Assert.That(model.Linears.Select(l => l.Options.Seed), Is.EqualTo(linears.Select(s => Hash.Key(cfg.Seed, s.Layer, s.K))));
        Assert.That(linears.Select(s => (s.In, s.Out)).Take(4), Is.EqualTo(new[] { (16, 48), (16, 16), (16, 64), (64, 16) }));
    }

    [Test]
    public void HostEvaluationForwards_DoNotAdvanceTheInt4Layers()
    {
        var cfg = Config(LinearPrecision.Int4HqLss);
        using var host = new HostGptModel(cfg, 11, Backend);
        var rng = new Random(5);
        int[] Tokens() => Enumerable.Range(0, cfg.BatchSize * cfg.Context).Select(_ => rng.Next(11)).ToArray();
        host.Forward(Tokens(), Tokens(), cfg.BatchSize, 0, training: true);
        host.Backward();
        host.OptimizerStep(1e-3f);
        var before = host.LayerProgress.ToArray();
        var keys = host.Model.Linears.Select(l => l.BackwardKey).ToArray();
        for (int i = 0; i < 3; i++) host.Forward(Tokens(), Tokens(), cfg.BatchSize, 0, training: false);
        Assert.That(host.LayerProgress, Is.EqualTo(before), "evaluations change no layer progress");
        Assert.That(host.Model.Linears.Select(l => l.BackwardKey), Is.EqualTo(keys), "nor the keys of the next backward");
        Assert.That(before.All(p => p.StepCount == 1), Is.True);
        Assert.Throws<InvalidOperationException>(() => host.Backward(), "no backward after an evaluation forward");
    }

    [Test]
    public void Config_ComposesTheLayerOptions()
    {
        var cfg = GptConfig.Small with { Sampling = SamplingMode.Bernoulli, ReinitializeAtStep = 7 };
        Assert.That(cfg.Linear, Is.EqualTo(new Int4LinearOptions
        {
            Precision = LinearPrecision.Int4HqLss, ColdStartSteps = 50, ReinitializeAtStep = 7, Sampling = SamplingMode.Bernoulli,
        }));
        Assert.Throws<ArgumentException>(() => (cfg with { Linear = cfg.Linear with { GroupSize = 3 } }).Validate());
        Assert.Throws<ArgumentException>(() => (cfg with { ColdStartSteps = -1 }).Validate());
    }
}
