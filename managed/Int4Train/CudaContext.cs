using CommunityToolkit.HighPerformance;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Int4Train.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Int4Train;

/// <summary>
/// A CUDA device as the native library and ILGPU share it: an ILGPU <see cref="CudaAccelerator"/> (which owns the
/// CUDA context, the stream and the device memory of <see cref="DeviceTensor{T}"/>) plus a native
/// <c>int4train_context</c> (workspace) bound to that same context and stream. Native operators therefore run on
/// ILGPU buffers without copies and in stream order with ILGPU kernels. Dispose it to free both.
/// </summary>
/// <remarks>Thread safety: not thread-safe. The context has one CUDA stream and one native workspace that every operator, tensor and layer on it shares: use it from one thread at a time (each call makes the CUDA context current on the calling thread). Use one context per thread for parallel work; Dispose only when no call is running. Dispose frees the models on it that were not disposed (a warning says how many).</remarks>
public sealed class CudaContext : IDisposable
{
    private readonly Context? _ownedIlgpuContext;
    private readonly CudaAccelerator _accelerator;
    private readonly bool _ownsAccelerator;
    private readonly ContextSafeHandle _handle;
    private readonly ILogger _logger;

    private CudaContext(Context? owned, CudaAccelerator accelerator, bool ownsAccelerator, ILogger? logger)
    {
        _ownedIlgpuContext = owned;
        _accelerator = accelerator;
        _ownsAccelerator = ownsAccelerator;
        _logger = logger ?? NullLogger.Instance;
        NativeLibraryLoader.EnsureRegistered();
        _accelerator.Bind();
        NativeStatus.Check(NativeMethods.int4train_context_create_current(out _handle), "int4train_context_create_current");
        IntPtr stream = ((CudaStream)_accelerator.DefaultStream).StreamPtr;
        NativeStatus.Check(NativeMethods.int4train_context_set_stream(_handle, stream), "int4train_context_set_stream");
        (DeviceName, ComputeCapability) = QueryInfo();
        _logger.LogDebug("Int4Train native context on {Device} (sm_{CC}), library version {Version}", DeviceName, ComputeCapability, NativeMethods.int4train_version());
    }

    /// <summary>The ILGPU accelerator this context runs on (use it to launch your own ILGPU kernels in order).</summary>
    public CudaAccelerator Accelerator => _accelerator;

    /// <summary>Name of the GPU.</summary>
    public string DeviceName { get; }

    /// <summary>Compute capability as major·10 + minor (90 for the H100).</summary>
    public int ComputeCapability { get; }

    internal ContextSafeHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            _accelerator.Bind(); // the native runtime calls use the CUDA context current on this thread
            return _handle;
        }
    }

    internal ILogger Logger => _logger;

    /// <summary>The live models allocated in this context; <see cref="Dispose"/> frees those nobody disposed.</summary>
    internal ContextDependents Dependents { get; } = new();

    /// <summary>Whether <see cref="Dispose"/> ran.</summary>
    internal bool IsDisposed => _handle.IsClosed;

    /// <summary>True when the native library loads and sees at least one CUDA device; otherwise the reason.</summary>
    public static bool IsAvailable(out string reason)
    {
        try
        {
            NativeLibraryLoader.EnsureRegistered();
            var status = NativeMethods.int4train_device_count(out int count);
            if (status != Status.Success) { reason = $"int4train_device_count failed: {NativeStatus.LastError()}"; return false; }
            if (count == 0) { reason = "no CUDA device is visible"; return false; }
            reason = "";
            return true;
        }
        catch (DllNotFoundException e)
        {
            // The loader's own message lists a dozen probed paths; it only helps when a file was found but did not
            // load (a missing dependency such as libcuda.so.1), so it is kept for that case alone.
            bool present = NativeLibraryLoader.Candidates().Any(File.Exists);
            reason = present
                ? "libint4train was found but did not load (a CUDA driver or dependency is missing?): " + e.Message
                : "the native CUDA library libint4train is not present (a CPU-only build or package). To get it, build it "
                  + "from the source repository with ./build.sh native (CUDA 12+ and CMake) and set INT4TRAIN_NATIVE_DIR to "
                  + "its build/native folder, or use an Int4Train package packed there (./build.sh pack), which carries "
                  + "runtimes/linux-x64/native/libint4train.so";
            return false;
        }
    }

    /// <summary>Creates an ILGPU CUDA accelerator on <paramref name="device"/> and binds a native context to it.</summary>
    /// <exception cref="Int4TrainException">No CUDA device or the library is missing.</exception>
    public static CudaContext Create(int device = 0, ILogger? logger = null)
    {
        if (!IsAvailable(out string reason)) throw new Int4TrainException(reason, NativeErrorKind.NoDevice);
        var ctx = Context.Create(b => b.Cuda().Math(MathMode.Default));
        var devices = ctx.GetCudaDevices();
        if (device < 0 || device >= devices.Count)
        {
            ctx.Dispose();
            throw new ArgumentOutOfRangeException(nameof(device), $"device {device} does not exist ({devices.Count} CUDA devices).");
        }
        var acc = ctx.CreateCudaAccelerator(device);
        return new CudaContext(ctx, acc, ownsAccelerator: true, logger);
    }

    /// <summary>Binds a native context to an accelerator the caller owns (it must outlive this object).</summary>
    public static CudaContext FromAccelerator(CudaAccelerator accelerator, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (!IsAvailable(out string reason)) throw new Int4TrainException(reason, NativeErrorKind.NoDevice);
        return new CudaContext(null, accelerator, ownsAccelerator: false, logger);
    }

    /// <summary>Waits for all queued work and reports asynchronous kernel errors as exceptions.</summary>
    public void Synchronize() => NativeStatus.Check(NativeMethods.int4train_context_synchronize(Handle), "int4train_context_synchronize");

    /// <summary>Current size of the native workspace in bytes.</summary>
    public long WorkspaceBytes
    {
        get
        {
            unsafe
            {
                NativeStatus.Check(NativeMethods.int4train_context_info(Handle, null, 0, out _, out nuint ws), "int4train_context_info");
                return (long)ws;
            }
        }
    }

    /// <summary>Allocates an uninitialised rows×cols tensor on this device.</summary>
    public DeviceTensor<T> Allocate<T>(int rows, int cols) where T : unmanaged => new(this, rows, cols);

    /// <summary>Copies a host matrix to a new device tensor.</summary>
    public DeviceTensor<T> Upload<T>(ReadOnlySpan<T> data, int rows, int cols) where T : unmanaged
    {
        Guard.Matrix("data", data.Length, rows, cols);
        var t = new DeviceTensor<T>(this, rows, cols);
        t.CopyFrom(data);
        return t;
    }

    /// <summary>Copies a host matrix view (any pitch, e.g. a slice of a larger <see cref="Memory2D{T}"/>) to a new
    /// device tensor of Height×Width.</summary>
    public DeviceTensor<T> Upload<T>(ReadOnlySpan2D<T> matrix) where T : unmanaged
    {
        if (matrix.TryGetSpan(out ReadOnlySpan<T> contiguous)) return Upload(contiguous, matrix.Height, matrix.Width);
        var packed = new T[matrix.Length];
        matrix.CopyTo(packed);
        return Upload<T>(packed, matrix.Height, matrix.Width);
    }

    private (string, int) QueryInfo()
    {
        unsafe
        {
            byte* name = stackalloc byte[256];
            NativeStatus.Check(NativeMethods.int4train_context_info(_handle, name, 256, out int cc, out _), "int4train_context_info");
            return (new string((sbyte*)name), cc);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_handle.IsClosed) return;
        _accelerator.Bind();
        _accelerator.Synchronize();
        // Dependents first, while the CUDA context and the native context they use exist (ContextDependents).
        int leaked = Dependents.DisposeAll();
        if (leaked > 0)
            _logger.LogWarning("{Count} native model(s) on {Device} were not disposed; freed with their context", leaked, DeviceName);
        _handle.Dispose();
        if (_ownsAccelerator) _accelerator.Dispose();
        _ownedIlgpuContext?.Dispose();
    }
}
