using System.CommandLine;
using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>`int4train sample`: characters from a checkpoint, streamed to stdout as they are generated (the log goes
/// to stderr, so the text can be piped).</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The checkpoint to sample from (a run's checkpoint.bin)", HelpName = "FILE", Required = true };
        var tokens = CliOptions.Int("--tokens", "Characters to generate", 0, fallback: 200);
        var prompt = new Option<string>("--prompt") { Description = "Text the sample continues (characters outside the checkpoint's vocabulary: it starts from its first symbol)", HelpName = "TEXT", DefaultValueFactory = _ => "\n" };
        var seed = CliOptions.Int("--seed", "Seed of the sampling", int.MinValue, fallback: 0);
        var device = CliOptions.Choice("--device", "gpu: the device model; cpu: the host model on the ILGPU CPU reference; auto: gpu when one is usable", ModelBackend.Devices, "auto");
        var c = new Command("sample", "Generate characters from a checkpoint, printed as they are generated") { checkpoint, tokens, prompt, seed, device };
        CliApp.SetAction(c, (p, output) =>
        {
            using var factory = ConsoleUi.Logging(interactive: false, p.InvocationConfiguration.Error);
            var log = factory.Logger();
            string ckpt = p.GetValue(checkpoint)!, text = p.GetValue(prompt)!;
            int n = p.GetValue(tokens);
            Checkpoint.ReadHeader(ckpt); // a missing or corrupt checkpoint fails before the backend starts
            using var backend = RunSetup.OpenBackend(p.GetValue(device)!, log);
            var (model, vocab) = Trainer.LoadModel(ckpt, backend.Factory);
            using (model)
            {
                if (text.Length > 0 && !CharDataset.Covers(vocab, text))
                    log.LogWarning("--prompt has characters outside the checkpoint's vocabulary; starting from its first symbol instead");
                log.LogInformation("sampling {N} characters from {Path} ({Precision}) on {Model}", n, ckpt,
                    GptConfig.PrecisionName(model.Config.Precision), model.Description);
                Trainer.Generate(model, vocab, n, text, p.GetValue(seed), ch => { output.Write(ch); output.Flush(); });
                output.WriteLine();
            }
            return 0;
        });
        return c;
    }
}
