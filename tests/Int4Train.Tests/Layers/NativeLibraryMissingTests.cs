using Int4Train.Interop;
using NUnit.Framework;

namespace Int4Train.Tests.Layers;

/// <summary>A CPU-only build or package (no libint4train anywhere the loader looks): the default backend falls back to
/// the ILGPU reference, and the reason the GPU path is off says, on one line, how to get the native build.</summary>
[TestFixture]
public class NativeLibraryMissingTests
{
    [Test]
    public void WithoutTheNativeLibrary_TheReasonSaysHowToGetIt_OnOneLine()
    {
        Assume.That(NativeLibraryLoader.Candidates().Any(File.Exists), Is.False, "libint4train is present on this machine");

        bool available = CudaContext.IsAvailable(out string reason);
        using var backend = Int4Backend.CreateDefault();

        Assert.Multiple(() =>
        {
            Assert.That(available, Is.False);
            Assert.That(reason, Does.Contain("./build.sh native"));
            Assert.That(reason, Does.Contain("INT4TRAIN_NATIVE_DIR"));
            Assert.That(reason, Does.Contain("runtimes/linux-x64/native/libint4train.so"));
            Assert.That(reason, Does.Not.Contain('\n'), "the loader's multi-line probe list stays out of the reason");
            Assert.That(backend.Description, Does.Contain("ILGPU reference on CPU"));
        });
    }
}
