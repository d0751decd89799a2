using CommunityToolkit.HighPerformance;
using ILGPU;
using ILGPU.Runtime;

namespace Int4Train;

/// <summary>
/// A dense row-major matrix in device memory, owned by an ILGPU buffer of the context's accelerator. Dispose it to
/// free the memory. <see cref="View"/> lets ILGPU kernels use the same buffer; <see cref="Pointer"/> is what the
/// native operators receive.
/// </summary>
/// <remarks>Thread safety: not thread-safe; it belongs to its <see cref="CudaContext"/> and follows that context's one-thread-at-a-time rule (uploads, downloads and the operators that use it are queued on the context's one stream).</remarks>
public sealed class DeviceTensor<T> : IDisposable where T : unmanaged
{
    private readonly MemoryBuffer1D<T, Stride1D.Dense> _buffer;
    private readonly CudaContext _context;
    private bool _disposed;

    internal DeviceTensor(CudaContext context, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"a tensor must be non-empty, got {rows}×{cols}.");
        _context = context;
        Rows = rows;
        Cols = cols;
        _buffer = context.Accelerator.Allocate1D<T>((long)rows * cols);
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns (the contiguous dimension).</summary>
    public int Cols { get; }

    /// <summary>Number of elements.</summary>
    public long Length => (long)Rows * Cols;

    /// <summary>The ILGPU view of the buffer.</summary>
    public ArrayView1D<T, Stride1D.Dense> View { get { ThrowIfDisposed(); return _buffer.View; } }

    /// <summary>The device address (for the native operators).</summary>
    internal IntPtr Pointer { get { ThrowIfDisposed(); return _buffer.NativePtr; } }

    internal CudaContext Context => _context;

    /// <summary>Copies host data in (the length must equal <see cref="Length"/>).</summary>
    public void CopyFrom(ReadOnlySpan<T> data)
    {
        ThrowIfDisposed();
        if (data.Length != Length) throw new ArgumentException($"expected {Length} elements ({Rows}×{Cols}), got {data.Length}.", nameof(data));
        _context.Accelerator.Bind();
        _buffer.View.CopyFromCPU(_context.Accelerator.DefaultStream, data);
        _context.Accelerator.DefaultStream.Synchronize();
    }

    /// <summary>Waits for queued work and copies the tensor to a new host array.</summary>
    public T[] Download()
    {
        ThrowIfDisposed();
        _context.Synchronize();
        var host = new T[Length];
        _buffer.View.CopyToCPU(_context.Accelerator.DefaultStream, host);
        _context.Accelerator.DefaultStream.Synchronize();
        return host;
    }

    /// <summary>Waits for queued work and copies the tensor to a new host matrix (Rows×Cols).</summary>
    public Memory2D<T> DownloadMatrix() => new(Download(), Rows, Cols);

    /// <summary>Fills the tensor with zero bytes.</summary>
    public void Clear()
    {
        ThrowIfDisposed();
        _context.Accelerator.Bind();
        _buffer.MemSetToZero(_context.Accelerator.DefaultStream);
    }

    /// <summary>Throws unless this tensor has <paramref name="rows"/>×<paramref name="cols"/> elements.</summary>
    internal void RequireShape(string name, int rows, int cols)
    {
        ThrowIfDisposed();
        if (Rows * (long)Cols != (long)rows * cols)
            throw new ArgumentException($"{name} must have {rows}×{cols} elements, it is {Rows}×{Cols}.", name);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _buffer.Dispose();
    }
}
