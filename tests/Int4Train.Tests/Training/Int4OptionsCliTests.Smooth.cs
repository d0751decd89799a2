using Int4Train.Cli;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

// --smooth / --smooth-layers (issue 15: per-input-channel smoothing of the INT4 block linears, GptConfig.SmoothAlpha
// and SmoothClasses) on the command line: parsed and validated with one clear line, refused for bf16/fp32 and for
// classes that do not run INT4, trained by the CPU host model (SmoothedLinear on the reference ChannelSmoothing),
// saved in the checkpoint (old checkpoints read "off"), kept by a resume (another value is refused), and applied by
// compare to its INT4 runs only. The arithmetic is checked by SmoothingTests (the reference and the host model) and
// the GPU tests (DeviceGptSmoothingTests: the device model against itself and the host model). The fixture's set-up,
// parser and checkpoint rewriting are in Int4OptionsCliTests.cs.
public partial class Int4OptionsCliTests
{
    [Test]
    public void Smooth_ReachesTheConfiguration_AndDefaultsToOff()
    {
        var (o, c) = Parser();
        var plain = o.Config(c.Parse(["--preset", "baby-gpt"]));
        Assert.That((plain.SmoothAlpha, plain.SmoothClasses), Is.EqualTo((0f, GptLinearClasses.Qkv | GptLinearClasses.Up)), "default: off, qkv and up when on");
        Assert.That(plain.LinearDescription, Does.Not.Contain("smoothing"));
        foreach (var (args, alpha, classes) in new[]
                 {
                     (new[] { "--smooth", "0.5" }, 0.5f, GptConfig.DefaultSmoothClasses),
                     (["--smooth", "1"], 1f, GptConfig.DefaultSmoothClasses),
                     (["--smooth", "0.25", "--smooth-layers", "qkv,proj,up,down"], 0.25f, GptLinearClasses.All),
                     (["--smooth", "0.5", "--smooth-layers", "down"], 0.5f, GptLinearClasses.Down),
                 })
        {
            var p = c.Parse(["--preset", "baby-gpt", .. args]);
            Assert.That(p.Errors, Is.Empty, string.Join(" ", args));
            var config = o.Config(p);
            Assert.That((config.SmoothAlpha, config.SmoothClasses), Is.EqualTo((alpha, classes)), string.Join(" ", args));
            Assert.That(config with { SmoothAlpha = 0, SmoothClasses = GptConfig.DefaultSmoothClasses }, Is.EqualTo(GptConfig.BabyGpt), "nothing else changes");
            config.Validate();
        }
        Assert.That(o.Config(c.Parse(["--smooth", "0.5"])).LinearDescription, Does.EndWith(", smoothing α 0.5 on qkv,up)"));
        Assert.That(o.Config(c.Parse(["--smooth", "0.5", "--int4-layers", "qkv,up"])).LinearDescription,
            Does.EndWith(", INT4 only qkv,up, the rest bf16, smoothing α 0.5 on qkv,up)"));
        Assert.That(o.Config(c.Parse(["--smooth", "0"])), Is.EqualTo(o.Config(c.Parse([]))), "--smooth 0 is the run without it");
    }

    [Test]
    public void TheSmoothing_IsValidated_WithOneLine()
    {
        var int4 = GptConfig.Tiny;
        foreach (float bad in new[] { 1.5f, -0.1f, float.NaN, float.PositiveInfinity })
            Assert.That(() => (int4 with { SmoothAlpha = bad }).Validate(), Throws.ArgumentException.With.Message.StartWith("SmoothAlpha (--smooth) must be in [0, 1] (0: off), got"), $"{bad}");
        foreach (var bad in new[] { GptLinearClasses.None, (GptLinearClasses)16 })
            Assert.That(() => (int4 with { SmoothAlpha = 0.5f, SmoothClasses = bad }).Validate(), Throws.ArgumentException.With.Message.Contains("must name at least one of qkv, proj, up, down"), $"{bad}");
        foreach (var p in new[] { LinearPrecision.Bf16, LinearPrecision.Fp32 })
            Assert.That(() => (int4 with { Precision = p, SmoothAlpha = 0.5f }).Validate(),
                Throws.ArgumentException.With.Message.EqualTo($"SmoothAlpha (--smooth) smooths INT4 block linears; the {GptConfig.PrecisionName(p)} precision has none."));
        Assert.That(() => (int4 with { SmoothAlpha = 0.5f, Int4Classes = GptLinearClasses.Up | GptLinearClasses.Down }).Validate(),
            Throws.ArgumentException.With.Message.EqualTo("SmoothClasses (--smooth-layers qkv,up) must run INT4, but qkv run(s) bf16 (--int4-layers up,down)."));
        Assert.That(() => (int4 with { SmoothClasses = GptLinearClasses.Proj }).Validate(),
            Throws.ArgumentException.With.Message.EqualTo("SmoothClasses (--smooth-layers proj) chooses the linears --smooth smooths; smoothing is off (--smooth 0)."));
        Assert.That(() => (int4 with { SmoothAlpha = 0.5f, Int4Classes = GptLinearClasses.Up, SmoothClasses = GptLinearClasses.Up }).Validate(), Throws.Nothing);
        Assert.That(() => (int4 with { Precision = LinearPrecision.Int4Lsq, SmoothAlpha = 1f }).Validate(), Throws.Nothing);
        Assert.That(() => (int4 with { Precision = LinearPrecision.Bf16 }).Validate(), Throws.Nothing, "off: every precision");
    }

    [TestCase(new[] { "--smooth", "1.5" }, "int4train train: SmoothAlpha (--smooth) must be in [0, 1] (0: off), got 1.5.")]
    [TestCase(new[] { "--precision", "bf16", "--smooth", "0.5" }, "int4train train: SmoothAlpha (--smooth) smooths INT4 block linears; the bf16 precision has none.")]
    [TestCase(new[] { "--smooth-layers", "up" }, "int4train train: SmoothClasses (--smooth-layers up) chooses the linears --smooth smooths; smoothing is off (--smooth 0).")]
    [TestCase(new[] { "--smooth", "0.5", "--int4-layers", "up,down" }, "int4train train: SmoothClasses (--smooth-layers qkv,up) must run INT4, but qkv run(s) bf16 (--int4-layers up,down).")]
    public void ABadSmoothing_IsOneLine_AndWritesNothing(string[] more, string message) => AssertCpuTrainRefused(more, message);

    [Test]
    public void TheSmoothing_TrainsOnTheCpu_IsSavedInTheCheckpoint_AndAResumeKeepsItOrRefusesAnother()
    {
        string run = Path.Combine(_dir, "sm");
        var trained = CliRunner.Run(Int4Train(run, 2, "--smooth", "0.5", "--smooth-layers", "qkv,proj,up"));
        Assert.That(trained.Code, Is.Zero, trained.Err);
        Assert.That(trained.Out, Does.Contain("smoothing α 0.5 on qkv,proj,up"), "the run says what it trains");
        string ckpt = Path.Combine(run, "checkpoint.bin");
        var saved = Checkpoint.ReadHeader(ckpt).Config;
        Assert.That((saved.SmoothAlpha, saved.SmoothClasses), Is.EqualTo((0.5f, GptLinearClasses.Qkv | GptLinearClasses.Proj | GptLinearClasses.Up)));

        string[] Resume(int steps, params string[] more) => ["train", "--resume", ckpt, "--steps", $"{steps}", "--eval-every", "2", "--device", "cpu", "--plain", .. more];
        foreach (var other in new[] { new[] { "--smooth", "0.25" }, ["--smooth", "0"], ["--smooth-layers", "qkv,up"] })
        {
            var r = CliRunner.Run(Resume(4, other));
            Assert.That(r.Code, Is.EqualTo(CliApp.RunError), string.Join(" ", other));
            Assert.That(r.Err, Does.Contain(other[0]).And.Contain("disagree"), string.Join(" ", other));
        }
        Assert.That(Checkpoint.ReadHeader(ckpt).Step, Is.EqualTo(2), "a refused resume leaves the run as it was");
        var agreeing = CliRunner.Run(Resume(4, "--smooth", "0.5", "--smooth-layers", "up,proj,qkv"));
        Assert.That(agreeing.Code, Is.Zero, agreeing.Err);
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(saved));
        Assert.That(Checkpoint.ReadHeader(ckpt).Step, Is.EqualTo(4));
        var plain = CliRunner.Run(Resume(6));
        Assert.That(plain.Code, Is.Zero, plain.Err);
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(saved), "no option: the checkpoint's smoothing");

        // a checkpoint written before the setting existed reads "off"
        RewriteConfig(ckpt, config => Assert.That(config.Remove(nameof(GptConfig.SmoothAlpha)) && config.Remove(nameof(GptConfig.SmoothClasses)), "both are written"));
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(saved with { SmoothAlpha = 0, SmoothClasses = GptConfig.DefaultSmoothClasses }));
    }

    [Test]
    public void Continuing_KeepsTheCheckpointsSmoothing()
    {
        var (o, c) = Parser();
        var checkpoint = GptConfig.Tiny with { SmoothAlpha = 0.75f, SmoothClasses = GptLinearClasses.Down };
        var kept = o.Continuing(c.Parse(["--preset", "small"]), checkpoint);
        Assert.That((kept.SmoothAlpha, kept.SmoothClasses), Is.EqualTo((0.75f, GptLinearClasses.Down)));
        Assert.That(o.Continuing(c.Parse(["--smooth", "0.5"]), checkpoint).SmoothAlpha, Is.EqualTo(0.5f), "a given option overrides (and then disagrees)");
    }

    [Test]
    public void Compare_SmoothsOnlyItsInt4Runs()
    {
        // bf16 trains with smoothing off (with it on, its configuration would not validate); the INT4 run smoothed
        string outDir = Path.Combine(_dir, "cmp-smooth");
        var r = CliRunner.Run(["compare", "--precisions", "bf16,int4", "--smooth", "0.5", "--smooth-layers", "up", "--device", "cpu", "--steps", "1",
            "--eval-every", "1", "--batch", "2", "--context", "8", "--plain", "--out", outDir]);
        Assert.That(r.Code, Is.Zero, r.Err);
        var bf16 = Checkpoint.ReadHeader(Path.Combine(outDir, "bf16", "checkpoint.bin")).Config;
        Assert.That((bf16.SmoothAlpha, bf16.SmoothClasses), Is.EqualTo((0f, GptConfig.DefaultSmoothClasses)));
        var int4 = Checkpoint.ReadHeader(Path.Combine(outDir, "int4", "checkpoint.bin")).Config;
        Assert.That((int4.SmoothAlpha, int4.SmoothClasses), Is.EqualTo((0.5f, GptLinearClasses.Up)));
    }
}
