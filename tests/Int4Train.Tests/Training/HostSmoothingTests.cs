using Int4Train.Reference;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>Per-input-channel smoothing on the host model (issue 15; docs/conventions.md "Per-input-channel smoothing";
/// <see cref="SmoothedLinear"/> on the reference <see cref="ChannelSmoothing"/>): exact in real arithmetic (an FP32 linear
/// smoothed is the linear without it, to FP32 rounding, gradients accumulated over micro-batches included), the INT4
/// model smoothed is another model that trains, and the factors follow the device model's rules (made by each training
/// forward, kept for the evaluations after it, made by an evaluation before any training forward).</summary>
[TestFixture]
public class HostSmoothingTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;

    private static ChannelSmoothing Ops => new(Backend.ReferenceDevice!);

    // Rows with a few large channels, as a LayerNorm output with uneven gains.
    private static float[] Input(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i % cols % 5 == 1 ? 30f : 1f);
        return x;
    }

    [TestCase(0.5f)]
    [TestCase(1f)]
    public void AnFp32LinearSmoothed_IsTheLinearWithout_ToRounding(float alpha)
    {
        const int d = 20, c = 12, n = 9;
        var plain = new Int4Linear(d, c, Backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }, initSeed: 3);
        var inner = new Int4Linear(d, c, Backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }, initSeed: 3);
        var smoothed = new SmoothedLinear(inner, (float[])plain.Weight.Clone(), new float[d * c], alpha, Ops);
        // two micro-batches: ∂L/∂W and ∂L/∂b accumulate over both
        for (int micro = 0; micro < 2; micro++)
        {
            float[] x = Input(n, d, 10 + micro), dy = Input(n, c, 20 + micro);
            float[] y0 = plain.Forward(x, n), y1 = smoothed.Forward(x, n, training: true, factorsReady: false);
            AssertClose(y1, y0, "Y");
            Assert.That(smoothed.Factors!.Distinct().Count(), Is.GreaterThan(1), "factors other than one: the test smooths");
            AssertClose(smoothed.Backward(dy), plain.Backward(dy), $"∂L/∂X, micro-batch {micro}");
        }
        AssertClose(smoothed.WeightGrad, plain.WeightGrad, "∂L/∂W");
        AssertClose(inner.BiasGrad, plain.BiasGrad, "∂L/∂b");
        Assert.That(smoothed.Weight, Is.EqualTo(plain.Weight), "W itself is untouched");
    }

    private static void AssertClose(float[] actual, float[] expected, string what)
    {
        double scale = expected.Max(v => Math.Abs((double)v));
        Assert.That(scale, Is.GreaterThan(0), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5 * scale), $"{what}[{i}]");
    }

    private static GptConfig Config(float alpha, GptLinearClasses classes) => GptConfig.Tiny with
    {
        Layers = 2, Width = 16, Context = 8, BatchSize = 4, EvalBatches = 1, ColdStartSteps = 2, Seed = 41,
        Precision = LinearPrecision.Int4HqLss, GroupSize = 16, SmoothAlpha = alpha, SmoothClasses = classes,
    };

    [Test]
    public void TheInt4Model_Smoothed_IsAnotherModel_ThatTrains()
    {
        var data = new CharDataset(BuiltInText.Text, 0.1f, 8);
        using var plain = new HostGptModel(Config(0f, GptConfig.DefaultSmoothClasses), data.VocabSize, Backend);
        using var smoothed = new HostGptModel(Config(0.5f, GptLinearClasses.All), data.VocabSize, Backend);
        Assert.That(smoothed.Model.SmoothedLinears.Count(), Is.EqualTo(8), "every linear of both blocks");
        Assert.That(plain.Model.SmoothedLinears, Is.Empty);
        Assert.That(smoothed.ExportState().Select(t => t.Name), Is.EqualTo(plain.ExportState().Select(t => t.Name)), "the same tensors");
        var losses = new List<(double Plain, double Smoothed)>();
        for (long s = 0; s < 12; s++)
        {
            var (x, y) = data.Batch(false, 4, 8, (ulong)(s % 3));
            double Step(IGptModel m)
            {
                m.ZeroGrad();
                double l = m.Forward(x, y, 4, s, training: true);
                m.Backward();
                m.OptimizerStep(1e-2f);
                return l;
            }
            losses.Add((Step(plain), Step(smoothed)));
        }
        Assert.That(losses.All(l => double.IsFinite(l.Smoothed)), string.Join(", ", losses));
        Assert.That(losses[0].Smoothed, Is.EqualTo(losses[0].Plain).Within(0.05 * losses[0].Plain), "the same initial model: about the same first loss");
        Assert.That(losses.Count(l => l.Smoothed != l.Plain), Is.GreaterThan(6), "another model than without");
        Assert.That(losses.TakeLast(3).Average(l => l.Smoothed), Is.LessThan(losses.Take(3).Average(l => l.Smoothed) - 0.1), "it trains");
        // the parameter W is the model's; the linear's own Weight holds W·diag(m) of the last forward
        var (vx, vy) = data.Batch(true, 4, 8, 5);
        smoothed.Forward(vx, vy, 4, 12, training: false);
        var sl = smoothed.Model.SmoothedLinears.First();
        Assert.That(sl.Linear.Weight, Is.Not.EqualTo(sl.Weight));
        Assert.That(sl.Linear.Weight, Is.EqualTo(Ops.MultiplyColumns(sl.Weight, sl.Linear.OutFeatures, sl.Factors!)));
    }

    [Test]
    public void TheFactors_AreMadeByTrainingForwards_AndKeptForTheEvaluationsAfter()
    {
        var data = new CharDataset(BuiltInText.Text, 0.1f, 8);
        using var model = new HostGptModel(Config(0.5f, GptConfig.DefaultSmoothClasses), data.VocabSize, Backend);
        var linears = model.Model.SmoothedLinears.ToArray();
        Assert.That(linears, Has.Length.EqualTo(4), "qkv and up of two blocks");
        float[][] Factors() => linears.Select(l => (float[])l.Factors!.Clone()).ToArray();
        var (v1, t1) = data.Batch(true, 4, 8, 1);
        var (v2, t2) = data.Batch(true, 4, 8, 2);
        var (x, y) = data.Batch(false, 4, 8, 3);

        double before = model.Forward(v1, t1, 4, 0, training: false);
        var fromV1 = Factors();
        model.Forward(v2, t2, 4, 0, training: false);
        var fromV2 = Factors();
        Assert.That(fromV2, Is.Not.EqualTo(fromV1), "before any training forward, each evaluation makes its own");

        model.Forward(x, y, 4, 0, training: true);
        var trained = Factors();
        Assert.That(trained, Is.Not.EqualTo(fromV2));
        double after = model.Forward(v1, t1, 4, 0, training: false);
        Assert.That(Factors(), Is.EqualTo(trained), "an evaluation after a training forward keeps its factors");
        Assert.That(after, Is.Not.EqualTo(before), "the same batch evaluated with another m");
        model.Forward(v2, t2, 4, 0, training: false);
        Assert.That(Factors(), Is.EqualTo(trained));
    }
}
