using System.Diagnostics;
using System.Text.Json;
using Int4Train.Training;

namespace Int4Train.Bench;

/// <summary>
/// Int4Train.Bench gpt [--preset baby-gpt] [--layers N] [--heads N] [--width N] [--context N] [--batch N] [--micro-batch N]
///                     [--precisions bf16,fp32,int4,int4-lsq] [--data FILE] [--steps N] [--warmup N] [--group N]
///                     [--graph on|off] [--torch-script perf/training/torch_gpt.py | --torch FILE.json] [--out DIR]
///                     [--name NAME]
///   training speed of the device GPT (DeviceGptModel) per precision, for any preset with the CLI's size overrides:
///   warm-up steps (cold start, block-size search, graph capture), then the median and mean of timed steps, each step
///   the trainer's own queued step (<see cref="Trainer.TrainSteps"/>: zero grad, forward+backward per pass, AdamW; one
///   CUDA graph a step with --graph on, the default), timed in groups of --group steps whose losses are read back at
///   the group's end (the time per step is the group's time / its steps). Reports
///   tokens/s, ms/step, model FLOPs utilisation against the H200's dense BF16 peak and the device memory the model
///   holds (<see cref="DeviceGptModel.DeviceMemoryBytes"/>). --torch-script runs the PyTorch baseline of the same
///   configuration in the same job (after our runs, in its own process); --torch reads one measured before.
///   Writes DIR/&lt;date&gt;-&lt;gpu&gt;-gpt-speed-&lt;preset&gt;.json and .md (GptSpeedReport).
/// </summary>
internal static class GptSpeed
{
    /// <summary>The H200's dense BF16 tensor-core peak (FLOP/s), the MFU denominator for every precision.</summary>
    internal const double PeakFlops = 989e12;

    internal sealed record Row(string Precision, double MsPerStepMedian, double MsPerStepMean, double TokensPerSecond,
        double Mfu, long PeakMemoryBytes, double? FinalLoss);

    /// <summary>Model FLOPs per trained token: 6 per parameter (forward + backward) plus the attention's
    /// 12·layers·context·width (PaLM's appendix B; QKᵀ and AV, forward and backward, at full context).</summary>
    internal static double FlopsPerToken(long parameters, GptConfig c) => 6.0 * parameters + 12.0 * c.Layers * c.Context * c.Width;

    public static int Run(string[] args)
    {
        string Opt(string name, string fallback) => Runner.Arg(args, name, fallback);
        int? OptInt(string name) => Opt(name, "") is { Length: > 0 } v ? Runner.ParseInt(name, v) : null;
        string preset = Opt("--preset", "baby-gpt");
        var config = GptConfig.Preset(preset);
        config = config with
        {
            Layers = OptInt("--layers") ?? config.Layers, Heads = OptInt("--heads") ?? config.Heads, Width = OptInt("--width") ?? config.Width,
            Context = OptInt("--context") ?? config.Context, BatchSize = OptInt("--batch") ?? config.BatchSize,
            MicroBatch = OptInt("--micro-batch") ?? config.MicroBatch,
        };
        if (config.MicroBatch == config.BatchSize) config = config with { MicroBatch = 0 };
        int warmup = Math.Max(1, Runner.ArgInt(args, "--warmup", 10));
        // The timed steps are the steady state: the INT4 cold start (step sizes re-initialised on every forward, steps
        // run eagerly, not as replayed graphs) ends inside the warm-up and no re-initialisation (a block-size search)
        // falls among them. The presets' 100-step cold start outlasted the whole timed window before 2026-12-01.
        config = config with { ColdStartSteps = Math.Min(config.ColdStartSteps, Math.Max(1, warmup - 2)), ReinitializeAtStep = -1 };
        config.Validate();
        string[] precisions = Opt("--precisions", "bf16,fp32,int4,int4-lsq").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string dataPath = Opt("--data", "");
        string text = dataPath.Length > 0 ? File.ReadAllText(dataPath) : BuiltInText.Text;
        int steps = Runner.ArgInt(args, "--steps", 30);
        int group = Math.Max(1, Runner.ArgInt(args, "--group", 5));
        bool graphs = Opt("--graph", "on") switch
        {
            "on" => true,
            "off" => false,
            var v => throw new BenchException($"--graph must be on or off, not '{v}'"),
        };
        string outDir = Opt("--out", "perf/results");
        var rows = new List<Row>();
        string device = "";
        long parameters = 0;
        foreach (string p in precisions)
        {
            var cfg = config with { Precision = GptConfig.ParsePrecision(p) };
            DeviceGptModel? model = null;
            using var trainer = Trainer.Create(cfg, text, (c, v) => model = DeviceGptModel.Create(c, v, cudaGraphs: graphs));
            device = model!.Description.Split(':')[0].Replace("CUDA ", "", StringComparison.Ordinal).Split(" (sm_")[0];
            parameters = model.ParameterCount;
            var times = new List<double>();
            double loss = double.NaN;
            // Steps are queued as the trainer runs them (one CUDA graph a step once the INT4 policy allows it) and timed
            // in groups of `group`: a group is done when its losses are read back; its time / group is one sample.
            trainer.TrainSteps(warmup, 5000);
            for (int done = 0; done < steps; done += group)
            {
                int count = Math.Min(group, steps - done);
                var sw = Stopwatch.StartNew();
                loss = trainer.TrainSteps(count, 5000)[^1];
                times.Add(sw.Elapsed.TotalMilliseconds / count);
            }
            times.Sort();
            double median = times[times.Count / 2], mean = times.Average();
            double tps = (double)cfg.BatchSize * cfg.Context / (mean / 1000);
            double mfu = tps * FlopsPerToken(parameters, cfg) / PeakFlops;
            var row = new Row(p, median, mean, tps, mfu, model.DeviceMemoryBytes, loss);
            rows.Add(row);
            Console.WriteLine($"{p,-9} {median,8:F2} ms/step (median)  {mean,8:F2} mean  {tps,12:N0} tokens/s  MFU {100 * mfu,5:F1}%  " +
                $"memory {row.PeakMemoryBytes / 1048576.0,9:N0} MiB  loss {loss:F4}");
        }
        string name = Opt("--name", Runner.GpuShortName(device));
        Directory.CreateDirectory(outDir);
        JsonElement? torch = Torch(Opt("--torch", ""), Opt("--torch-script", ""), config, dataPath, steps, warmup, Path.Combine(outDir, $"torch-speed-{preset}.json"));
        if (torch is { } tj && tj.TryGetProperty("tokens_per_s", out var ttps))
        {
            double tps = ttps.GetDouble(), ms = tj.GetProperty("ms_per_step").GetDouble();
            long mem = tj.TryGetProperty("max_memory_allocated", out var m) ? m.GetInt64() : 0;
            rows.Add(new Row("torch-bf16", ms, ms, tps, tps * FlopsPerToken(parameters, config) / PeakFlops, mem, null));
        }
        GptSpeedReport.Write(Path.Combine(outDir, $"{DateTime.UtcNow:yyyy-MM-dd}-{name}-gpt-speed-{preset}"),
            new GptSpeedReport.Data(device, preset, config, parameters, FlopsPerToken(parameters, config), steps, warmup, rows, torch, graphs, group));
        return 0;
    }

    /// <summary>The PyTorch baseline: read from a file, or measured now by running the script on the same configuration.</summary>
    private static JsonElement? Torch(string file, string script, GptConfig c, string data, int steps, int warmup, string json)
    {
        if (script.Length > 0)
        {
            if (data.Length == 0) throw new BenchException("--torch-script needs --data (the script reads the text from a file).");
            var psi = new ProcessStartInfo("python3") { UseShellExecute = false };
            foreach (string a in new[]
                     {
                         script, "--data", data, "--json", json, "--steps", steps.ToString(), "--warmup", warmup.ToString(),
                         "--layers", c.Layers.ToString(), "--heads", c.Heads.ToString(), "--width", c.Width.ToString(),
                         "--context", c.Context.ToString(), "--batch", c.BatchSize.ToString(), "--micro-batch", c.PassBatch.ToString(),
                         "--dropout", c.Dropout.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start python3");
            p.WaitForExit();
            if (p.ExitCode != 0) { Console.WriteLine($"torch baseline: {script} exited with {p.ExitCode}; the report has no PyTorch row"); return null; }
            file = json;
        }
        return file.Length > 0 && File.Exists(file) ? JsonDocument.Parse(File.ReadAllText(file)).RootElement.Clone() : null;
    }
}
