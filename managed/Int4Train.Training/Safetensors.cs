using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Int4Train.Training;

/// <summary>One FP32 tensor of a safetensors file: its name, shape (row-major) and values.</summary>
public sealed record NamedTensor(string Name, long[] Shape, float[] Data);

/// <summary>
/// The safetensors format (Hugging Face), FP32 only: an 8-byte little-endian header length N, N bytes of JSON
/// <c>{"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}}</c>
/// (padded with spaces to a multiple of 8), then the tensors' little-endian bytes back to back, offsets relative to
/// the end of the header. Written through <see cref="AtomicFile"/>.
/// </summary>
public static class Safetensors
{
    /// <summary>Writes tensors (in the given order) and string metadata.</summary>
    public static void Write(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors export needs a little-endian machine.");
        var header = new MemoryStream();
        using (var j = new Utf8JsonWriter(header))
        {
            j.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                j.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) j.WriteString(k, v);
                j.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                long count = t.Shape.Aggregate(1L, (a, b) => checked(a * b));
                if (count != t.Data.Length) throw new ArgumentException($"Tensor '{t.Name}': shape [{string.Join(", ", t.Shape)}] has {count} elements, data {t.Data.Length}.", nameof(tensors));
                j.WriteStartObject(t.Name);
                j.WriteString("dtype", "F32");
                j.WriteStartArray("shape");
                foreach (long d in t.Shape) j.WriteNumberValue(d);
                j.WriteEndArray();
                j.WriteStartArray("data_offsets");
                j.WriteNumberValue(offset);
                j.WriteNumberValue(offset += 4L * t.Data.Length);
                j.WriteEndArray();
                j.WriteEndObject();
            }
            j.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        AtomicFile.Write(path, s =>
        {
            Span<byte> length = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            s.Write(length);
            header.Position = 0;
            header.CopyTo(s);
            foreach (var t in tensors) s.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
        });
    }

    /// <summary>Reads an FP32 safetensors file: its tensors (in file order) and metadata; anything else is an
    /// <see cref="InvalidDataException"/>.</summary>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        try
        {
            if (file.Length < 8) throw new InvalidDataException($"{path}: too short for a safetensors file.");
            ulong n = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(file);
            if (n > (ulong)file.Length - 8) throw new InvalidDataException($"{path}: header length {n} runs past the end of the file.");
            int dataStart = 8 + (int)n;
            using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
            var tensors = new List<(long Begin, NamedTensor Tensor)>();
            var metadata = new Dictionary<string, string>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                if (p.Value.GetProperty("dtype").GetString() != "F32") throw new InvalidDataException($"{path}: tensor '{p.Name}' is not F32.");
                long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long[] off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long count = shape.Aggregate(1L, (a, b) => checked(a * b));
                if (off.Length != 2 || off[1] - off[0] != 4 * count || off[0] < 0 || dataStart + off[1] > file.Length)
                    throw new InvalidDataException($"{path}: tensor '{p.Name}' has bad offsets.");
                var data = MemoryMarshal.Cast<byte, float>(file.AsSpan(dataStart + (int)off[0], (int)(4 * count))).ToArray();
                tensors.Add((off[0], new NamedTensor(p.Name, shape, data)));
            }
            return ([.. tensors.OrderBy(t => t.Begin).Select(t => t.Tensor)], metadata);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{path}: not a valid FP32 safetensors file ({e.Message}).", e);
        }
    }
}
