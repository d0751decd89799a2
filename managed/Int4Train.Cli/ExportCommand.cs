using System.CommandLine;
using Int4Train.Training;

namespace Int4Train.Cli;

/// <summary>`int4train export`: a checkpoint's weights as FP32 safetensors under GPT-2/nanoGPT names
/// (<see cref="GptExport"/>; docs/checkpoint.md), for other tools.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The checkpoint to export (a run's checkpoint.bin)", HelpName = "FILE", Required = true };
        var safetensors = new Option<string>("--safetensors") { Description = "The safetensors file to write (FP32 weights by GPT-2/nanoGPT names; docs/checkpoint.md)", HelpName = "FILE", Required = true };
        var overwrite = CliOptions.Flag("--overwrite", "Replace the output file if it exists");
        var c = new Command("export", "Export a checkpoint's weights as FP32 safetensors under GPT-2/nanoGPT names") { checkpoint, safetensors, overwrite };
        CliApp.SetAction(c, (p, output) =>
        {
            string from = p.GetValue(checkpoint)!, to = p.GetValue(safetensors)!;
            if (Directory.Exists(to)) throw new IOException($"--safetensors '{to}' is a folder.");
            if (File.Exists(to) && !p.GetValue(overwrite)) throw new IOException($"'{to}' exists; pass --overwrite to replace it.");
            int n = GptExport.ToSafetensors(from, to);
            output.WriteLine($"wrote {n} FP32 tensors of {from} to {to}");
            return 0;
        });
        return c;
    }
}
