using Int4Train.Cli;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>The int4train command line: option errors are one clear sentence (and exit code 1), not a crash.</summary>
[TestFixture]
public class CliTests
{
    private static readonly string[] Valued = ["--steps", "--device", "--out"];
    private static readonly string[] Flags = ["--plain"];

    [Test]
    public void CliArgs_ParsesValuesAndFlags()
    {
        var a = new CliArgs("train", ["--steps", "12", "--plain", "--device", "cpu"], Valued, Flags);
        Assert.That(a.Long("--steps", 100), Is.EqualTo(12));
        Assert.That(a.Has("--plain"));
        Assert.That(a.Choice("--device", "auto", ModelBackend.Devices), Is.EqualTo("cpu"));
        Assert.That(a.Get("--out"), Is.Null);
        Assert.That(a.Int("--eval", 25), Is.EqualTo(25));
    }

    [TestCase(new[] { "--stepz", "3" }, "train: unknown option '--stepz'; known options: --device --out --plain --steps.")]
    [TestCase(new[] { "steps", "3" }, "train: unexpected argument 'steps'")]
    [TestCase(new[] { "--steps" }, "train: option --steps needs a value.")]
    [TestCase(new[] { "--steps", "--plain" }, "train: option --steps needs a value.")]
    [TestCase(new[] { "--steps", "1", "--steps", "2" }, "train: option --steps is given twice.")]
    public void CliArgs_BadCommandLines_SayWhatIsWrong(string[] args, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new CliArgs("train", args, Valued, Flags));
        Assert.That(e!.Message, Does.StartWith(message));
    }

    [TestCase("--steps", "abc", "train: --steps expects an integer, got 'abc'.")]
    [TestCase("--steps", "0", "train: --steps must be at least 1, got 0.")]
    [TestCase("--device", "tpu", "train: --device must be one of auto|cpu|gpu, got 'tpu'.")]
    public void CliArgs_BadValues_SayWhatIsWrong(string name, string value, string message)
    {
        var a = new CliArgs("train", [name, value], Valued, Flags);
        var e = Assert.Throws<ArgumentException>(() =>
        {
            if (name == "--device") a.Choice(name, "auto", ModelBackend.Devices);
            else a.Long(name, 1);
        });
        Assert.That(e!.Message, Is.EqualTo(message));
    }

    [Test]
    public void Commands_ReturnOneOnBadInput()
    {
        Assert.That(TrainCommand.Train(["--precision", "int8", "--plain"]), Is.EqualTo(1));
        Assert.That(TrainCommand.Train(["--preset", "huge", "--plain"]), Is.EqualTo(1));
        Assert.That(TrainCommand.Train(["--data", "/nonexistent/input.txt", "--device", "cpu", "--plain"]), Is.EqualTo(1));
        Assert.That(CompareCommand.Run(["--precisions", "int4,foo", "--plain"]), Is.EqualTo(1));
        Assert.That(CompareCommand.Run(["--precisions", "int4,int4", "--plain"]), Is.EqualTo(1));
        Assert.That(CompareCommand.Run(["--from", "/nonexistent/run", "--plain"]), Is.EqualTo(1));
        Assert.That(CompareCommand.Run(["--from", "/nonexistent/run", "--steps", "5", "--plain"]), Is.EqualTo(1));
        Assert.That(TrainCommand.Sample(["--tokens", "5"]), Is.EqualTo(1), "sample needs --checkpoint");
    }

    [Test]
    public void DeviceGpu_WithoutAGpu_IsAClearError()
    {
        Assume.That(DeviceGptModel.IsAvailable(out _), Is.False, "this machine has a GPU");
        var e = Assert.Throws<ArgumentException>(() => ModelBackend.Open("gpu", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
        Assert.That(e!.Message, Does.StartWith("--device gpu: no usable CUDA GPU"));
        Assert.That(TrainCommand.Train(["--device", "gpu", "--plain"]), Is.EqualTo(1));
    }

    [Test]
    public void Presets_AndPrecisions_AreKnownByName()
    {
        foreach (string p in GptConfig.PresetNames) GptConfig.Preset(p).Validate();
        Assert.That(GptConfig.Small.Layers, Is.GreaterThan(GptConfig.Tiny.Layers).And.LessThan(GptConfig.BabyGpt.Layers));
        foreach (string p in GptConfig.PrecisionNames)
            Assert.That(GptConfig.PrecisionName(GptConfig.ParsePrecision(p)), Is.EqualTo(p));
        Assert.That(Demo.Arguments(["--steps", "5"], onGpu: true),
            Is.EqualTo(new[] { "--steps", "5", "--preset", "tiny", "--precision", "int4", "--eval-every", "10", "--out", "runs/demo" }));
        Assert.That(Demo.Arguments(["--batch", "2"], onGpu: false),
            Is.EqualTo(new[] { "--batch", "2", "--preset", "tiny", "--precision", "int4", "--steps", "30", "--eval-every", "10", "--out", "runs/demo", "--context", "16" }));
    }

    [Test]
    public void FromScratchOptions_ReachTheConfiguration()
    {
        var a = new CliArgs("train", ["--preset", "baby-gpt", "--cold-start", "7", "--reinit-step", "-1", "--sampling", "bernoulli"],
            TrainCommand.TrainValued, TrainCommand.Flags);
        var c = TrainCommand.BaseConfig(a);
        Assert.That((c.ColdStartSteps, c.ReinitializeAtStep, c.Sampling), Is.EqualTo((7, -1, SamplingMode.Bernoulli)));
        Assert.That(GptConfig.BabyGpt.ReinitializeAtStep, Is.EqualTo(125), "baby-gpt re-initialises once, after ~2 epochs");
        var bad = new CliArgs("train", ["--sampling", "always"], TrainCommand.TrainValued, TrainCommand.Flags);
        Assert.That(() => TrainCommand.BaseConfig(bad), Throws.ArgumentException.With.Message.Contains("nonzero|bernoulli"));
    }
}
