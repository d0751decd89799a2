using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Int4Train.Training;

namespace Int4Train.Bench;

/// <summary>
/// Int4Train.Bench gpt [--preset baby-gpt] [--precisions bf16,fp32,int4,int4-lsq] [--data FILE] [--steps N] [--warmup N]
///                     [--torch FILE.json] [--out DIR] [--name NAME]
///   training speed of the device GPT (DeviceGptModel) per precision: warm-up steps (cold start, block-size search),
///   then the median and mean of timed steps, each step as the trainer runs it (zero grad, forward with the loss read
///   back, backward, AdamW). --torch adds the PyTorch baseline measured by perf/training/torch_gpt.py in the same job.
///   Writes DIR/&lt;date&gt;-NAME-gpt-speed.json and .md.
/// </summary>
internal static class GptSpeed
{
    internal sealed record Row(string Precision, double MsPerStepMedian, double MsPerStepMean, double TokensPerSecond, double FinalLoss);

    public static int Run(string[] args)
    {
        string Opt(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var config = GptConfig.Preset(Opt("--preset", "baby-gpt"));
        string[] precisions = Opt("--precisions", "bf16,fp32,int4,int4-lsq").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string? dataPath = Opt("--data", "");
        string text = dataPath.Length > 0 ? File.ReadAllText(dataPath) : BuiltInText.Text;
        int steps = int.Parse(Opt("--steps", "30")), warmup = int.Parse(Opt("--warmup", "10"));
        string outDir = Opt("--out", "perf/results"), name = Opt("--name", "h100");
        var data = new CharDataset(text, config.ValidationFraction, config.Context);
        var rows = new List<Row>();
        string device = "";
        foreach (string p in precisions)
        {
            var cfg = config with { Precision = GptConfig.ParsePrecision(p) };
            using var model = DeviceGptModel.Create(cfg, data.VocabSize);
            device = model.Description.Split(':')[0];
            var times = new List<double>();
            double loss = double.NaN;
            for (int s = 0; s < warmup + steps; s++)
            {
                var (x, y) = data.Batch(false, cfg.BatchSize, cfg.Context, (ulong)(1000 + s));
                var sw = Stopwatch.StartNew();
                model.ZeroGrad();
                loss = model.Forward(x, y, cfg.BatchSize, s, training: true);
                model.Backward();
                model.OptimizerStep(AdamW.LearningRate(cfg, s, 5000));
                if (s >= warmup) times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            double median = times[times.Count / 2], mean = times.Average();
            double tps = (double)cfg.BatchSize * cfg.Context / (mean / 1000);
            rows.Add(new Row(p, median, mean, tps, loss));
            Console.WriteLine($"{p,-9} {median,8:F2} ms/step (median)  {mean,8:F2} mean  {tps,12:N0} tokens/s  loss {loss:F4}");
        }
        JsonElement? torch = null;
        string torchPath = Opt("--torch", "");
        if (torchPath.Length > 0 && File.Exists(torchPath)) torch = JsonDocument.Parse(File.ReadAllText(torchPath)).RootElement.Clone();

        Directory.CreateDirectory(outDir);
        string stem = Path.Combine(outDir, $"{DateTime.UtcNow:yyyy-MM-dd}-{name}-gpt-speed");
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(new
        {
            device, preset = Opt("--preset", "baby-gpt"), batch = config.BatchSize, context = config.Context, steps, warmup,
            rows, torch,
        }, Program.Json));
        var md = new StringBuilder();
        md.AppendLine($"# GPT training speed — {Opt("--preset", "baby-gpt")} (batch {config.BatchSize} × context {config.Context}), {device}");
        md.AppendLine();
        md.AppendLine($"Each step: zero grad, forward (loss read back), backward, AdamW; {warmup} warm-up steps, then {steps} timed.");
        md.AppendLine();
        md.AppendLine("| precision | ms/step (median) | ms/step (mean) | tokens/s | vs PyTorch BF16 |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        double torchTps = torch is { } tj && tj.TryGetProperty("tokens_per_s", out var v) ? v.GetDouble() : double.NaN;
        foreach (var r in rows)
            md.AppendLine($"| {r.Precision} | {r.MsPerStepMedian:F2} | {r.MsPerStepMean:F2} | {r.TokensPerSecond:N0} | {(double.IsNaN(torchTps) ? "–" : (r.TokensPerSecond / torchTps).ToString("F2") + "×")} |");
        if (!double.IsNaN(torchTps))
            md.AppendLine($"| PyTorch BF16 autocast, uncompiled ({torch!.Value.GetProperty("torch").GetString()}) | {torch.Value.GetProperty("ms_per_step").GetDouble():F2} | | {torchTps:N0} | 1.00× |");
        File.WriteAllText(stem + ".md", md.ToString());
        Console.WriteLine($"wrote {stem}.json and .md");
        return 0;
    }
}
