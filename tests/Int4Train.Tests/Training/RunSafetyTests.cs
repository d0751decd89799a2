using System.Diagnostics;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>Issue 13: no run is lost. A new train never replaces another run; a resume continues in the checkpoint's
/// folder with the same curve as an uninterrupted run; nothing is written before the first step; checkpoints and
/// loss.csv survive a crash; text outside the BMP resumes; corrupt checkpoints and oversize configurations are clear
/// errors.</summary>
[TestFixture]
public class RunSafetyTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = CliRunner.TempDir("safety");

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static GptConfig Small => GptConfig.Tiny with { Precision = LinearPrecision.Fp32, Layers = 1, Context = 8, BatchSize = 2, Dropout = 0.1f };

    private static string[] LossRows(string dir) => File.ReadAllLines(Path.Combine(dir, "loss.csv")).Skip(1).ToArray();

    [Test]
    public void NewTrain_IntoAFolderHoldingARun_IsRefusedAndLeavesItIntact_UnlessOverwrite()
    {
        string run = Path.Combine(_dir, "run");
        Assert.That(CliRunner.Run(CliRunner.FastTrain(run, 2, 2)).Code, Is.Zero);
        byte[] ckpt = File.ReadAllBytes(Path.Combine(run, "checkpoint.bin"));
        string csv = File.ReadAllText(Path.Combine(run, "loss.csv"));
        var again = CliRunner.Run(CliRunner.FastTrain(run, 1, 1));
        Assert.That(again.Code, Is.EqualTo(1));
        Assert.That(again.Err, Does.Contain("already holds a run").And.Contain("--resume").And.Contain("--overwrite"));
        Assert.That(File.ReadAllBytes(Path.Combine(run, "checkpoint.bin")), Is.EqualTo(ckpt));
        Assert.That(File.ReadAllText(Path.Combine(run, "loss.csv")), Is.EqualTo(csv));
        // the library refuses too
        using (var t = Trainer.Create(Small, BuiltInText.Text, Backend))
            Assert.Throws<RunExistsException>(() => t.Run(1, 1, run));
        Assert.That(CliRunner.Run(CliRunner.FastTrain(run, 1, 1, "--overwrite")).Code, Is.Zero);
        Assert.That(LossRows(run), Has.Length.EqualTo(1), "replaced when asked");
    }

    [Test]
    public void Resume_WithoutOut_ContinuesInTheCheckpointsFolder_NotThePresetsDefault()
    {
        string run = Path.Combine(_dir, "small-fp32");
        Assert.That(CliRunner.Run(CliRunner.FastTrain(run, 2, 2)).Code, Is.Zero);
        string cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _dir; // where runs/tiny-fp32 would appear
        try
        {
            var r = CliRunner.Run("train", "--resume", Path.Combine(run, "checkpoint.bin"), "--steps", "4", "--eval-every", "2", "--device", "cpu", "--plain");
            Assert.That(r.Code, Is.Zero, r.Err);
        }
        finally { Environment.CurrentDirectory = cwd; }
        Assert.That(Directory.Exists(Path.Combine(_dir, "runs")), Is.False, "nothing written under the preset's folder");
        Assert.That(LossRows(run).Select(l => l.Split(',')[0]), Is.EqualTo(new[] { "1", "2", "3", "4" }));
        Assert.That(Checkpoint.ReadHeader(Path.Combine(run, "checkpoint.bin")).Step, Is.EqualTo(4));
        string elsewhere = Path.Combine(_dir, "elsewhere");
        var moved = CliRunner.Run("train", "--resume", Path.Combine(run, "checkpoint.bin"), "--out", elsewhere, "--steps", "6", "--eval-every", "2", "--device", "cpu", "--plain");
        Assert.That(moved.Code, Is.Zero, moved.Err);
        Assert.That(LossRows(elsewhere).Select(l => l.Split(',')[0]), Is.EqualTo(new[] { "1", "2", "3", "4", "5", "6" }), "--out elsewhere: the whole curve");
        Assert.That(LossRows(run), Has.Length.EqualTo(4), "the source run is left as it was");
        var conflicting = CliRunner.Run("train", "--resume", Path.Combine(run, "checkpoint.bin"), "--precision", "int4", "--steps", "6", "--plain");
        Assert.That(conflicting.Code, Is.EqualTo(1));
        Assert.That(conflicting.Err, Does.Contain("--precision").And.Contain("disagree"), "options that contradict the checkpoint are an error, not silently ignored");
        var agreeing = CliRunner.Run("train", "--resume", Path.Combine(run, "checkpoint.bin"), "--preset", "tiny", "--precision", "fp32", "--batch", "2",
            "--context", "8", "--steps", "6", "--eval-every", "2", "--device", "cpu", "--plain");
        Assert.That(agreeing.Code, Is.Zero, "options that agree with the checkpoint are accepted (perf/training/run_device.sh passes them)\n" + agreeing.Err);
    }

    [Test]
    public void ARunThatFailsBeforeItsFirstStep_TouchesNoFile()
    {
        string run = Path.Combine(_dir, "run");
        Assert.That(CliRunner.Run(CliRunner.FastTrain(run, 2, 2)).Code, Is.Zero);
        string csv = File.ReadAllText(Path.Combine(run, "loss.csv"));
        byte[] ckpt = File.ReadAllBytes(Path.Combine(run, "checkpoint.bin"));
        var r = CliRunner.Run("train", "--precision", "fp32", "--device", "cpu", "--steps", "1", "--batch", "2147483647", "--plain", "--out", run, "--overwrite");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.Err, Does.Contain("too large"));
        Assert.That(File.ReadAllText(Path.Combine(run, "loss.csv")), Is.EqualTo(csv));
        Assert.That(File.ReadAllBytes(Path.Combine(run, "checkpoint.bin")), Is.EqualTo(ckpt));
        // a model factory that fails (allocation) leaves the folder as it was too
        Assert.Throws<InsufficientExecutionStackException>(() => Trainer.Create(Small, BuiltInText.Text, (_, _) => throw new InsufficientExecutionStackException()));
        Assert.That(File.ReadAllText(Path.Combine(run, "loss.csv")), Is.EqualTo(csv));
    }

    [Test]
    public void Demo_TrainsIntoRunsDemo_AndNeverReplacesATrainRunsDefaultFolder()
    {
        // Until 2026-12-02 the demo wrote to train's default folder (runs/tiny-int4) and, replacing "its own scratch
        // folder" without --overwrite, silently replaced a `train --preset tiny` run there.
        string cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _dir;
        try
        {
            string[] quick = ["--device", "cpu", "--steps", "1", "--eval-every", "1", "--batch", "2", "--context", "8", "--plain"];
            var train = CliRunner.Run(["train", "--preset", "tiny", .. quick]);
            Assert.That(train.Code, Is.Zero, train.Err);
            string trainRun = Path.Combine(_dir, "runs", "tiny-int4", "checkpoint.bin");
            byte[] trained = File.ReadAllBytes(trainRun);
            for (int i = 0; i < 2; i++)
            {
                var demo = CliRunner.Run(["demo", .. quick]);
                Assert.That(demo.Code, Is.Zero, $"demo {i + 1}: its own folder is replaced each time\n{demo.Err}");
                Assert.That(File.Exists(Path.Combine(_dir, "runs", "demo", "checkpoint.bin")), $"demo {i + 1}");
            }
            Assert.That(File.ReadAllBytes(trainRun), Is.EqualTo(trained), "the train run is untouched");
            var into = CliRunner.Run(["demo", .. quick, "--out", Path.Combine("runs", "tiny-int4")]);
            Assert.That(into.Code, Is.EqualTo(1), "a demo into another run's folder needs --overwrite");
            Assert.That(into.Err, Does.Contain("--overwrite"));
            Assert.That(File.ReadAllBytes(trainRun), Is.EqualTo(trained));
        }
        finally { Environment.CurrentDirectory = cwd; }
    }

    // fp32; and INT4 with per-input-channel smoothing, whose factors m no checkpoint keeps: each training forward makes
    // them, so the resumed run's steps and validations see the uninterrupted run's m
    [TestCase(false)]
    [TestCase(true)]
    public void ResumeAfterAnInterruptBetweenValidations_GivesTheUninterruptedCurve(bool int4Smoothed)
    {
        var config = int4Smoothed ? Small with { Precision = LinearPrecision.Int4HqLss, ColdStartSteps = 2, SmoothAlpha = 0.5f } : Small;
        string straight = Path.Combine(_dir, "straight"), split = Path.Combine(_dir, "split");
        using (var t = Trainer.Create(config, BuiltInText.Text, Backend)) t.Run(8, evalEvery: 4, straight);
        using (var t = Trainer.Create(config, BuiltInText.Text, Backend))
        {
            t.Run(4, evalEvery: 4, split);
            t.TrainStep(8); // steps 5 and 6 happen and are logged, then the process "dies" before the next validation
            t.TrainStep(8);
        }
        File.AppendAllText(Path.Combine(split, "loss.csv"), "5,3.1,,0.001,10.0\n6,3.0,,0.001,10.0\n7,2.9,,0.0");
        using (var t = Trainer.Resume(Path.Combine(split, "checkpoint.bin"), BuiltInText.Text, Backend)) t.Run(8, evalEvery: 4, split);
        string[] a = LossRows(straight), b = LossRows(split);
        Assert.That(b.Select(l => l.Split(',')[0]), Is.EqualTo(Enumerable.Range(1, 8).Select(i => $"{i}")), "each step once, in order");
        Assert.That(b.Select(Losses), Is.EqualTo(a.Select(Losses)), "train and validation losses equal the uninterrupted run's");
    }

    private static string Losses(string row) => string.Join(",", row.Split(',')[..3]); // step, train loss, val loss (not timing)

    [Test]
    public void EmojiText_TrainsResumesAndSamples_OneTokenPerCharacter()
    {
        string text = string.Concat(Enumerable.Repeat("to be 🙂 or not 🐍 to be — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ", 40));
        var data = new CharDataset(text, 0.1f, 8);
        Assert.That(data.VocabSize, Is.EqualTo(text.EnumerateRunes().Distinct().Count()));
        Assert.That(CharDataset.Decode(data.Vocab, CharDataset.Encode(data.Vocab, "🙂 or 🐍")), Is.EqualTo("🙂 or 🐍"));
        string file = Path.Combine(_dir, "emoji.txt"), run = Path.Combine(_dir, "emoji");
        File.WriteAllText(file, text);
        Assert.That(CliRunner.Run([.. CliRunner.FastTrain(run, 2, 2), "--data", file]).Code, Is.Zero);
        var resumed = CliRunner.Run("train", "--resume", Path.Combine(run, "checkpoint.bin"), "--data", file, "--steps", "3", "--eval-every", "3", "--device", "cpu", "--plain");
        Assert.That(resumed.Code, Is.Zero, resumed.Err);
        var sample = CliRunner.Run("sample", "--checkpoint", Path.Combine(run, "checkpoint.bin"), "--tokens", "30", "--prompt", "🙂", "--device", "cpu");
        Assert.That(sample.Code, Is.Zero, sample.Err);
        string generated = sample.Out.TrimEnd('\n', '\r');
        Assert.That(generated.EnumerateRunes().Count(), Is.EqualTo(30));
        Assert.That(generated.EnumerateRunes().All(r => data.Vocab.EnumerateRunes().Contains(r)), "whole characters, no split surrogates");
        Assert.That(sample.Err, Does.Not.Contain("outside the checkpoint's vocabulary"));
    }

    [Test]
    public void Generate_StreamsEachCharacterAsItIsMade()
    {
        using var t = Trainer.Create(Small, BuiltInText.Text, Backend);
        var streamed = new List<string>();
        string all = Trainer.Generate(t.Model, t.Data.Vocab, 12, "the", seed: 3, streamed.Add);
        Assert.That(streamed, Has.Count.EqualTo(12));
        Assert.That(string.Concat(streamed), Is.EqualTo(all));
    }

    [Test]
    public void CheckpointAndLossCsv_SurviveACrashDuringASave()
    {
        string run = Path.Combine(_dir, "run");
        using (var t = Trainer.Create(Small, BuiltInText.Text, Backend)) t.Run(4, evalEvery: 2, run);
        // the crash: a later save torn half-way (the temporary file) and a torn loss.csv row
        byte[] good = File.ReadAllBytes(Path.Combine(run, "checkpoint.bin"));
        File.WriteAllBytes(Path.Combine(run, "checkpoint.bin.tmp"), good[..(good.Length / 2)]);
        File.WriteAllText(Path.Combine(run, "loss.csv.tmp"), "step,train_loss,val_loss,lr,tokens_per_s\n1,");
        File.AppendAllText(Path.Combine(run, "loss.csv"), "5,3.0,,0.001,1");
        using (var t = Trainer.Resume(Path.Combine(run, "checkpoint.bin"), BuiltInText.Text, Backend))
        {
            Assert.That(t.Step, Is.EqualTo(4));
            t.Run(6, evalEvery: 2, run);
        }
        Assert.That(LossRows(run).Select(l => l.Split(',')[0]), Is.EqualTo(new[] { "1", "2", "3", "4", "5", "6" }));
        Assert.That(Checkpoint.ReadHeader(Path.Combine(run, "checkpoint.bin")).Step, Is.EqualTo(6));
        Assert.That(File.Exists(Path.Combine(run, "checkpoint.bin.tmp")), Is.False, "the next save replaced the leftover");
    }

    [Test]
    public void KillingATrainingProcess_LeavesARunThatResumes()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "Int4Train.Cli.dll");
        Assume.That(File.Exists(cli) && File.Exists(Path.Combine(AppContext.BaseDirectory, "Int4Train.Cli.runtimeconfig.json")), "the CLI is beside the tests");
        string run = Path.Combine(_dir, "killed");
        // a checkpoint at every step, so the kill most likely lands in or near a save
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[cli, .. CliRunner.FastTrain(run, 100000, 1)]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        string ckpt = Path.Combine(run, "checkpoint.bin");
        while (!File.Exists(ckpt) && clock.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited) Thread.Sleep(20);
        Thread.Sleep(200 + new Random().Next(300));
        p.Kill(entireProcessTree: true);
        p.WaitForExit();
        Assert.That(File.Exists(ckpt), "the child saved at least one checkpoint");
        long step = Checkpoint.ReadHeader(ckpt).Step;
        var r = CliRunner.Run("train", "--resume", ckpt, "--steps", $"{step + 2}", "--eval-every", "1", "--device", "cpu", "--plain");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(LossRows(run).Select(l => long.Parse(l.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture)),
            Is.EqualTo(Enumerable.Range(1, (int)step + 2).Select(i => (long)i)), "every step once");
    }

    [Test]
    public void CorruptCheckpoints_AreInvalidDataExceptions()
    {
        string run = Path.Combine(_dir, "run");
        using (var t = Trainer.Create(Small, BuiltInText.Text, Backend)) t.Run(2, evalEvery: 2, run);
        byte[] good = File.ReadAllBytes(Path.Combine(run, "checkpoint.bin"));
        string bad = Path.Combine(_dir, "bad.bin");
        var rng = new Random(13);
        for (int trial = 0; trial < 40; trial++)
        {
            byte[] bytes = trial switch
            {
                < 10 => [.. "I4GPT001"u8.ToArray(), .. Enumerable.Range(0, 1 + rng.Next(100_000)).Select(_ => (byte)rng.Next(256))], // magic + garbage
                < 25 => good[..rng.Next(good.Length)], // truncated
                _ => Flip(good, rng, 8 + rng.Next(Math.Min(good.Length - 8, 600))), // a corrupted header byte
            };
            File.WriteAllBytes(bad, bytes);
            try
            {
                var (model, _) = Trainer.LoadModel(bad, Backend);
                model.Dispose(); // a flip inside a float value still loads: that is fine
            }
            catch (InvalidDataException) { }
            catch (Exception e)
            {
                Assert.Fail($"trial {trial}: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private static byte[] Flip(byte[] a, Random rng, int at)
    {
        var b = (byte[])a.Clone();
        b[at] ^= (byte)(1 + rng.Next(255));
        return b;
    }

    [Test]
    public void OversizeConfigurations_AreClearErrors_NotOverflow()
    {
        foreach (var c in new[]
                 {
                     GptConfig.Tiny with { BatchSize = int.MaxValue },
                     GptConfig.Tiny with { Context = 1 << 20, BatchSize = 1 << 12 },
                     GptConfig.Tiny with { Width = 1 << 16, Heads = 1 },
                 })
        {
            var e = Assert.Throws<ArgumentException>(() => c.Validate());
            Assert.That(e!.Message, Does.Contain("too large"));
        }
        var vocab = Assert.Throws<ArgumentException>(() => new Gpt(GptConfig.Tiny with { BatchSize = 1 << 14, Context = 64 }, 1 << 12, Backend));
        Assert.That(vocab!.Message, Does.Contain("logits"));
        Assert.Throws<ArgumentException>(() => new Int4Linear(1 << 16, 1 << 16, Backend, new Int4LinearOptions { Precision = LinearPrecision.Fp32 }));
        Assert.Throws<ArgumentException>(() => (GptConfig.Tiny with { Dropout = float.NaN }).Validate());
    }
}
