using System.Globalization;
using System.Text.RegularExpressions;
using Int4Train.Bench;
using NUnit.Framework;

namespace Int4Train.Tests.Bench;

/// <summary>
/// The kernel benchmark's report (perf/Int4Train.Bench) on synthetic results, no GPU: the FP8 columns of the Markdown
/// table (issue 11), the per-phase bandwidth table against the copy, the --ops selection and the PNG.
/// </summary>
[TestFixture]
public class BenchReportTests
{
    private static OpResult Op(string op, double ms, double ops = 0, int check = 1) =>
        new() { Op = op, MedianMs = ms, Ops = ops, Rate = ops > 0 ? ops / (ms * 1e-3) / 1e12 : 0, CheckOk = check };

    /// <summary>One layer shape with every op of the run at random times; returns the shape and the times by op.</summary>
    private static (ShapeResult Shape, Dictionary<string, double> Ms) RandomShape(Random rng, string label)
    {
        const int m = 16384, n = 16384, k = 4096;
        var ms = Runner.GemmOps.Concat(Runner.CompositeOps).ToDictionary(o => o, _ => 0.5 + 20 * rng.NextDouble());
        var s = new ShapeResult { Kind = "layer", Label = label, M = m, N = n, K = k, GemmPick = 1 };
        foreach (var (op, t) in ms) s.Ops.Add(Op(op, t, (op.StartsWith("linear", StringComparison.Ordinal) ? 6.0 : 2.0) * m * n * k));
        return (s, ms);
    }

    /// <summary>The cells of the table row that starts with `label`, keyed by the header's column names.</summary>
    private static Dictionary<string, string> Row(string md, string label)
    {
        string[] lines = md.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        string header = lines.First(l => l.StartsWith("| shape (N×C×D)", StringComparison.Ordinal));
        string row = lines.First(l => l.StartsWith($"| {label} |", StringComparison.Ordinal));
        static string[] Cells(string l) => l.Trim().Trim('|').Split(" | ").Select(c => c.Trim()).ToArray();
        string[] h = Cells(header), c = Cells(row);
        Assert.That(c, Has.Length.EqualTo(h.Length), "the row has one cell per column");
        var d = new Dictionary<string, string>();
        for (int i = 0; i < h.Length; i++) d.TryAdd(h[i], c[i]);  // "×BF16" repeats: the first is HQ fwd's
        return d;
    }

    private static string F2(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    [Test]
    public void IntegerOptions_AreParsedOrRefusedInOneLine()
    {
        int runs = new Random(Environment.TickCount).Next(1, 1000);
        Assert.That(Runner.ArgInt(["--runs", runs.ToString(CultureInfo.InvariantCulture)], "--runs", 10), Is.EqualTo(runs));
        Assert.That(Runner.ArgInt(["--sets", "2"], "--runs", 10), Is.EqualTo(10), "absent: the default");
        var e = Assert.Throws<BenchException>(() => Runner.ArgInt(["--runs", "ten"], "--runs", 10))!;
        Assert.That(e.Message, Does.Contain("--runs").And.Contain("'ten'"));
    }

    [Test]
    public void Markdown_PutsTheBernoulliLayerBesideTheNonzeroOne()
    {
        int seed = Environment.TickCount;
        var (s, ms) = RandomShape(new Random(seed), "T8192 h2048 down");
        string md = Markdown.Render(new Report { Device = "NVIDIA H200", Shapes = [s] });
        string expected = $"| {s.Label} | {F2(ms["linear_int4"])} | {F2(ms["linear_int4_bernoulli"])} | " +
                          $"{F2(ms["linear_int4_bernoulli"] / ms["linear_int4"])} |";
        Assert.That(md, Does.Contain("| shape (N×C×D) | Nonzero ms | Bernoulli, ½ rows zero ms | Bernoulli / Nonzero |"), $"seed {seed}");
        Assert.That(md, Does.Contain(expected), $"seed {seed}");
        s.Ops.RemoveAll(o => o.Op == "linear_int4_bernoulli");
        Assert.That(Markdown.Render(new Report { Device = "NVIDIA H200", Shapes = [s] }), Does.Not.Contain("Bernoulli / Nonzero"),
            "no Bernoulli run, no table");
    }

    [Test]
    public void Markdown_HasTheFp8ColumnsWithTheirRatios()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var (s, ms) = RandomShape(rng, "T16384 h4096 up");
        var report = new Report { Device = "NVIDIA H200", Shapes = [s] };
        string md = Markdown.Render(report);
        var row = Row(md, s.Label);
        string why = $"seed {seed}";
        Assert.That(row["FP8 GEMM ×BF16"], Is.EqualTo(F2(ms["lt_bf16"] / ms["lt_fp8"])), why);
        Assert.That(row["FP8 layer ms"], Is.EqualTo(F2(ms["linear_fp8"])), why);
        Assert.That(row["FP8 layer ×BF16"], Is.EqualTo(F2(ms["linear_bf16"] / ms["linear_fp8"])), why);
        Assert.That(row["INT4 layer ×FP8 layer"], Is.EqualTo(F2(ms["linear_fp8"] / ms["linear_int4"])), why);
        Assert.That(row["cuBLASLt FP8"], Does.Contain(ms["lt_fp8"].ToString("F3", CultureInfo.InvariantCulture) + " ms"), why);
        // the columns that were there before keep their meaning
        Assert.That(row["GEMM ×BF16"], Is.EqualTo(F2(ms["lt_bf16"] / ms["gemm_s8"])), why);
        Assert.That(row["INT4 layer ms"], Is.EqualTo(F2(ms["linear_int4"])), why);
        Assert.That(row["checks"], Is.EqualTo($"{s.Ops.Count} ok"), why);
    }

    [Test]
    public void Markdown_HasTheInt4Bf16ActivationColumns_AndNoneWithoutTheRun()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var (s, ms) = RandomShape(rng, "T16384 h1024 up");
        var row = Row(Markdown.Render(new Report { Device = "NVIDIA H200", Shapes = [s] }), s.Label);
        string why = $"seed {seed}";
        Assert.That(row["INT4 BF16-io layer ms"], Is.EqualTo(F2(ms["linear_int4_bf16io"])), why);
        Assert.That(row["INT4 BF16-io ×BF16"], Is.EqualTo(F2(ms["linear_bf16"] / ms["linear_int4_bf16io"])), why);
        Assert.That(row["INT4 BF16-io ×FP8 layer"], Is.EqualTo(F2(ms["linear_fp8"] / ms["linear_int4_bf16io"])), why);
        Assert.That(row["INT4 layer ms"], Is.EqualTo(F2(ms["linear_int4"])), "the FP32-activation layer keeps its column");
        s.Ops.RemoveAll(o => o.Op == "linear_int4_bf16io");
        row = Row(Markdown.Render(new Report { Shapes = [s] }), s.Label);
        Assert.That(row["INT4 BF16-io layer ms"], Is.EqualTo("–"), "a run without the op leaves its cells empty");
        Assert.That(row["INT4 BF16-io ×BF16"], Is.EqualTo("–"));
    }

    [Test]
    public void Markdown_FailedFp8Check_GivesNoRatio_AndIsListedAsFailed()
    {
        var (s, _) = RandomShape(new Random(11), "15360x8704x10752");
        var bad = s.Ops.Find(o => o.Op == "linear_fp8")!;
        bad.CheckOk = 0;
        bad.Check = "vs the BF16 layer: rel L2 Y 0.03 (bound 0.10), dX 1.41, dW 0.05 (bound 0.15)";
        s.Ops.Find(o => o.Op == "lt_fp8")!.Error = "status 6: bench: lt_fp8 needs FP8 tensor cores (cc >= 8.9, have 80)";
        string md = Markdown.Render(new Report { Shapes = [s] });
        var row = Row(md, s.Label);
        Assert.That(row["FP8 layer ms"], Is.EqualTo("–"));
        Assert.That(row["FP8 layer ×BF16"], Is.EqualTo("–"));
        Assert.That(row["INT4 layer ×FP8 layer"], Is.EqualTo("–"));
        Assert.That(row["FP8 GEMM ×BF16"], Is.EqualTo("–"));
        Assert.That(row["checks"], Does.Contain("**1 FAILED**").And.Contain("1 errors"));
        Assert.That(md, Does.Contain($"- {s.Label} linear_fp8: {bad.Check}"));
    }

    [Test]
    public void PhaseTable_GivesBytesGBpsAndPercentOfTheCopy()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        const int n = 15360, c = 8704, d = 10752;
        double copyMs = 0.4 + rng.NextDouble(), copyBytes = 2.0 * 4 * 16384 * 16384;
        var report = new Report { Copy = Op("copy_d2d", copyMs, copyBytes) };
        var names = new List<string> { "bit split digits (folded, both layouts)", "codes transposed (X, W)", "LSS dW (GEMM, scaling epilogue)",
                                        "recompute+LSQ backward+back-transform (fused)" };
        var times = names.Select(_ => 0.1 + 3 * rng.NextDouble()).ToList();
        report.Phases.Add(new PhaseResult { Which = "backward", M = n, N = c, K = d, Names = names, Ms = times });
        string md = Markdown.Render(report);
        double copyGBps = copyBytes / (copyMs * 1e-3) / 1e9;
        Assert.That(md, Does.Contain($"device-to-device copy, {copyGBps.ToString("F0", CultureInfo.InvariantCulture)} GB/s"), $"seed {seed}");
        double split = 6.0 * n * c, gbps = split / (times[0] * 1e-3) / 1e9;
        string expected = string.Create(CultureInfo.InvariantCulture,
            $"| backward | {n}×{c}×{d} | {names[0]} | {times[0]:F3} | {split / 1e6:F0} | {gbps:F0} | {100 * gbps / copyGBps:F0} % |");
        Assert.That(md, Does.Contain(expected), $"seed {seed}");
        Assert.That(md, Does.Not.Contain($"| {names[2]} |"), "a GEMM phase gets no bandwidth row");
        Assert.That(PhaseBandwidth.Bytes(names[3], n, c, d), Is.EqualTo(12.0 * (n * (double)d + c * (double)d)));
        // the code transposes read ½ B and write 1 B a code of X and W
        Assert.That(PhaseBandwidth.Bytes(names[1], n, c, d), Is.EqualTo(1.5 * (n * (double)d + c * (double)d)));
        // the one read of ∇Y with ∇b also writes one double a column per 256-row strip, the last strip partial
        Assert.That(PhaseBandwidth.Bytes("∇Y min/max + bias partials (one read)", n + 1, c, d),
            Is.EqualTo(4.0 * (n + 1) * c + 8.0 * c * (n / 256 + 1)));
    }

    [Test]
    public void PhaseTable_KnowsEveryPhaseTheNativeLayerNames()
    {
        string? root = TestContext.CurrentContext.TestDirectory;
        while (root != null && !Directory.Exists(Path.Combine(root, "native", "src", "ops"))) root = Path.GetDirectoryName(root);
        if (root == null) Assert.Ignore("native/src is not beside this test build (a staged runner)");
        var names = Directory.EnumerateFiles(Path.Combine(root!, "native", "src"), "*.cu", SearchOption.AllDirectories)
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), "phase_done\\(ctx, \"([^\"]+)\"\\)").Select(m => m.Groups[1].Value))
            .Distinct().ToList();
        Assert.That(names, Has.Count.GreaterThanOrEqualTo(8), "the layer's phases were found");
        Assert.That(names.Where(p => !PhaseBandwidth.Knows(p)), Is.Empty,
            "every phase is either element-wise with a byte formula or a GEMM (perf/Int4Train.Bench/PhaseBandwidth.cs)");
    }

    [Test]
    public void OpsOption_SelectsKnownOps_AndRejectsUnknownOnes()
    {
        var set = Runner.SelectedOps(["--ops", "lt_bf16, lt_fp8,linear_int4,linear_bf16,linear_fp8"]);
        Assert.That(set, Is.EquivalentTo(new[] { "lt_bf16", "lt_fp8", "linear_int4", "linear_bf16", "linear_fp8" }));
        Assert.That(Runner.SelectedOps(["--runs", "3"]), Is.Null, "no --ops: every op");
        var e = Assert.Throws<BenchException>(() => Runner.SelectedOps(["--ops", "lt_fp8,linear_fp4"]))!;
        Assert.That(e.Message, Does.Contain("linear_fp4").And.Contain("known:"));
    }

    [Test]
    public void Plot_WithFp8Results_WritesAPng()
    {
        var rng = new Random(5);
        var report = new Report { Device = "NVIDIA H200", Date = "2026-12-01", Shapes = [RandomShape(rng, "a").Shape, RandomShape(rng, "b").Shape] };
        string png = Path.Combine(Path.GetTempPath(), $"int4train-bench-{Guid.NewGuid():N}.png");
        try
        {
            Plotter.Plot(report, png);
            var f = new FileInfo(png);
            Assert.That(f.Exists && f.Length > 1000, "ScottPlot rendered the chart");
            Assert.That(File.ReadAllBytes(png)[..4], Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
        }
        finally
        {
            File.Delete(png);
        }
    }
}
