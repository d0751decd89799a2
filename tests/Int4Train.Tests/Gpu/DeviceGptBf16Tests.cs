using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// The device GPT's <c>bf16</c> precision runs its block linears as PyTorch autocast does (native/src/gpt/bf16_linear.cu,
/// docs/conventions.md "What the device GPT keeps for the backward"): BF16 copies of X (kept for the backward instead
/// of FP32 X), of W and of ∂L/∂y as GEMM operands, FP32 accumulation. What it holds is exactly that, and the BF16
/// weight copy follows every change of the FP32 weights: AdamW (eager and in a replayed CUDA graph) and host writes.
/// Closeness to FP32 and learning: DeviceGptTests.LowPrecision_StaysCloseToFp32AndLearns; graph replay:
/// DeviceGptGraphTests; gradient accumulation: DeviceGptAccumulationTests (all run bf16).
/// </summary>
public sealed class DeviceGptBf16Tests : GpuFixture
{
    // 4 layers and a pass of 8 × 64 = 512 tokens (8 × width): the activations saved outweigh the shared buffers and
    // the weight copy, as at any real size.
    private static GptConfig Config(string precision) => GptConfig.Tiny with
    {
        Layers = 4, Heads = 2, Width = 64, Context = 64, BatchSize = 8, Dropout = 0.1f,
        Precision = GptConfig.ParsePrecision(precision), EvalBatches = 1, LearningRate = 3e-3f, WarmupSteps = 2, Seed = 23,
    };

    [Test]
    public void Bf16_KeepsBf16CopiesOfTheLinearInputs_AndHoldsLessThanFp32()
    {
        var c = Config("bf16");
        const int vocab = 50;
        using var fp32 = new DeviceGptModel(c with { Precision = LinearPrecision.Fp32 }, vocab, Cuda);
        using var bf16 = new DeviceGptModel(c, vocab, Cuda);
        // The earlier bf16 allocated exactly what fp32 does (the same buffers; only cuBLAS's compute type differed).
        // Now each block keeps its linears' inputs (LN₁(x), attention output, LN₂(x2): N × C each; GELU(h): N × 4C)
        // as BF16 instead of FP32, and the model adds one shared FP32 N × 4C buffer the forward makes each input in
        // for its cast, a BF16 N × 4C scratch for ∂L/∂y and a BF16 copy of the block linears' weights (12·C² a block).
        // Exact: the model counts what it cudaMallocs.
        long n = (long)c.PassBatch * c.Context, w = c.Width, inputs = n * 7 * w;
        long saved = c.Layers * inputs * (4 - 2);
        long added = n * 4 * w * 4 + n * 4 * w * 2 + c.Layers * 12 * w * w * 2;
        Assert.That(saved - added, Is.GreaterThan(0), "the configuration is one where BF16 copies save memory");
        // And bf16 runs the fused attention (fp32 keeps llm.c's): DeviceGptAttentionTests.FusedAttentionSavedBytes.
        Assert.That(fp32.Native.AllocatedBytes - bf16.Native.AllocatedBytes,
            Is.EqualTo(saved - added + DeviceGptAttentionTests.FusedAttentionSavedBytes(c)),
            "bytes: FP32 inputs dropped, less the BF16 copies, the shared buffer, the ∂L/∂y scratch and the weight copy; "
            + "the attention's T×T buffers");
        Assert.That(bf16.DeviceMemoryBytes, Is.LessThan(fp32.DeviceMemoryBytes), "DeviceMemoryBytes shows it");
    }

    [TestCase(false)]
    [TestCase(true)]
    [TestCase(true, GptLinearClasses.Down)] // --int4-layers down: qkv, proj, up are bf16 linears of an INT4 model
    public void WeightCopy_FollowsAdamW_AndHostWrites(bool graphs, GptLinearClasses int4Classes = GptLinearClasses.All)
    {
        var c = int4Classes == GptLinearClasses.All ? Config("bf16") : Config("int4") with { Int4Classes = int4Classes, ColdStartSteps = 2 };
        using var trainer = Trainer.Create(c, BuiltInText.Text, (cfg, v) => new DeviceGptModel(cfg, v, Cuda, graphs));
        var trained = (DeviceGptModel)trainer.Model;
        var (x, y) = trainer.Data.Batch(true, c.BatchSize, c.Context, 12345);
        double before = trained.Forward(x, y, c.BatchSize, 0, training: false);
        trainer.Run(6, 6);
        // A replayable step runs eagerly once (its signature is recorded), the next identical one is captured, the rest
        // replay (step_graph.cu): bf16 replays steps 3–6; an INT4 model's two cold-start steps are not replayable, so
        // it replays steps 5–6 (2, H200 2026-12-01). One replayed AdamW is what the refresh inside the graph needs.
        if (graphs) Assert.That(trained.Native.StepStats.Replayed, Is.GreaterThanOrEqualTo(int4Classes == GptLinearClasses.All ? 3 : 2), "steps were replayed");
        double after = trained.Forward(x, y, c.BatchSize, 0, training: false);
        Assert.That(after, Is.LessThan(before - 0.05), "training moved the weights the GEMMs read");

        // A fresh model (its copy made from its own initial weights) given the trained values through the host: it
        // must compute what the trained model computes, bit for bit. A copy not refreshed by AdamW (in the trained
        // model) or by a host write (in the fresh one) would read other weights than the FP32 ones.
        using var fresh = new DeviceGptModel(c, trainer.Data.VocabSize, Cuda, graphs);
        Assert.That(fresh.Forward(x, y, c.BatchSize, 0, training: false), Is.Not.EqualTo(after), "a fresh model differs");
        fresh.ImportState(trained.ExportState());
        fresh.LayerProgress = trained.LayerProgress; // an INT4 linear's block size and count (no-op for bf16 ones)
        Assert.That(fresh.Forward(x, y, c.BatchSize, 0, training: false), Is.EqualTo(after),
            "the same FP32 weights give the same loss (exact)");

        // One weight written from the host changes the next forward.
        var qkv = trained.Native.Tensors.First(t => t.Name == "h0.qkv.weight");
        float[] values = trained.Native.Read(qkv.Index);
        for (int i = 0; i < values.Length; i++) values[i] = -values[i];
        trained.Native.Write(qkv.Index, NativeGptBuffer.Value, values);
        Assert.That(trained.Forward(x, y, c.BatchSize, 0, training: false), Is.Not.EqualTo(after),
            "the forward reads the weight written from the host");
    }
}
