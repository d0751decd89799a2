namespace Int4Train;

/// <summary>The layer on the native CUDA library: each INT4 layer is an <c>int4train_layer</c> (<see cref="NativeLayerState"/>).
/// Host arrays are copied to the device for each call: simple and exact; a training loop that keeps tensors on the
/// device uses <see cref="NativeOperators"/> or <see cref="NativeGpt"/> directly.</summary>
internal sealed class NativeLinearKernels(CudaContext context, bool ownsContext) : ILinearKernels
{
    public ILayerState CreateLayer(Int4LinearOptions options, int inFeatures, int outFeatures) =>
        new NativeLayerState(context, options, inFeatures, outFeatures);

    public void Dispose()
    {
        if (ownsContext) context.Dispose();
    }
}
