using Int4Train.Reference;
using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>`int4train train` and `int4train sample`: the GPT trainer on the host (CPU reference backend unless a GPU
/// and the native library are present for the INT4 layers).</summary>
internal static class TrainCommand
{
    public static int Train(string[] args)
    {
        using var factory = Logging();
        var log = factory.CreateLogger("int4train");
        try
        {
            string? dataPath = Opt(args, "--data"), resume = Opt(args, "--resume");
            string outDir = Opt(args, "--out") ?? "runs/" + (Opt(args, "--preset") ?? "tiny") + "-" + (Opt(args, "--precision") ?? "int4");
            var config = GptConfig.Preset(Opt(args, "--preset") ?? "tiny") with
            {
                Precision = GptConfig.ParsePrecision(Opt(args, "--precision") ?? "int4"),
            };
            if (Opt(args, "--seed") is string s) config = config with { Seed = int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) };
            long steps = long.Parse(Opt(args, "--steps") ?? "100", System.Globalization.CultureInfo.InvariantCulture);
            int evalEvery = int.Parse(Opt(args, "--eval-every") ?? "25", System.Globalization.CultureInfo.InvariantCulture);
            string text;
            Int4Backend backend;
            if (dataPath is null)
            {
                text = BuiltInText.Text;
                backend = Int4Backend.Reference(ReferenceDevice.CreateCpu());
                log.LogInformation("no --data: training on a small built-in text ({Chars} characters) on the CPU reference backend (ILGPU); pass --data FILE for real data", text.Length);
            }
            else
            {
                if (!File.Exists(dataPath)) throw new FileNotFoundException($"Data file '{dataPath}' does not exist.", dataPath);
                text = File.ReadAllText(dataPath);
                backend = Int4Backend.CreateDefault();
                log.LogInformation("data {Path}: {Chars} characters", dataPath, text.Length);
            }
            using (backend)
            {
                log.LogInformation("INT4 backend: {Backend}", backend.Description);
                var trainer = resume is null ? Trainer.Create(config, text, backend, log) : Trainer.Resume(resume, text, backend, log);
                if (resume is not null) log.LogInformation("resumed {Path} at step {Step} (its configuration: {Precision})", resume, trainer.Step, trainer.Config.Precision);
                var records = trainer.Run(steps, evalEvery, outDir);
                var vals = records.Where(r => r.ValidationLoss is not null).Select(r => r.ValidationLoss!.Value).ToList();
                if (vals.Count > 0) log.LogInformation("done: best validation loss {Best:F4}", vals.Min());
            }
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or FormatException)
        {
            log.LogError("{Message}", e.Message);
            return 1;
        }
    }

    public static int Sample(string[] args)
    {
        using var factory = Logging();
        var log = factory.CreateLogger("int4train");
        try
        {
            string ckpt = Opt(args, "--checkpoint") ?? throw new ArgumentException("sample needs --checkpoint FILE.");
            int n = int.Parse(Opt(args, "--tokens") ?? "200", System.Globalization.CultureInfo.InvariantCulture);
            using var backend = Int4Backend.CreateDefault();
            var (model, vocab) = Trainer.LoadModel(ckpt, backend);
            log.LogInformation("sampling {N} characters from {Path} ({Precision})", n, ckpt, model.Config.Precision);
            Console.WriteLine(Trainer.Generate(model, vocab, n, seed: int.Parse(Opt(args, "--seed") ?? "0", System.Globalization.CultureInfo.InvariantCulture)));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or FormatException)
        {
            log.LogError("{Message}", e.Message);
            return 1;
        }
    }

    private static ILoggerFactory Logging() =>
        LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));

    private static string? Opt(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
