using System.Globalization;
using System.Text;
using System.Text.Json;
using Int4Train.Training;

namespace Int4Train.Cli;

/// <summary>The Markdown table of a comparison: per run (labelled by its folder: a precision, or a variant such as
/// int4-paper) the steps, the best validation loss and its
/// step, its ratio to the reference run's (bf16 when present, else the first), the final train loss and the mean
/// tokens/s.</summary>
internal static class CompareReport
{
    /// <summary>The run the ratios are relative to: the one labelled bf16, else the first whose checkpoint says bf16,
    /// else the first.</summary>
    public static LossCurve Reference(IReadOnlyList<LossCurve> runs) =>
        runs.FirstOrDefault(r => r.Label == "bf16") ?? runs.FirstOrDefault(r => r.Config?.Precision == LinearPrecision.Bf16) ?? runs[0];

    /// <summary>The machine-readable summary (compare.json): per run its label (the folder's name), its precision and
    /// block-linear options (from the run's checkpoint; null when unknown), steps, best validation
    /// loss and its step, the ratio of that loss to the reference run's (bf16 when present), the final train loss, the
    /// mean tokens/s and the seed (from the run's checkpoint; null when unknown).</summary>
    public static string Json(IReadOnlyList<LossCurve> runs, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("A comparison needs at least one run.", nameof(runs));
        var reference = Reference(runs);
        double? refBest = reference.BestValidation?.Loss;
        var doc = new
        {
            title,
            reference = reference.Label,
            runs = runs.Select(r => new
            {
                label = r.Label,
                precision = r.Config is { } c ? GptConfig.PrecisionName(c.Precision) : null,
                linears = r.Config?.LinearDescription,
                steps = r.Steps,
                best_val_loss = r.BestValidation?.Loss,
                best_val_step = r.BestValidation?.Step,
                ratio_to_reference = r.BestValidation is { } b && refBest is double rb && rb > 0 ? b.Loss / rb : (double?)null,
                final_train_loss = r.FinalTrainLoss,
                tokens_per_s = r.MeanTokensPerSecond,
                seed = r.Seed,
            }).ToArray(),
        };
        return JsonSerializer.Serialize(doc, JsonOptions) + "\n";
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>The Markdown document (a title line, a note on the steps, the table).</summary>
    public static string Markdown(IReadOnlyList<LossCurve> runs, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("A comparison needs at least one run.", nameof(runs));
        var reference = Reference(runs);
        double? refBest = reference.BestValidation?.Loss;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"# {title ?? "Validation loss by precision"}").AppendLine();
        var steps = runs.Select(r => r.Steps).Distinct().ToArray();
        sb.AppendLine(steps.Length == 1
            ? string.Create(inv, $"Every run trained {steps[0]} steps. Best validation loss is the lowest over the run's evaluations; the ratio is to the {reference.Label} run's.")
            : string.Create(inv, $"**The runs trained different numbers of steps ({string.Join(", ", runs.Select(r => $"{r.Label} {r.Steps}"))})**; the ratio is to the {reference.Label} run's best validation loss."));
        sb.AppendLine();
        sb.AppendLine(inv, $"| run | steps | best val loss | at step | ratio to {reference.Label} | final train loss | mean tokens/s |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
        {
            var best = r.BestValidation;
            string ratio = best is { } b && refBest is double rb && rb > 0 ? (b.Loss / rb).ToString("F4", inv) + "×" : "–";
            sb.AppendLine(inv, $"| {r.Label} | {r.Steps} | {(best is { } b1 ? b1.Loss.ToString("F4", inv) : "–")} | " +
                $"{(best is { } b2 ? b2.Step.ToString(inv) : "–")} | {ratio} | {r.FinalTrainLoss.ToString("F4", inv)} | " +
                $"{r.MeanTokensPerSecond.ToString("N0", inv)} |");
        }
        return sb.ToString();
    }
}
