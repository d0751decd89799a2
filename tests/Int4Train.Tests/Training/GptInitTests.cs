using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>The GPT's initial draw (<see cref="GptInit"/>): counter-based, so the parallel draw is the serial one, and
/// std·N(0, 1) in distribution.</summary>
[TestFixture]
public class GptInitTests
{
    [Test]
    public void ParallelDraw_EqualsTheSerialFormula_AndIsReproducible()
    {
        const int n = 300_001; // several chunks and a partial one
        ulong key = Hash.Key(7, 3, 1);
        float[] a = GptInit.Normal(key, n, 0.02f), b = GptInit.Normal(key, n, 0.02f);
        Assert.That(b, Is.EqualTo(a).AsCollection, "two draws of one key");
        foreach (int i in new[] { 0, 1, 65_535, 65_536, 131_071, n - 1 })
            Assert.That(a[i], Is.EqualTo(0.02f * GptInit.Gaussian(key, i)), $"element {i}");
        Assert.That(GptInit.Normal(Hash.Key(7, 3, 2), 64, 0.02f), Is.Not.EqualTo(a.Take(64).ToArray()), "another key, other numbers");
    }

    [Test]
    public void Draw_IsStdTimesAStandardNormal()
    {
        const int n = 1 << 20;
        var a = GptInit.Normal(Hash.Key(11, 0, 0), n, 1f);
        double mean = a.Average(x => (double)x), var = a.Average(x => (x - mean) * (x - mean));
        double beyond3 = a.Count(x => Math.Abs(x) > 3) / (double)n;
        Assert.That(a.All(float.IsFinite), Is.True);
        Assert.That(mean, Is.EqualTo(0).Within(5.0 / Math.Sqrt(n)));
        Assert.That(Math.Sqrt(var), Is.EqualTo(1).Within(0.005));
        Assert.That(beyond3, Is.EqualTo(0.0027).Within(0.0006), "the normal's tails (P(|z| > 3) = 0.27 %)");
    }

    [Test]
    public void Model_Tensors_DrawTheirOwnNumbers_FromTheSeed()
    {
        var cfg = GptConfig.Tiny;
        var a = GptInit.Draw(cfg, 11);
        var b = GptInit.Draw(cfg with { Seed = cfg.Seed + 1 }, 11);
        Assert.That(a["wte"], Is.Not.EqualTo(b["wte"]), "the seed changes the draw");
        Assert.That(a["wte"].Take(16), Is.Not.EqualTo(a["wpe"].Take(16)), "two tensors, two streams");
        Assert.That(GptInit.Draw(cfg, 11)["h0.up.weight"], Is.EqualTo(a["h0.up.weight"]).AsCollection, "reproducible");
    }
}
