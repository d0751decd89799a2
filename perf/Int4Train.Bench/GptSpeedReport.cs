using System.Text;
using System.Text.Json;
using Int4Train.Training;

namespace Int4Train.Bench;

/// <summary>The JSON and Markdown of a <see cref="GptSpeed"/> run: one row per precision (Precision, TokensPerSecond,
/// PeakMemoryBytes, ms/step, MFU), the PyTorch BF16 baseline of the same configuration as the row "torch-bf16".</summary>
internal static class GptSpeedReport
{
    internal sealed record Data(string Device, string Preset, GptConfig Config, long Parameters, double FlopsPerToken,
        int Steps, int Warmup, IReadOnlyList<GptSpeed.Row> Rows, JsonElement? Torch, bool Graphs, int Group);

    /// <summary>Writes STEM.json and STEM.md.</summary>
    public static void Write(string stem, Data d)
    {
        var c = d.Config;
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(new
        {
            d.Device, d.Preset, c.Layers, c.Heads, c.Width, c.Context, Batch = c.BatchSize, MicroBatch = c.PassBatch,
            d.Parameters, d.FlopsPerToken, PeakFlops = GptSpeed.PeakFlops, d.Steps, d.Warmup, d.Group, d.Graphs, d.Rows, d.Torch,
        }, Program.Json));
        var md = new StringBuilder();
        md.AppendLine($"# GPT training speed — {d.Preset}: {c.Layers} layers × {c.Width}, {c.Heads} heads, context {c.Context}, " +
                      $"batch {c.BatchSize} ({c.PassesPerStep} × {c.PassBatch} a pass), {d.Parameters:N0} parameters, {d.Device}");
        md.AppendLine();
        md.AppendLine($"Each step: zero grad, forward and backward per pass, AdamW, queued as the trainer runs them " +
                      (d.Graphs ? "(one CUDA graph a step once the INT4 policy allows it)" : "(CUDA graphs off)") +
                      $", losses read back every {d.Group} steps; {d.Warmup} warm-up steps (the INT4 cold start ends inside them: {d.Config.ColdStartSteps} steps; no re-initialisation), then {d.Steps} timed. MFU: tokens/s × {d.FlopsPerToken / 1e9:F2} GFLOP a token (6·N + 12·layers·context·width) " +
                      $"over {GptSpeed.PeakFlops / 1e12:F0} TFLOP/s (H200 dense BF16). Memory: ours, what the model allocated plus " +
                      "the context's workspace; PyTorch's, torch.cuda.max_memory_allocated.");
        md.AppendLine();
        md.AppendLine("| precision | ms/step (median) | ms/step (mean) | tokens/s | MFU | peak memory (MiB) | vs our BF16 | vs PyTorch BF16 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        double ours = d.Rows.FirstOrDefault(r => r.Precision == "bf16")?.TokensPerSecond ?? double.NaN;
        double torch = d.Rows.FirstOrDefault(r => r.Precision == "torch-bf16")?.TokensPerSecond ?? double.NaN;
        static string Ratio(double a, double b) => double.IsNaN(b) ? "–" : (a / b).ToString("F2") + "×";
        foreach (var r in d.Rows)
        {
            string label = r.Precision == "torch-bf16" && d.Torch is { } t && t.TryGetProperty("torch", out var v)
                ? $"PyTorch BF16 autocast, uncompiled ({v.GetString()})" : r.Precision;
            md.AppendLine($"| {label} | {r.MsPerStepMedian:F2} | {r.MsPerStepMean:F2} | {r.TokensPerSecond:N0} | {100 * r.Mfu:F1}% | " +
                          $"{r.PeakMemoryBytes / 1048576.0:N0} | {Ratio(r.TokensPerSecond, ours)} | {Ratio(r.TokensPerSecond, torch)} |");
        }
        File.WriteAllText(stem + ".md", md.ToString());
        Console.WriteLine($"wrote {stem}.json and .md");
    }
}
