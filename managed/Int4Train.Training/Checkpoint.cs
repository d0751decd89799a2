using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Int4Train.Training;

/// <summary>
/// A simple binary checkpoint: magic "I4GPT001", the configuration (JSON), the vocabulary, the step, each INT4
/// layer's progress (forward count, block size), then every parameter by name with its values and AdamW state
/// (m, v, step count). Step sizes are stored as one-element tensors ("h0.qkv.step_x" …).
/// </summary>
/// <remarks>Thread safety: stateless; concurrent calls are safe for different files and for models not in use elsewhere. Two saves to the same path at once are not supported.</remarks>
public static class Checkpoint
{
    private const string Magic = "I4GPT001";
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Writes a model's state (via a temporary file, then a rename). Any <see cref="IGptModel"/> writes the
    /// same format, so a checkpoint of one kind (host, device) resumes on the other.</summary>
    public static void Save(string path, IGptModel model, string vocab, long step)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocab);
        var progress = model.LayerProgress;
        var state = model.ExportState();
        string tmp = path + ".tmp";
        using (var w = new BinaryWriter(File.Create(tmp), Encoding.UTF8))
        {
            w.Write(Encoding.ASCII.GetBytes(Magic));
            w.Write(JsonSerializer.Serialize(model.Config, Json));
            w.Write(model.VocabSize);
            w.Write(vocab);
            w.Write(step);
            w.Write(progress.Count);
            foreach (var p in progress) { w.Write(p.StepCount); w.Write(p.GroupSize ?? -1); }
            w.Write(state.Count);
            foreach (var t in state)
            {
                w.Write(t.Name);
                w.Write(t.Data.Length);
                WriteFloats(w, t.Data);
                WriteFloats(w, t.M);
                WriteFloats(w, t.V);
                w.Write(t.AdamSteps);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads a checkpoint's header: configuration, vocabulary and step.</summary>
    public static (GptConfig Config, string Vocab, long Step) ReadHeader(string path)
    {
        using var r = Open(path);
        return ReadHeader(r, path);
    }

    /// <summary>Loads a checkpoint into a freshly built model (same configuration and vocabulary) with its optimiser
    /// state; returns the step.</summary>
    public static long Load(string path, IGptModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var r = Open(path);
        var (config, _, step) = ReadHeader(r, path);
        if (config != model.Config) throw new InvalidDataException($"{path}: the checkpoint's configuration differs from the model's.");
        try
        {
            int nLin = r.ReadInt32();
            int expected = model.LayerProgress.Count;
            if (nLin != expected) throw new InvalidDataException($"{path}: {nLin} INT4 layers, the model has {expected}.");
            var progress = new LayerProgress[nLin];
            for (int i = 0; i < nLin; i++)
            {
                int count = r.ReadInt32(), group = r.ReadInt32();
                progress[i] = new LayerProgress(count, group < 0 ? null : group);
            }
            int np = r.ReadInt32();
            if (np < 0) throw new InvalidDataException($"{path}: negative tensor count {np}.");
            var state = new TensorState[np];
            for (int i = 0; i < np; i++)
            {
                string name = r.ReadString();
                int len = r.ReadInt32();
                if (len < 0 || (long)len * 12 > r.BaseStream.Length) throw new InvalidDataException($"{path}: tensor '{name}' has a bad length {len}.");
                float[] data = ReadFloats(r, len), m = ReadFloats(r, len), v = ReadFloats(r, len);
                state[i] = new TensorState(name, data, m, v, r.ReadInt32());
            }
            model.LayerProgress = progress;
            model.ImportState(state);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path} is truncated.", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path} does not fit the model: {e.Message}", e);
        }
        return step;
    }

    private static BinaryReader Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        return new BinaryReader(File.OpenRead(path), Encoding.UTF8);
    }

    private static (GptConfig, string, long) ReadHeader(BinaryReader r, string path)
    {
        try
        {
            if (Encoding.ASCII.GetString(r.ReadBytes(Magic.Length)) != Magic)
                throw new InvalidDataException($"{path} is not an Int4Train GPT checkpoint.");
            var config = JsonSerializer.Deserialize<GptConfig>(r.ReadString(), Json) ?? throw new InvalidDataException($"{path}: no configuration.");
            int vocabSize = r.ReadInt32();
            string vocab = r.ReadString();
            if (vocab.Length != vocabSize) throw new InvalidDataException($"{path}: vocabulary of {vocab.Length} symbols, header says {vocabSize}.");
            return (config, vocab, r.ReadInt64());
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path} is truncated.", e);
        }
    }

    private static void WriteFloats(BinaryWriter w, float[] a)
    {
        foreach (float f in a) w.Write(f);
    }

    private static float[] ReadFloats(BinaryReader r, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.ReadSingle();
        return a;
    }
}
