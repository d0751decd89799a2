using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Int4Train.Bench;

/// <summary>
/// Int4Train.Bench [run] [--quick] [--out DIR] [--name NAME] [--runs N] [--warmup N] [--sets N] [--no-configs]
///                 [--only "SHAPE,..."] [--ops "OP,..."] [--no-phases]
///   times every operation of issue 5 on the GPU through libint4train_bench and writes DIR/&lt;date&gt;-NAME.json and .md.
///   --only keeps the listed shapes, --ops the listed operations, --no-phases skips the phase breakdowns and the graph.
/// Int4Train.Bench plot FILE.json [FILE.png]   renders the chart (ScottPlot) from a JSON file (no GPU needed).
/// Int4Train.Bench md FILE.json                re-renders the Markdown table from a JSON file.
/// Int4Train.Bench gpt [...]                   training speed of the device GPT per precision (GptSpeed).
/// Int4Train.Bench gemm-sweep [...]            every GEMM configuration at each layer's three GEMM shapes (GemmSweep).
/// </summary>
public static class Program
{
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        string verb = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "run";
        string[] rest = verb == "run" && (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal)) ? args : args[1..];
        try
        {
            switch (verb)
            {
                case "run": return Runner.Run(rest);
                case "gpt": return GptSpeed.Run(rest);
                case "gemm-sweep": return GemmSweep.Run(rest);
                case "plot":
                {
                    if (rest.Length < 1) { Console.Error.WriteLine("usage: plot FILE.json [FILE.png]"); return 2; }
                    string png = rest.Length > 1 ? rest[1] : Path.ChangeExtension(rest[0], ".png");
                    Plotter.Plot(Load(rest[0]), png);
                    Console.WriteLine($"wrote {png}");
                    return 0;
                }
                case "md":
                    if (rest.Length < 1) { Console.Error.WriteLine("usage: md FILE.json"); return 2; }
                    Console.WriteLine(Markdown.Render(Load(rest[0])));
                    return 0;
                default:
                    Console.Error.WriteLine("usage: Int4Train.Bench [run|plot|md] ...");
                    return 2;
            }
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine($"error: libint4train_bench not found ({e.Message}); build native/ (./build.sh native) or set INT4TRAIN_NATIVE_DIR");
            return 3;
        }
    }

    internal static Report Load(string path) =>
        JsonSerializer.Deserialize<Report>(File.ReadAllText(path), Json) ?? throw new BenchException($"{path}: empty report");
}

internal static class Runner
{
    /// <summary>The paper's six (M, N, K) of §6.3, read as (tokens N, outputs C, inputs D).</summary>
    internal static readonly (int M, int N, int K)[] PaperShapes =
        [(4608, 5120, 6144), (5120, 6144, 8192), (6144, 6144, 9216), (7168, 6656, 8704), (8192, 7680, 9728), (15360, 8704, 10752)];

    internal static readonly string[] GemmOps = ["gemm_s8", "lt_int8", "lt_bf16", "lt_fp16", "lt_fp8"];
    internal static readonly string[] CompositeOps = ["hq_forward", "lss_grad_weight", "lss_grad_input", "linear_int4", "linear_int4_bernoulli", "linear_int4_bf16io", "linear_bf16", "linear_fp8"];

    /// <summary>--ops "OP,...": the operations to run at each shape (null: all); an unknown name is an error.</summary>
    internal static HashSet<string>? SelectedOps(string[] a)
    {
        if (Arg(a, "--ops", "") is not { Length: > 0 } list) return null;
        var set = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var unknown = set.Where(o => !GemmOps.Contains(o) && !CompositeOps.Contains(o) && !o.StartsWith("gemm_s8_cfg", StringComparison.Ordinal)).ToList();
        if (unknown.Count > 0)
            throw new BenchException($"--ops: unknown operation(s) {string.Join(", ", unknown)}; known: {string.Join(", ", GemmOps.Concat(CompositeOps))}, gemm_s8_cfg<i>");
        return set;
    }

    internal static string Arg(string[] a, string name, string dflt)
    {
        int i = Array.IndexOf(a, name);
        return i >= 0 && i + 1 < a.Length ? a[i + 1] : dflt;
    }

    /// <summary>An integer option; a value that is not an integer is one clear error (BenchException), not a trace.</summary>
    internal static int ArgInt(string[] a, string name, int dflt) =>
        ParseInt(name, Arg(a, name, dflt.ToString(CultureInfo.InvariantCulture)));

    internal static int ParseInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v : throw new BenchException($"{name}: '{value}' is not an integer");

    /// <summary>A file-name form of a device name: "NVIDIA H200" -> "h200", "NVIDIA H100 80GB HBM3" -> "h100".</summary>
    internal static string GpuShortName(string device)
    {
        var words = device.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(w => !w.Equals("NVIDIA", StringComparison.OrdinalIgnoreCase)).ToArray();
        string first = words.Length > 0 ? words[0] : "gpu";
        return new string(first.ToLowerInvariant().Where(char.IsLetterOrDigit).ToArray());
    }

    internal static unsafe int Run(string[] a)
    {
        bool quick = a.Contains("--quick");
        bool configs = !a.Contains("--no-configs");
        bool phases = !a.Contains("--no-phases");
        HashSet<string>? opsSet = SelectedOps(a);
        string outDir = Arg(a, "--out", Path.Combine("perf", "results"));
        int runs = ArgInt(a, "--runs", quick ? 5 : 30);
        int warmup = ArgInt(a, "--warmup", quick ? 1 : 5);
        int sets = ArgInt(a, "--sets", 3);
        const int group = 32;
        const ulong seed = 20260501;

        Native.EnsureLoaded();
        Native.Check(Native.ContextCreate(0, out IntPtr ctx), "int4train_context_create");
        byte* nameBuf = stackalloc byte[256];
        Native.Check(Native.ContextInfo(ctx, nameBuf, 256, out int cc, out _), "int4train_context_info");
        string device = new((sbyte*)nameBuf);
        // Result files are named after the GPU they ran on (e.g. "NVIDIA H200" -> "h200") unless --name says otherwise.
        string name = Arg(a, "--name", GpuShortName(device));
        byte* txt = stackalloc byte[1024];
        Native.Check(Native.BenchGemmConfigs(4096, 4096, 4096, txt, 1024, out int nconf, out _), "bench_gemm_configs");
        string confText = new((sbyte*)txt);
        Console.WriteLine($"device: {device} (cc {cc}); {nconf} CUTLASS SM90 configurations: {confText}");

        var report = new Report
        {
            Date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Device = device, ComputeCapability = cc, GemmConfigs = confText, Group = group, Warmup = warmup, Runs = runs,
            Sets = sets, Seed = seed,
            Notes = "Shapes (M,N,K) = (tokens N, outputs C, inputs D) of Y = X·Wᵀ. Layer shapes: the two MLP GEMMs of a " +
                    "transformer block with 4x MLP (up: C = 4h, D = h; down: C = h, D = 4h), which carry 2/3 of a block's " +
                    "linear-layer FLOPs; attention projections (C = D = h) are not listed separately. Layers without bias. " +
                    "LSS in the exact Nonzero mode with gradients whose row norms are log-normal (no all-zero rows). " +
                    "Rates: ops/median (2·M·N·K per GEMM, 6·M·N·K per layer forward+backward).",
            ActivationBytesPerInputElement = new()
            {
                ["int4_packed_codes_saved_by_forward"] = 0.5,
                ["int4_needed_by_current_backward_api (X fp32 + codes)"] = 4.5,
                ["bf16_baseline (X bf16)"] = 2.0,
                ["fp8_baseline (X8ᵀ e4m3, written by the forward's cast)"] = 1.0,
            },
        };
        Directory.CreateDirectory(outDir);
        string stamp = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        string jsonPath = Path.Combine(outDir, $"{stamp}-{name}.json");
        string mdPath = Path.Combine(outDir, $"{stamp}-{name}.md");
        void Save()
        {
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(report, Program.Json));
            File.WriteAllText(mdPath, Markdown.Render(report));
        }

        var shapes = new List<(string Kind, string Label, int M, int N, int K)>();
        foreach (var (m, n, k) in quick ? PaperShapes[..2] : PaperShapes) shapes.Add(("paper", $"{m}x{n}x{k}", m, n, k));
        if (!quick)
            foreach (int tokens in new[] { 8192, 16384 })
                foreach (int h in new[] { 1024, 2048, 4096, 8192 })
                {
                    shapes.Add(("layer", $"T{tokens} h{h} up", tokens, 4 * h, h));
                    shapes.Add(("layer", $"T{tokens} h{h} down", tokens, h, 4 * h));
                }

        // --only "LABEL,LABEL,...": keep these shapes (labels as in the table: 15360x8704x10752, T16384 h4096 up, ...);
        // the phase breakdowns then run at the selected paper shapes among the usual ones (or the first selected).
        string? only = Arg(a, "--only", "") is { Length: > 0 } o ? o : null;
        HashSet<string>? onlySet = only?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        if (onlySet != null)
        {
            var all = PaperShapes.Select(p => ("paper", $"{p.M}x{p.N}x{p.K}", p.M, p.N, p.K)).Concat(shapes).Distinct().ToList();
            shapes = all.Where(x => onlySet.Contains(x.Item2)).ToList();
        }

        try
        {
            // the bandwidth yardstick of the phase table: a 1 GiB device-to-device copy (16384 × 16384 FP32)
            report.Copy = Time(ctx, "copy_d2d", 16384, 16384, 1, group, warmup, runs, 1, seed);
            Console.WriteLine(report.Copy.Error != null
                ? $"device-to-device copy: ERROR {report.Copy.Error}"
                : $"device-to-device copy: {report.Copy.MedianMs:F3} ms, {PhaseBandwidth.CopyGBps(report.Copy):F0} GB/s (read + write) [{report.Copy.Check}]");
            foreach (var s in shapes)
            {
                Native.Check(Native.BenchGemmConfigs(s.M, s.N, s.K, txt, 1024, out _, out int pick), "bench_gemm_configs");
                var sr = new ShapeResult { Kind = s.Kind, Label = s.Label, M = s.M, N = s.N, K = s.K, GemmPick = pick };
                report.Shapes.Add(sr);
                var ops = new List<string>(GemmOps);
                if (configs && s.Kind == "paper")
                    for (int c = 0; c < nconf; c++) ops.Add($"gemm_s8_cfg{c}");
                ops.AddRange(CompositeOps);
                if (opsSet != null) ops = ops.Where(opsSet.Contains).ToList();
                foreach (string op in ops)
                {
                    var r = Time(ctx, op, s.M, s.N, s.K, group, warmup, runs, sets, seed);
                    sr.Ops.Add(r);
                    string chk = r.CheckOk switch { 1 => "ok", 0 => "CHECK FAILED", _ => "-" };
                    Console.WriteLine(r.Error != null
                        ? $"{s.Label,-22} {op,-16} ERROR {r.Error}"
                        : $"{s.Label,-22} {op,-16} {r.MedianMs,9:F3} ms (min {r.MinMs:F3}, p90 {r.P90Ms:F3}) {r.Rate,7:F0} T/s  [{chk}] {r.Check}");
                }
                Save();
            }
            // per-phase breakdowns (Fig. 6 style) and the CUDA graph of the whole layer
            byte* names = stackalloc byte[2048];
            double* ms = stackalloc double[16];
            var phaseShapes = !phases ? Array.Empty<(int, int, int)>() : quick ? new[] { PaperShapes[0] } : new[] { PaperShapes[^1], (16384, 16384, 4096), (16384, 4096, 16384) };
            if (onlySet != null && phases)
            {
                var sel = phaseShapes.Where(p => onlySet.Contains($"{p.Item1}x{p.Item2}x{p.Item3}")).ToArray();
                phaseShapes = sel.Length > 0 ? sel : shapes.Take(1).Select(x => (x.M, x.N, x.K)).ToArray();
            }
            foreach (var (m, n, k) in phaseShapes)
                foreach (string which in new[] { "forward", "backward" })
                {
                    var pr = new PhaseResult { Which = which, M = m, N = n, K = k };
                    int st = Native.BenchPhases(ctx, which, m, n, k, group, Math.Max(5, runs / 2), seed, names, 2048, ms, 16, out int count);
                    if (st != 0) pr.Error = Native.LastError();
                    else
                    {
                        pr.Names = [.. new string((sbyte*)names).Split(';')];
                        for (int i = 0; i < count; i++) pr.Ms.Add(ms[i]);
                    }
                    report.Phases.Add(pr);
                    Console.WriteLine($"phases {which} {m}x{n}x{k}: " + (pr.Error ?? string.Join(", ", pr.Names.Zip(pr.Ms, (x, y) => $"{x} {y:F3} ms"))));
                }
            if (phases)
            {
                var (m, n, k) = quick ? PaperShapes[0] : (8192, 4096, 4096);
                var g = new GraphResult { M = m, N = n, K = k };
                byte* msg = stackalloc byte[512];
                int st = Native.BenchGraph(ctx, m, n, k, group, runs, seed, out int cap, out int ident, out double rms, msg, 512);
                if (st != 0) g.Error = Native.LastError();
                g.Captured = cap == 1;
                g.Identical = ident == 1;
                g.ReplayMs = rms;
                g.Message = new string((sbyte*)msg);
                report.Graph = g;
                Console.WriteLine($"CUDA graph of forward+backward at {m}x{n}x{k}: captured {g.Captured}, replay identical {g.Identical}, replay {rms:F3} ms; {g.Message} {g.Error}");
            }
        }
        finally
        {
            Save();
            Native.ContextDestroy(ctx);
        }
        Console.WriteLine();
        Console.WriteLine(Markdown.Render(report));
        Console.WriteLine($"wrote {jsonPath} and {mdPath}");
        bool anyFailed = report.Shapes.SelectMany(s => s.Ops).Any(o => o.CheckOk == 0);
        return anyFailed ? 4 : 0;
    }

    internal static OpResult Time(IntPtr ctx, string op, int m, int n, int k, int group, int warmup, int runs, int sets, ulong seed)
    {
        int st = Native.BenchRun(ctx, op, m, n, k, group, warmup, runs, sets, seed, out BenchResult r);
        if (st != 0) return new OpResult { Op = op, Error = $"status {st}: {Native.LastError()}", CheckOk = -1 };
        return new OpResult
        {
            Op = op, MedianMs = r.MedianMs, MinMs = r.MinMs, P90Ms = r.P90Ms, MeanMs = r.MeanMs, Ops = r.Ops,
            Rate = r.MedianMs > 0 ? r.Ops / (r.MedianMs * 1e-3) / 1e12 : 0, Runs = r.Runs, CheckOk = r.CheckOk,
            CheckErr = r.CheckErr, Check = r.Text,
        };
    }
}

internal static class Markdown
{
    private static string F(double v, string fmt = "F0") => double.IsFinite(v) && v > 0 ? v.ToString(fmt, CultureInfo.InvariantCulture) : "–";

    // The layer on the paper's operator-benchmark gradients (half the rows of ∇Y zero, Bernoulli LSS) beside the
    // Nonzero mode on gradients with every row nonzero. The Bernoulli backward runs its GEMMs over the kept rows only
    // (native/src/ops/lss_compact.cu): ∇W over the N/2 kept tokens, ∇X over the N kept stacked rows.
    private static void AppendBernoulli(StringBuilder sb, Report r)
    {
        var rows = r.Shapes.Where(s => s.Get("linear_int4_bernoulli") != null).ToList();
        if (rows.Count == 0) return;
        sb.AppendLine();
        sb.AppendLine("INT4 layer (fwd+bwd) by sampling mode: Nonzero on gradients with every row nonzero (a causal LM's), " +
                      "Bernoulli on the paper's operator-benchmark gradients (every other row of ∇Y zero).");
        sb.AppendLine();
        sb.AppendLine("| shape (N×C×D) | Nonzero ms | Bernoulli, ½ rows zero ms | Bernoulli / Nonzero |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var s in rows)
        {
            OpResult? nz = s.Get("linear_int4"), be = s.Get("linear_int4_bernoulli");
            sb.AppendLine($"| {s.Label} | {F(nz?.MedianMs ?? 0, "F2")} | {F(be?.MedianMs ?? 0, "F2")} | {F(Ratio(be, nz), "F2")} |");
        }
    }

    internal static double Ratio(OpResult? num, OpResult? den, double numScale = 1) =>
        num != null && den != null && den.MedianMs > 0 ? numScale * num.MedianMs / den.MedianMs : double.NaN;

    internal static string Render(Report r)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Int4Train benchmark — {r.Device} (cc {r.ComputeCapability}), {r.Date}");
        sb.AppendLine();
        sb.AppendLine($"Median of {r.Runs} runs after {r.Warmup} warm-up runs, {r.Sets} rotating input sets, seed {r.Seed}, G = {r.Group}. {r.Notes}");
        sb.AppendLine();
        sb.AppendLine("GEMM columns: TOPS (int) or TFLOP/s (bf16/fp16/fp8) at the median. Speed-ups are BF16 time / our time: GEMM vs the cuBLASLt BF16 GEMM; " +
                      "HQ fwd vs one BF16 GEMM; LSS (∇W + ∇X) vs two BF16 GEMMs; layer (fwd+bwd) vs the BF16 linear (3 cuBLASLt GEMMs). " +
                      "FP8 (what a Hopper user would pick instead): FP8 GEMM ×BF16 = cuBLASLt BF16 / cuBLASLt FP8 (e4m3, per-tensor scales) time; " +
                      "the FP8 layer is forward + backward from BF16 X, W, ∇Y with current scaling, its amax and cast passes included (perf/README.md); " +
                      "INT4 layer ×FP8 layer = FP8 layer time / INT4 layer time.");
        sb.AppendLine();
        string[] header =
        [
            "shape (N×C×D)", "cfg", "our int GEMM", "cuBLASLt INT8", "cuBLASLt BF16", "cuBLASLt FP16", "cuBLASLt FP8", "GEMM ×BF16",
            "FP8 GEMM ×BF16", "HQ fwd ms", "×BF16", "LSS ∇W ms", "LSS ∇X ms", "×2 BF16", "INT4 layer ms", "BF16 layer ms", "×BF16",
            "FP8 layer ms", "FP8 layer ×BF16", "INT4 layer ×FP8 layer", "INT4 BF16-io layer ms", "INT4 BF16-io ×BF16",
            "INT4 BF16-io ×FP8 layer", "checks",
        ];
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var s in r.Shapes)
        {
            OpResult? g = s.Get("gemm_s8"), i8 = s.Get("lt_int8"), bf = s.Get("lt_bf16"), fp = s.Get("lt_fp16"), f8 = s.Get("lt_fp8");
            OpResult? hq = s.Get("hq_forward"), gw = s.Get("lss_grad_weight"), gx = s.Get("lss_grad_input");
            OpResult? li = s.Get("linear_int4"), lb = s.Get("linear_bf16"), lf = s.Get("linear_fp8");
            OpResult? lio = s.Get("linear_int4_bf16io");  // the INT4 layer on BF16 activations (X, ∇Y in, ∇X out)
            double lss = gw != null && gx != null ? gw.MedianMs + gx.MedianMs : double.NaN;
            double lssRatio = bf != null && lss > 0 ? 2 * bf.MedianMs / lss : double.NaN;
            int failed = s.Ops.Count(o => o.CheckOk == 0), errors = s.Ops.Count(o => o.Error != null);
            int passed = s.Ops.Count(o => o.CheckOk == 1);
            string checks = $"{passed} ok" + (failed > 0 ? $", **{failed} FAILED**" : "") + (errors > 0 ? $", {errors} errors" : "");
            string[] cells =
            [
                s.Label, s.GemmPick.ToString(CultureInfo.InvariantCulture), $"{F(g?.Rate ?? 0)} ({F(g?.MedianMs ?? 0, "F3")} ms)", F(i8?.Rate ?? 0),
                $"{F(bf?.Rate ?? 0)} ({F(bf?.MedianMs ?? 0, "F3")} ms)", F(fp?.Rate ?? 0), f8 == null ? "–" : $"{F(f8.Rate)} ({F(f8.MedianMs, "F3")} ms)",
                F(Ratio(bf, g), "F2"), F(Ratio(bf, f8), "F2"), F(hq?.MedianMs ?? 0, "F3"), F(Ratio(bf, hq), "F2"), F(gw?.MedianMs ?? 0, "F3"),
                F(gx?.MedianMs ?? 0, "F3"), F(lssRatio, "F2"), F(li?.MedianMs ?? 0, "F2"), F(lb?.MedianMs ?? 0, "F2"), F(Ratio(lb, li), "F2"),
                F(lf?.MedianMs ?? 0, "F2"), F(Ratio(lb, lf), "F2"), F(Ratio(lf, li), "F2"), F(lio?.MedianMs ?? 0, "F2"),
                F(Ratio(lb, lio), "F2"), F(Ratio(lf, lio), "F2"), checks,
            ];
            sb.AppendLine("| " + string.Join(" | ", cells) + " |");
        }
        AppendBernoulli(sb, r);
        var cfgShapes = r.Shapes.Where(s => s.Ops.Any(o => o.Op.StartsWith("gemm_s8_cfg", StringComparison.Ordinal))).ToList();
        if (cfgShapes.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine($"CUTLASS SM90 configurations (TOPS at the median; all bit-exact vs cuBLASLt INT8 where 'ok'): {r.GemmConfigs}");
            sb.AppendLine();
            var names = cfgShapes[0].Ops.Where(o => o.Op.StartsWith("gemm_s8_cfg", StringComparison.Ordinal)).Select(o => o.Op).ToList();
            sb.AppendLine("| shape | " + string.Join(" | ", names) + " | picked |");
            sb.AppendLine("|---|" + string.Concat(names.Select(_ => "---|")) + "---|");
            foreach (var s in cfgShapes)
                sb.AppendLine($"| {s.Label} | " + string.Join(" | ", names.Select(n =>
                {
                    var o = s.Ops.Find(x => x.Op == n);
                    return o == null ? "–" : o.Error != null ? "error" : $"{F(o.Rate)}{(o.CheckOk == 1 ? "" : " (check failed)")}";
                })) + $" | {s.GemmPick} |");
        }
        if (r.Phases.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Per-phase breakdown (median ms of each phase timed in sequence; Fig. 6 of the paper):");
            sb.AppendLine();
            foreach (var p in r.Phases)
            {
                if (p.Error != null) { sb.AppendLine($"- {p.Which} {p.M}×{p.N}×{p.K}: error {p.Error}"); continue; }
                double tot = p.Ms.Sum();
                sb.AppendLine($"- {p.Which} {p.M}×{p.N}×{p.K} (total {tot:F3} ms): " +
                              string.Join(", ", p.Names.Zip(p.Ms, (n, ms) => $"{n} {ms:F3} ms ({100 * ms / tot:F0}%)")));
            }
            sb.AppendLine();
            sb.Append(PhaseBandwidth.Render(r));
        }
        if (r.Graph != null)
        {
            var g = r.Graph;
            sb.AppendLine();
            sb.AppendLine($"CUDA graph (hq_forward + linear_backward captured on one stream, global capture mode) at {g.M}×{g.N}×{g.K}: " +
                          $"captured **{(g.Captured ? "yes" : "no")}**, replay bit-identical to eager: **{(g.Identical ? "yes" : "no")}**, " +
                          $"replay {g.ReplayMs:F3} ms. {g.Message} {g.Error}");
        }
        sb.AppendLine();
        sb.AppendLine("Activation bytes kept for the backward per element of X: " +
                      string.Join("; ", r.ActivationBytesPerInputElement.Select(kv => $"{kv.Key}: {kv.Value}")));
        var fails = r.Shapes.SelectMany(s => s.Ops.Where(o => o.CheckOk == 0 || o.Error != null).Select(o => $"{s.Label} {o.Op}: {o.Error ?? o.Check}")).ToList();
        if (fails.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Failed checks / errors (their times are not reported above):");
            foreach (string f in fails) sb.AppendLine($"- {f}");
        }
        return sb.ToString();
    }
}
