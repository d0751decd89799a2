using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Int4Train.Training;

/// <summary>
/// A simple binary checkpoint: magic "I4GPT001", the configuration (JSON), the vocabulary, the step, each INT4
/// layer's progress (forward count, block size), then every parameter by name with its values and AdamW state
/// (m, v, step count). Step sizes are stored as the one-element step parameters.
/// </summary>
public static class Checkpoint
{
    private const string Magic = "I4GPT001";
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Writes the trainer's state to a file (via a temporary file, then a rename).</summary>
    public static void Save(string path, Gpt model, AdamW optimizer, string vocab, long step)
    {
        model.PullSteps();
        string tmp = path + ".tmp";
        using (var w = new BinaryWriter(File.Create(tmp), Encoding.UTF8))
        {
            w.Write(Encoding.ASCII.GetBytes(Magic));
            w.Write(JsonSerializer.Serialize(model.Config, Json));
            w.Write(model.VocabSize);
            w.Write(vocab);
            w.Write(step);
            var linears = model.Linears.ToArray();
            w.Write(linears.Length);
            foreach (var lin in linears) { w.Write(lin.StepCount); w.Write(lin.GroupSize ?? -1); }
            var ps = model.Parameters;
            w.Write(ps.Count);
            for (int i = 0; i < ps.Count; i++)
            {
                w.Write(ps[i].Name);
                w.Write(ps[i].Data.Length);
                WriteFloats(w, ps[i].Data);
                WriteFloats(w, optimizer.M[i]);
                WriteFloats(w, optimizer.V[i]);
                w.Write(optimizer.T[i]);
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

    /// <summary>Loads a checkpoint into a freshly built model (same configuration and vocabulary) and its optimiser.</summary>
    public static long Load(string path, Gpt model, AdamW optimizer)
    {
        using var r = Open(path);
        var (config, _, step) = ReadHeader(r, path);
        if (config != model.Config) throw new InvalidDataException($"{path}: the checkpoint's configuration differs from the model's.");
        int nLin = r.ReadInt32();
        var linears = model.Linears.ToArray();
        if (nLin != linears.Length) throw new InvalidDataException($"{path}: {nLin} INT4 layers, the model has {linears.Length}.");
        foreach (var lin in linears)
        {
            int count = r.ReadInt32(), group = r.ReadInt32();
            lin.RestoreProgress(count, group < 0 ? null : group);
        }
        var ps = model.Parameters;
        int np = r.ReadInt32();
        if (np != ps.Count) throw new InvalidDataException($"{path}: {np} parameters, the model has {ps.Count}.");
        for (int i = 0; i < np; i++)
        {
            string name = r.ReadString();
            int len = r.ReadInt32();
            if (name != ps[i].Name || len != ps[i].Data.Length)
                throw new InvalidDataException($"{path}: parameter {i} is '{name}' ({len}), the model expects '{ps[i].Name}' ({ps[i].Data.Length}).");
            ReadFloats(r, ps[i].Data);
            ReadFloats(r, optimizer.M[i]);
            ReadFloats(r, optimizer.V[i]);
            optimizer.T[i] = r.ReadInt32();
        }
        model.PushSteps();
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

    private static void ReadFloats(BinaryReader r, float[] a)
    {
        for (int i = 0; i < a.Length; i++) a[i] = r.ReadSingle();
    }
}
