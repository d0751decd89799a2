using System.Runtime.CompilerServices;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// A native model its owner never disposes must not crash the process (the H200 GPU suite of 2026-12-02 died with
/// SIGSEGV after a fixture had leaked five models): its context keeps it until the context is disposed
/// (ContextDependents), so the GC's finalizer thread neither destroys it while another thread uses the same stream
/// nor releases the native context after ILGPU has destroyed the CUDA context; the context frees it in its Dispose.
/// </summary>
public sealed class NativeGptLifetimeTests : GpuFixture
{
    private static readonly CharDataset Data = new(BuiltInText.Text, GptConfig.Tiny.ValidationFraction, Config.Context);

    private static GptConfig Config => GptConfig.Tiny with
    {
        Layers = 1, Heads = 2, Width = 32, Context = 16, BatchSize = 4, Dropout = 0f,
        Precision = LinearPrecision.Int4HqLss, ColdStartSteps = 2, Seed = 29,
    };

    // Creates `count` initialised INT4 models on the context and drops every reference to them (not inlined: no local
    // of the caller's frame keeps one alive).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Leak(CudaContext context, int count)
    {
        for (int i = 0; i < count; i++)
            _ = DeviceGptModel.CreateInitialised(context, DeviceGptModel.NativeOptions(Config, Data.VocabSize), GptInit.Draw(Config, Data.VocabSize));
    }

    private static void CollectEverything()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    // Three training steps of a fresh model; `between` runs after the first step's forward, while the model holds its
    // activations on the context's stream.
    private static double[] Train(CudaContext context, Action between)
    {
        using var model = new DeviceGptModel(Config, Data.VocabSize, context);
        var losses = new double[3];
        for (long s = 0; s < losses.Length; s++)
        {
            var (x, y) = Data.Batch(false, Config.BatchSize, Config.Context, Hash.Key(Config.Seed, s, 1));
            model.ZeroGrad();
            losses[s] = model.Forward(x, y, Config.BatchSize, s, training: true);
            if (s == 0) between();
            model.Backward();
            model.OptimizerStep(1e-3f);
        }
        context.Synchronize();
        return losses;
    }

    [Test]
    public void LeakedModels_StayWithTheirContext_UntilItsDispose_AndLaterWorkIsUnchanged()
    {
        double[] expected = Train(Cuda, () => { });
        int live = Cuda.Dependents.Count;

        // Leaked on the fixture's context while another model is mid-step on it: the collection must finalize none of them.
        double[] actual = Train(Cuda, () =>
        {
            Leak(Cuda, 3);
            CollectEverything();
            Assert.That(Cuda.Dependents.Count, Is.EqualTo(live + 4), "the three leaked models and the training one are held by the context");
        });
        Assert.That(actual, Is.EqualTo(expected).Within(1e-5).Percent, "the losses of a step through a collection with leaked models");
        Assert.That(actual.All(double.IsFinite) && actual[0] > 2.0, $"an untrained model's loss is near ln V: {actual[0]}");

        // Leaked on a context disposed before any collection: its Dispose frees them (with a warning), and the
        // collection afterwards touches neither the destroyed CUDA context nor the fixture's.
        var log = new NativeLoggingTests.ListLogger();
        var own = CudaContext.Create(logger: log);
        try
        {
            Leak(own, 2);
            Assert.That(own.Dependents.Count, Is.EqualTo(2));
        }
        finally
        {
            own.Dispose();
            Cuda.Accelerator.Bind(); // the fixture's CUDA context current again on this thread
        }
        Assert.That(own.Dependents.Count, Is.Zero, "the context freed the models nobody disposed");
        Assert.That(log.Lines, Has.Some.Contains("2 native model(s)").And.Contain("not disposed"));
        CollectEverything();

        Assert.That(Train(Cuda, CollectEverything), Is.EqualTo(expected).Within(1e-5).Percent, "training after both collections");
        Assert.That(Cuda.Dependents.Count, Is.EqualTo(live + 3), "a disposed model leaves the context; the leaked ones stay until its Dispose");
    }
}
