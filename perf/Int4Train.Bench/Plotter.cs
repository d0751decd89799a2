using ScottPlot;

namespace Int4Train.Bench;

/// <summary>The PNG chart: speed-up over BF16 per shape for the GEMM, HQ forward, LSS (∇W+∇X) and the whole layer, beside
/// the FP8 baselines (cuBLASLt FP8 GEMM, FP8 layer).</summary>
internal static class Plotter
{
    internal static void Plot(Report r, string png)
    {
        var plt = new Plot();
        (string Name, Color Color, Func<ShapeResult, double> Value)[] series =
        [
            ("int GEMM vs cuBLASLt BF16", Colors.SteelBlue, s => Markdown.Ratio(s.Get("lt_bf16"), s.Get("gemm_s8"))),
            ("cuBLASLt INT8 vs BF16", Colors.LightSteelBlue, s => Markdown.Ratio(s.Get("lt_bf16"), s.Get("lt_int8"))),
            ("HQ forward vs BF16 GEMM", Colors.DarkOrange, s => Markdown.Ratio(s.Get("lt_bf16"), s.Get("hq_forward"))),
            ("LSS dW+dX vs 2 BF16 GEMMs", Colors.SeaGreen, s =>
            {
                OpResult? bf = s.Get("lt_bf16"), gw = s.Get("lss_grad_weight"), gx = s.Get("lss_grad_input");
                return bf != null && gw != null && gx != null ? 2 * bf.MedianMs / (gw.MedianMs + gx.MedianMs) : double.NaN;
            }),
            ("INT4 layer fwd+bwd vs BF16 layer", Colors.Crimson, s => Markdown.Ratio(s.Get("linear_bf16"), s.Get("linear_int4"))),
            ("INT4 layer, BF16 activations, vs BF16 layer", Colors.IndianRed,
                s => Markdown.Ratio(s.Get("linear_bf16"), s.Get("linear_int4_bf16io"))),
            ("cuBLASLt FP8 GEMM vs BF16", Colors.Plum, s => Markdown.Ratio(s.Get("lt_bf16"), s.Get("lt_fp8"))),
            ("FP8 layer fwd+bwd vs BF16 layer", Colors.Purple, s => Markdown.Ratio(s.Get("linear_bf16"), s.Get("linear_fp8"))),
        ];
        var shapes = r.Shapes;
        double width = 1.0 / (series.Length + 1);
        var ticks = new List<Tick>();
        for (int si = 0; si < series.Length; si++)
        {
            var bars = new List<Bar>();
            for (int i = 0; i < shapes.Count; i++)
            {
                double v = series[si].Value(shapes[i]);
                if (!double.IsFinite(v)) continue;
                bars.Add(new Bar { Position = i + (si - (series.Length - 1) / 2.0) * width, Value = v, Size = width * 0.9, FillColor = series[si].Color, LineWidth = 0 });
            }
            var bp = plt.Add.Bars(bars);
            bp.LegendText = series[si].Name;
        }
        for (int i = 0; i < shapes.Count; i++) ticks.Add(new Tick(i, shapes[i].Label));
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. ticks]);
        plt.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plt.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plt.Axes.Bottom.MinimumSize = 140;
        var one = plt.Add.HorizontalLine(1.0);
        one.Color = Colors.Black;
        one.LinePattern = LinePattern.Dashed;
        var two = plt.Add.HorizontalLine(2.0);
        two.Color = Colors.Gray;
        two.LinePattern = LinePattern.Dotted;
        plt.Axes.Left.Label.Text = "speed-up over BF16 (×)";
        plt.Title($"Int4Train on {r.Device}: INT4 (on INT8 tensor cores) vs cuBLASLt BF16 — {r.Date}");
        plt.ShowLegend(Alignment.UpperRight);
        plt.Axes.Margins(bottom: 0);
        plt.SavePng(png, Math.Max(1200, 70 * shapes.Count + 300), 800);
    }
}
