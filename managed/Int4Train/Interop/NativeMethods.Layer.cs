using System.Runtime.InteropServices;

namespace Int4Train.Interop;

/// <summary>The int4train_layer_options struct of native/include/int4train_layer.h (blittable, same layout): the
/// native form of <see cref="Int4LinearOptions"/>, made in one place (<see cref="From"/>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LayerOptionsNative
{
    public int Precision, Mode, Sampling, GroupSize, ColdStartSteps, ReinitStep;
    public ulong Seed;
    public float StepInitScale;

    /// <summary>The options field for field (a searched block size is 0 there).</summary>
    public static LayerOptionsNative From(Int4LinearOptions o) => new()
    {
        Precision = (int)o.Precision, Mode = (int)o.Mode, Sampling = (int)o.Sampling, GroupSize = o.GroupSize ?? 0,
        ColdStartSteps = o.ColdStartSteps, ReinitStep = o.ReinitializeAtStep, Seed = o.Seed, StepInitScale = o.StepInitScale,
    };
}

// The P/Invoke declarations of native/include/int4train_layer.h, one for one.
internal static partial class NativeMethods
{
    [LibraryImport(Library)]
    internal static partial Status int4train_layer_create(ContextSafeHandle ctx, in LayerOptionsNative options, int inFeatures, int outFeatures,
        out LayerSafeHandle layer);
    [LibraryImport(Library)] internal static partial Status int4train_layer_destroy(IntPtr layer);
    [LibraryImport(Library)]
    internal static partial Status int4train_layer_forward(LayerSafeHandle layer, IntPtr x, IntPtr w, IntPtr bias, IntPtr stepX, IntPtr stepW,
        int n, int training, IntPtr y, IntPtr xPacked, IntPtr wPacked);
    [LibraryImport(Library)]
    internal static partial Status int4train_layer_backward(LayerSafeHandle layer, IntPtr gradY, IntPtr x, IntPtr w, IntPtr xPacked, IntPtr wPacked,
        IntPtr stepX, IntPtr stepW, int n, IntPtr gradX, IntPtr gradW, IntPtr gradStepX, IntPtr gradStepW, IntPtr gradBias, int accumulate);
    [LibraryImport(Library)]
    internal static partial Status int4train_layer_progress(LayerSafeHandle layer, out int stepCount, out int group, out ulong backwardKey,
        out int stepsLearned);
    [LibraryImport(Library)] internal static partial Status int4train_layer_set_progress(LayerSafeHandle layer, int stepCount, int group);
}
