namespace Int4Train.Training;

/// <summary>How a GPT tensor starts (nanoGPT's initialisation).</summary>
public enum GptTensorInit
{
    /// <summary>Zeros (biases, LayerNorm shifts).</summary>
    Zero,
    /// <summary>Ones (LayerNorm gains).</summary>
    One,
    /// <summary>N(0, std²), drawn in table order from one <see cref="Random"/>(seed).</summary>
    Normal,
    /// <summary>An INT4 step size: set by its layer's first forward (§2.1).</summary>
    Step,
}

/// <summary>One tensor of the GPT: its checkpoint name, element count, initialisation, AdamW weight-decay group, and
/// for a block linear's tensors the linear (4·layer + k) it belongs to.</summary>
public sealed record GptTensorSpec(string Name, long Count, GptTensorInit Init, float Std, bool Decay, int Linear = -1)
{
    /// <summary>An INT4 step size (s_X or s_W, one element).</summary>
    public bool IsStepSize => Init == GptTensorInit.Step;
}

/// <summary>One block linear: layer l, k (0 qkv, 1 proj, 2 up, 3 down), shape, initial std and the key of its randomness.</summary>
public sealed record GptLinearSpec(int Layer, int K, string Name, int In, int Out, float Std, ulong Key)
{
    /// <summary>Index among the block linears (4·layer + k).</summary>
    public int Index => 4 * Layer + K;
}

/// <summary>
/// The GPT's tensor table in one place: every tensor in checkpoint order with its shape, initialisation and
/// weight-decay group, and the block linears with their keys. The host <see cref="Gpt"/> builds its parameters from
/// it, <see cref="GptInit"/> draws the initial values from it, and the device model (native model_build.cu, which keeps
/// its own copy for its flat buffers) is checked against it by a GPU test (DeviceGptLayoutTests).
/// Order: wte, wpe, then per block h{l}.ln1.weight, .ln1.bias, .ln2.weight, .ln2.bias, and for qkv, proj, up, down:
/// .weight (out × in), .bias, and for a linear that runs INT4 (<see cref="GptConfig.RunsInt4"/>: an INT4 precision, and its
/// class among <see cref="GptConfig.Int4Classes"/>) .step_x, .step_w; finally ln_f.weight, ln_f.bias.
/// Weight decay on every 2-D tensor (linear weights and both embeddings), as nanoGPT's configure_optimizers.
/// </summary>
public static class GptTensorTable
{
    /// <summary>The block linears' class names, k = 0 … 3 (the checkpoint names' h{l}.{name}, bit k of <see cref="GptLinearClasses"/>).</summary>
    internal static readonly string[] LinearNames = ["qkv", "proj", "up", "down"];

    /// <summary>The key of block linear (l, k)'s randomness: Hash.Key(seed, l, k) (native host_key).</summary>
    public static ulong LinearKey(int seed, int layer, int k) => Hash.Key(seed, layer, k);

    /// <summary>The block linears in order (h0.qkv, h0.proj, h0.up, h0.down, h1.qkv …): qkv C → 3C, proj C → C, up C → 4C,
    /// down 4C → C; the residual projections (proj, down) start with std 0.02/√(2L), the others 0.02.</summary>
    public static IReadOnlyList<GptLinearSpec> Linears(GptConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.Width;
        float projStd = 0.02f / MathF.Sqrt(2 * config.Layers);
        (int In, int Out, float Std)[] dims = [(c, 3 * c, 0.02f), (c, c, projStd), (c, 4 * c, 0.02f), (4 * c, c, projStd)];
        var r = new List<GptLinearSpec>(4 * config.Layers);
        for (int l = 0; l < config.Layers; l++)
            for (int k = 0; k < 4; k++)
                r.Add(new GptLinearSpec(l, k, $"h{l}.{LinearNames[k]}", dims[k].In, dims[k].Out, dims[k].Std, LinearKey(config.Seed, l, k)));
        return r;
    }

    /// <summary>Every tensor in checkpoint order for a vocabulary of <paramref name="vocabSize"/> symbols.</summary>
    public static IReadOnlyList<GptTensorSpec> Tensors(GptConfig config, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.Width;
        var linears = Linears(config);
        var r = new List<GptTensorSpec>
        {
            new("wte", (long)vocabSize * c, GptTensorInit.Normal, 0.02f, Decay: true),
            new("wpe", (long)config.Context * c, GptTensorInit.Normal, 0.02f, Decay: true),
        };
        for (int l = 0; l < config.Layers; l++)
        {
            string p = $"h{l}.";
            r.Add(new(p + "ln1.weight", c, GptTensorInit.One, 0, false));
            r.Add(new(p + "ln1.bias", c, GptTensorInit.Zero, 0, false));
            r.Add(new(p + "ln2.weight", c, GptTensorInit.One, 0, false));
            r.Add(new(p + "ln2.bias", c, GptTensorInit.Zero, 0, false));
            foreach (var lin in linears.Where(s => s.Layer == l))
            {
                r.Add(new(lin.Name + ".weight", (long)lin.Out * lin.In, GptTensorInit.Normal, lin.Std, true, lin.Index));
                r.Add(new(lin.Name + ".bias", lin.Out, GptTensorInit.Zero, 0, false, lin.Index));
                if (config.RunsInt4(lin.K))
                {
                    r.Add(new(lin.Name + ".step_x", 1, GptTensorInit.Step, 0, false, lin.Index));
                    r.Add(new(lin.Name + ".step_w", 1, GptTensorInit.Step, 0, false, lin.Index));
                }
            }
        }
        r.Add(new("ln_f.weight", c, GptTensorInit.One, 0, false));
        r.Add(new("ln_f.bias", c, GptTensorInit.Zero, 0, false));
        return r;
    }
}
