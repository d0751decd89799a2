using System.Runtime.InteropServices;
using Int4Train.Interop;
using NUnit.Framework;

namespace Int4Train.Tests.Core;

/// <summary>
/// The registry by which a <see cref="CudaContext"/> holds the models nobody disposed (so the GC's finalizer thread
/// never releases them) and frees them in its own Dispose. On host handles that count their releases; the GPU case
/// (models leaked on a context, a collection, later training) is NativeGptLifetimeTests.
/// </summary>
public sealed class ContextDependentsTests
{
    private sealed class CountingHandle : SafeHandle
    {
        public static int Released;
        public CountingHandle() : base(IntPtr.Zero, ownsHandle: true) => SetHandle(1);
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle() { Interlocked.Increment(ref Released); return true; }
    }

    private static WeakReference AddAndDrop(ContextDependents dependents)
    {
        var h = new CountingHandle();
        dependents.Add(h);
        return new WeakReference(h);
    }

    [Test]
    public void HoldsWhatItsOwnersDropped_UntilDisposeAll_ThenReleasesEachOnce()
    {
        var dependents = new ContextDependents();
        int before = Volatile.Read(ref CountingHandle.Released);
        var dropped = Enumerable.Range(0, 3).Select(_ => AddAndDrop(dependents)).ToArray();
        var disposed = new CountingHandle();
        dependents.Add(disposed);
        dependents.Remove(disposed); // as NativeGpt.Dispose does before it disposes its handle
        disposed.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(dropped.All(w => w.IsAlive), "no dropped handle was collected or finalized");
        Assert.That(CountingHandle.Released - before, Is.EqualTo(1), "only the disposed handle was released");
        Assert.That(dependents.Count, Is.EqualTo(3));

        Assert.That(dependents.DisposeAll(), Is.EqualTo(3));
        Assert.That(CountingHandle.Released - before, Is.EqualTo(4), "DisposeAll released the three dropped handles");
        Assert.That(dependents.Count, Is.Zero);
        Assert.That(dependents.DisposeAll(), Is.Zero, "a second DisposeAll has nothing left");
    }
}
