using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Int4Train.Training;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>`int4train export`: a checkpoint's weights as FP32 safetensors under GPT-2/nanoGPT names, read back
/// byte by byte (header length, JSON header, contiguous offsets) and compared with the checkpoint's tensors.</summary>
[TestFixture]
public class ExportTests
{
    private static Int4Backend Backend => TrainingFixture.Backend;

    [TestCase(LinearPrecision.Fp32)]
    [TestCase(LinearPrecision.Int4HqLss)]
    public void Export_WritesEveryWeightByItsGptName_AndReadsBackBitExact(LinearPrecision precision)
    {
        string dir = CliRunner.TempDir("export");
        try
        {
            var config = GptConfig.Tiny with { Precision = precision, Width = 16, Context = 8, BatchSize = 2, EvalBatches = 1, ColdStartSteps = 1 };
            using var trainer = Trainer.Create(config, BuiltInText.Text, Backend);
            trainer.Run(3, evalEvery: 3, dir); // trained weights (not the initialisation), with outliers from the updates
            string ckpt = Path.Combine(dir, "checkpoint.bin"), st = Path.Combine(dir, "model.safetensors");
            var r = CliRunner.Run("export", "--checkpoint", ckpt, "--safetensors", st);
            Assert.That(r.Code, Is.Zero, r.Err);
            Assert.That(CliRunner.Run("export", "--checkpoint", ckpt, "--safetensors", st).Code, Is.EqualTo(1), "an existing file needs --overwrite");

            // the raw format, parsed here independently of the Safetensors reader
            byte[] file = File.ReadAllBytes(st);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
            Assert.That(n % 8, Is.Zero, "header padded to 8 bytes");
            using var header = JsonDocument.Parse(Encoding.UTF8.GetString(file, 8, (int)n));
            var entries = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToArray();
            long expectOffset = 0;
            foreach (var e in entries.OrderBy(e => e.Value.GetProperty("data_offsets")[0].GetInt64()))
            {
                Assert.That(e.Value.GetProperty("dtype").GetString(), Is.EqualTo("F32"));
                long begin = e.Value.GetProperty("data_offsets")[0].GetInt64(), end = e.Value.GetProperty("data_offsets")[1].GetInt64();
                long count = e.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, d) => a * d.GetInt64());
                Assert.That((begin, end - begin), Is.EqualTo((expectOffset, 4 * count)), e.Name + ": contiguous, 4 bytes per element");
                expectOffset = end;
            }
            Assert.That(8 + (long)n + expectOffset, Is.EqualTo(file.Length), "no bytes after the last tensor");

            var (tensors, metadata) = Safetensors.Read(st);
            var byName = tensors.ToDictionary(t => t.Name);
            var state = trainer.Model.ExportState().ToDictionary(t => t.Name);
            int c = config.Width, v = trainer.Data.VocabSize, layers = config.Layers;
            Assert.That(byName["transformer.wte.weight"].Shape, Is.EqualTo(new long[] { v, c }));
            Assert.That(byName["transformer.wpe.weight"].Shape, Is.EqualTo(new long[] { config.Context, c }));
            Assert.That(byName["transformer.h.0.attn.c_attn.weight"].Shape, Is.EqualTo(new long[] { 3 * c, c }));
            Assert.That(byName["transformer.h.0.attn.c_attn.bias"].Shape, Is.EqualTo(new long[] { 3 * c }));
            Assert.That(byName["transformer.h.0.mlp.c_fc.weight"].Shape, Is.EqualTo(new long[] { 4 * c, c }));
            Assert.That(byName["transformer.h.0.mlp.c_proj.weight"].Shape, Is.EqualTo(new long[] { c, 4 * c }));
            Assert.That(byName["transformer.h.1.ln_2.bias"].Shape, Is.EqualTo(new long[] { c }));
            Assert.That(tensors, Has.Count.EqualTo(2 + layers * 12 + 2 + 1), "wte, wpe, 12 per layer, ln_f, lm_head");
            foreach (var (ours, s) in state)
            {
                string? gpt = GptExport.GptName(ours);
                if (gpt is null) continue;
                Assert.That(byName[gpt].Data, Is.EqualTo(s.Data), $"{ours} → {gpt}");
            }
            Assert.That(byName["lm_head.weight"].Data, Is.EqualTo(state["wte"].Data), "the tied head");
            Assert.That(state["h0.qkv.weight"].Data.Max(MathF.Abs), Is.GreaterThan(0), "real weights");
            Assert.That(metadata["vocab"], Is.EqualTo(trainer.Data.Vocab));
            Assert.That(metadata["step"], Is.EqualTo("3"));
            using var cfg = JsonDocument.Parse(metadata["config"]);
            Assert.That(cfg.RootElement.GetProperty("n_embd").GetInt32(), Is.EqualTo(c));
            Assert.That(cfg.RootElement.GetProperty("vocab_size").GetInt32(), Is.EqualTo(v));
            Assert.That(metadata.ContainsKey("int4_step_sizes"), Is.EqualTo(precision.IsInt4()));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
