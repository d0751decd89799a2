using NUnit.Framework;

namespace Int4Train.Tests.Core;

/// <summary>The shared numerical conventions (docs/conventions.md) that both paths rely on.</summary>
[TestFixture]
public class ConventionTests
{
    [Test]
    public void RoundHalfAway_MatchesMidpointAwayFromZero_OnTiesAndNearTies()
    {
        var rng = new Random(11);
        var probes = new List<float> { 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f, 7.5f, -8.5f, 0f, -0f };
        for (int i = 0; i < 20000; i++) probes.Add((float)((rng.NextDouble() - 0.5) * 40));
        for (int i = 0; i < 2000; i++) probes.Add(rng.Next(-20, 20) + 0.5f);
        foreach (float x in probes)
            Assert.That(Rounding.RoundHalfAway(x), Is.EqualTo(MathF.Round(x, MidpointRounding.AwayFromZero)), $"x = {x:R}");
    }

    [Test]
    public void CanonicalSum_EqualsExactSum_OnIntegers_AndFollowsTheLaneOrder()
    {
        var rng = new Random(5);
        foreach (int n in new[] { 1, 255, 256, 4096, 4097, 70000 })
        {
            var v = new double[n];
            long exact = 0;
            for (int i = 0; i < n; i++) { int k = rng.Next(-1000, 1000); v[i] = k; exact += k; }
            Assert.That(CanonicalSum.Sum(v), Is.EqualTo((double)exact), $"n = {n}");
        }

        // The order is observable with values that cancel: 1e16 + 1 - 1e16 depends on grouping.
        var probe = new double[512];
        probe[0] = 1e16; probe[256] = -1e16; probe[1] = 1;
        // lane 0 holds 1e16 + (-1e16) = 0 exactly, lane 1 holds 1 -> total 1.
        Assert.That(CanonicalSum.Sum(probe), Is.EqualTo(1.0));
    }

    [Test]
    public void QuantModeConstants_FollowTheSpec()
    {
        Assert.Multiple(() =>
        {
            Assert.That(QuantMode.Code.Qn(), Is.EqualTo(-8));
            Assert.That(QuantMode.Paper.Qn(), Is.EqualTo(-7));
            Assert.That(QuantMode.Code.Qp(), Is.EqualTo(7));
            Assert.That(QuantMode.Code.SplitLimit(), Is.EqualTo(6));
            Assert.That(QuantMode.Paper.SplitLimit(), Is.EqualTo(7));
        });
    }

    [Test]
    public void Guard_RejectsBadShapes_WithTheSizesInTheMessage()
    {
        var ex = Assert.Throws<ArgumentException>(() => Guard.Matrix("x", 10, 3, 4));
        Assert.That(ex!.Message, Does.Contain("3×4"));
        ex = Assert.Throws<ArgumentException>(() => Guard.HadamardBlock(32, 48));
        Assert.That(ex!.Message, Does.Contain("32").And.Contain("48"));
        Assert.Throws<ArgumentException>(() => Guard.HadamardBlock(3, 48));
        Assert.Throws<ArgumentException>(() => Guard.Finite("x", new[] { 1f, float.NaN }));
        Assert.Throws<ArgumentException>(() => Guard.Step("s", 0f));
    }
}
