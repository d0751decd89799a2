using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>The public <see cref="Int4Linear"/> layer gives the same results on the native backend as on the ILGPU
/// reference backend: same block size, same steps, Y and every gradient within tolerance, for several steps.</summary>
public sealed class NativeInt4LinearTests : GpuFixture
{
    [Test]
    public void NativeAndReferenceBackends_Agree([Values] SamplingMode sampling)
    {
        const int n = 96, d = 256, c = 64;
        using var native = Int4Backend.Native(Cuda);
        using var reference = Int4Backend.Reference(ReferenceDeviceFixture.Cpu);
        var options = new Int4LinearOptions { Sampling = sampling, Seed = 3 };
        var a = new Int4Linear(d, c, native, options, initSeed: 5);
        var b = new Int4Linear(d, c, reference, options, initSeed: 5);
        var rng = new Random(9);
        for (int step = 0; step < 3; step++)
        {
            var x = TestData.WithOutliers(rng, n, d);
            var gy = TestData.Matrix(rng, n, c);
            float[] ya = a.Forward(x, n), yb = b.Forward(x, n);
            Assert.That(a.GroupSize, Is.EqualTo(b.GroupSize));
            Assert.That(a.StepX, Is.EqualTo(b.StepX));
            Assert.That(a.StepW, Is.EqualTo(b.StepW));
            NativeBackwardTests.AssertClose(ya, yb, $"Y step {step}");
            a.ZeroGrad(); b.ZeroGrad();
            NativeBackwardTests.AssertClose(a.Backward(gy), b.Backward(gy), $"∇X step {step}");
            NativeBackwardTests.AssertClose(a.WeightGrad, b.WeightGrad, $"∇W step {step}");
            NativeBackwardTests.AssertClose(a.BiasGrad, b.BiasGrad, $"∇b step {step}");
            Assert.That(a.StepXGrad, Is.EqualTo(b.StepXGrad).Within(1e-4 * Math.Abs(b.StepXGrad) + 1e-9));
            // the same SGD step on both (from the reference gradient), so the next step starts from equal weights
            for (int i = 0; i < a.Weight.Length; i++) a.Weight[i] = b.Weight[i] -= 0.01f * b.WeightGrad[i];
        }
    }
}
