using System.CommandLine;
using Int4Train.Reference;
using Microsoft.Extensions.Logging;

namespace Int4Train.Cli;

/// <summary>
/// The main job until the trainer exists: one INT4 linear layer, forward and backward, on data with outlier
/// channels and skewed gradient rows. Prints the relative errors of Y, ∇X and ∇W against FP64 for HQ+LSS, for
/// LSQ without the Hadamard (G = 1) and for a naive per-tensor min-max INT4 quantizer — the paper's point on one
/// screen.
/// </summary>
internal static class LayerDemo
{
    /// <summary>The largest size of one dimension (the demo's FP64 ground truth is O(N·D·C) on the CPU).</summary>
    public const int MaxSize = 16384;

    public static Command Create()
    {
        var tokens = CliOptions.Int("--tokens", "Rows N of X (tokens)", 1, MaxSize, 256);
        var inFeatures = CliOptions.Int("--in-features", "Input features D (even: INT4 codes are packed two per byte)", 2, MaxSize, 256);
        var outFeatures = CliOptions.Int("--out-features", "Output features C", 1, MaxSize, 128);
        var seed = CliOptions.Int("--seed", "Seed of the synthetic data", int.MinValue, fallback: 7);
        var device = CliOptions.Choice("--device", "Where the ILGPU reference runs: gpu (ILGPU CUDA), cpu, auto: gpu when one is usable", ModelBackend.Devices, "auto");
        // the options' earlier names: --in/--out read as folders elsewhere (train's --out), --cpu as --device cpu
        var oldIn = CliOptions.OptionalInt("--in", "Renamed --in-features", 2, MaxSize);
        var oldOut = CliOptions.OptionalInt("--out", "Renamed --out-features", 1, MaxSize);
        var oldCpu = CliOptions.Flag("--cpu", "Same as --device cpu", hidden: true);
        oldIn.Hidden = oldOut.Hidden = true;
        var c = new Command("layer-demo", "One INT4 linear layer forward and backward on data with outlier channels: relative errors of Y, ∇X and ∇W " +
            "against FP64 for HQ+LSS, LSQ without the Hadamard and a naive min-max INT4 quantizer")
        { tokens, inFeatures, outFeatures, seed, device, oldIn, oldOut, oldCpu };
        c.Validators.Add(r =>
        {
            int d = r.GetResult(oldIn) is { Implicit: false } ? r.GetValue(oldIn) ?? 0 : r.GetValue(inFeatures);
            if (d % 2 != 0) r.AddError($"--in-features must be even (INT4 codes are packed two per byte), got {d}.");
            if (r.GetResult(oldCpu) is { Implicit: false } && r.GetResult(device) is { Implicit: false } && r.GetValue(device) != "cpu")
                r.AddError("--cpu contradicts --device; give one of them.");
        });
        CliApp.SetAction(c, (p, output) => Run(
            p.GetValue(tokens), p.GetValue(oldIn) ?? p.GetValue(inFeatures), p.GetValue(oldOut) ?? p.GetValue(outFeatures), p.GetValue(seed),
            p.GetValue(oldCpu) ? "cpu" : p.GetValue(device)!, output));
        return c;
    }

    public static int Run(int n, int d, int c, int seed, string device, TextWriter output)
    {
        using var loggerFactory = ConsoleUi.Logging(interactive: false, output);
        var log = loggerFactory.Logger();
        ReferenceDevice? cuda = device == "cpu" ? null : ReferenceDevice.TryCreateCuda();
        if (cuda is null && device == "gpu") throw new ArgumentException("--device gpu: ILGPU found no CUDA GPU; use --device cpu (or auto).");
        using var reference = cuda ?? ReferenceDevice.CreateCpu();
        log.LogInformation("reference path on ILGPU {Kind} accelerator ({Name}){Note}", reference.IsCuda ? "CUDA" : "CPU",
            reference.Accelerator.Name, reference.IsCuda ? "" : " — no GPU needed");

        var rng = new Random(seed);
        float[] x = DemoData.Activations(n, d, rng), w = DemoData.Weights(c, d, rng), gy = DemoData.Gradients(n, c, rng);
        var b = new float[c];
        for (int j = 0; j < c; j++) b[j] = 0.1f * (rng.NextSingle() - 0.5f);
        log.LogInformation("layer: X {N}×{D} with outlier channels, W {C}×{D}, ∇Y with skewed row norms", n, d, c, d);

        double[] y64 = Fp64Linear.Forward(x, w, b, n, c, d);
        double[] gx64 = Fp64Linear.GradInput(gy, w, n, c, d);
        double[] gw64 = Fp64Linear.GradWeight(gy, x, n, c, d);

        var search = new BlockSizeSearch(reference).Search(x, w, n, c, d);
        log.LogInformation("Hadamard block-size search chose G = {G}", search.GroupSize);
        var layer = new Int4LinearReference(reference);
        var hadamard = new HadamardTransform(reference);
        var lsq = new LsqQuantizer(reference);

        var rows = new List<(string Name, double Y, double Gx, double Gw)>();
        foreach ((string name, int g, SamplingMode sampling) in new[]
                 {
                     ("HQ+LSS (nonzero rows, exact)", search.GroupSize, SamplingMode.Nonzero),
                     ("HQ+LSS (Bernoulli, budget N)", search.GroupSize, SamplingMode.Bernoulli),
                     ("LSQ, no Hadamard (G = 1)", 1, SamplingMode.Nonzero),
                 })
        {
            float sx = lsq.InitStep(hadamard.Apply(x, n, d, g)), sw = lsq.InitStep(hadamard.Apply(w, c, d, g));
            var fwd = layer.Forward(x, w, n, c, d, g, sx, sw, QuantMode.Code, b);
            var grads = layer.Backward(gy, x, w, fwd, sampling, (ulong)seed);
            if (sampling == SamplingMode.Bernoulli)
                log.LogInformation("LSS kept {H}+{L} of {Rows} stacked rows for ∇W (budget N = {N}; every row with p = 1 when the nonzero rows fit the budget)",
                    grads.WeightSelection.KeptHigh, grads.WeightSelection.KeptLow, 2 * n, n);
            rows.Add((name, Fp64Linear.RelativeError(fwd.Y, y64), Fp64Linear.RelativeError(grads.GradX, gx64),
                Fp64Linear.RelativeError(grads.GradW, gw64)));
        }

        float[] qx = MinMaxInt4.FakeQuantize(x), qw = MinMaxInt4.FakeQuantize(w), qg = MinMaxInt4.FakeQuantize(gy);
        rows.Add(("naive per-tensor min-max INT4",
            Fp64Linear.RelativeError(ToFloat(Fp64Linear.Forward(qx, qw, b, n, c, d)), y64),
            Fp64Linear.RelativeError(ToFloat(Fp64Linear.GradInput(qg, qw, n, c, d)), gx64),
            Fp64Linear.RelativeError(ToFloat(Fp64Linear.GradWeight(qg, qx, n, c, d)), gw64)));

        output.WriteLine();
        output.WriteLine("relative error vs FP64  ‖est − exact‖_F / ‖exact‖_F");
        output.WriteLine($"{"method",-34} {"Y",10} {"∇X",10} {"∇W",10}");
        foreach (var r in rows) output.WriteLine($"{r.Name,-34} {r.Y,10:E2} {r.Gx,10:E2} {r.Gw,10:E2}");
        output.WriteLine();
        output.WriteLine("HQ spreads the outlier channels before the 4-bit codes are taken; bit splitting keeps ~7.5 bits of ∇Y;");
        output.WriteLine("the min-max quantizer spends its 16 levels on the outliers and the big gradient rows.");
        return 0;
    }

    private static float[] ToFloat(double[] v) => Array.ConvertAll(v, e => (float)e);
}
