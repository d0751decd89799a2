using System.Runtime.InteropServices;

namespace Int4Train.Interop;

/// <summary>The int4train_gpt_config struct of native/include/int4train_gpt.h (blittable, same layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GptConfigNative
{
    public int Layers, Heads, Width, Context, MaxBatch, Vocab;
    public float Dropout;
    public LayerOptionsNative Linear;
    public float StepLrScale;
    public int Bf16Classes;
    public float SmoothAlpha;
    public int SmoothClasses;
    public int Int4Ablation;
}

/// <summary>The int4train_gpt_adamw struct.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GptAdamWNative
{
    public float LearningRate, Beta1, Beta2, Eps, WeightDecay, GradClip;
}

// The P/Invoke declarations of native/include/int4train_gpt.h, one for one.
internal static partial class NativeMethods
{
    [LibraryImport(Library)] internal static partial Status int4train_gpt_create(ContextSafeHandle ctx, in GptConfigNative config, out GptSafeHandle gpt);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_destroy(IntPtr gpt);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_tensor_count(GptSafeHandle gpt, out int count);
    [LibraryImport(Library)]
    internal static unsafe partial Status int4train_gpt_tensor_info(GptSafeHandle gpt, int index, byte* name, int capacity, out long numel,
        out int decay, out int isStep, out int adamSteps);
    [LibraryImport(Library)] internal static unsafe partial Status int4train_gpt_tensor_get(GptSafeHandle gpt, int index, int which, float* dst, long numel);
    [LibraryImport(Library)] internal static unsafe partial Status int4train_gpt_tensor_set(GptSafeHandle gpt, int index, int which, float* src, long numel, int adamSteps);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_layer_progress(GptSafeHandle gpt, int linear, out int stepCount, out int group);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_set_layer_progress(GptSafeHandle gpt, int linear, int stepCount, int group);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_layer_key(GptSafeHandle gpt, int linear, out ulong key);
    [LibraryImport(Library)]
    internal static unsafe partial Status int4train_gpt_forward(GptSafeHandle gpt, int* tokens, int* targets, int batch, int t, ulong dropoutKey,
        int training, float* loss);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_backward(GptSafeHandle gpt);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_backward_scaled(GptSafeHandle gpt, float lossScale);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_memory(GptSafeHandle gpt, out long bytes);
    [LibraryImport(Library)] internal static partial Status int4train_gpt_zero_grad(GptSafeHandle gpt);
    [LibraryImport(Library)] internal static unsafe partial Status int4train_gpt_adamw_step(GptSafeHandle gpt, in GptAdamWNative p, float* gradNorm);
    [LibraryImport(Library)]
    internal static unsafe partial Status int4train_gpt_train_step(GptSafeHandle gpt, int* tokens, int* targets, int passes, int batch, int t,
        ulong* dropoutKeys, in GptAdamWNative p, int graph);
    [LibraryImport(Library)]
    internal static unsafe partial Status int4train_gpt_read_losses(GptSafeHandle gpt, double* losses, float* gradNorms, int capacity, out int count);
    [LibraryImport(Library)]
    internal static partial Status int4train_gpt_step_stats(GptSafeHandle gpt, out long eager, out long captured, out long replayed);
    [LibraryImport(Library)] internal static unsafe partial Status int4train_gpt_probabilities(GptSafeHandle gpt, int row, float* probs);
}
