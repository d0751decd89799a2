using System.Runtime.InteropServices;
using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>One INT4 layer backward set up on the reference and on the device: the steps at 0.7× their initial value
/// (some clipping), the reference's forward and gradients, and the device inputs the native backward reads (FP32, and
/// their BF16 for the BF16-activation backward).</summary>
internal sealed class LayerBackwardCase : IDisposable
{
    public int N { get; }
    public int C { get; }
    public int D { get; }
    public int G { get; }
    public QuantMode Mode { get; }
    public SamplingMode Sampling { get; }
    public ulong Seed { get; }

    /// <summary>The reference layer's gradients (<see cref="Int4LinearReference.Backward"/>).</summary>
    public Int4LinearGradients Expected { get; }

    private readonly CudaContext _cuda;
    private readonly DeviceTensor<float> _gradY, _x, _w, _stepX, _stepW;
    private readonly DeviceTensor<byte> _xPacked, _wPacked;
    private readonly DeviceTensor<BFloat16> _gradY16, _x16;

    public LayerBackwardCase(CudaContext cuda, ReferenceDevice reference, float[] x, float[] w, float[] gradY, int n,
        int c, int d, int g, QuantMode mode, SamplingMode sampling, ulong seed)
    {
        (N, C, D, G, Mode, Sampling, Seed, _cuda) = (n, c, d, g, mode, sampling, seed, cuda);
        var layer = new Int4LinearReference(reference);
        var hadamard = new HadamardTransform(reference);
        var lsq = new LsqQuantizer(reference);
        float sx = lsq.InitStep(hadamard.Apply(x, n, d, g)) * 0.7f, sw = lsq.InitStep(hadamard.Apply(w, c, d, g)) * 0.7f;
        var fwd = layer.Forward(x, w, n, c, d, g, sx, sw, mode);
        Expected = layer.Backward(gradY, x, w, fwd, sampling, seed);
        _x = cuda.Upload<float>(x, n, d);
        _w = cuda.Upload<float>(w, c, d);
        _gradY = cuda.Upload<float>(gradY, n, c);
        _xPacked = cuda.Upload<byte>(fwd.PackedX, n, d / 2);
        _wPacked = cuda.Upload<byte>(fwd.PackedW, c, d / 2);
        _stepX = cuda.Upload<float>(new[] { sx }, 1, 1);
        _stepW = cuda.Upload<float>(new[] { sw }, 1, 1);
        _gradY16 = cuda.Upload<BFloat16>(BFloat16.Narrow(gradY), n, c);
        _x16 = cuda.Upload<BFloat16>(BFloat16.Narrow(x), n, d);
    }

    /// <summary>Device outputs for this case's backward (∇X in <typeparamref name="TGradX"/>).</summary>
    public LayerGradientTensors<TGradX> AllocateGradients<TGradX>(bool bias = true) where TGradX : unmanaged =>
        new(_cuda, N, C, D, bias);

    /// <summary>The native layer backward (<c>int4train_linear_backward</c>) into <paramref name="g"/>.</summary>
    public void RunNative(NativeOperators ops, LayerGradientTensors<float> g, bool accumulate = false) =>
        ops.LinearBackward(_gradY, _x, _w, _xPacked, _wPacked, _stepX, _stepW, G, Mode, Sampling, Seed, g.GradX, g.GradW,
            g.GradStepX, g.GradStepW, g.GradBias, accumulate);

    /// <summary>The native layer backward on BF16 activations (<c>int4train_linear_backward_typed</c>): ∇Y and X are
    /// the BF16 of the case's; it is the same layer input as <see cref="RunNative"/>'s when the case was made from
    /// BF16 values (<see cref="BFloat16.Round(float)"/>).</summary>
    public void RunNativeBf16(NativeOperators ops, LayerGradientTensors<BFloat16> g, bool accumulate = false) =>
        ops.LinearBackward(_gradY16, _x16, _w, _xPacked, _wPacked, _stepX, _stepW, G, Mode, Sampling, Seed, g.GradX, g.GradW,
            g.GradStepX, g.GradStepW, g.GradBias, accumulate);

    /// <summary>∇W, ∇b (when written) and the step gradients against <see cref="Expected"/>, within the native-vs-
    /// reference tolerances (∇X, FP32 or BF16, is the caller's).</summary>
    public void AssertWeightSideGradientsMatchTheReference<TGradX>(LayerGradientTensors<TGradX> g) where TGradX : unmanaged
    {
        NativeBackwardTests.AssertClose(g.GradW.Download(), Expected.GradW, "∇W");
        if (g.GradBias != null) NativeBackwardTests.AssertClose(g.GradBias.Download(), Expected.GradBias, "∇b");
        Assert.That(g.GradStepX.Download()[0], Is.EqualTo(Expected.GradStepX).Within(1e-4 * Math.Abs(Expected.GradStepX) + 1e-9), "∇s_X");
        Assert.That(g.GradStepW.Download()[0], Is.EqualTo(Expected.GradStepW).Within(1e-4 * Math.Abs(Expected.GradStepW) + 1e-9), "∇s_W");
    }

    /// <summary>Accumulate mode (what the device GPT uses): run by <paramref name="runAccumulating"/> onto random old
    /// gradients, ∇W, ∇b and the step gradients become old + result with one FP32 add, bit for bit as the
    /// <paramref name="written"/> result of a plain run added to them; ∇X is overwritten.</summary>
    public void AssertAccumulates<TGradX>(Random rng, LayerGradientTensors<TGradX> written, Action<LayerGradientTensors<TGradX>> runAccumulating)
        where TGradX : unmanaged
    {
        float[] oldW = TestData.Matrix(rng, C, D), oldB = TestData.Matrix(rng, 1, C), oldS = TestData.Matrix(rng, 1, 2);
        using var acc = AllocateGradients<TGradX>();
        acc.GradX.CopyFrom(MemoryMarshal.Cast<float, TGradX>(TestData.Matrix(rng, N, D))[..(N * D)]); // stale values to overwrite
        acc.GradW.CopyFrom(oldW);
        acc.GradBias!.CopyFrom(oldB);
        acc.GradStepX.CopyFrom(new[] { oldS[0] });
        acc.GradStepW.CopyFrom(new[] { oldS[1] });
        runAccumulating(acc);
        static float[] Sum(float[] a, float[] b) => a.Zip(b, (u, v) => u + v).ToArray();
        Assert.That(acc.GradX.Download(), Is.EqualTo(written.GradX.Download()), "accumulate: ∇X is overwritten");
        Assert.That(acc.GradW.Download(), Is.EqualTo(Sum(oldW, written.GradW.Download())), "accumulate: ∇W");
        Assert.That(acc.GradBias.Download(), Is.EqualTo(Sum(oldB, written.GradBias!.Download())), "accumulate: ∇b");
        Assert.That(acc.GradStepX.Download()[0], Is.EqualTo(oldS[0] + written.GradStepX.Download()[0]), "accumulate: ∇s_X");
        Assert.That(acc.GradStepW.Download()[0], Is.EqualTo(oldS[1] + written.GradStepW.Download()[0]), "accumulate: ∇s_W");
    }

    public void Dispose()
    {
        foreach (var t in new IDisposable[] { _gradY, _x, _w, _stepX, _stepW, _xPacked, _wPacked, _gradY16, _x16 }) t.Dispose();
    }
}

/// <summary>The device outputs of one layer backward: ∇X (N×D, FP32 or BF16), ∇W (C×D), ∇s_X, ∇s_W and ∇b (1×C, or
/// none).</summary>
internal sealed class LayerGradientTensors<TGradX> : IDisposable where TGradX : unmanaged
{
    public LayerGradientTensors(CudaContext cuda, int n, int c, int d, bool bias)
    {
        GradX = cuda.Allocate<TGradX>(n, d);
        GradW = cuda.Allocate<float>(c, d);
        GradStepX = cuda.Allocate<float>(1, 1);
        GradStepW = cuda.Allocate<float>(1, 1);
        GradBias = bias ? cuda.Allocate<float>(1, c) : null;
    }

    public DeviceTensor<TGradX> GradX { get; }
    public DeviceTensor<float> GradW { get; }
    public DeviceTensor<float> GradStepX { get; }
    public DeviceTensor<float> GradStepW { get; }
    public DeviceTensor<float>? GradBias { get; }

    public void Dispose()
    {
        GradX.Dispose();
        GradW.Dispose();
        GradStepX.Dispose();
        GradStepW.Dispose();
        GradBias?.Dispose();
    }
}
