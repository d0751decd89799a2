using Int4Train.Interop;
using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>Bad input reaches the caller as a clear exception carrying the native message — never a crash, a hang
/// or garbage; disposed objects throw <see cref="ObjectDisposedException"/>.</summary>
public sealed class NativeErrorTests : GpuFixture
{
    [Test]
    public void NativeValidation_ReportsStatusAndMessage_ForBadGroup()
    {
        // Call the C ABI directly, past the managed checks, to see the library's own validation.
        using var x = Cuda.Allocate<float>(4, 48);
        var status = NativeMethods.int4train_hadamard(Cuda.Handle, x.Pointer, x.Pointer, 4, 48, 32);
        Assert.That(status, Is.EqualTo(Status.InvalidArgument));
        Assert.That(NativeStatus.LastError(), Does.Contain("32").And.Contain("48"));
        var ex = Assert.Throws<ArgumentException>(() => NativeStatus.Check(status, "int4train_hadamard"));
        Assert.That(ex!.Message, Does.Contain("int4train_hadamard"));
    }

    [Test]
    public void NativeValidation_RejectsNullPointers()
    {
        var status = NativeMethods.int4train_gemm_s8(Cuda.Handle, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, 4, 4, 4);
        Assert.That(status, Is.EqualTo(Status.NullPointer));
        Assert.That(NativeStatus.LastError(), Is.Not.Empty);
    }

    [Test]
    public void NativeValidation_RejectsMisalignedPointers()
    {
        // A float pointer one byte off its 4-byte alignment: refused before any launch (native/README.md
        // "Entry-point contract"), named with the function and the parameter.
        // Written before the valid call reads it (compute-sanitizer initcheck flagged the allocated-only buffer).
        using var x = Cuda.Upload<float>(TestData.WithOutliers(new Random(35), 1, 8), 1, 8);
        var status = NativeMethods.int4train_hadamard(Cuda.Handle, x.Pointer + 1, x.Pointer, 1, 8, 8);
        Assert.That(status, Is.EqualTo(Status.InvalidArgument));
        Assert.That(NativeStatus.LastError(), Does.Contain("int4train_hadamard").And.Contain("d_x").And.Contain("misaligned"));
        Assert.That(NativeMethods.int4train_hadamard(Cuda.Handle, x.Pointer, x.Pointer, 1, 8, 8), Is.EqualTo(Status.Success));
    }

    [Test]
    public void NativeDestroy_RefusesADestroyedContext()
    {
        // Through the raw C ABI, past the SafeHandle: a second destroy of the same context is refused (the library
        // keeps a registry of live handles) instead of freeing it twice. On a thread of its own: an owned context
        // makes the device's primary CUDA context current on its thread, and this thread must keep ILGPU's (the
        // fixture's borrowed context); the H200 run without it faulted every later test of the process.
        Status created = Status.Internal, second = Status.Internal;
        string message = "";
        var thread = new Thread(() =>
        {
            created = NativeMethods.int4train_context_create(0, out ContextSafeHandle handle);
            if (created != Status.Success) return;
            IntPtr stale = handle.DangerousGetHandle();
            handle.Dispose();
            second = NativeMethods.int4train_context_destroy(stale);
            message = NativeStatus.LastError(); // the last error is per thread
        });
        thread.Start();
        thread.Join();
        Assert.That(created, Is.EqualTo(Status.Success));
        Assert.That(second, Is.EqualTo(Status.InvalidArgument));
        Assert.That(message, Does.Contain("int4train_context_destroy").And.Contain("not a live"));
    }

    [Test]
    public void ManagedChecks_NameTheShapes()
    {
        using var a = Cuda.Allocate<sbyte>(8, 32);
        using var b = Cuda.Allocate<sbyte>(8, 16);
        using var c = Cuda.Allocate<int>(8, 8);
        var ex = Assert.Throws<ArgumentException>(() => Ops.GemmInt8(a, b, c));
        Assert.That(ex!.Message, Does.Contain("8×16"));
        using var x = Cuda.Allocate<float>(4, 48);
        ex = Assert.Throws<ArgumentException>(() => Ops.Hadamard(x, x, 32));
        Assert.That(ex!.Message, Does.Contain("48"));
    }

    [Test]
    public void DisposedTensor_Throws()
    {
        var x = Cuda.Allocate<float>(4, 4);
        x.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Ops.Hadamard(x, x, 2));
        Assert.Throws<ObjectDisposedException>(() => x.Download());
    }

    [Test]
    public void DisposedContext_Throws_AndDoubleDisposeIsHarmless()
    {
        var ctx = CudaContext.Create();
        var ops = new NativeOperators(ctx);
        using var other = Cuda.Allocate<float>(2, 2);
        ctx.Dispose();
        ctx.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ctx.Synchronize());
        Assert.Throws<ArgumentException>(() => ops.Hadamard(other, other, 2)); // a tensor of another context
    }

    [Test]
    public void LibraryVersion_IsReported()
    {
        Assert.That(NativeMethods.int4train_version(), Is.EqualTo(100));
        Assert.That(Cuda.DeviceName, Is.Not.Empty);
        Assert.That(Cuda.ComputeCapability, Is.GreaterThanOrEqualTo(70));
    }
}
