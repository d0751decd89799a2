using Int4Train.Training;

namespace Int4Train.Cli;

/// <summary>`int4train demo` (and `./build.sh demo`): a short training with INT4 matmuls that a new user can watch —
/// the tiny preset on the built-in text with HQ+LSS INT4 block linears, 30 steps. On a GPU it runs the preset as is;
/// on the CPU reference (slow: every INT4 kernel runs on ILGPU's CPU accelerator) with 4 sequences of 16 characters
/// per step, which takes under three minutes on two cores. Any train option given overrides these defaults.</summary>
internal static class Demo
{
    private static readonly (string Name, string Value)[] Defaults =
    [
        ("--preset", "tiny"), ("--precision", "int4"), ("--steps", "30"), ("--eval-every", "10"), ("--out", "runs/demo"),
    ];

    private static readonly (string Name, string Value)[] CpuDefaults = [("--batch", "4"), ("--context", "16")];

    /// <summary>The train arguments of the demo: the given ones, then each default not given.</summary>
    public static string[] Arguments(string[] given, bool onGpu)
    {
        var args = new List<string>(given);
        foreach (var (name, value) in onGpu ? Defaults : [.. Defaults, .. CpuDefaults])
            if (!given.Contains(name)) args.AddRange([name, value]);
        return [.. args];
    }

    /// <summary>Whether the demo will run on a GPU (--device gpu, or auto with a usable GPU).</summary>
    public static bool OnGpu(string[] given)
    {
        int i = Array.IndexOf(given, "--device");
        string device = i >= 0 && i + 1 < given.Length ? given[i + 1] : "auto";
        return device == "gpu" || (device == "auto" && DeviceGptModel.IsAvailable(out _));
    }
}
