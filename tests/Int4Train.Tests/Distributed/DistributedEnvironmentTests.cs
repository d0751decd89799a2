using Int4Train.Distributed;
using NUnit.Framework;

namespace Int4Train.Tests.Distributed;

/// <summary>torchrun's variables: parsed when right, one clear message naming the variable when not.</summary>
[TestFixture]
public class DistributedEnvironmentTests
{
    private static DistributedEnvironment Parse(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return DistributedEnvironment.Parse(n => map.GetValueOrDefault(n));
    }

    private static readonly (string, string)[] Good =
        [("RANK", "3"), ("WORLD_SIZE", "8"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "node7"), ("MASTER_PORT", "29500")];

    [Test]
    public void TorchrunVariables_AreRead()
    {
        var env = Parse(Good);
        Assert.That(env, Is.EqualTo(new DistributedEnvironment(3, 8, 1, "node7", 29500)));
        Assert.That(env.IsDistributed && !env.IsRankZero, Is.True);
        Assert.That(DistributedEnvironment.Parse(env.ToVariables().GetValueOrDefault), Is.EqualTo(env), "round trip through the variables");
    }

    [Test]
    public void NoVariables_IsOneProcess()
    {
        Assert.That(Parse(), Is.EqualTo(DistributedEnvironment.Single));
        Assert.That(Parse(("RANK", "0"), ("WORLD_SIZE", "1")).IsDistributed, Is.False, "world size 1 needs no master address");
    }

    [TestCase("RANK", "8", "RANK=8 is out of range")]
    [TestCase("RANK", "-1", "RANK='-1' is not a non-negative integer")]
    [TestCase("WORLD_SIZE", "0", "WORLD_SIZE=0 is out of range")]
    [TestCase("WORLD_SIZE", "two", "WORLD_SIZE='two' is not a non-negative integer")]
    [TestCase("LOCAL_RANK", "4", "LOCAL_RANK=4 is out of range")]
    [TestCase("MASTER_PORT", "70000", "MASTER_PORT=70000 is out of range")]
    [TestCase("MASTER_PORT", "", "MASTER_PORT is not set")]
    [TestCase("MASTER_ADDR", " ", "MASTER_ADDR is not set")]
    [TestCase("LOCAL_RANK", "", "LOCAL_RANK is not set")]
    [TestCase("WORLD_SIZE", "", "WORLD_SIZE is not set")]
    public void BadValue_NamesTheVariable(string name, string value, string expected)
    {
        var vars = Good.Select(v => v.Item1 == name ? (name, value) : v).ToArray();
        var e = Assert.Throws<DistributedException>(() => Parse(vars));
        Assert.That(e!.Message, Does.StartWith(expected));
    }

    [Test]
    public void OnlyMasterVariables_AskForAllOrNone()
    {
        var e = Assert.Throws<DistributedException>(() => Parse(("MASTER_ADDR", "h"), ("MASTER_PORT", "1")));
        Assert.That(e!.Message, Does.Contain("RANK and WORLD_SIZE are not").And.Contain("or none"));
    }
}
