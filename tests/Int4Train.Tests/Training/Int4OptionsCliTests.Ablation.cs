using Int4Train.Cli;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

// --int4-ablation none|forward-only|backward-only|fine-scales|fine-x|fine-w (issue 15's diagnostic: which half of the INT4 layer costs the
// accuracy, GptConfig.Int4Ablation) on the command line: parsed, validated with one clear line (an unknown name, a
// bf16/fp32 precision), refused by the CPU host model with one line (only the device model ablates), saved in the
// checkpoint (old checkpoints read None), kept by a resume (another value is refused), and applied by compare to its
// INT4 runs only. The device model's arithmetic is checked by the GPU tests (DeviceGptAblationTests). The fixture's
// set-up, parser and checkpoint rewriting are in Int4OptionsCliTests.cs.
public partial class Int4OptionsCliTests
{
    private const string AblationHostRefusal = "the INT4 ablations run on the GPU model only (--device gpu); the CPU host model does not implement them.";

    [Test]
    public void Int4Ablation_ReachesTheConfiguration_AndDefaultsToNone()
    {
        var (o, c) = Parser();
        var plain = o.Config(c.Parse(["--preset", "baby-gpt"]));
        Assert.That(plain.Int4Ablation, Is.EqualTo(Int4Ablation.None));
        Assert.That(plain.LinearDescription, Does.Not.Contain("ablation"));
        foreach (var (name, ablation) in new[] { ("none", Int4Ablation.None), ("forward-only", Int4Ablation.ForwardOnly), ("backward-only", Int4Ablation.BackwardOnly),
                     ("fine-scales", Int4Ablation.FineScales), ("fine-x", Int4Ablation.FineX), ("fine-w", Int4Ablation.FineW) })
        {
            var p = c.Parse(["--preset", "baby-gpt", "--int4-ablation", name]);
            Assert.That(p.Errors, Is.Empty, name);
            var config = o.Config(p);
            Assert.That(config.Int4Ablation, Is.EqualTo(ablation), name);
            Assert.That(config with { Int4Ablation = Int4Ablation.None }, Is.EqualTo(GptConfig.BabyGpt), $"{name}: nothing else changes");
            Assert.That(GptConfig.AblationName(ablation), Is.EqualTo(name), "the names round-trip");
            config.Validate();
            (config with { Precision = LinearPrecision.Int4Lsq }).Validate();
        }
        Assert.That(o.Config(c.Parse(["--int4-ablation", "forward-only"])).LinearDescription, Does.EndWith(", ablation forward-only)"));
        Assert.That(o.Config(c.Parse(["--int4-ablation", "backward-only", "--smooth", "0.5"])).LinearDescription,
            Does.EndWith(", smoothing α 0.5 on qkv,up, ablation backward-only)"));
        Assert.That(o.Config(c.Parse(["--int4-ablation", "fine-scales", "--precision", "int4-lsq"])).LinearDescription, Does.EndWith(", ablation fine-scales)"));
        Assert.That(o.Config(c.Parse(["--int4-ablation", "none"])), Is.EqualTo(o.Config(c.Parse([]))), "none is the run without it");
        Assert.That(GptConfig.AblationNames, Is.EqualTo(Enum.GetValues<Int4Ablation>().Select(GptConfig.AblationName)),
            "one name per value, in the values' order (the native INT4TRAIN_GPT_ABLATION_* numbering)");
    }

    [Test]
    public void TheFineScaleAblations_AreTheNativeValues()
    {
        // int4train_gpt.h: INT4TRAIN_GPT_ABLATION_FINE_SCALES = 3, FINE_X = 4, FINE_W = 5 (NativeGpt passes the value as is)
        Assert.That(((int)Int4Ablation.FineScales, (int)Int4Ablation.FineX, (int)Int4Ablation.FineW), Is.EqualTo((3, 4, 5)));
        Assert.That(Enum.GetValues<Int4Ablation>().Max(), Is.EqualTo(Int4Ablation.FineW), "model_build.cu check_ablation's range ends at fine-w");
    }

    [Test]
    public void TheInt4Ablation_IsValidated_WithOneLine()
    {
        var int4 = GptConfig.Tiny;
        foreach (var p in new[] { LinearPrecision.Bf16, LinearPrecision.Fp32 })
        {
            Assert.That(() => (int4 with { Precision = p, Int4Ablation = Int4Ablation.ForwardOnly }).Validate(),
                Throws.ArgumentException.With.Message.EqualTo($"Int4Ablation (--int4-ablation forward-only) ablates the INT4 block linears; the {GptConfig.PrecisionName(p)} precision has none."));
            foreach (var (a, name) in new[] { (Int4Ablation.FineScales, "fine-scales"), (Int4Ablation.FineX, "fine-x"), (Int4Ablation.FineW, "fine-w") })
                Assert.That(() => (int4 with { Precision = p, Int4Ablation = a }).Validate(),
                    Throws.ArgumentException.With.Message.EqualTo($"Int4Ablation (--int4-ablation {name}) ablates the INT4 block linears; the {GptConfig.PrecisionName(p)} precision has none."));
            Assert.That(() => (int4 with { Precision = p }).Validate(), Throws.Nothing, "none: every precision");
        }
        Assert.That(() => (int4 with { Int4Ablation = (Int4Ablation)6 }).Validate(), Throws.ArgumentException.With.Message.EqualTo("Unknown INT4 ablation 6."));
        Assert.That(() => (int4 with { Int4Ablation = Int4Ablation.FineScales }).Validate(), Throws.Nothing, "fine-scales: an INT4 precision");
        Assert.That(() => (int4 with { Int4Ablation = Int4Ablation.BackwardOnly, Int4Classes = GptLinearClasses.Up }).Validate(), Throws.Nothing,
            "with --int4-layers the ablation applies to the INT4 classes");
        Assert.That(() => GptConfig.ParseAblation("sideways"), Throws.ArgumentException.With.Message.StartWith("Unknown INT4 ablation 'sideways'; known: none, forward-only, backward-only, fine-scales, fine-x, fine-w."));
    }

    // (an unknown name is a usage error: Int4OptionsCliTests.BadInt4Options_AreOneLineWithAUsageHint)
    [TestCase(new[] { "--precision", "fp32", "--int4-ablation", "forward-only" }, "int4train train: Int4Ablation (--int4-ablation forward-only) ablates the INT4 block linears; the fp32 precision has none.")]
    [TestCase(new[] { "--precision", "bf16", "--int4-ablation", "backward-only" }, "int4train train: Int4Ablation (--int4-ablation backward-only) ablates the INT4 block linears; the bf16 precision has none.")]
    [TestCase(new[] { "--int4-ablation", "forward-only" }, "int4train train: --int4-ablation forward-only: " + AblationHostRefusal)]
    [TestCase(new[] { "--precision", "int4-lsq", "--int4-ablation", "backward-only" }, "int4train train: --int4-ablation backward-only: " + AblationHostRefusal)]
    [TestCase(new[] { "--precision", "fp32", "--int4-ablation", "fine-scales" }, "int4train train: Int4Ablation (--int4-ablation fine-scales) ablates the INT4 block linears; the fp32 precision has none.")]
    [TestCase(new[] { "--precision", "bf16", "--int4-ablation", "fine-w" }, "int4train train: Int4Ablation (--int4-ablation fine-w) ablates the INT4 block linears; the bf16 precision has none.")]
    [TestCase(new[] { "--int4-ablation", "fine-scales" }, "int4train train: --int4-ablation fine-scales: " + AblationHostRefusal)]
    [TestCase(new[] { "--precision", "int4-lsq", "--int4-ablation", "fine-x" }, "int4train train: --int4-ablation fine-x: " + AblationHostRefusal)]
    [TestCase(new[] { "--int4-ablation", "fine-w" }, "int4train train: --int4-ablation fine-w: " + AblationHostRefusal)]
    public void ABadOrCpuInt4Ablation_IsOneLine_AndWritesNothing(string[] more, string message) => AssertCpuTrainRefused(more, message);

    [Test]
    public void TheInt4Ablation_IsSavedInTheCheckpoint_AndAResumeKeepsItOrRefusesAnother()
    {
        // The host model does not ablate: a checkpoint of a run without it, rewritten as an ablated run's (the device
        // model writes the same JSON through the same Checkpoint code).
        string run = Path.Combine(_dir, "abl");
        Assert.That(CliRunner.Run(Int4Train(run, 2)).Code, Is.Zero);
        string ckpt = Path.Combine(run, "checkpoint.bin");
        var plain = Checkpoint.ReadHeader(ckpt).Config;
        Assert.That(plain.Int4Ablation, Is.EqualTo(Int4Ablation.None));
        Assert.That(GptExport.FromCheckpoint(ckpt).Metadata.ContainsKey("int4_ablation"), Is.False, "none: no export metadata");
        RewriteConfig(ckpt, config =>
        {
            Assert.That(config[nameof(GptConfig.Int4Ablation)]?.GetValue<string>(), Is.EqualTo("None"), "written, by name");
            config[nameof(GptConfig.Int4Ablation)] = "ForwardOnly";
        });
        var saved = Checkpoint.ReadHeader(ckpt).Config;
        Assert.That(saved, Is.EqualTo(plain with { Int4Ablation = Int4Ablation.ForwardOnly }));
        Assert.That(GptExport.FromCheckpoint(ckpt).Metadata["int4_ablation"], Is.EqualTo("forward-only"), "the export says the run was a diagnostic");

        AssertGpuOnlyResume(ckpt, [["--int4-ablation", "backward-only"], ["--int4-ablation", "none"]],
            [[], ["--int4-ablation", "forward-only"]], "int4train train: --int4-ablation forward-only: " + AblationHostRefusal);

        // the fine-scale ablations likewise, by name
        foreach (var (value, json, name) in new[] { (Int4Ablation.FineX, "FineX", "fine-x"), (Int4Ablation.FineW, "FineW", "fine-w"), (Int4Ablation.FineScales, "FineScales", "fine-scales") })
        {
            RewriteConfig(ckpt, config => config[nameof(GptConfig.Int4Ablation)] = json);
            Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(plain with { Int4Ablation = value }), $"{name}: read back by name");
            Assert.That(GptExport.FromCheckpoint(ckpt).Metadata["int4_ablation"], Is.EqualTo(name), "the export names the diagnostic");
        }
        // the checkpoint is fine-scales now: another ablation disagrees; none given or the same one continues it, which
        // the CPU host model refuses with its one line
        AssertGpuOnlyResume(ckpt, [["--int4-ablation", "fine-x"], ["--int4-ablation", "forward-only"], ["--int4-ablation", "none"]],
            [[], ["--int4-ablation", "fine-scales"]], "int4train train: --int4-ablation fine-scales: " + AblationHostRefusal);

        // a checkpoint written before the setting existed reads None
        RewriteConfig(ckpt, config => Assert.That(config.Remove(nameof(GptConfig.Int4Ablation))));
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(plain));
    }

    [Test]
    public void Continuing_KeepsTheCheckpointsInt4Ablation()
    {
        var (o, c) = Parser();
        var checkpoint = GptConfig.Tiny with { Int4Ablation = Int4Ablation.BackwardOnly };
        Assert.That(o.Continuing(c.Parse(["--preset", "small"]), checkpoint).Int4Ablation, Is.EqualTo(Int4Ablation.BackwardOnly));
        Assert.That(o.Continuing(c.Parse([]), checkpoint with { Int4Ablation = Int4Ablation.FineW }).Int4Ablation, Is.EqualTo(Int4Ablation.FineW));
        Assert.That(o.Continuing(c.Parse(["--int4-ablation", "forward-only"]), checkpoint).Int4Ablation, Is.EqualTo(Int4Ablation.ForwardOnly),
            "a given option overrides (and then disagrees)");
    }

    [Test]
    public void Compare_AblatesOnlyItsInt4Runs()
    {
        // bf16 first: it trains without the ablation (with it, its configuration would not validate); the INT4 run then
        // gets it, which the CPU host model refuses with one line
        string outDir = Path.Combine(_dir, "cmp-ablate");
        var r = CliRunner.Run(["compare", "--precisions", "bf16,int4", "--int4-ablation", "backward-only", "--device", "cpu", "--steps", "1",
            "--eval-every", "1", "--batch", "2", "--context", "8", "--plain", "--out", outDir]);
        Assert.That((r.Code, r.Err.Trim()), Is.EqualTo((CliApp.RunError, "int4train compare: --int4-ablation backward-only: " + AblationHostRefusal)));
        Assert.That(Checkpoint.ReadHeader(Path.Combine(outDir, "bf16", "checkpoint.bin")).Config.Int4Ablation, Is.EqualTo(Int4Ablation.None));
        Assert.That(File.Exists(Path.Combine(outDir, "int4", "checkpoint.bin")), Is.False);
    }
}
