using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// Base of every native-vs-reference test (NUnit category <c>gpu</c>). Without a CUDA device or without the native
/// library the tests are reported as skipped with the reason — never as passed. On a GPU runner
/// (<c>INT4TRAIN_REQUIRE_GPU=1</c>, set by <c>./build.sh gpu-test</c>) a missing device is a failure instead.
/// </summary>
[Category("gpu")]
[NonParallelizable]
public abstract class GpuFixture
{
    private CudaContext? _context;

    /// <summary>The native context (ILGPU CUDA accelerator + int4train context) shared by the fixture's tests.</summary>
    protected CudaContext Cuda => _context ?? throw new InvalidOperationException("no CUDA context");

    /// <summary>The native operators on <see cref="Cuda"/>.</summary>
    protected NativeOperators Ops { get; private set; } = null!;

    [OneTimeSetUp]
    public void CreateContext()
    {
        if (!CudaContext.IsAvailable(out string reason))
        {
            if (Environment.GetEnvironmentVariable("INT4TRAIN_REQUIRE_GPU") == "1")
                Assert.Fail("INT4TRAIN_REQUIRE_GPU=1 but the GPU path is unavailable: " + reason);
            Assert.Ignore("GPU test skipped: " + reason);
        }
        _context = CudaContext.Create();
        Ops = new NativeOperators(_context);
        TestContext.Progress.WriteLine($"GPU: {_context.DeviceName} (sm_{_context.ComputeCapability})");
    }

    [OneTimeTearDown]
    public void DisposeContext() => _context?.Dispose();
}
