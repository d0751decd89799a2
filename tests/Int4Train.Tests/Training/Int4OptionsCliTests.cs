using System.CommandLine;
using Int4Train.Cli;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>Issue 15's ablation knobs on the command line: --mode (code|paper), --group (the Hadamard block size G),
/// --step-lr-scale (the step sizes' learning-rate multiple), --int4-layers (Int4OptionsCliTests.Int4Layers.cs), --smooth /
/// --smooth-layers (Int4OptionsCliTests.Smooth.cs) and --int4-ablation (Int4OptionsCliTests.Ablation.cs) reach the configuration, the block linears and the checkpoint, are validated with one clear line, and a resume keeps
/// them (given options must agree with the checkpoint's).</summary>
[TestFixture]
public partial class Int4OptionsCliTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = CliRunner.TempDir("int4opts");

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (RunOptions Options, Command Command) Parser()
    {
        var o = new RunOptions(new RunOptions.Defaults());
        var c = new Command("x");
        o.AddTo(c);
        return (o, c);
    }

    [Test]
    public void ModeAndGroup_ReachTheConfiguration_AndDefaultToThePresets()
    {
        var (o, c) = Parser();
        var p = c.Parse(["--preset", "baby-gpt", "--mode", "paper", "--group", "64", "--sampling", "bernoulli"]);
        Assert.That(p.Errors, Is.Empty);
        var config = o.Config(p);
        Assert.That((config.Mode, config.GroupSize, config.Sampling), Is.EqualTo((QuantMode.Paper, (int?)64, SamplingMode.Bernoulli)));
        Assert.That(config.Linear, Is.EqualTo(GptConfig.BabyGpt.Linear with { Mode = QuantMode.Paper, GroupSize = 64, Sampling = SamplingMode.Bernoulli }),
            "views of the one Linear options record, the rest the preset's");
        config.Validate();
        var plain = o.Config(c.Parse(["--preset", "baby-gpt"]));
        Assert.That((plain.Mode, plain.GroupSize), Is.EqualTo((QuantMode.Code, (int?)null)), "default: the released code's constants, G searched");
        Assert.That(o.Config(c.Parse(["--preset", "baby-gpt", "--group", "0"])).GroupSize, Is.Null, "0: searched");
        Assert.That(o.Config(c.Parse(["--mode", "code"])).Mode, Is.EqualTo(QuantMode.Code));
        Assert.That(config.LinearDescription, Is.EqualTo("int4 (paper mode, bernoulli LSS, G 64, cold start 100, re-init at 125)"));
        Assert.That(plain.LinearDescription, Does.Contain("code mode").And.Contain("G searched"));
        Assert.That((plain with { Precision = LinearPrecision.Bf16, Mode = QuantMode.Paper }).LinearDescription, Is.EqualTo("bf16"));
    }

    [TestCase(new[] { "train", "--mode", "exact" }, "int4train train: Argument 'exact' not recognized.")]
    [TestCase(new[] { "train", "--group", "48" }, "int4train train: --group must be 0 (searched) or a power of two up to 1024, got 48.")]
    [TestCase(new[] { "train", "--group", "2048" }, "int4train train: --group must be in [0, 1024], got 2048.")]
    [TestCase(new[] { "train", "--group", "-4" }, "int4train train: --group must be in [0, 1024], got -4.")]
    [TestCase(new[] { "compare", "--group", "x" }, "int4train compare: --group expects an integer, got 'x'.")]
    [TestCase(new[] { "compare", "--from", "a,b", "--mode", "paper" }, "int4train compare: --from builds the report from existing runs: --mode")]
    [TestCase(new[] { "train", "--step-init-scale", "-0.5" }, "int4train train: --step-init-scale must be a finite number of at least 0, got -0.5.")]
    [TestCase(new[] { "train", "--step-init-scale", "NaN" }, "int4train train: --step-init-scale must be a finite number of at least 0, got NaN.")]
    [TestCase(new[] { "compare", "--from", "a,b", "--step-init-scale", "0.5" }, "int4train compare: --from builds the report from existing runs: --step-init-scale")]
    [TestCase(new[] { "train", "--step-lr-scale", "-0.5" }, "int4train train: --step-lr-scale must be a finite number of at least 0, got -0.5.")]
    [TestCase(new[] { "train", "--step-lr-scale", "NaN" }, "int4train train: --step-lr-scale must be a finite number of at least 0, got NaN.")]
    [TestCase(new[] { "train", "--step-lr-scale", "Infinity" }, "int4train train: --step-lr-scale must be a finite number of at least 0, got Infinity.")]
    [TestCase(new[] { "demo", "--step-lr-scale", "x" }, "int4train demo: --step-lr-scale expects a number, got 'x'.")]
    [TestCase(new[] { "compare", "--from", "a,b", "--step-lr-scale", "0.1" }, "int4train compare: --from builds the report from existing runs: --step-lr-scale")]
    [TestCase(new[] { "train", "--int4-layers", "mlp" }, "int4train train: --int4-layers: Unknown block-linear class 'mlp'; known: qkv, proj, up, down.")]
    [TestCase(new[] { "demo", "--int4-layers", "," }, "int4train demo: --int4-layers: No block-linear class given; known: qkv, proj, up, down.")]
    [TestCase(new[] { "compare", "--from", "a,b", "--int4-layers", "qkv" }, "int4train compare: --from builds the report from existing runs: --int4-layers")]
    [TestCase(new[] { "train", "--smooth", "-0.5" }, "int4train train: --smooth must be a finite number of at least 0, got -0.5.")]
    [TestCase(new[] { "train", "--smooth", "x" }, "int4train train: --smooth expects a number, got 'x'.")]
    [TestCase(new[] { "train", "--smooth-layers", "mlp" }, "int4train train: --smooth-layers: Unknown block-linear class 'mlp'; known: qkv, proj, up, down.")]
    [TestCase(new[] { "compare", "--from", "a,b", "--smooth", "0.5" }, "int4train compare: --from builds the report from existing runs: --smooth")]
    [TestCase(new[] { "train", "--int4-ablation", "sideways" }, "int4train train: Argument 'sideways' not recognized.")]
    [TestCase(new[] { "compare", "--from", "a,b", "--int4-ablation", "forward-only" }, "int4train compare: --from builds the report from existing runs: --int4-ablation")]
    public void BadInt4Options_AreOneLineWithAUsageHint(string[] args, string message)
    {
        var (code, _, err) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(CliApp.UsageError));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(2));
        Assert.That(err, Does.StartWith(message));
    }

    [TestCase("0")]
    [TestCase("17")]
    public void AStepInitScaleOutsideItsRange_IsOneLine_AndWritesNothing(string scale)
    {
        string run = Path.Combine(_dir, "sis" + scale);
        var (code, output, err) = CliRunner.Run(CliRunner.FastTrain(run, 1, 1, "--step-init-scale", scale));
        Assert.That(code, Is.Not.Zero);
        Assert.That(err.Trim().Split('\n')[0], Does.Contain("StepInitScale must be in (0, 16]").And.Contain($"got {scale}"));
        Assert.That(output + err, Does.Not.Contain("   at "));
        Assert.That(Directory.Exists(run), Is.False);
    }

    [Test]
    public void AGroupThatDoesNotDivideTheWidth_IsOneLine_AndWritesNothing()
    {
        string run = Path.Combine(_dir, "g64");
        var (code, output, err) = CliRunner.Run(CliRunner.FastTrain(run, 1, 1, "--group", "64")); // tiny: width 32
        Assert.That((code, err.Trim()), Is.EqualTo((CliApp.RunError, "int4train train: Hadamard block size 64 does not divide the row length 32.")));
        Assert.That(output + err, Does.Not.Contain("   at "));
        Assert.That(Directory.Exists(run), Is.False);
    }

    [Test]
    public void ModeGroupAndStepScales_AreSavedInTheCheckpoint_AndAResumeKeepsThemOrRefusesOthers()
    {
        string run = Path.Combine(_dir, "paper");
        var first = CliRunner.Run(CliRunner.FastTrain(run, 2, 2, "--mode", "paper", "--group", "16", "--step-lr-scale", "0.1", "--step-init-scale", "0.55"));
        Assert.That(first.Code, Is.Zero, first.Err);
        string ckpt = Path.Combine(run, "checkpoint.bin");
        var saved = Checkpoint.ReadHeader(ckpt).Config;
        Assert.That((saved.Mode, saved.GroupSize, saved.StepSizeLrScale, saved.StepInitScale), Is.EqualTo((QuantMode.Paper, (int?)16, 0.1f, 0.55f)));
        Assert.That((saved with { Precision = LinearPrecision.Int4HqLss }).LinearDescription, Does.Contain("step rule × 0.55"));

        string[] Resume(int steps, params string[] more) => ["train", "--resume", ckpt, "--steps", $"{steps}", "--eval-every", "2", "--device", "cpu", "--plain", .. more];
        foreach (var (given, name) in new[] { (new[] { "--mode", "code" }, "--mode"), (["--group", "8"], "--group"), (["--group", "0"], "--group"),
                     (["--step-lr-scale", "1"], "--step-lr-scale"), (["--step-lr-scale", "0"], "--step-lr-scale"),
                     (["--step-init-scale", "1"], "--step-init-scale") })
        {
            var r = CliRunner.Run(Resume(4, given));
            Assert.That(r.Code, Is.EqualTo(CliApp.RunError), string.Join(" ", given));
            Assert.That(r.Err, Does.Contain(name).And.Contain("disagree"), string.Join(" ", given));
        }
        // a given --preset brings its optimiser settings but not its INT4 options nor the step-size scale (the old code
        // reset the mode and G to the preset's here, so an agreeing resume was refused)
        var agreeing = CliRunner.Run(Resume(4, "--preset", "tiny", "--mode", "paper", "--group", "16", "--step-lr-scale", "0.1", "--step-init-scale", "0.55", "--precision", "fp32", "--batch", "2", "--context", "8"));
        Assert.That(agreeing.Code, Is.Zero, agreeing.Err);
        var presetOnly = CliRunner.Run(Resume(6, "--preset", "tiny"));
        Assert.That(presetOnly.Code, Is.Zero, presetOnly.Err);
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(saved));
        Assert.That(Checkpoint.ReadHeader(ckpt).Step, Is.EqualTo(6));
    }

    [Test]
    public void ACheckpointWrittenBeforeModeAndGroupWereOptions_ReadsThemFromItsLinearOptions()
    {
        string run = Path.Combine(_dir, "old");
        Assert.That(CliRunner.Run(CliRunner.FastTrain(run, 1, 1, "--mode", "paper", "--group", "8")).Code, Is.Zero);
        string ckpt = Path.Combine(run, "checkpoint.bin");
        RewriteConfig(ckpt, config => Assert.That(config.Remove("Mode") && config.Remove("GroupSize"), "the new top-level views are written"));
        var read = Checkpoint.ReadHeader(ckpt).Config;
        Assert.That((read.Mode, read.GroupSize), Is.EqualTo((QuantMode.Paper, (int?)8)));
    }

    [Test]
    public void StepLrScale_ReachesTheConfiguration_AndDefaultsToOne()
    {
        var (o, c) = Parser();
        Assert.That(o.Config(c.Parse(["--preset", "baby-gpt"])).StepSizeLrScale, Is.EqualTo(1f), "default: the weights' rate");
        foreach (var (text, value) in new[] { ("0.1", 0.1f), ("0", 0f), ("-0", 0f), ("2.5", 2.5f), ("1e-2", 0.01f) })
        {
            var p = c.Parse(["--preset", "baby-gpt", "--step-lr-scale", text]);
            Assert.That(p.Errors, Is.Empty, text);
            var config = o.Config(p);
            Assert.That(config.StepSizeLrScale, Is.EqualTo(value), text);
            Assert.That(config with { StepSizeLrScale = 1f }, Is.EqualTo(GptConfig.BabyGpt), $"{text}: nothing else changes");
            config.Validate();
        }
        Assert.That(o.Config(c.Parse(["--step-lr-scale", "0.1"])).LinearDescription, Does.EndWith("step-size lr × 0.1)"));
    }


    [Test]
    public void ACheckpointWrittenBeforeTheStepLrScale_ReadsOne()
    {
        string run = Path.Combine(_dir, "old-slr");
        Assert.That(CliRunner.Run(CliRunner.FastTrain(run, 1, 1, "--step-lr-scale", "0.25")).Code, Is.Zero);
        string ckpt = Path.Combine(run, "checkpoint.bin");
        RewriteConfig(ckpt, config => Assert.That(config.Remove(nameof(GptConfig.StepSizeLrScale)), "the scale is written"));
        Assert.That(Checkpoint.ReadHeader(ckpt).Config.StepSizeLrScale, Is.EqualTo(1f));
    }

    // A one-step train run on the CPU host model into a fresh folder with `more` options: refused with the run-error
    // code and `message` as the one line on stderr, no stack trace, nothing written.
    private void AssertCpuTrainRefused(string[] more, string message)
    {
        string run = Path.Combine(_dir, "refused");
        var (code, output, err) = CliRunner.Run(["train", "--device", "cpu", "--steps", "1", "--eval-every", "1", "--batch", "2", "--context", "8",
            "--plain", "--out", run, .. more]);
        Assert.That((code, err.Trim()), Is.EqualTo((CliApp.RunError, message)));
        Assert.That(output + err, Does.Not.Contain("   at "));
        Assert.That(Directory.Exists(run), Is.False);
    }

    // Resumes a checkpoint that the CPU host model cannot run (a GPU-only setting): options that disagree with it are
    // refused (the message names the option), agreeing ones (or none) continue it and the host model then refuses it
    // with `refusal`; the checkpoint stays as it was.
    private static void AssertGpuOnlyResume(string ckpt, IEnumerable<string[]> disagreeing, IEnumerable<string[]> agreeing, string refusal)
    {
        var saved = Checkpoint.ReadHeader(ckpt).Config;
        string[] Resume(string[] more) => ["train", "--resume", ckpt, "--steps", "4", "--eval-every", "2", "--device", "cpu", "--plain", .. more];
        foreach (var other in disagreeing)
        {
            var r = CliRunner.Run(Resume(other));
            Assert.That(r.Code, Is.EqualTo(CliApp.RunError), string.Join(" ", other));
            Assert.That(r.Err, Does.Contain(other[0]).And.Contain("disagree"), string.Join(" ", other));
        }
        foreach (var given in agreeing)
        {
            var r = CliRunner.Run(Resume(given));
            Assert.That((r.Code, r.Err.Trim()), Is.EqualTo((CliApp.RunError, refusal)), string.Join(" ", given));
        }
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(saved), "the checkpoint is untouched");
    }

    // Rewrites the configuration JSON of a checkpoint in place (the rest of the file unchanged): a file written
    // before a setting existed.
    private static void RewriteConfig(string ckpt, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        byte[] bytes = File.ReadAllBytes(ckpt);
        string json;
        long rest;
        using (var r = new BinaryReader(new MemoryStream(bytes)))
        {
            r.ReadBytes(8); // magic
            json = r.ReadString();
            rest = r.BaseStream.Position;
        }
        var config = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        change(config);
        using var w = new BinaryWriter(File.Create(ckpt));
        w.Write(bytes, 0, 8);
        w.Write(config.ToJsonString());
        w.Write(bytes, (int)rest, bytes.Length - (int)rest);
    }

    [Test]
    public void Continuing_KeepsEveryInt4OptionOfTheCheckpoint()
    {
        var (o, c) = Parser();
        var checkpoint = GptConfig.Tiny with { Mode = QuantMode.Paper, GroupSize = 8, Sampling = SamplingMode.Bernoulli, ColdStartSteps = 3, ReinitializeAtStep = 9, Seed = 77, StepSizeLrScale = 0.5f };
        Assert.That(o.Continuing(c.Parse(["--preset", "small"]), checkpoint).Linear, Is.EqualTo(checkpoint.Linear));
        Assert.That(o.Continuing(c.Parse(["--preset", "small"]), checkpoint).StepSizeLrScale, Is.EqualTo(0.5f));
        Assert.That(o.Continuing(c.Parse(["--preset", "small"]), checkpoint).LearningRate, Is.EqualTo(GptConfig.Small.LearningRate), "the preset's optimiser settings");
        Assert.That(o.Continuing(c.Parse(["--group", "4"]), checkpoint).GroupSize, Is.EqualTo(4), "a given option overrides (and then disagrees)");
    }

    [Test]
    public void AFixedGroup_IsEveryInt4LayersBlockSize_InPaperMode()
    {
        var config = GptConfig.Tiny with
        {
            Layers = 1, Width = 16, Context = 8, BatchSize = 4, EvalBatches = 1, ColdStartSteps = 1, ReinitializeAtStep = 2,
            Precision = LinearPrecision.Int4HqLss, Mode = QuantMode.Paper, GroupSize = 4,
        };
        using var trainer = Trainer.Create(config, BuiltInText.Text, Backend);
        string dir = Path.Combine(_dir, "run");
        var records = trainer.Run(3, evalEvery: 3, dir); // past the re-initialisation, which searches only a searched G
        Assert.That(records.All(r => double.IsFinite(r.TrainLoss)));
        Assert.That(trainer.Model.LayerProgress.Select(p => p.GroupSize), Is.All.EqualTo(4));
        var (header, progress, _) = Checkpoint.ReadAll(Path.Combine(dir, "checkpoint.bin"));
        Assert.That(header.Config, Is.EqualTo(config));
        Assert.That(progress.Select(p => (p.StepCount, p.GroupSize)), Is.All.EqualTo((3, (int?)4)));
    }
}
