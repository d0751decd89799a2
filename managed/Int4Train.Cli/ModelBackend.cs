using Int4Train.Reference;
using Int4Train.Training;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>Where the GPT runs (<c>--device auto|cpu|gpu</c>): the device model on a CUDA GPU (native library), or
/// the host model with its INT4 layers on the ILGPU CPU reference. Owns the context or device it opened.</summary>
internal sealed class ModelBackend : IDisposable
{
    /// <summary>The accepted values of --device.</summary>
    public static readonly string[] Devices = ["auto", "cpu", "gpu"];

    private readonly CudaContext? _cuda;
    private readonly ReferenceDevice? _cpu;
    private readonly Int4Backend? _backend;

    private ModelBackend(CudaContext cuda, bool cudaGraphs)
    {
        _cuda = cuda;
        Factory = (config, vocab) => new DeviceGptModel(config, vocab, cuda, cudaGraphs);
        Description = $"GPU: the whole model on {cuda.DeviceName} (native library), " +
            (cudaGraphs ? "each training step one CUDA graph" : "training steps launched kernel by kernel (--graph off)");
    }

    private ModelBackend(ReferenceDevice cpu)
    {
        _cpu = cpu;
        _backend = Int4Backend.Reference(cpu);
        Factory = Trainer.HostModel(_backend);
        Description = "CPU: the host model, INT4 layers on the ILGPU CPU reference (slow; fine for the tiny preset)";
    }

    /// <summary>Builds a model of a configuration and vocabulary size on this backend.</summary>
    public Func<GptConfig, int, IGptModel> Factory { get; }

    /// <summary>What it is, for the log.</summary>
    public string Description { get; }

    /// <summary>Whether it runs on a GPU.</summary>
    public bool IsGpu => _cuda is not null;

    /// <summary>The accepted values of --graph.</summary>
    public static readonly string[] GraphModes = ["on", "off"];

    /// <summary>Opens the backend of a --device value; "gpu" without a usable GPU throws an
    /// <see cref="ArgumentException"/> carrying the reason. <paramref name="cudaGraphs"/> (--graph): the GPU model's
    /// training steps replay as CUDA graphs (the CPU host model has none).</summary>
    public static ModelBackend Open(string device, ILogger log, bool cudaGraphs = true)
    {
        switch (device)
        {
            case "cpu":
                return new ModelBackend(ReferenceDevice.CreateCpu());
            case "gpu":
                if (!DeviceGptModel.IsAvailable(out string reason))
                    throw new ArgumentException($"--device gpu: no usable CUDA GPU ({reason}). Use --device cpu (or auto) to train on the CPU reference.");
                return new ModelBackend(CudaContext.Create(logger: log), cudaGraphs);
            case "auto":
                if (DeviceGptModel.IsAvailable(out string why)) return new ModelBackend(CudaContext.Create(logger: log), cudaGraphs);
                log.LogInformation("--device auto: no usable GPU ({Reason}); using the CPU", Short(why));
                return new ModelBackend(ReferenceDevice.CreateCpu());
            default:
                throw new ArgumentException($"--device must be one of {string.Join("|", Devices)}, got '{device}'.");
        }
    }

    private static string Short(string reason)
    {
        int cut = reason.IndexOf("; searched", StringComparison.Ordinal);
        if (cut < 0 && reason.Length > 160) cut = 160;
        return cut < 0 ? reason : reason[..cut] + " …";
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _backend?.Dispose();
        _cpu?.Dispose();
        _cuda?.Dispose();
    }
}
