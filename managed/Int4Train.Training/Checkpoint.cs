using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Int4Train.Training;

/// <summary>
/// A simple binary checkpoint (layout: docs/checkpoint.md): magic "I4GPT001", the configuration (JSON), the
/// vocabulary, the step, each INT4 layer's progress (forward count, block size), then every parameter by name with
/// its values and AdamW state (m, v, step count). Step sizes are stored as one-element tensors ("h0.qkv.step_x" …).
/// Written through <see cref="AtomicFile"/>; anything read that does not fit (corrupt, truncated, another file)
/// is an <see cref="InvalidDataException"/> naming the file.
/// </summary>
/// <remarks>Thread safety: stateless; concurrent calls are safe for different files and for models not in use elsewhere. Two saves to the same path at once are not supported.</remarks>
public static class Checkpoint
{
    private const string Magic = "I4GPT001";
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>What a checkpoint's header holds.</summary>
    public readonly record struct Header(GptConfig Config, string Vocab, long Step);

    /// <summary>Writes a model's state crash-safely. Any <see cref="IGptModel"/> writes the same format, so a checkpoint
    /// of one kind (host, device) resumes on the other.</summary>
    public static void Save(string path, IGptModel model, string vocab, long step)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocab);
        var progress = model.LayerProgress;
        var state = model.ExportState();
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
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
        });
    }

    /// <summary>Reads a checkpoint's header: configuration (validated), vocabulary and step.</summary>
    public static (GptConfig Config, string Vocab, long Step) ReadHeader(string path)
    {
        using var r = Open(path);
        var h = Read(path, () => ReadHeader(r, path));
        return (h.Config, h.Vocab, h.Step);
    }

    /// <summary>Every tensor of a checkpoint (values and optimiser state) with its header, without building a model
    /// (for export).</summary>
    public static (Header Header, IReadOnlyList<LayerProgress> Progress, IReadOnlyList<TensorState> Tensors) ReadAll(string path)
    {
        using var r = Open(path);
        return Read(path, () =>
        {
            var h = ReadHeader(r, path);
            var progress = ReadProgress(r, path, expected: null);
            var tensors = ReadTensors(r, path, expected: null);
            return (h, progress, tensors);
        });
    }

    /// <summary>Loads a checkpoint into a freshly built model (same configuration and vocabulary) with its optimiser
    /// state; returns the step.</summary>
    public static long Load(string path, IGptModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var r = Open(path);
        return Read(path, () =>
        {
            var h = ReadHeader(r, path);
            if (h.Config != model.Config) throw new InvalidDataException($"{path}: the checkpoint's configuration differs from the model's.");
            var progress = ReadProgress(r, path, model.LayerProgress.Count);
            var state = ReadTensors(r, path, expected: null); // ImportState checks names and sizes
            model.LayerProgress = progress;
            model.ImportState(state);
            return h.Step;
        });
    }

    /// <summary>Runs a read, turning the ways a corrupt or truncated file fails into one <see cref="InvalidDataException"/>.</summary>
    private static T Read<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path} is truncated or corrupt (it ends early).", e);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is corrupt: its configuration is not valid JSON ({e.Message}).", e);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException or FormatException or DecoderFallbackException)
        {
            throw new InvalidDataException($"{path} is corrupt or does not fit the model: {e.Message}", e);
        }
    }

    private static BinaryReader Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        return new BinaryReader(File.OpenRead(path), Encoding.UTF8);
    }

    private static Header ReadHeader(BinaryReader r, string path)
    {
        if (Encoding.ASCII.GetString(r.ReadBytes(Magic.Length)) != Magic)
            throw new InvalidDataException($"{path} is not an Int4Train GPT checkpoint.");
        var config = JsonSerializer.Deserialize<GptConfig>(ReadString(r, path), Json) ?? throw new InvalidDataException($"{path}: no configuration.");
        int vocabSize = r.ReadInt32();
        string vocab = ReadString(r, path);
        int symbols = CharDataset.Symbols(vocab).Length;
        if (symbols != vocabSize) throw new InvalidDataException($"{path}: vocabulary of {symbols} symbols, header says {vocabSize}.");
        config.Validate(vocabSize);
        long step = r.ReadInt64();
        if (step < 0) throw new InvalidDataException($"{path}: negative step {step}.");
        return new Header(config, vocab, step);
    }

    /// <summary>A length-prefixed string whose length cannot exceed what is left of the file.</summary>
    private static string ReadString(BinaryReader r, string path)
    {
        long start = r.BaseStream.Position;
        int length = r.Read7BitEncodedInt();
        if (length < 0 || length > r.BaseStream.Length - r.BaseStream.Position)
            throw new InvalidDataException($"{path}: a string of {length} bytes at offset {start} runs past the end of the file.");
        return Encoding.UTF8.GetString(r.ReadBytes(length));
    }

    private static LayerProgress[] ReadProgress(BinaryReader r, string path, int? expected)
    {
        int nLin = r.ReadInt32();
        if (expected is int e && nLin != e) throw new InvalidDataException($"{path}: {nLin} INT4 layers, the model has {e}.");
        if (nLin < 0 || (long)nLin * 8 > r.BaseStream.Length) throw new InvalidDataException($"{path}: bad layer count {nLin}.");
        var progress = new LayerProgress[nLin];
        for (int i = 0; i < nLin; i++)
        {
            int count = r.ReadInt32(), group = r.ReadInt32();
            if (count < 0) throw new InvalidDataException($"{path}: layer {i} has a negative step count {count}.");
            progress[i] = new LayerProgress(count, group < 0 ? null : group);
        }
        return progress;
    }

    private static TensorState[] ReadTensors(BinaryReader r, string path, int? expected)
    {
        int np = r.ReadInt32();
        if (expected is int e && np != e) throw new InvalidDataException($"{path}: {np} tensors, the model has {e}.");
        if (np < 0 || (long)np * 16 > r.BaseStream.Length) throw new InvalidDataException($"{path}: bad tensor count {np}.");
        var state = new TensorState[np];
        for (int i = 0; i < np; i++)
        {
            string name = ReadString(r, path);
            int len = r.ReadInt32();
            if (len < 0 || (long)len * 12 > r.BaseStream.Length - r.BaseStream.Position)
                throw new InvalidDataException($"{path}: tensor '{name}' has a bad length {len}.");
            float[] data = ReadFloats(r, len), m = ReadFloats(r, len), v = ReadFloats(r, len);
            state[i] = new TensorState(name, data, m, v, r.ReadInt32());
        }
        return state;
    }

    // Floats are little-endian IEEE 754 binary32 (BinaryWriter's order); bulk copies where the machine is little-endian.
    private static void WriteFloats(BinaryWriter w, float[] a)
    {
        if (BitConverter.IsLittleEndian) w.Write(MemoryMarshal.AsBytes(a.AsSpan()));
        else foreach (float f in a) w.Write(f);
    }

    private static float[] ReadFloats(BinaryReader r, int n)
    {
        var a = new float[n];
        if (BitConverter.IsLittleEndian) r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(a.AsSpan()));
        else for (int i = 0; i < n; i++) a[i] = r.ReadSingle();
        return a;
    }
}
