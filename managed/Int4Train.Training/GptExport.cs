using System.Globalization;
using System.Text.Json;

namespace Int4Train.Training;

/// <summary>
/// A checkpoint's weights under the usual GPT-2 / nanoGPT names and shapes (PyTorch <c>nn.Linear</c> layout,
/// weight [out, in]), for other tools (docs/checkpoint.md lists the mapping):
/// <c>wte → transformer.wte.weight [V, C]</c>, <c>wpe → transformer.wpe.weight [T, C]</c>,
/// <c>hL.ln1/ln2 → transformer.h.L.ln_1/ln_2</c>, <c>hL.qkv → transformer.h.L.attn.c_attn [3C, C]</c> (rows q | k | v,
/// heads contiguous, as nanoGPT splits them), <c>hL.proj → transformer.h.L.attn.c_proj [C, C]</c>,
/// <c>hL.up → transformer.h.L.mlp.c_fc [4C, C]</c>, <c>hL.down → transformer.h.L.mlp.c_proj [C, 4C]</c>,
/// <c>ln_f → transformer.ln_f</c>, and <c>lm_head.weight</c>, a copy of the tied token embedding. The INT4 step sizes
/// and the optimiser state are not weights: the step sizes go into the metadata.
/// </summary>
public static class GptExport
{
    /// <summary>The GPT-2 name of one of our tensor names (null for an INT4 step size).</summary>
    public static string? GptName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (name)
        {
            case "wte": return "transformer.wte.weight";
            case "wpe": return "transformer.wpe.weight";
            case "ln_f.weight": return "transformer.ln_f.weight";
            case "ln_f.bias": return "transformer.ln_f.bias";
        }
        string[] parts = name.Split('.');
        if (parts.Length != 3 || parts[0].Length < 2 || parts[0][0] != 'h' || !int.TryParse(parts[0].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
            throw new InvalidDataException($"Unknown tensor name '{name}'.");
        string module = parts[1] switch
        {
            "ln1" => "ln_1",
            "ln2" => "ln_2",
            "qkv" => "attn.c_attn",
            "proj" => "attn.c_proj",
            "up" => "mlp.c_fc",
            "down" => "mlp.c_proj",
            _ => throw new InvalidDataException($"Unknown tensor name '{name}'."),
        };
        return parts[2] switch
        {
            "weight" or "bias" => $"transformer.h.{layer}.{module}.{parts[2]}",
            "step_x" or "step_w" => null,
            _ => throw new InvalidDataException($"Unknown tensor name '{name}'."),
        };
    }

    /// <summary>The FP32 weights of a checkpoint by GPT-2 names with their shapes, and the metadata (format, source,
    /// configuration, vocabulary, step, INT4 step sizes).</summary>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) FromCheckpoint(string checkpoint)
    {
        var (header, _, state) = Checkpoint.ReadAll(checkpoint);
        var config = header.Config;
        int c = config.Width, v = CharDataset.Symbols(header.Vocab).Length;
        var tensors = new List<NamedTensor>();
        var steps = new SortedDictionary<string, float>(StringComparer.Ordinal);
        foreach (var t in state)
        {
            string? gpt = GptName(t.Name);
            if (gpt is null) { steps[t.Name] = t.Data[0]; continue; }
            long[] shape = Shape(t.Name, config, v);
            if (shape.Aggregate(1L, (a, b) => a * b) != t.Data.Length)
                throw new InvalidDataException($"{checkpoint}: tensor '{t.Name}' has {t.Data.Length} values, expected [{string.Join(", ", shape)}].");
            tensors.Add(new NamedTensor(gpt, shape, t.Data));
            if (t.Name == "wte") tensors.Add(new NamedTensor("lm_head.weight", shape, (float[])t.Data.Clone()));
        }
        var inv = CultureInfo.InvariantCulture;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["source"] = "int4train",
            ["step"] = header.Step.ToString(inv),
            ["precision"] = GptConfig.PrecisionName(config.Precision),
            ["config"] = JsonSerializer.Serialize(new { n_layer = config.Layers, n_head = config.Heads, n_embd = c, block_size = config.Context, vocab_size = v, bias = true, dropout = config.Dropout }),
            ["vocab"] = header.Vocab,
        };
        if (steps.Count > 0)
            metadata["int4_step_sizes"] = JsonSerializer.Serialize(steps);
        if (config.Int4Classes != GptLinearClasses.All) // the other block linears ran bf16
            metadata["int4_layers"] = GptConfig.LinearClassList(config.Int4Classes);
        if (config.SmoothAlpha != 0) // the step sizes quantised X·diag(1/m) and W·diag(m), m made from each batch
        {
            metadata["int4_smooth_alpha"] = config.SmoothAlpha.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            metadata["int4_smooth_layers"] = GptConfig.LinearClassList(config.SmoothClasses);
        }
        if (config.Int4Ablation != Int4Ablation.None) // a diagnostic run: one half of every INT4 linear was FP32
            metadata["int4_ablation"] = GptConfig.AblationName(config.Int4Ablation);
        return (tensors, metadata);
    }

    /// <summary>Exports a checkpoint to a safetensors file; returns the number of tensors written.</summary>
    public static int ToSafetensors(string checkpoint, string path)
    {
        var (tensors, metadata) = FromCheckpoint(checkpoint);
        Safetensors.Write(path, tensors, metadata);
        return tensors.Count;
    }

    private static long[] Shape(string name, GptConfig config, int vocab)
    {
        long c = config.Width;
        if (name == "wte") return [vocab, c];
        if (name == "wpe") return [config.Context, c];
        if (name.StartsWith("ln_f.", StringComparison.Ordinal)) return [c];
        string[] parts = name.Split('.');
        bool weight = parts[2] == "weight";
        return parts[1] switch
        {
            "ln1" or "ln2" => [c],
            "qkv" => weight ? [3 * c, c] : [3 * c],
            "proj" => weight ? [c, c] : [c],
            "up" => weight ? [4 * c, c] : [4 * c],
            "down" => weight ? [c, 4 * c] : [c],
            _ => throw new InvalidDataException($"Unknown tensor name '{name}'."),
        };
    }
}
