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

    /// <summary>The exported names mean what they mean in nanoGPT: a forward written from nanoGPT's model.py (in
    /// double precision, tanh GELU as Int4Train) over the safetensors tensors alone gives the FP32 model's next-token
    /// probabilities, so q|k|v order, head split and the [out, in] layout are right.</summary>
    [Test]
    public void ExportedWeights_InANanoGptForward_GiveTheModelsPredictions()
    {
        string dir = CliRunner.TempDir("export-forward");
        try
        {
            var config = GptConfig.Tiny with { Precision = LinearPrecision.Fp32, Width = 16, Heads = 4, Context = 8, BatchSize = 2, EvalBatches = 1 };
            using var trainer = Trainer.Create(config, BuiltInText.Text, Backend);
            trainer.Run(4, evalEvery: 4, dir);
            string st = Path.Combine(dir, "m.safetensors");
            GptExport.ToSafetensors(Path.Combine(dir, "checkpoint.bin"), st);
            var w = Safetensors.Read(st).Tensors.ToDictionary(t => t.Name, t => t.Data);
            int[] tokens = [.. CharDataset.Encode(trainer.Data.Vocab, "To be, o")];
            trainer.Model.Forward(tokens, null, 1, 0, training: false);
            float[] expected = trainer.Model.NextTokenProbabilities(0);
            double[] actual = NanoGptNextToken(w, tokens, config.Layers, config.Heads, config.Width, trainer.Data.VocabSize);
            for (int i = 0; i < expected.Length; i++) Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-4), $"p[{i}]");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static double[] NanoGptNextToken(Dictionary<string, float[]> w, int[] idx, int layers, int heads, int c, int v)
    {
        int t = idx.Length, hs = c / heads;
        var x = new double[t, c];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < c; j++) x[i, j] = w["transformer.wte.weight"][idx[i] * c + j] + w["transformer.wpe.weight"][i * c + j];
        for (int l = 0; l < layers; l++)
        {
            string h = $"transformer.h.{l}.";
            var qkv = Linear(LayerNorm(x, w[h + "ln_1.weight"], w[h + "ln_1.bias"]), w[h + "attn.c_attn.weight"], w[h + "attn.c_attn.bias"]);
            var y = new double[t, c];
            for (int head = 0; head < heads; head++)
                for (int i = 0; i < t; i++)
                {
                    // q, k, v = qkv.split(C, dim=2); heads are contiguous hs-wide slices of each
                    var att = new double[i + 1];
                    for (int j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < hs; d++) dot += qkv[i, head * hs + d] * qkv[j, c + head * hs + d];
                        att[j] = dot / Math.Sqrt(hs);
                    }
                    double max = att.Max(), sum = att.Sum(a => Math.Exp(a - max));
                    for (int j = 0; j <= i; j++)
                        for (int d = 0; d < hs; d++) y[i, head * hs + d] += Math.Exp(att[j] - max) / sum * qkv[j, 2 * c + head * hs + d];
                }
            Add(x, Linear(y, w[h + "attn.c_proj.weight"], w[h + "attn.c_proj.bias"]));
            var up = Linear(LayerNorm(x, w[h + "ln_2.weight"], w[h + "ln_2.bias"]), w[h + "mlp.c_fc.weight"], w[h + "mlp.c_fc.bias"]);
            for (int i = 0; i < up.GetLength(0); i++)
                for (int j = 0; j < up.GetLength(1); j++)
                {
                    double u = up[i, j];
                    up[i, j] = 0.5 * u * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)));
                }
            Add(x, Linear(up, w[h + "mlp.c_proj.weight"], w[h + "mlp.c_proj.bias"]));
        }
        var logits = Linear(LayerNorm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"]), w["lm_head.weight"], new float[v]);
        var last = Enumerable.Range(0, v).Select(j => logits[t - 1, j]).ToArray();
        double m = last.Max(), z = last.Sum(a => Math.Exp(a - m));
        return last.Select(a => Math.Exp(a - m) / z).ToArray();
    }

    /// <summary>nn.Linear: y = x·Wᵀ + b with W [out, in].</summary>
    private static double[,] Linear(double[,] x, float[] weight, float[] bias)
    {
        int n = x.GetLength(0), din = x.GetLength(1), dout = bias.Length;
        Assert.That(weight, Has.Length.EqualTo(dout * din));
        var y = new double[n, dout];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < dout; o++)
            {
                double acc = bias[o];
                for (int k = 0; k < din; k++) acc += x[i, k] * weight[o * din + k];
                y[i, o] = acc;
            }
        return y;
    }

    private static double[,] LayerNorm(double[,] x, float[] g, float[] b)
    {
        int n = x.GetLength(0), c = x.GetLength(1);
        var y = new double[n, c];
        for (int i = 0; i < n; i++)
        {
            double mean = 0, var = 0;
            for (int j = 0; j < c; j++) mean += x[i, j] / c;
            for (int j = 0; j < c; j++) var += (x[i, j] - mean) * (x[i, j] - mean) / c;
            for (int j = 0; j < c; j++) y[i, j] = (x[i, j] - mean) / Math.Sqrt(var + 1e-5) * g[j] + b[j];
        }
        return y;
    }

    private static void Add(double[,] x, double[,] y)
    {
        for (int i = 0; i < x.GetLength(0); i++)
            for (int j = 0; j < x.GetLength(1); j++) x[i, j] += y[i, j];
    }
}
