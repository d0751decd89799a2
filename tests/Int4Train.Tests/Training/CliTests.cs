using System.CommandLine;
using System.Text.RegularExpressions;
using Int4Train.Cli;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>The int4train command line (System.CommandLine): help for every command, --version, one meaning per
/// option, and bad input as one clear line with a usage hint and a non-zero exit — never a stack trace.</summary>
[TestFixture]
public class CliTests
{
    private static IEnumerable<Command> Commands => CliApp.Root().Subcommands;

    [Test]
    public void EveryCommand_HasHelp_ListingEveryVisibleOption()
    {
        Assert.That(Commands.Select(c => c.Name), Is.SupersetOf(new[] { "train", "demo", "compare", "sample", "export", "layer-demo" }));
        foreach (var c in Commands)
        {
            var (code, output, err) = CliRunner.Run(c.Name, "--help");
            Assert.That(code, Is.Zero, $"{c.Name} --help: {err}");
            Assert.That(output, Does.Contain($"int4train {c.Name} [options]"));
            foreach (var o in c.Options.Where(o => !o.Hidden))
            {
                Assert.That(output, Does.Contain(o.Name), $"{c.Name} --help lists {o.Name}");
                Assert.That(o.Description, Is.Not.Null.And.Not.Empty, $"{c.Name} {o.Name} has a description");
            }
        }
        Assert.That(CliRunner.Run().Out, Does.Contain("Commands:"), "no arguments: the help");
        Assert.That(CliRunner.Run("help", "compare").Out, Does.Contain("--precisions"), "help COMMAND");
    }

    [Test]
    public void Version_IsTheAssemblysInformationalVersion()
    {
        var (code, output, _) = CliRunner.Run("--version");
        Assert.That(code, Is.Zero);
        Assert.That(output.Trim(), Does.StartWith("0.").Or.Match(@"^\d+\.\d+\.\d+"));
    }

    [Test]
    public void SharedOptions_MeanTheSameInEveryCommand()
    {
        // an option name used by several commands has one description (one meaning), except the documented
        // per-command --out (a folder everywhere) and --checkpoint (a checkpoint file everywhere)
        var byName = Commands.SelectMany(c => c.Options.Where(o => !o.Hidden).Select(o => (c.Name, o))).GroupBy(x => x.o.Name);
        foreach (var g in byName.Where(g => g.Count() > 1 && g.Key is not ("--out" or "--help")))
        {
            var kinds = g.Select(x => Nullable.GetUnderlyingType(x.o.ValueType) ?? x.o.ValueType).Distinct().ToArray();
            Assert.That(kinds, Has.Length.EqualTo(1), $"{g.Key} has one value type in {string.Join(", ", g.Select(x => x.Name))}");
        }
        foreach (var c in Commands)
            if (c.Options.FirstOrDefault(o => o.Name == "--out" && !o.Hidden) is { } o)
                Assert.That(o.HelpName, Is.EqualTo("DIR"), $"{c.Name} --out is a folder");
        Assert.That(Commands.Single(c => c.Name == "compare").Options.Single(o => o.Name == "--resume").Hidden, "compare --resume is only a rename hint");
    }

    [TestCase(new[] { "train", "--stepz", "3" }, "int4train train: Unrecognized command or argument '--stepz'.")]
    [TestCase(new[] { "train", "--steps", "abc" }, "int4train train: --steps expects an integer, got 'abc'.")]
    [TestCase(new[] { "train", "--steps", "0" }, "int4train train: --steps must be at least 1, got 0.")]
    [TestCase(new[] { "train", "--steps", "99999999999" }, "int4train train: --steps must be at least 1, got 99999999999.")]
    [TestCase(new[] { "train", "--precision", "int8" }, "int4train train: Argument 'int8' not recognized.")]
    [TestCase(new[] { "train", "--device", "tpu" }, "int4train train: Argument 'tpu' not recognized.")]
    [TestCase(new[] { "train", "--graph", "maybe" }, "int4train train: Argument 'maybe' not recognized.")]
    [TestCase(new[] { "compare", "--precisions", "int4,foo" }, "int4train compare: --precisions: unknown precision 'foo'")]
    [TestCase(new[] { "compare", "--precisions", "int4,int4" }, "int4train compare: --precisions lists a precision twice")]
    [TestCase(new[] { "compare", "--from", "a,b", "--steps", "5" }, "int4train compare: --from builds the report from existing runs: --steps")]
    [TestCase(new[] { "compare", "--resume" }, "int4train compare: compare --resume was renamed --continue")]
    [TestCase(new[] { "sample", "--tokens", "5" }, "int4train sample: Option '--checkpoint' is required.")]
    [TestCase(new[] { "sample", "--checkpoint", "x", "--tokens", "-1" }, "int4train sample: --tokens must be at least 0, got -1.")]
    [TestCase(new[] { "layer-demo", "--in", "17" }, "int4train layer-demo: --in-features must be even")]
    [TestCase(new[] { "layer-demo", "--in-features", "17" }, "int4train layer-demo: --in-features must be even")]
    [TestCase(new[] { "layer-demo", "--tokens", "0" }, "int4train layer-demo: --tokens must be in [1, 16384], got 0.")]
    [TestCase(new[] { "layer-demo", "--tokens", "-5" }, "int4train layer-demo: --tokens must be in [1, 16384], got -5.")]
    [TestCase(new[] { "layer-demo", "--tokens", "ten" }, "int4train layer-demo: --tokens expects an integer, got 'ten'.")]
    [TestCase(new[] { "layer-demo", "--bogus", "1" }, "int4train layer-demo: Unrecognized command or argument '--bogus'.")]
    [TestCase(new[] { "export", "--checkpoint", "x" }, "int4train export: Option '--safetensors' is required.")]
    [TestCase(new[] { "frobnicate" }, "int4train: Unrecognized command or argument 'frobnicate'.")]
    public void BadCommandLines_AreOneLineWithAUsageHint(string[] args, string message)
    {
        var (code, output, err) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(CliApp.UsageError));
        string[] lines = err.TrimEnd().Split('\n');
        Assert.That(lines[0], Does.StartWith(message));
        Assert.That(lines, Has.Length.EqualTo(2));
        Assert.That(lines[1], Does.Contain("--help' lists them"));
        Assert.That(output + err, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public void FailingRuns_AreOneLine_ExitOne_NoStackTrace()
    {
        string dir = CliRunner.TempDir("cli");
        try
        {
            string bad = Path.Combine(dir, "bad.bin");
            File.WriteAllBytes(bad, [.. "I4GPT001"u8.ToArray(), .. Enumerable.Range(0, 5000).Select(i => (byte)(i * 7919 % 251))]);
            foreach (string[] args in new[]
                     {
                         new[] { "train", "--data", "/nonexistent/input.txt", "--device", "cpu", "--plain", "--out", Path.Combine(dir, "a") },
                         ["train", "--data", dir, "--device", "cpu", "--plain", "--out", Path.Combine(dir, "a")],
                         ["train", "--batch", "2147483647", "--device", "cpu", "--plain", "--out", Path.Combine(dir, "a")],
                         ["train", "--context", "100000", "--batch", "100000", "--plain", "--out", Path.Combine(dir, "a")],
                         ["train", "--resume", bad, "--plain"],
                         ["train", "--resume", "/nonexistent/checkpoint.bin", "--plain"],
                         ["sample", "--checkpoint", bad],
                         ["export", "--checkpoint", bad, "--safetensors", Path.Combine(dir, "x.safetensors")],
                         ["compare", "--from", "/nonexistent/run", "--plain", "--out", Path.Combine(dir, "c")],
                     })
            {
                var (code, output, err) = CliRunner.Run(args);
                Assert.That(code, Is.EqualTo(CliApp.RunError), string.Join(" ", args) + "\n" + err);
                Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), string.Join(" ", args) + ": one line\n" + err);
                Assert.That(err, Does.StartWith($"int4train {args[0]}: "));
                Assert.That(output + err, Does.Not.Contain("   at ").And.Not.Contains("Exception"), string.Join(" ", args));
            }
            Assert.That(Directory.Exists(Path.Combine(dir, "a")), Is.False, "a failed train wrote nothing");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void DeviceGpu_WithoutAGpu_IsAClearError()
    {
        Assume.That(DeviceGptModel.IsAvailable(out _), Is.False, "this machine has a GPU");
        var e = Assert.Throws<ArgumentException>(() => ModelBackend.Open("gpu", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
        Assert.That(e!.Message, Does.StartWith("--device gpu: no usable CUDA GPU"));
        Assert.That(CliRunner.Run("train", "--device", "gpu", "--plain", "--out", Path.Combine(Path.GetTempPath(), "int4train-nogpu")).Code, Is.EqualTo(CliApp.RunError));
    }

    [Test]
    public void Presets_AndPrecisions_AreKnownByName()
    {
        foreach (string p in GptConfig.PresetNames) GptConfig.Preset(p).Validate();
        Assert.That(GptConfig.Small.Layers, Is.GreaterThan(GptConfig.Tiny.Layers).And.LessThan(GptConfig.BabyGpt.Layers));
        foreach (string p in GptConfig.PrecisionNames)
            Assert.That(GptConfig.PrecisionName(GptConfig.ParsePrecision(p)), Is.EqualTo(p));
        Assert.That(DemoCommand.Adjust(GptConfig.Tiny, onGpu: true, false, false), Is.EqualTo(GptConfig.Tiny));
        var cpu = DemoCommand.Adjust(GptConfig.Tiny with { BatchSize = 2 }, onGpu: false, batchGiven: true, contextGiven: false);
        Assert.That((cpu.BatchSize, cpu.Context), Is.EqualTo((2, DemoCommand.CpuContext)));
    }

    [Test]
    public void FromScratchOptions_ReachTheConfiguration()
    {
        var o = new RunOptions(new RunOptions.Defaults());
        var c = new Command("x");
        o.AddTo(c);
        var p = c.Parse(["--preset", "baby-gpt", "--cold-start", "7", "--reinit-step", "-1", "--sampling", "bernoulli", "--seed", "-3"]);
        Assert.That(p.Errors, Is.Empty);
        var config = o.Config(p);
        Assert.That((config.ColdStartSteps, config.ReinitializeAtStep, config.Sampling, config.Seed), Is.EqualTo((7, -1, SamplingMode.Bernoulli, -3)));
        Assert.That(GptConfig.BabyGpt.ReinitializeAtStep, Is.EqualTo(125), "baby-gpt re-initialises once, after ~2 epochs");
        Assert.That(c.Parse(["--sampling", "always"]).Errors, Is.Not.Empty);
        Assert.That(c.Parse(["--reinit-step", "-2"]).Errors, Is.Not.Empty);
    }

    [Test]
    public void ModelSizeOptions_OverrideThePreset_AndAreValidated()
    {
        var o = new RunOptions(new RunOptions.Defaults());
        var c = new Command("x");
        o.AddTo(c);
        var p = c.Parse(["--preset", "gpt2-small", "--layers", "3", "--heads", "4", "--width", "96", "--context", "128", "--batch", "6", "--micro-batch", "2"]);
        Assert.That(p.Errors, Is.Empty);
        var config = o.Config(p);
        Assert.That((config.Layers, config.Heads, config.Width, config.Context, config.BatchSize, config.MicroBatch),
            Is.EqualTo((3, 4, 96, 128, 6, 2)));
        Assert.That(config.LearningRate, Is.EqualTo(GptConfig.Gpt2Small.LearningRate), "the rest is the preset's");
        Assert.That(o.Config(c.Parse(["--batch", "4", "--micro-batch", "4"])).MicroBatch, Is.Zero, "a micro-batch of the whole batch is no accumulation");
        Assert.That(() => o.Config(c.Parse(["--width", "30", "--heads", "4"])).Validate(), Throws.ArgumentException.With.Message.Contains("divisible"));
        Assert.That(() => o.Config(c.Parse(["--batch", "8", "--micro-batch", "3"])).Validate(), Throws.ArgumentException.With.Message.Contains("must divide the batch"));
        Assert.That(c.Parse(["--layers", "0"]).Errors, Is.Not.Empty);
        var (code, _, err) = CliRunner.Run("train", "--device", "cpu", "--plain", "--micro-batch", "3", "--out", Path.Combine(Path.GetTempPath(), "int4train-micro3"));
        Assert.That((code, err.Trim()), Is.EqualTo((CliApp.RunError, "int4train train: The micro-batch 3 must divide the batch 8 (0: the whole batch in one pass).")));
    }

    [Test]
    public void NewPresets_HaveTheirShape()
    {
        var small = GptConfig.Preset("gpt2-small");
        Assert.That((small.Layers, small.Heads, small.Width, small.Context, small.Dropout), Is.EqualTo((12, 12, 768, 1024, 0f)));
        var big = GptConfig.Preset("gpt-1b");
        Assert.That((big.Layers, big.Heads, big.Width, big.Context), Is.EqualTo((24, 16, 2048, 1024)));
        long blocks = 12L * big.Width * big.Width * big.Layers, embeddings = (long)big.Context * big.Width;
        Assert.That(blocks + embeddings, Is.InRange(1.1e9, 1.3e9), "about 1.2 B parameters");
    }

    [Test]
    public void ReadmeOptionTable_ListsEveryOptionOfHelp()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot.Find(), "README.md"));
        var documented = Regex.Matches(readme, @"`(--[a-z][a-z0-9-]*)").Select(m => m.Groups[1].Value).ToHashSet();
        var missing = Commands.SelectMany(c => c.Options.Where(o => !o.Hidden).Select(o => $"{o.Name} ({c.Name})"))
            .Where(n => !documented.Contains(n.Split(' ')[0]) && !n.StartsWith("--help", StringComparison.Ordinal)).Distinct().ToArray();
        Assert.That(missing, Is.Empty, "options in --help but not in README.md");
    }

    [Test]
    public void PlainLogLines_HaveNoCategoryPrefix_AndShortNumbers()
    {
        var w = new StringWriter();
        using (var f = ConsoleUi.Logging(interactive: false, w))
            Microsoft.Extensions.Logging.LoggerExtensions.LogInformation(f.Logger(), "hello {X}", 1);
        Assert.That(w.ToString(), Does.Match(@"^\d\d:\d\d:\d\d hello 1\r?\n$"));
        Assert.That(TrainFormat.Scientific(2.7272728e-4), Is.EqualTo("2.73e-4"));
        Assert.That(TrainFormat.Scientific(3e-3), Is.EqualTo("3.00e-3"));
        Assert.That(TrainFormat.Duration(TimeSpan.FromSeconds(65)), Is.EqualTo("1m05s"));
        Assert.That(TrainFormat.Remaining(TimeSpan.FromSeconds(10), 5, 20), Is.EqualTo(TimeSpan.FromSeconds(40)));
    }
}
