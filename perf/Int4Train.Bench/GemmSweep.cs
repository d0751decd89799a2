using System.Globalization;
using System.Text;

namespace Int4Train.Bench;

/// <summary>
/// Int4Train.Bench gemm-sweep [--layers "T16384 h4096 up,..."] [--runs N] [--out DIR]: every CUTLASS SM90 configuration
/// of the integer GEMM beside cuBLASLt INT8 at the three GEMM shapes of each layer (forward N×C×D, ∇W C×D×N,
/// ∇X N×D×C), so the per-shape pick (native/src/gemm/sm90/config_table.cu) can be chosen from measurements.
/// Writes DIR/&lt;date&gt;-&lt;gpu&gt;-gemm-sweep.md.
/// </summary>
internal static class GemmSweep
{
    /// <summary>Parses "T16384 h4096 up" into (tokens, outputs, inputs) of the layer.</summary>
    internal static (int N, int C, int D) ParseLayer(string label)
    {
        var p = label.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (p.Length != 3 || p[0][0] != 'T' || p[1][0] != 'h' || (p[2] != "up" && p[2] != "down"))
            throw new BenchException($"layer '{label}': expected 'T<tokens> h<width> up|down'");
        int t = int.Parse(p[0][1..], CultureInfo.InvariantCulture), h = int.Parse(p[1][1..], CultureInfo.InvariantCulture);
        return p[2] == "up" ? (t, 4 * h, h) : (t, h, 4 * h);
    }

    public static unsafe int Run(string[] a)
    {
        string layers = Runner.Arg(a, "--layers", "T16384 h1024 up,T16384 h2048 up,T16384 h4096 up,T16384 h8192 down");
        int runs = Runner.ArgInt(a, "--runs", 10);
        string outDir = Runner.Arg(a, "--out", Path.Combine("perf", "results"));
        Native.EnsureLoaded();
        Native.Check(Native.ContextCreate(0, out IntPtr ctx), "int4train_context_create");
        byte* buf = stackalloc byte[1024];
        Native.Check(Native.ContextInfo(ctx, buf, 256, out int cc, out _), "int4train_context_info");
        string device = new((sbyte*)buf);
        Native.Check(Native.BenchGemmConfigs(4096, 4096, 4096, buf, 1024, out int nconf, out _), "bench_gemm_configs");
        string[] confNames = new string((sbyte*)buf).Split(';');
        var md = new StringBuilder();
        md.AppendLine($"# Integer GEMM configurations per layer GEMM — {device} (cc {cc}), {DateTime.UtcNow:yyyy-MM-dd}");
        md.AppendLine();
        md.AppendLine($"TOPS at the median of {runs} runs (3 rotating input sets); every configuration checked bit-exact against cuBLASLt INT8. Configurations: {string.Join("; ", confNames)}.");
        md.AppendLine();
        md.AppendLine("| layer | GEMM | M×N×K | picked | " + string.Join(" | ", Enumerable.Range(0, nconf).Select(c => $"cfg {c}")) + " | cuBLASLt INT8 |");
        md.AppendLine("|---|---|---|---|" + string.Concat(Enumerable.Repeat("---|", nconf + 1)));
        try
        {
            foreach (string label in layers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var (n, c, d) = ParseLayer(label);
                foreach (var (what, m, nn, k) in new[] { ("forward", n, c, d), ("∇W", c, d, n), ("∇X", n, d, c) })
                {
                    Native.Check(Native.BenchGemmConfigs(m, nn, k, buf, 1024, out _, out int pick), "bench_gemm_configs");
                    var cells = new List<string>();
                    for (int cfg = 0; cfg < nconf; cfg++) cells.Add(Cell(ctx, $"gemm_s8_cfg{cfg}", m, nn, k, runs));
                    string lt = Cell(ctx, "lt_int8", m, nn, k, runs);
                    string row = $"| {label} | {what} | {m}×{nn}×{k} | {pick} | {string.Join(" | ", cells)} | {lt} |";
                    Console.WriteLine(row);
                    md.AppendLine(row);
                }
            }
        }
        finally
        {
            Native.ContextDestroy(ctx);
        }
        Directory.CreateDirectory(outDir);
        string path = Path.Combine(outDir, $"{DateTime.UtcNow:yyyy-MM-dd}-{Runner.GpuShortName(device)}-gemm-sweep.md");
        File.WriteAllText(path, md.ToString());
        Console.WriteLine($"wrote {path}");
        return 0;
    }

    private static string Cell(IntPtr ctx, string op, int m, int n, int k, int runs)
    {
        OpResult r = Runner.Time(ctx, op, m, n, k, 32, 3, runs, 3, 20260501);
        if (r.Error != null) return "error";
        string tops = r.Rate.ToString("F0", CultureInfo.InvariantCulture);
        return r.CheckOk == 0 ? $"{tops} CHECK FAILED" : tops;
    }
}
