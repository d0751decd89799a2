using System.CommandLine;
using Int4Train.Training;

namespace Int4Train.Cli;

/// <summary>`int4train demo` (and `./build.sh demo`): a short training with INT4 matmuls that a new user can watch —
/// train with other defaults: the tiny preset on the built-in text with HQ+LSS INT4 block linears, 30 steps, into
/// runs/demo (the demo's own scratch folder, replaced on each run unless --out is given). On a GPU it runs the preset
/// as is; on the CPU reference (slow: every INT4 kernel runs on ILGPU's CPU accelerator) with 4 sequences of 16
/// characters per step, which takes under three minutes on two cores. Any train option overrides these defaults.</summary>
internal static class DemoCommand
{
    /// <summary>The demo's folder.</summary>
    public const string DefaultOut = "runs/demo";

    /// <summary>Batch and context of the demo on the CPU reference.</summary>
    public const int CpuBatch = 4, CpuContext = 16;

    public static Command Create()
    {
        var o = new TrainCommand.Options(new RunOptions.Defaults(Steps: 30, EvalEvery: 10,
            OutDescription: $"Output folder (default {DefaultOut}, replaced on each demo; another folder holding a run needs --overwrite)"));
        var c = new Command("demo", "A short INT4 training to watch: tiny preset, built-in text, 30 steps, into runs/demo (on the CPU: batch 4, context 16); takes every train option");
        o.AddTo(c);
        CliApp.SetAction(c, (p, output) => TrainCommand.Execute(p, o, output, scratchOut: DefaultOut,
            configure: (config, parse) => Adjust(config, OnGpu(parse.GetValue(o.Run.Device)!), parse.Given(o.Run.Batch), parse.Given(o.Run.Context))));
        return c;
    }

    /// <summary>The demo's configuration: on the CPU the smaller batch and context unless given.</summary>
    public static GptConfig Adjust(GptConfig config, bool onGpu, bool batchGiven, bool contextGiven)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (onGpu) return config;
        return config with
        {
            BatchSize = batchGiven ? config.BatchSize : CpuBatch,
            Context = contextGiven ? config.Context : CpuContext,
        };
    }

    /// <summary>Whether the demo will run on a GPU (--device gpu, or auto with a usable GPU).</summary>
    public static bool OnGpu(string device) => device == "gpu" || (device == "auto" && DeviceGptModel.IsAvailable(out _));
}
