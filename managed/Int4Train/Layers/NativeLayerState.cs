using Int4Train.Interop;

namespace Int4Train;

/// <summary>An INT4 layer's state in the native library: an <c>int4train_layer</c> (native/include/int4train_layer.h),
/// which owns the policy; host arrays are copied to the device for each call (simple and exact).</summary>
internal sealed class NativeLayerState : ILayerState
{
    private readonly CudaContext _context;
    private readonly LayerSafeHandle _handle;
    private readonly int _in, _out;

    public NativeLayerState(CudaContext context, Int4LinearOptions options, int inFeatures, int outFeatures)
    {
        _context = context;
        _in = inFeatures;
        _out = outFeatures;
        var o = LayerOptionsNative.From(options);
        NativeStatus.Check(NativeMethods.int4train_layer_create(context.Handle, in o, inFeatures, outFeatures, out _handle), "int4train_layer_create");
    }

    // Binds the CUDA context on this thread (and refuses a disposed one) before a call on the layer.
    private LayerSafeHandle Handle
    {
        get
        {
            _ = _context.Handle;
            return _handle;
        }
    }

    private (int Steps, int Group, ulong Key, bool Learned) Progress
    {
        get
        {
            NativeStatus.Check(NativeMethods.int4train_layer_progress(Handle, out int steps, out int group, out ulong key, out int learned),
                "int4train_layer_progress");
            return (steps, group, key, learned != 0);
        }
    }

    public int StepCount => Progress.Steps;
    public int? GroupSize => Progress.Group is int g and > 0 ? g : null;
    public bool StepsAreLearned => Progress.Learned;
    public ulong BackwardKey => Progress.Key;

    private DeviceTensor<T> Up<T>(T[] data, int rows, int cols) where T : unmanaged => _context.Upload<T>(data, rows, cols);

    public (float[] Y, byte[] PackedX, byte[] PackedW) Forward(float[] x, float[] w, float[] bias, int n, ref float stepX, ref float stepW,
        bool training)
    {
        using var dx = Up(x, n, _in);
        using var dw = Up(w, _out, _in);
        using var db = Up(bias, 1, _out);
        using var sx = Up(new[] { stepX }, 1, 1);
        using var sw = Up(new[] { stepW }, 1, 1);
        using var y = _context.Allocate<float>(n, _out);
        using var px = _context.Allocate<byte>(n, _in / 2);
        using var pw = _context.Allocate<byte>(_out, _in / 2);
        NativeStatus.Check(NativeMethods.int4train_layer_forward(Handle, dx.Pointer, dw.Pointer, db.Pointer, sx.Pointer, sw.Pointer, n,
            training ? 1 : 0, y.Pointer, px.Pointer, pw.Pointer), "int4train_layer_forward");
        stepX = sx.Download()[0];
        stepW = sw.Download()[0];
        Guard.Step(nameof(stepX), stepX);
        Guard.Step(nameof(stepW), stepW);
        return (y.Download(), px.Download(), pw.Download());
    }

    public LinearGradients Backward(float[] gradY, float[] x, float[] w, byte[] packedX, byte[] packedW, int n, float stepX, float stepW)
    {
        using var gy = Up(gradY, n, _out);
        using var dx = Up(x, n, _in);
        using var dw = Up(w, _out, _in);
        using var px = Up(packedX, n, _in / 2);
        using var pw = Up(packedW, _out, _in / 2);
        using var sx = Up(new[] { stepX }, 1, 1);
        using var sw = Up(new[] { stepW }, 1, 1);
        using var gx = _context.Allocate<float>(n, _in);
        using var gw = _context.Allocate<float>(_out, _in);
        using var gsx = _context.Allocate<float>(1, 1);
        using var gsw = _context.Allocate<float>(1, 1);
        using var gb = _context.Allocate<float>(1, _out);
        NativeStatus.Check(NativeMethods.int4train_layer_backward(Handle, gy.Pointer, dx.Pointer, dw.Pointer, px.Pointer, pw.Pointer,
            sx.Pointer, sw.Pointer, n, gx.Pointer, gw.Pointer, gsx.Pointer, gsw.Pointer, gb.Pointer, accumulate: 0), "int4train_layer_backward");
        return new LinearGradients(gx.Download(), gw.Download(), gsx.Download()[0], gsw.Download()[0], gb.Download());
    }

    public void Restore(int stepCount, int? groupSize) =>
        NativeStatus.Check(NativeMethods.int4train_layer_set_progress(Handle, stepCount, groupSize ?? 0), "int4train_layer_set_progress");
}
