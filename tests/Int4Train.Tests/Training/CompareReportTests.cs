using System.Text.Json;
using Int4Train.Cli;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>`int4train compare`'s report from loss.csv files: the Markdown table's best values and ratios, the plot.</summary>
[TestFixture]
public class CompareReportTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "int4train-compare-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Run(string label, params string[] rows)
    {
        string d = Path.Combine(_dir, label);
        Directory.CreateDirectory(d);
        File.WriteAllLines(Path.Combine(d, "loss.csv"), ["step,train_loss,val_loss,lr,tokens_per_s", .. rows]);
        return d;
    }

    [Test]
    public void Markdown_HasTheBestValidationLossItsStepAndTheRatioToBf16()
    {
        var int4 = LossCurve.Read(Run("int4", "1,3.5,,0.001,90", "2,3.0,2.90,0.001,100", "3,2.6,,0.001,90", "4,2.4,2.50,0.001,120", "5,2.2,,0.001,100", "6,2.1,2.60,0.001,110"));
        var bf16 = LossCurve.Read(Run("bf16", "2,2.9,2.80,0.001,300", "4,2.3,2.40,0.001,320", "6,2.0,2.45,0.001,340"));
        Assert.That(int4.BestValidation, Is.EqualTo((2.50, 4L)));
        Assert.That(int4.Steps, Is.EqualTo(6));
        Assert.That(int4.FinalTrainLoss, Is.EqualTo(2.1));
        Assert.That(int4.MeanTokensPerSecond, Is.EqualTo(110).Within(1e-9), "mean over the evaluation rows");
        string md = CompareReport.Markdown([int4, bf16]);
        TestContext.Out.WriteLine(md);
        Assert.That(md, Does.Contain("Every run trained 6 steps"));
        Assert.That(md, Does.Contain("| run | steps | best val loss | at step | ratio to bf16 | final train loss | mean tokens/s |"));
        Assert.That(md, Does.Contain("| int4 | 6 | 2.5000 | 4 | 1.0417× | 2.1000 | 110 |"));
        Assert.That(md, Does.Contain("| bf16 | 6 | 2.4000 | 4 | 1.0000× | 2.0000 | 320 |"));
    }

    [Test]
    public void Markdown_WithoutBf16_IsRelativeToTheFirstRun_AndSaysWhenStepsDiffer()
    {
        var a = LossCurve.Read(Run("fp32", "5,2.0,2.00,0.001,10"));
        var b = LossCurve.Read(Run("int4-lsq", "5,2.2,2.20,0.001,10", "10,2.1,2.10,0.001,10"));
        string md = CompareReport.Markdown([a, b]);
        Assert.That(md, Does.Contain("ratio to fp32"));
        Assert.That(md, Does.Contain("| int4-lsq | 10 | 2.1000 | 10 | 1.0500× |"));
        Assert.That(md, Does.Contain("different numbers of steps (fp32 5, int4-lsq 10)"));
    }

    [Test]
    public void LossCurve_ResumedRunKeepsTheLastRowOfARepeatedStep_AndBadFilesAreClear()
    {
        var c = LossCurve.Read(Run("int4", "1,3.0,,0.001,1", "2,2.9,2.95,0.001,1", "3,2.8,,0.001,1", "3,2.7,,0.001,1", "4,2.6,2.65,0.001,1"));
        Assert.That(c.Rows.Select(r => r.Step), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
        Assert.That(c.Rows[2].TrainLoss, Is.EqualTo(2.7));
        var missing = Assert.Throws<FileNotFoundException>(() => LossCurve.Read(Path.Combine(_dir, "nope")));
        Assert.That(missing!.Message, Does.Contain("loss.csv"));
        string bad = Path.Combine(_dir, "bad.csv");
        File.WriteAllText(bad, "a,b\n1,2\n");
        Assert.That(Assert.Throws<InvalidDataException>(() => LossCurve.Read(bad))!.Message, Does.Contain("not a loss curve"));
        File.WriteAllText(bad, "step,train_loss,val_loss,lr,tokens_per_s\n1,3.0,,0.1,1\n2,2.9,2.8,0.1,1\n3,2.");
        Assert.That(LossCurve.Read(bad).Steps, Is.EqualTo(2), "a killed run's torn last line is not part of the curve");
        File.WriteAllText(bad, "step,train_loss,val_loss,lr,tokens_per_s\n1,x,,0.1,1\n");
        Assert.That(Assert.Throws<InvalidDataException>(() => LossCurve.Read(bad))!.Message, Does.Contain("bad.csv:2"));
    }

    [Test]
    public void CompareFrom_WritesTheTableAndANonEmptyPng()
    {
        string a = Run("int4", "2,3.0,2.90,0.001,100", "4,2.4,2.50,0.001,120");
        string b = Run("bf16", "2,2.9,2.80,0.001,300", "4,2.3,2.40,0.001,320");
        string outDir = Path.Combine(_dir, "out");
        Assert.That(CliRunner.Run("compare", "--from", $"{a},{b}", "--out", outDir, "--plain").Code, Is.Zero);
        Assert.That(File.ReadAllText(Path.Combine(outDir, "compare.md")), Does.Contain("| int4 | 4 | 2.5000 | 4 | 1.0417× |"));
        var png = new FileInfo(Path.Combine(outDir, "compare.png"));
        Assert.That(png.Exists && png.Length > 1000, "ScottPlot rendered the validation-loss plot");
        byte[] head = File.ReadAllBytes(png.FullName)[..8];
        Assert.That(head, Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "a PNG signature");
    }

    [Test]
    public void CompareJson_HasPerPrecisionStepsBestLossItsStepRatioTokensAndSeed()
    {
        string a = Run("int4", "2,3.0,2.90,0.001,100", "4,2.4,2.50,0.001,120");
        string b = Run("bf16", "2,2.9,2.80,0.001,300", "4,2.3,2.40,0.001,320");
        string outDir = Path.Combine(_dir, "out");
        Assert.That(CliRunner.Run("compare", "--from", $"{a},{b}", "--out", outDir, "--plain", "--title", "t").Code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "compare.json")));
        Assert.That(doc.RootElement.GetProperty("reference").GetString(), Is.EqualTo("bf16"));
        Assert.That(doc.RootElement.GetProperty("title").GetString(), Is.EqualTo("t"));
        var int4 = doc.RootElement.GetProperty("runs")[0];
        Assert.That(int4.GetProperty("label").GetString(), Is.EqualTo("int4"));
        Assert.That(int4.GetProperty("precision").ValueKind, Is.EqualTo(JsonValueKind.Null), "no checkpoint: the precision is unknown");
        Assert.That(int4.GetProperty("steps").GetInt64(), Is.EqualTo(4));
        Assert.That(int4.GetProperty("best_val_loss").GetDouble(), Is.EqualTo(2.5));
        Assert.That(int4.GetProperty("best_val_step").GetInt64(), Is.EqualTo(4));
        Assert.That(int4.GetProperty("ratio_to_reference").GetDouble(), Is.EqualTo(2.5 / 2.4).Within(1e-12));
        Assert.That(int4.GetProperty("tokens_per_s").GetDouble(), Is.EqualTo(110).Within(1e-9));
        Assert.That(int4.GetProperty("seed").ValueKind, Is.EqualTo(JsonValueKind.Null), "no checkpoint beside this loss.csv");
    }

    [Test]
    public void CompareTraining_WritesJsonWithTheSeed_RefusesToReplaceRuns_AndContinues()
    {
        string outDir = Path.Combine(_dir, "cmp");
        string[] Args(int steps) => ["compare", "--precisions", "fp32,bf16", "--device", "cpu", "--steps", $"{steps}", "--eval-every", "2", "--batch", "2",
            "--context", "8", "--seed", "42", "--plain", "--out", outDir];
        string[] args = Args(2);
        var first = CliRunner.Run(args);
        Assert.That(first.Code, Is.Zero, first.Err);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "compare.json"))))
        {
            var runs = doc.RootElement.GetProperty("runs");
            Assert.That(runs.GetArrayLength(), Is.EqualTo(2));
            foreach (var r in runs.EnumerateArray())
            {
                Assert.That(r.GetProperty("seed").GetInt32(), Is.EqualTo(42));
                Assert.That(r.GetProperty("steps").GetInt64(), Is.EqualTo(2));
                Assert.That(double.IsFinite(r.GetProperty("best_val_loss").GetDouble()));
            }
            Assert.That(runs[1].GetProperty("ratio_to_reference").GetDouble(), Is.EqualTo(1.0));
        }
        string fp32Csv = File.ReadAllText(Path.Combine(outDir, "fp32", "loss.csv"));
        var again = CliRunner.Run(args);
        Assert.That(again.Code, Is.EqualTo(1));
        Assert.That(again.Err, Does.Contain("already holds a run").And.Contain("--continue").And.Contain("--overwrite"));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "fp32", "loss.csv")), Is.EqualTo(fp32Csv), "the refused run changed nothing");
        var more = CliRunner.Run([.. Args(4), "--continue"]);
        Assert.That(more.Code, Is.Zero, more.Err);
        Assert.That(File.ReadAllLines(Path.Combine(outDir, "fp32", "loss.csv")).Skip(1).Select(l => l.Split(',')[0]),
            Is.EqualTo(new[] { "1", "2", "3", "4" }), "continued from step 2, no repeated rows");
    }

    [Test]
    public void CompareFrom_LabelsRunsByFolder_SoVariantsOfOnePrecisionKeepApart_AndTheReferenceIsTheBf16Checkpoint()
    {
        string Train(string name, string precision, params string[] more)
        {
            string d = Path.Combine(_dir, name);
            var r = CliRunner.Run(["train", "--precision", precision, "--device", "cpu", "--steps", "2", "--eval-every", "2", "--batch", "2", "--context", "8",
                "--seed", "5", "--plain", "--out", d, .. more]);
            Assert.That(r.Code, Is.Zero, r.Err);
            return d;
        }
        string reference = Train("baseline", "bf16"), plain = Train("fp32", "fp32"), paper = Train("fp32-paper", "fp32", "--mode", "paper", "--group", "8");
        string outDir = Path.Combine(_dir, "out");
        var cmp = CliRunner.Run("compare", "--from", $"{plain},{paper},{reference}", "--out", outDir, "--plain");
        Assert.That(cmp.Code, Is.Zero, cmp.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "compare.json")));
        var runs = doc.RootElement.GetProperty("runs").EnumerateArray().ToArray();
        Assert.That(runs.Select(r => r.GetProperty("label").GetString()), Is.EqualTo(new[] { "fp32", "fp32-paper", "baseline" }));
        Assert.That(runs.Select(r => r.GetProperty("precision").GetString()), Is.EqualTo(new[] { "fp32", "fp32", "bf16" }), "from each run's checkpoint");
        Assert.That(doc.RootElement.GetProperty("reference").GetString(), Is.EqualTo("baseline"), "no run is labelled bf16: the one whose checkpoint is bf16");
        Assert.That(runs[2].GetProperty("ratio_to_reference").GetDouble(), Is.EqualTo(1.0));
        Assert.That(runs.Select(r => r.GetProperty("seed").GetInt32()), Is.All.EqualTo(5));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "compare.md")), Does.Contain("| fp32-paper | 2 |").And.Contain("ratio to baseline"));
    }

    [Test]
    public void CompareFrom_TwoFoldersOfOneName_IsOneClearError()
    {
        string a = Run(Path.Combine("seed1", "int4"), "2,3.0,2.90,0.001,100");
        string b = Run(Path.Combine("seed2", "int4"), "2,3.1,2.95,0.001,100");
        var (code, _, err) = CliRunner.Run("compare", "--from", $"{a},{b}", "--out", Path.Combine(_dir, "out"), "--plain");
        Assert.That((code, err.Trim()), Is.EqualTo((CliApp.RunError,
            "int4train compare: --from: 2 run folders are named 'int4'; a run is labelled by its folder's name, so name them apart (e.g. by variant).")));
        Assert.That(Directory.Exists(Path.Combine(_dir, "out")), Is.False, "nothing written");
    }
}
