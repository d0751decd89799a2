using System.Globalization;
using System.Text;

namespace Int4Train.Bench;

/// <summary>
/// The bytes each element-wise phase of the layer (native phase names, `phase_done` in native/src/ops) must move, and
/// its bandwidth beside the device-to-device copy's (op copy_d2d, counted read + write like these).
/// Shapes: n tokens (M), c outputs (N), d inputs (K); X fp32 [n,d], W fp32 [c,d], ∇Y fp32 [n,c]; INT4 codes as int8
/// (1 B) in the GEMM layouts and packed (½ B). Padding to the GEMM tiles is not counted: these are the bytes the pass
/// cannot avoid, so GB/s = bytes / time is what the issue's "% of copy" targets are about.
///   Hadamard+quantize+pack X: read X 4nd, write the int8 codes nd and the packed codes ½nd          = 5.5·nd
///   Hadamard+quantize+pack W: the same for W                                                       = 5.5·cd
///   ∇Y min/max (split scales), without ∇b: read ∇Y 4nc (the min/max partials are negligible)       = 4·nc
///   ∇Y min/max + bias partials (one read), with ∇b: read ∇Y 4nc, write ∇b's strip sums, one double
///     a column per 256 rows 8c·⌈n/256⌉                                                             = 4·nc + 8·c·⌈n/256⌉
///   bit split digits (either form): read ∇Y 4nc, write 2 int8 a gradient element (high + low digits,
///     or the folded digits in both GEMM layouts) 2nc                                                = 6·nc
///   leverage scores+select: unpack X codes (read ½nd, write nd), row norms for ∇W (read high + low 2nc
///     and the X codes nd) and for ∇X (read high + low 2nc)                                         = 4·nc + 2.5·nd
///   kept rows compacted (Bernoulli): read both selections' keep flags 2·2n and the ∇W probabilities 8·2n,
///     write the ∇X row positions 4·2n (the lists of kept rows depend on the counts and are not counted) = 28·n
///     (a latency-bound pass of three CTAs plus, eager, one stream synchronisation for the counts)
///   codes transposed (X, W), one launch of native/src/ops/transpose_codes.cu: read the packed codes ½ B a code,
///     write the int8 transposes 1 B a code (the zero rows padding n and c up to the GEMM's K, fewer than 32 a
///     column, are written too but, like all padding here, not counted: none at n, c multiples of 32)      = 1.5·(nd + cd)
///   recompute+LSQ backward+back-transform (fused), per operand: read V 4, read the gradient 4, write
///     the gradient 4 bytes an element                                                              = 12·(nd + cd)
///   bias gradient (sum of the strip partials): read the strip sums 8c·⌈n/256⌉, write ∇b 4c           = 8·c·⌈n/256⌉ + 4·c
///   dequantize (the path without the GEMM epilogue): read the int32 product 4nc, write Y 4nc        = 8·nc
/// GEMM phases are not element-wise and get no figure.
/// </summary>
internal static class PhaseBandwidth
{
    private static readonly Dictionary<string, Func<double, double, double, double>> BytesByPhase = new()
    {
        ["hadamard+quantize+pack X"] = (n, c, d) => 5.5 * n * d,
        ["hadamard+quantize+pack W"] = (n, c, d) => 5.5 * c * d,
        ["∇Y min/max (split scales)"] = (n, c, d) => 4 * n * c,
        ["∇Y min/max + bias partials (one read)"] = (n, c, d) => 4 * n * c + 8 * c * Math.Ceiling(n / 256),
        ["bit split digits"] = (n, c, d) => 6 * n * c,
        ["bit split digits (folded, both layouts)"] = (n, c, d) => 6 * n * c,
        ["leverage scores+select"] = (n, c, d) => 4 * n * c + 2.5 * n * d,
        ["kept rows compacted"] = (n, c, d) => 28 * n,
        ["codes transposed (X, W)"] = (n, c, d) => 1.5 * (n * d + c * d),
        ["recompute+LSQ backward+back-transform (fused)"] = (n, c, d) => 12 * (n * d + c * d),
        ["bias gradient (sum of the strip partials)"] = (n, c, d) => 8 * c * Math.Ceiling(n / 256) + 4 * c,
        ["dequantize"] = (n, c, d) => 8 * n * c,
    };

    /// <summary>The phases that are (or contain) a GEMM: no bandwidth figure.</summary>
    internal static readonly HashSet<string> GemmPhases =
    [
        "int GEMM", "int GEMM + dequantize (epilogue)", "LSS dW (pack+GEMM+dequant)", "LSS dX (pack+GEMM+dequant)",
        "LSS dW (GEMM, scaling epilogue)", "LSS dX (GEMM, scaling epilogue)",
    ];

    /// <summary>Bytes the phase must move at (n, c, d), or null for a GEMM phase or a name this table does not know.</summary>
    internal static double? Bytes(string phase, int n, int c, int d) =>
        BytesByPhase.TryGetValue(phase, out var f) ? f(n, c, d) : null;

    internal static bool Knows(string phase) => BytesByPhase.ContainsKey(phase) || GemmPhases.Contains(phase);

    /// <summary>GB/s (1e9 bytes) of the copy: its Ops are the bytes it moved (read + write).</summary>
    internal static double CopyGBps(OpResult? copy) =>
        copy != null && copy.Error == null && copy.CheckOk != 0 && copy.MedianMs > 0 ? copy.Ops / (copy.MedianMs * 1e-3) / 1e9 : double.NaN;

    /// <summary>The Markdown table: each element-wise phase's bytes, GB/s and % of the copy's GB/s.</summary>
    internal static string Render(Report r)
    {
        var sb = new StringBuilder();
        double copy = CopyGBps(r.Copy);
        string copyText = double.IsFinite(copy)
            ? $"{copy.ToString("F0", CultureInfo.InvariantCulture)} GB/s ({(r.Copy!.Ops / 2 / 1e9).ToString("F2", CultureInfo.InvariantCulture)} GB buffer, read + write counted)"
            : "not measured";
        sb.AppendLine($"Element-wise phases against the device-to-device copy, {copyText}; bytes = reads + writes the pass cannot avoid (formulas: perf/Int4Train.Bench/PhaseBandwidth.cs):");
        sb.AppendLine();
        sb.AppendLine("| pass | shape | phase | ms | MB moved | GB/s | % of copy |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|");
        foreach (var p in r.Phases.Where(p => p.Error == null))
            for (int i = 0; i < Math.Min(p.Names.Count, p.Ms.Count); i++)
            {
                if (Bytes(p.Names[i], p.M, p.N, p.K) is not double bytes || p.Ms[i] <= 0) continue;
                double gbps = bytes / (p.Ms[i] * 1e-3) / 1e9;
                string pct = double.IsFinite(copy) ? (100 * gbps / copy).ToString("F0", CultureInfo.InvariantCulture) + " %" : "–";
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {p.Which} | {p.M}×{p.N}×{p.K} | {p.Names[i]} | {p.Ms[i]:F3} | {bytes / 1e6:F0} | {gbps:F0} | {pct} |"));
            }
        return sb.ToString();
    }
}
