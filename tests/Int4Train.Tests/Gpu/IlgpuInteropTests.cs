using Int4Train.Reference;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>A .NET user can mix ILGPU kernels and native operators on the same device buffers, in stream order,
/// without copies: the reference kernels run on the context's own CUDA accelerator here.</summary>
public sealed class IlgpuInteropTests : GpuFixture
{
    [Test]
    public void ReferenceOnIlgpuCuda_AndNative_ShareBuffers_AndAgree()
    {
        using var onGpu = ReferenceDevice.FromAccelerator(Cuda.Accelerator);
        int rows = 256, cols = 512, g = 64;
        var x = TestData.WithOutliers(new Random(8), rows, cols);
        using var a = Cuda.Upload<float>(x, rows, cols);
        using var b = Cuda.Upload<float>(x, rows, cols);
        new HadamardTransform(onGpu).Apply(a.View, rows, cols, g);   // ILGPU kernel (CUDA) in place on a
        Ops.Hadamard(b, b, g);                                         // native kernel in place on b
        Assert.That(b.Download(), Is.EqualTo(a.Download()), "ILGPU-CUDA reference vs native, bit for bit");
        Ops.Hadamard(a, a, g);                                         // native on the ILGPU result: H·H = I
        var back = a.Download();
        for (int i = 0; i < x.Length; i++) Assert.That(back[i], Is.EqualTo(x[i]).Within(1e-4f * (1 + Math.Abs(x[i]))));

        // The quantizer on the ILGPU CUDA accelerator, straight into a native tensor's buffer.
        var lsq = new LsqQuantizer(onGpu);
        float step = lsq.InitStep(b.View);
        using var codesIlgpu = Cuda.Allocate<sbyte>(rows, cols);
        lsq.Quantize(b.View, codesIlgpu.View, step, QuantMode.Code);
        using var ds = Cuda.Upload<float>(new[] { step }, 1, 1);
        using var codesNative = Cuda.Allocate<sbyte>(rows, cols);
        Ops.LsqQuantize(b, ds, QuantMode.Code, codesNative);
        Assert.That(codesNative.Download(), Is.EqualTo(codesIlgpu.Download()));
    }
}
