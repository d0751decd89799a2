using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Int4Train.Reference;

/// <summary>
/// The accelerator the reference kernels run on (conventions.md: the reference path is ILGPU, on its CPU
/// accelerator anywhere and on its CUDA accelerator where a GPU exists). Owns the ILGPU <see cref="Context"/> and
/// <see cref="Accelerator"/>, and caches every loaded kernel delegate so that each kernel is compiled once per
/// device, however many operator objects are created on it.
/// </summary>
/// <remarks>Thread safety: not thread-safe: one ILGPU accelerator and its default stream, shared by every operator object created on the device. Use a device (and its operators) from one thread at a time, or one device per thread.</remarks>
public sealed class ReferenceDevice : IDisposable
{
    private readonly ConcurrentDictionary<string, Delegate> _kernels = new();
    private bool _disposed;

    private readonly bool _owns;

    private ReferenceDevice(Context context, Accelerator accelerator, bool owns = true)
    {
        Context = context;
        Accelerator = accelerator;
        _owns = owns;
    }

    /// <summary>Runs the reference kernels on an accelerator the caller owns (e.g. the CUDA accelerator of an
    /// Int4Train <c>CudaContext</c>, so reference and native operators share buffers and stream). Disposing the
    /// returned device does not dispose <paramref name="accelerator"/>.</summary>
    public static ReferenceDevice FromAccelerator(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        return new ReferenceDevice(accelerator.Context, accelerator, owns: false);
    }

    /// <summary>The ILGPU context that owns <see cref="Accelerator"/>.</summary>
    public Context Context { get; }

    /// <summary>The accelerator all kernels of this device run on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>True for the CUDA accelerator, false for the CPU one.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>
    /// A CPU accelerator of one multiprocessor with one warp of 2 threads. ILGPU's CPU runtime runs every simulated
    /// GPU thread as an OS thread and synchronises them around each launch, so fewer threads are faster: against the
    /// earlier 4 × 4 × 2 = 32 threads, one layer's forward + backward took 6–8× less time on the 2-core CI machine
    /// (2048 × 128 → 384: 3.0 s against 28 s; 256 × 32 → 96: 0.2 s against 0.9 s), the same bits (every reference
    /// kernel is implicitly grouped and deterministic whatever the grouping; the tests compare them with their
    /// oracles bit for bit). Two threads rather than one: ILGPU's CPU device needs warps of at least 2.
    /// </summary>
    public static ReferenceDevice CreateCpu()
    {
        var cpu = new CPUDevice(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 1, numMultiprocessors: 1);
        var context = Context.Create(builder => builder.CPU(cpu).Optimize(OptimizationLevel.O1));
        try
        {
            var accelerator = context.CreateCPUAccelerator(0);
            return new ReferenceDevice(context, accelerator);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The first CUDA device as an ILGPU accelerator, or null when there is no CUDA device (or no
    /// driver).</summary>
    public static ReferenceDevice? TryCreateCuda()
    {
        Context? context = null;
        try
        {
            context = Context.Create(builder => builder.Cuda().Optimize(OptimizationLevel.O1));
            if (context.GetCudaDevices().Count == 0)
            {
                context.Dispose();
                return null;
            }
            var accelerator = context.CreateCudaAccelerator(0);
            return new ReferenceDevice(context, accelerator);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            context?.Dispose();
            return null;
        }
    }

    /// <summary>Returns the kernel cached under <paramref name="key"/>, loading it with <paramref name="load"/>
    /// the first time.</summary>
    internal TKernel GetOrLoad<TKernel>(string key, Func<Accelerator, TKernel> load) where TKernel : Delegate
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return (TKernel)_kernels.GetOrAdd(key, _ => load(Accelerator));
    }

    /// <summary>Throws unless <paramref name="view"/> was allocated on this device's accelerator.</summary>
    internal void CheckView<T>(string name, ArrayView1D<T, Stride1D.Dense> view) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!view.IsValid)
            throw new ArgumentException($"{name} is not a valid device view.", name);
        if (!ReferenceEquals(view.GetAccelerator(), Accelerator))
            throw new ArgumentException($"{name} lives on another accelerator than this device's {Accelerator.Name}.", name);
    }

    /// <summary>Throws when the device view holds a NaN or an infinity, naming the first bad index. A kernel
    /// flags non-finite bit patterns; only when one is found is the view copied back for the message.</summary>
    internal void CheckFinite(string name, ArrayView1D<float, Stride1D.Dense> view)
    {
        var kernel = GetOrLoad("ReferenceDevice.NonFinite", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<int, Stride1D.Dense>>(NonFiniteKernel));
        if (CountFlagged(view.IntLength, flag => kernel((int)view.Length, view, flag)) == 0) return;
        Guard.Finite(name, view.GetAsArray1D());
    }

    /// <summary>Throws when a device view of codes holds a value outside [−8, 7], naming the first bad index.</summary>
    internal void CheckInt4(string name, ArrayView1D<sbyte, Stride1D.Dense> view)
    {
        var kernel = GetOrLoad("ReferenceDevice.OutOfInt4", a =>
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView1D<sbyte, Stride1D.Dense>, ArrayView1D<int, Stride1D.Dense>>(OutOfInt4Kernel));
        if (CountFlagged(view.IntLength, flag => kernel((int)view.Length, view, flag)) == 0) return;
        Guard.Int4Codes(name, view.GetAsArray1D());
    }

    private int CountFlagged(int length, Action<ArrayView1D<int, Stride1D.Dense>> launch)
    {
        if (length == 0) return 0;
        using var flag = Accelerator.Allocate1D<int>(1);
        flag.MemSetToZero();
        launch(flag.View);
        var host = new int[1];
        flag.View.CopyToCPU(host);
        return host[0];
    }

    private static void NonFiniteKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> x, ArrayView1D<int, Stride1D.Dense> flag)
    {
        if ((Interop.FloatAsInt(x[i]) & 0x7F800000) == 0x7F800000) Atomic.Or(ref flag[0], 1);
    }

    private static void OutOfInt4Kernel(Index1D i, ArrayView1D<sbyte, Stride1D.Dense> q, ArrayView1D<int, Stride1D.Dense> flag)
    {
        int v = q[i];
        if (v < -8 || v > 7) Atomic.Or(ref flag[0], 1);
    }

    /// <summary>Releases the accelerator and the context.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _kernels.Clear();
        if (!_owns) return;
        Accelerator.Dispose();
        Context.Dispose();
    }
}
