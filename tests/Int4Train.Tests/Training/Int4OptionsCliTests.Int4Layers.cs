using System.CommandLine;
using Int4Train.Cli;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

// --int4-layers (issue 15's per-class ablation, GptConfig.Int4Classes) on the command line: parsed and validated with
// one clear line, refused for bf16/fp32, saved in the checkpoint (old checkpoints read all four), kept by a resume
// (another set is refused), and naming all four classes is the run without the option bit for bit. The fixture's
// set-up, parser and checkpoint rewriting are in Int4OptionsCliTests.cs.
public partial class Int4OptionsCliTests
{
    // A tiny INT4 run on the host model (2 layers × 32, batch 2 × 8 characters).
    private static string[] Int4Train(string outDir, int steps, params string[] more) => Train("int4", outDir, steps, more);

    private static string[] Train(string precision, string outDir, int steps, params string[] more) =>
        ["train", "--precision", precision, "--device", "cpu", "--steps", $"{steps}", "--eval-every", $"{steps}", "--batch", "2", "--context", "8",
         "--cold-start", "1", "--plain", "--out", outDir, .. more];

    // loss.csv without its throughput column (a timing)
    private static string[] Losses(string run) =>
        File.ReadAllLines(Path.Combine(run, "loss.csv")).Select(l => l[..l.LastIndexOf(',')]).ToArray();

    [Test]
    public void Int4Layers_ReachTheConfiguration_AndDefaultToAllFour()
    {
        var (o, c) = Parser();
        Assert.That(o.Config(c.Parse(["--preset", "baby-gpt"])).Int4Classes, Is.EqualTo(GptLinearClasses.All));
        foreach (var (text, value) in new[] { ("up,down", GptLinearClasses.Up | GptLinearClasses.Down), ("qkv", GptLinearClasses.Qkv),
                     (" down , proj ", GptLinearClasses.Proj | GptLinearClasses.Down), ("qkv,proj,up,down", GptLinearClasses.All) })
        {
            var p = c.Parse(["--preset", "baby-gpt", "--int4-layers", text]);
            Assert.That(p.Errors, Is.Empty, text);
            var config = o.Config(p);
            Assert.That(config.Int4Classes, Is.EqualTo(value), text);
            Assert.That(config with { Int4Classes = GptLinearClasses.All }, Is.EqualTo(GptConfig.BabyGpt), $"{text}: nothing else changes");
            config.Validate();
        }
        Assert.That(o.Config(c.Parse(["--int4-layers", "qkv"])).LinearDescription, Does.EndWith("INT4 only qkv, the rest bf16)"));
    }

    [TestCase("bf16")]
    [TestCase("fp32")]
    public void ASubsetWithAPrecisionWithoutInt4Layers_IsOneLine_AndWritesNothing(string precision)
    {
        string run = Path.Combine(_dir, precision);
        var (code, output, err) = CliRunner.Run(Train(precision, run, 1, "--int4-layers", "qkv"));
        Assert.That(code, Is.EqualTo(CliApp.RunError), err);
        Assert.That(err.Trim(), Is.EqualTo($"int4train train: Int4Classes (--int4-layers qkv) chooses the INT4 block linears of an INT4 precision; the {precision} precision runs every block linear in {precision}."));
        Assert.That(output + err, Does.Not.Contain("   at "));
        Assert.That(Directory.Exists(run), Is.False);
    }

    [Test]
    public void AllFourNamed_IsTheRunWithoutTheOption_BitForBit_AndASubsetIsAnother()
    {
        string plain = Path.Combine(_dir, "plain"), all = Path.Combine(_dir, "all"), sub = Path.Combine(_dir, "sub");
        foreach (var (run, more) in new[] { (plain, Array.Empty<string>()), (all, ["--int4-layers", "qkv,proj,up,down"]), (sub, ["--int4-layers", "up,down"]) })
        {
            var r = CliRunner.Run(Int4Train(run, 3, more));
            Assert.That(r.Code, Is.Zero, r.Err);
        }
        Assert.That(Losses(all), Is.EqualTo(Losses(plain)), "loss.csv");
        var (hp, pp, tp) = Checkpoint.ReadAll(Path.Combine(plain, "checkpoint.bin"));
        var (ha, pa, ta) = Checkpoint.ReadAll(Path.Combine(all, "checkpoint.bin"));
        Assert.That(ha.Config, Is.EqualTo(hp.Config));
        Assert.That(pa, Is.EqualTo(pp), "layer progress");
        Assert.That(ta.Select(t => t.Name), Is.EqualTo(tp.Select(t => t.Name)));
        for (int i = 0; i < tp.Count; i++)
            Assert.That((ta[i].Data, ta[i].M, ta[i].V, ta[i].AdamSteps), Is.EqualTo((tp[i].Data, tp[i].M, tp[i].V, tp[i].AdamSteps)), tp[i].Name);

        var (hs, ps, ts) = Checkpoint.ReadAll(Path.Combine(sub, "checkpoint.bin"));
        Assert.That(hs.Config.Int4Classes, Is.EqualTo(GptLinearClasses.Up | GptLinearClasses.Down));
        Assert.That(ts.Where(t => t.Name.Contains(".step_")).Select(t => t.Name),
            Is.EqualTo(tp.Where(t => t.Name.Contains(".step_") && (t.Name.Contains(".up.") || t.Name.Contains(".down."))).Select(t => t.Name)));
        Assert.That(ps.Select(p => p.StepCount), Is.EqualTo(new[] { 0, 0, 3, 3, 0, 0, 3, 3 }), "only the INT4 linears count forwards");
        Assert.That(Losses(sub).Skip(1).Select(l => l.Split(',')[1]), Is.Not.EqualTo(Losses(plain).Skip(1).Select(l => l.Split(',')[1])), "another model");
    }

    [Test]
    public void TheClasses_AreSavedInTheCheckpoint_AndAResumeKeepsThemOrRefusesOthers()
    {
        string run = Path.Combine(_dir, "ud");
        Assert.That(CliRunner.Run(Int4Train(run, 2, "--int4-layers", "up,down")).Code, Is.Zero);
        string ckpt = Path.Combine(run, "checkpoint.bin");
        var saved = Checkpoint.ReadHeader(ckpt).Config;
        Assert.That(saved.Int4Classes, Is.EqualTo(GptLinearClasses.Up | GptLinearClasses.Down));

        string[] Resume(int steps, params string[] more) => ["train", "--resume", ckpt, "--steps", $"{steps}", "--eval-every", "2", "--device", "cpu", "--plain", .. more];
        foreach (var other in new[] { "qkv,proj,up,down", "up" })
        {
            var r = CliRunner.Run(Resume(4, "--int4-layers", other));
            Assert.That(r.Code, Is.EqualTo(CliApp.RunError), other);
            Assert.That(r.Err, Does.Contain("--int4-layers").And.Contain("disagree"), other);
        }
        var agreeing = CliRunner.Run(Resume(4, "--int4-layers", "down,up", "--preset", "tiny"));
        Assert.That(agreeing.Code, Is.Zero, agreeing.Err);
        Assert.That(Checkpoint.ReadHeader(ckpt).Config, Is.EqualTo(saved), "a given --preset keeps the run's classes");
        Assert.That(Checkpoint.ReadHeader(ckpt).Step, Is.EqualTo(4));

        // a checkpoint written before the setting existed reads all four
        RewriteConfig(ckpt, config => Assert.That(config.Remove(nameof(GptConfig.Int4Classes)), "the classes are written"));
        Assert.That(Checkpoint.ReadHeader(ckpt).Config.Int4Classes, Is.EqualTo(GptLinearClasses.All));
    }

    [Test]
    public void Continuing_KeepsTheCheckpointsInt4Classes()
    {
        var (o, c) = Parser();
        var checkpoint = GptConfig.Tiny with { Int4Classes = GptLinearClasses.Proj };
        Assert.That(o.Continuing(c.Parse(["--preset", "small"]), checkpoint).Int4Classes, Is.EqualTo(GptLinearClasses.Proj));
        Assert.That(o.Continuing(c.Parse(["--int4-layers", "qkv"]), checkpoint).Int4Classes, Is.EqualTo(GptLinearClasses.Qkv), "a given option overrides (and then disagrees)");
    }

    [Test]
    public void Compare_AppliesTheClassesToTheInt4Runs_AndRunsBf16Whole()
    {
        string outDir = Path.Combine(_dir, "cmp");
        var r = CliRunner.Run(["compare", "--precisions", "int4,bf16", "--int4-layers", "up", "--device", "cpu", "--steps", "1", "--eval-every", "1",
            "--batch", "2", "--context", "8", "--plain", "--out", outDir]);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(Checkpoint.ReadHeader(Path.Combine(outDir, "int4", "checkpoint.bin")).Config.Int4Classes, Is.EqualTo(GptLinearClasses.Up));
        Assert.That(Checkpoint.ReadHeader(Path.Combine(outDir, "bf16", "checkpoint.bin")).Config.Int4Classes, Is.EqualTo(GptLinearClasses.All));
    }
}
