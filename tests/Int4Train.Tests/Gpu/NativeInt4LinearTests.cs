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

    [Test]
    public void NativeLayerHandle_WalksTheSamePolicyAsTheReference([Values(1f, 0.55f)] float stepInitScale)
    {
        // The native int4train_layer and the C# Int4LayerPolicy through training and evaluation forwards: same step
        // count, block size (searched on the first forward and again at the re-initialisation), steps and keys.
        const int n = 64, d = 128, c = 32;
        using var native = Int4Backend.Native(Cuda);
        using var reference = Int4Backend.Reference(ReferenceDeviceFixture.Cpu);
        var options = new Int4LinearOptions { ColdStartSteps = 2, ReinitializeAtStep = 3, Seed = 11, StepInitScale = stepInitScale };
        var a = new Int4Linear(d, c, native, options, initSeed: 6);
        var b = new Int4Linear(d, c, reference, options, initSeed: 6);
        var rng = new Random(13);
        bool[] walk = [true, false, true, false, false, true, true, false, true];
        for (int i = 0; i < walk.Length; i++)
        {
            var x = TestData.WithOutliers(rng, n, d);
            float[] ya = a.Forward(x, n, walk[i]), yb = b.Forward(x, n, walk[i]);
            string at = $"forward {i} ({(walk[i] ? "training" : "evaluation")})";
            Assert.That((a.StepCount, a.GroupSize, a.BackwardKey, a.StepsAreLearned), Is.EqualTo((b.StepCount, b.GroupSize, b.BackwardKey, b.StepsAreLearned)), at);
            Assert.That((a.StepX, a.StepW), Is.EqualTo((b.StepX, b.StepW)), at);
            NativeBackwardTests.AssertClose(ya, yb, at);
            if (walk[i] && i > 2) { a.StepX = b.StepX *= 1.05f; } // learned steps move; a cold start would overwrite them
        }
        Assert.That(a.StepCount, Is.EqualTo(walk.Count(t => t)), "only the training forwards count");
        a.RestoreProgress(2, 16);
        b.RestoreProgress(2, 16);
        Assert.That((a.StepCount, a.GroupSize, a.BackwardKey), Is.EqualTo((b.StepCount, b.GroupSize, b.BackwardKey)), "restored");
    }
}
