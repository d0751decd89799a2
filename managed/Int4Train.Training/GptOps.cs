namespace Int4Train.Training;

/// <summary>
/// The FP32 pieces of the GPT, each an explicit forward and backward on row-major host arrays (llm.c style). N = B·T
/// token rows, C channels. Backward functions accumulate (+=) into the gradient arrays they are given.
/// </summary>
internal static class GptOps
{
    // ---------------------------------------------------------------- embeddings
    /// <summary>out[b,t,:] = wte[tok[b,t],:] + wpe[t,:].</summary>
    public static void EmbedForward(float[] output, int[] tokens, float[] wte, float[] wpe, int b, int t, int c)
    {
        for (int i = 0; i < b * t; i++)
        {
            int pos = i % t, tok = tokens[i];
            for (int k = 0; k < c; k++) output[i * c + k] = wte[tok * c + k] + wpe[pos * c + k];
        }
    }

    /// <summary>∂wte[tok] += dout, ∂wpe[t] += dout (a scatter-add: the same token may appear many times).</summary>
    public static void EmbedBackward(float[] dwte, float[] dwpe, float[] dout, int[] tokens, int b, int t, int c)
    {
        for (int i = 0; i < b * t; i++)
        {
            int pos = i % t, tok = tokens[i];
            for (int k = 0; k < c; k++)
            {
                dwte[tok * c + k] += dout[i * c + k];
                dwpe[pos * c + k] += dout[i * c + k];
            }
        }
    }

    // ---------------------------------------------------------------- layer norm
    /// <summary>μ = mean(x), σ⁻¹ = 1/√(var(x) + 1e-5), out = (x − μ)·σ⁻¹·w + b per row; keeps μ and σ⁻¹.</summary>
    public static void LayerNormForward(float[] output, float[] mean, float[] rstd, float[] x, float[] w, float[] bias, int n, int c)
    {
        Parallel.For(0, n, i =>
        {
            int o = i * c;
            double m = 0;
            for (int k = 0; k < c; k++) m += x[o + k];
            m /= c;
            double v = 0;
            for (int k = 0; k < c; k++) { double d = x[o + k] - m; v += d * d; }
            v /= c;
            float s = (float)(1.0 / Math.Sqrt(v + 1e-5));
            for (int k = 0; k < c; k++) output[o + k] = (float)((x[o + k] - m) * s) * w[k] + bias[k];
            mean[i] = (float)m;
            rstd[i] = s;
        });
    }

    /// <summary>With x̂ = (x − μ)σ⁻¹ and g = dout·w: ∂b += Σ dout, ∂w += Σ dout·x̂,
    /// ∂x += σ⁻¹·(g − mean(g) − x̂·mean(g·x̂)).</summary>
    public static void LayerNormBackward(float[] dx, float[] dw, float[] db, float[] dout, float[] x, float[] w, float[] mean, float[] rstd, int n, int c)
    {
        for (int i = 0; i < n; i++)
        {
            int o = i * c;
            float m = mean[i], s = rstd[i];
            double gMean = 0, gxMean = 0;
            for (int k = 0; k < c; k++)
            {
                float xh = (x[o + k] - m) * s, g = dout[o + k] * w[k];
                gMean += g;
                gxMean += g * xh;
            }
            gMean /= c;
            gxMean /= c;
            for (int k = 0; k < c; k++)
            {
                float xh = (x[o + k] - m) * s, g = dout[o + k] * w[k];
                db[k] += dout[o + k];
                dw[k] += dout[o + k] * xh;
                dx[o + k] += s * (float)(g - gMean - xh * gxMean);
            }
        }
    }

    // ---------------------------------------------------------------- causal multi-head attention
    /// <summary>
    /// qkv: N × 3C rows [q | k | v]; head h uses columns h·hs … (h+1)·hs of each. For each (b, h, t):
    /// a[t2] = softmax_{t2 ≤ t}(q_t·k_t2 / √hs), ã = a ⊙ m (dropout mask m ∈ {0, 1/(1−p)}, or none),
    /// out[t] = Σ_{t2 ≤ t} ã[t2]·v_t2. Keeps a (B·NH·T·T) for the backward.
    /// </summary>
    public static void AttentionForward(float[] output, float[] att, float[] qkv, float[]? mask, int b, int t, int c, int nh)
    {
        int hs = c / nh, c3 = 3 * c;
        float scale = 1f / MathF.Sqrt(hs);
        Parallel.For(0, b * nh, bh =>
        {
            int bi = bh / nh, h = bh % nh;
            for (int ti = 0; ti < t; ti++)
            {
                int q = (bi * t + ti) * c3 + h * hs;
                int arow = (bh * t + ti) * t;
                float max = float.NegativeInfinity;
                for (int t2 = 0; t2 <= ti; t2++)
                {
                    int k = (bi * t + t2) * c3 + c + h * hs;
                    float dot = 0;
                    for (int i = 0; i < hs; i++) dot += qkv[q + i] * qkv[k + i];
                    dot *= scale;
                    att[arow + t2] = dot;
                    if (dot > max) max = dot;
                }
                float sum = 0;
                for (int t2 = 0; t2 <= ti; t2++) { float e = MathF.Exp(att[arow + t2] - max); att[arow + t2] = e; sum += e; }
                float inv = 1f / sum;
                for (int t2 = 0; t2 <= ti; t2++) att[arow + t2] *= inv;
                for (int t2 = ti + 1; t2 < t; t2++) att[arow + t2] = 0;
                int o = (bi * t + ti) * c + h * hs;
                for (int i = 0; i < hs; i++) output[o + i] = 0;
                for (int t2 = 0; t2 <= ti; t2++)
                {
                    float a = mask is null ? att[arow + t2] : att[arow + t2] * mask[arow + t2];
                    if (a == 0) continue;
                    int v = (bi * t + t2) * c3 + 2 * c + h * hs;
                    for (int i = 0; i < hs; i++) output[o + i] += a * qkv[v + i];
                }
            }
        });
    }

    /// <summary>
    /// ∂ã[t2] = dout_t·v_t2, ∂v_t2 += ã[t2]·dout_t, ∂a = ∂ã ⊙ m, softmax backward ∂s[t2] = a[t2]·(∂a[t2] − Σ a·∂a),
    /// ∂q_t += Σ ∂s[t2]·k_t2/√hs, ∂k_t2 += ∂s[t2]·q_t/√hs. Every (b, h) writes its own slice, so heads run in parallel.
    /// </summary>
    public static void AttentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] att, float[]? mask, int b, int t, int c, int nh)
    {
        int hs = c / nh, c3 = 3 * c;
        float scale = 1f / MathF.Sqrt(hs);
        Parallel.For(0, b * nh, bh =>
        {
            int bi = bh / nh, h = bh % nh;
            var da = new float[t];
            for (int ti = 0; ti < t; ti++)
            {
                int arow = (bh * t + ti) * t;
                int o = (bi * t + ti) * c + h * hs;
                int q = (bi * t + ti) * c3 + h * hs;
                float dot = 0;
                for (int t2 = 0; t2 <= ti; t2++)
                {
                    int v = (bi * t + t2) * c3 + 2 * c + h * hs;
                    float m = mask is null ? 1f : mask[arow + t2];
                    float a = att[arow + t2] * m, g = 0;
                    for (int i = 0; i < hs; i++)
                    {
                        g += dout[o + i] * qkv[v + i];
                        dqkv[v + i] += a * dout[o + i];
                    }
                    da[t2] = g * m;
                    dot += att[arow + t2] * da[t2];
                }
                for (int t2 = 0; t2 <= ti; t2++)
                {
                    float ds = att[arow + t2] * (da[t2] - dot) * scale;
                    if (ds == 0) continue;
                    int k = (bi * t + t2) * c3 + c + h * hs;
                    for (int i = 0; i < hs; i++)
                    {
                        dqkv[q + i] += ds * qkv[k + i];
                        dqkv[k + i] += ds * qkv[q + i];
                    }
                }
            }
        });
    }

    // ---------------------------------------------------------------- GELU (tanh approximation, as llm.c / GPT-2)
    private const float GeluK = 0.7978845608f; // √(2/π)

    /// <summary>gelu(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public static void GeluForward(float[] output, float[] x)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            output[i] = 0.5f * v * (1f + MathF.Tanh(GeluK * (v + 0.044715f * v * v * v)));
        }
    }

    /// <summary>∂x = dout·(½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)), u = √(2/π)(x + 0.044715x³).</summary>
    public static float[] GeluBackward(float[] dout, float[] x)
    {
        var dx = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i], th = MathF.Tanh(GeluK * (v + 0.044715f * v * v * v));
            float local = 0.5f * (1f + th) + 0.5f * v * (1f - th * th) * GeluK * (1f + 3f * 0.044715f * v * v);
            dx[i] = dout[i] * local;
        }
        return dx;
    }

    // ---------------------------------------------------------------- dropout
    /// <summary>The inverted-dropout mask m[i] = (u_i ≥ p) / (1 − p) with u from the counter-based hash of (key, i).</summary>
    public static float[] DropoutMask(int length, float p, ulong key)
    {
        var m = new float[length];
        float keep = 1f / (1f - p);
        for (int i = 0; i < length; i++) m[i] = Hash.Uniform(key, i) >= p ? keep : 0f;
        return m;
    }

    /// <summary>x ⊙ m in place (also the backward: ∂x = dout ⊙ m).</summary>
    public static void ApplyMask(float[] x, float[]? mask)
    {
        if (mask is null) return;
        for (int i = 0; i < x.Length; i++) x[i] *= mask[i];
    }

    // ---------------------------------------------------------------- tied output head + cross-entropy
    /// <summary>logits = x·wteᵀ (N × V): the output head shares the token embedding (weight tying).</summary>
    public static float[] HeadForward(float[] x, float[] wte, int n, int c, int v)
    {
        var logits = new float[n * v];
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < v; j++)
            {
                float s = 0;
                for (int k = 0; k < c; k++) s += x[i * c + k] * wte[j * c + k];
                logits[i * v + j] = s;
            }
        });
        return logits;
    }

    /// <summary>∂x = dlogits·wte, ∂wte += dlogitsᵀ·x.</summary>
    public static float[] HeadBackward(float[] dwte, float[] dlogits, float[] x, float[] wte, int n, int c, int v)
    {
        var dx = new float[n * c];
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < v; j++)
            {
                float g = dlogits[i * v + j];
                for (int k = 0; k < c; k++) dx[i * c + k] += g * wte[j * c + k];
            }
        });
        Parallel.For(0, v, j =>
        {
            for (int i = 0; i < n; i++)
            {
                float g = dlogits[i * v + j];
                if (g == 0) continue;
                for (int k = 0; k < c; k++) dwte[j * c + k] += g * x[i * c + k];
            }
        });
        return dx;
    }

    /// <summary>Softmax p = softmax(logits) in place per row; returns L = mean_i −log p_i[target_i].</summary>
    public static double SoftmaxCrossEntropy(float[] logitsToProbs, int[] targets, int n, int v)
    {
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            int o = i * v;
            float max = float.NegativeInfinity;
            for (int j = 0; j < v; j++) max = MathF.Max(max, logitsToProbs[o + j]);
            double sum = 0;
            for (int j = 0; j < v; j++) sum += Math.Exp(logitsToProbs[o + j] - max);
            loss += Math.Log(sum) - (logitsToProbs[o + targets[i]] - max);
            for (int j = 0; j < v; j++) logitsToProbs[o + j] = (float)(Math.Exp(logitsToProbs[o + j] - max) / sum);
        }
        return loss / n;
    }

    /// <summary>∂logits = scale·(p − onehot(target)) / N for L = scale · mean cross-entropy (scale: a micro-batch's
    /// share of the step's batch).</summary>
    public static float[] CrossEntropyBackward(float[] probs, int[] targets, int n, int v, float scale = 1f)
    {
        var d = new float[n * v];
        float inv = scale / n;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < v; j++) d[i * v + j] = probs[i * v + j] * inv;
            d[i * v + targets[i]] -= inv;
        }
        return d;
    }
}
