namespace Int4Train;

/// <summary>The layer on the native CUDA operators. Host arrays are copied to the device for each call: simple and
/// exact; a training loop that keeps tensors on the device uses <see cref="NativeOperators"/> directly.</summary>
internal sealed class NativeLinearKernels(CudaContext context, bool ownsContext) : ILinearKernels
{
    private readonly NativeOperators _ops = new(context);

    private DeviceTensor<T> Up<T>(T[] data, int rows, int cols) where T : unmanaged => context.Upload<T>(data, rows, cols);

    public float InitStep(float[] v, int rows, int cols, int group)
    {
        using var dv = Up(v, rows, cols);
        _ops.Hadamard(dv, dv, group);
        using var s = context.Allocate<float>(1, 1);
        _ops.LsqInitStep(dv, s);
        return s.Download()[0];
    }

    public int SearchGroup(float[] x, float[] w, int n, int c, int d, QuantMode mode)
    {
        using var dx = Up(x, n, d);
        using var dw = Up(w, c, d);
        return _ops.BlockSizeSearch(dx, dw, mode).Group;
    }

    public (float[] Y, byte[] PackedX, byte[] PackedW) Forward(float[] x, float[] w, float[]? bias, int n, int c, int d, int group,
        float stepX, float stepW, QuantMode mode)
    {
        using var dx = Up(x, n, d);
        using var dw = Up(w, c, d);
        using var db = bias is null ? null : Up(bias, 1, c);
        using var sx = Up(new[] { stepX }, 1, 1);
        using var sw = Up(new[] { stepW }, 1, 1);
        using var y = context.Allocate<float>(n, c);
        using var px = context.Allocate<byte>(n, d / 2);
        using var pw = context.Allocate<byte>(c, d / 2);
        _ops.HqForward(dx, dw, db, sx, sw, group, mode, y, px, pw);
        return (y.Download(), px.Download(), pw.Download());
    }

    public LinearGradients Backward(float[] gradY, float[] x, float[] w, byte[] packedX, byte[] packedW, int n, int c, int d, int group,
        float stepX, float stepW, QuantMode mode, SamplingMode sampling, ulong seed)
    {
        using var gy = Up(gradY, n, c);
        using var dx = Up(x, n, d);
        using var dw = Up(w, c, d);
        using var px = Up(packedX, n, d / 2);
        using var pw = Up(packedW, c, d / 2);
        using var sx = Up(new[] { stepX }, 1, 1);
        using var sw = Up(new[] { stepW }, 1, 1);
        using var gx = context.Allocate<float>(n, d);
        using var gw = context.Allocate<float>(c, d);
        using var gsx = context.Allocate<float>(1, 1);
        using var gsw = context.Allocate<float>(1, 1);
        using var gb = context.Allocate<float>(1, c);
        _ops.LinearBackward(gy, dx, dw, px, pw, sx, sw, group, mode, sampling, seed, gx, gw, gsx, gsw, gb);
        return new LinearGradients(gx.Download(), gw.Download(), gsx.Download()[0], gsw.Download()[0], gb.Download());
    }

    public void Dispose()
    {
        if (ownsContext) context.Dispose();
    }
}
