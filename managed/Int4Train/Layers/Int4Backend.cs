using Int4Train.Reference;

namespace Int4Train;

/// <summary>Where an <see cref="Int4Linear"/> runs: the native CUDA library, or the ILGPU reference (CPU anywhere, or
/// ILGPU's CUDA accelerator). Owns what it created; dispose it after the layers that use it.</summary>
/// <remarks>Thread safety: not thread-safe (one CUDA stream and workspace, or one ILGPU accelerator). Layers that share a
/// backend must be called from one thread at a time; an INT4 layer call that overlaps another on the same backend throws
/// <see cref="InvalidOperationException"/>. Use one backend per thread for parallel work.</remarks>
public sealed class Int4Backend : IDisposable
{
    internal ILinearKernels Kernels { get; }

    /// <summary>Detects overlapping layer calls on this backend (issue 13 item 12).</summary>
    internal ConcurrentUseGuard CallGuard { get; } = new(nameof(Int4Backend));

    /// <summary>The ILGPU device of a reference backend (its other reference operators, e.g. the host GPT's
    /// <see cref="ChannelSmoothing"/>, run there too); null for the native library.</summary>
    public ReferenceDevice? ReferenceDevice => (Kernels as ReferenceLinearKernels)?.Device;

    /// <summary>A short description ("native CUDA on NVIDIA H100 …", "ILGPU reference on CPU").</summary>
    public string Description { get; }

    private Int4Backend(ILinearKernels kernels, string description)
    {
        Kernels = kernels;
        Description = description;
    }

    /// <summary>The native library on a context (borrowed: the caller disposes it).</summary>
    public static Int4Backend Native(CudaContext context) =>
        new(new NativeLinearKernels(context ?? throw new ArgumentNullException(nameof(context)), ownsContext: false), $"native CUDA on {context.DeviceName}");

    /// <summary>The ILGPU reference on a device (borrowed: the caller disposes it).</summary>
    public static Int4Backend Reference(ReferenceDevice device) =>
        new(new ReferenceLinearKernels(device ?? throw new ArgumentNullException(nameof(device)), ownsDevice: false),
            $"ILGPU reference on {(device.IsCuda ? "CUDA" : "CPU")} ({device.Accelerator.Name})");

    /// <summary>The native library when it and a GPU are available, else the ILGPU reference on the CPU.</summary>
    public static Int4Backend CreateDefault()
    {
        if (CudaContext.IsAvailable(out _))
        {
            var ctx = CudaContext.Create();
            return new Int4Backend(new NativeLinearKernels(ctx, ownsContext: true), $"native CUDA on {ctx.DeviceName}");
        }
        var cpu = ReferenceDevice.CreateCpu();
        return new Int4Backend(new ReferenceLinearKernels(cpu, ownsDevice: true), "ILGPU reference on CPU (no GPU found)");
    }

    /// <inheritdoc />
    public void Dispose() => Kernels.Dispose();
}
