using ScottPlot;

namespace Int4Train.Cli;

/// <summary>The PNG of a comparison (ScottPlot 5): validation loss against step, one line per run, with a legend.</summary>
internal static class ComparePlot
{
    private static readonly Color[] Palette = [Colors.Crimson, Colors.DarkOrange, Colors.SteelBlue, Colors.SeaGreen, Colors.Purple, Colors.Gray];

    public static void Write(IReadOnlyList<LossCurve> runs, string png, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var plt = new Plot();
        for (int i = 0; i < runs.Count; i++)
        {
            var evals = runs[i].Evaluations.ToArray();
            if (evals.Length == 0) continue;
            var line = plt.Add.Scatter(evals.Select(r => (double)r.Step).ToArray(), evals.Select(r => r.ValidationLoss!.Value).ToArray());
            line.LegendText = runs[i].BestValidation is { } b ? $"{runs[i].Label} (best {b.Loss:F4} @ {b.Step})" : runs[i].Label;
            line.Color = Palette[i % Palette.Length];
            line.LineWidth = 2;
            line.MarkerSize = evals.Length > 60 ? 0 : 5;
        }
        plt.Axes.Bottom.Label.Text = "step";
        plt.Axes.Left.Label.Text = "validation loss (cross-entropy, nats/char)";
        plt.Title(title ?? "Int4Train: validation loss by precision");
        plt.ShowLegend(Alignment.UpperRight);
        byte[] bytes = plt.GetImageBytes(1000, 620, ImageFormat.Png);
        Int4Train.Training.AtomicFile.Write(png, s => s.Write(bytes)); // a report is replaced whole, as every other output
    }
}
