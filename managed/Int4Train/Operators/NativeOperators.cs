using Int4Train.Interop;
using Microsoft.Extensions.Logging;

namespace Int4Train;

/// <summary>
/// The native CUDA operators, one method per entry point of native/include/int4train.h, on device tensors. Each
/// method checks shapes on the managed side (clear <see cref="ArgumentException"/>s), then calls the library, which
/// validates again and queues the work on the context's stream (asynchronous: <see cref="DeviceTensor{T}.Download"/>
/// or <see cref="CudaContext.Synchronize"/> waits). Split by operator family into partial files.
/// </summary>
/// <remarks>Thread safety: holds no state of its own, but every call uses its context's one stream and workspace, so it follows the <see cref="CudaContext"/> rule: one thread at a time per context.</remarks>
public sealed partial class NativeOperators
{
    private readonly CudaContext _context;
    private long _loggedWorkspace;
    private bool _loggedGemm;

    /// <summary>Creates the operator set for a context.</summary>
    public NativeOperators(CudaContext context) => _context = context ?? throw new ArgumentNullException(nameof(context));

    /// <summary>The context the operators run on.</summary>
    public CudaContext Context => _context;

    private static void Same<T>(string name, DeviceTensor<T> t, CudaContext ctx) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (!ReferenceEquals(t.Context, ctx)) throw new ArgumentException($"{name} belongs to another CudaContext.", name);
    }

    private void Check<T>(string name, DeviceTensor<T> t, int rows, int cols) where T : unmanaged
    {
        Same(name, t, _context);
        t.RequireShape(name, rows, cols);
    }

    private void Scalar(string name, DeviceTensor<float> t) => Check(name, t, 1, 1);

    /// <summary>The layer's N, C, D from its input X (N×D, FP32 or BF16) and weight W (C×D), both on this context.</summary>
    private (int N, int C, int D) LayerShape<TAct>(DeviceTensor<TAct> x, DeviceTensor<float> w) where TAct : unmanaged
    {
        Same(nameof(x), x, _context);
        Same(nameof(w), w, _context);
        int n = x.Rows, d = x.Cols;
        if (w.Cols != d) throw new ArgumentException($"w must have D = {d} columns like x ({n}×{d}), it is {w.Rows}×{w.Cols}.", nameof(w));
        return (n, w.Rows, d);
    }

    private void Run(Status status, string operation)
    {
        NativeStatus.Check(status, operation);
        var log = _context.Logger;
        if (!log.IsEnabled(LogLevel.Debug)) return;
        if (!_loggedGemm && (operation.Contains("gemm", StringComparison.Ordinal) || operation.Contains("forward", StringComparison.Ordinal)
                             || operation.Contains("backward", StringComparison.Ordinal) || operation.Contains("lss_grad", StringComparison.Ordinal)))
        {
            _loggedGemm = true;
            bool cutlass = _context.ComputeCapability >= 90 && Environment.GetEnvironmentVariable("INT4TRAIN_FORCE_FALLBACK_GEMM") != "1";
            log.LogDebug("integer GEMMs on {Path}", cutlass
                ? "the CUTLASS SM90 INT8 tensor-core kernel (wgmma, INT4 values in int8, INT32 accumulation)"
                : "the portable int8 (dp4a) kernel");
        }
        long ws = _context.WorkspaceBytes;
        if (ws != _loggedWorkspace)
        {
            log.LogDebug("{Operation}: native workspace is now {Bytes} bytes", operation, ws);
            _loggedWorkspace = ws;
        }
    }
}
