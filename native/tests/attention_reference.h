// attention_reference.h — an FP64 reference of the GPT's causal attention (native/src/gpt/attention.cu's function:
// out = dropout(softmax_causal(q·kᵀ/√hs))·v with the model's masks) and its backward, on the qkv / out / dqkv row
// layouts of the device GPT, and the relative errors of a device result against it. The fused attention's checks
// use it: the CPU emulation (flash_emulation/emulate.cpp) and the self-test (selftest/test_attention.cu).
// The includer includes gpt/device_util.cuh first (splitmix64: the mask rule is Hash.Uniform's, shared with the host
// model). q, k, v and ∂out are rounded to BF16 first, as the kernels read them: what remains are the kernels' own
// roundings (the probabilities and ∂s as BF16 MMA operands, FP32 sums).
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <vector>

namespace attention_reference {

struct Case {
    int b, h, t, hs;
    float p;            // dropout on the probabilities
    uint64_t site_key;  // the site's key (device_util.cuh site_key of the DropoutKey)
};
struct Errors {
    double out, dq, dk, dv;  // relative L2 errors
    long nonfinite;          // non-finite values in out and dqkv
    double share[3];         // the exact ∂q, ∂k, ∂v norms over the whole ∂qkv's
};

inline float round_bf16(float x) {  // round to nearest even (finite x)
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

// out (N × C) and dqkv (N × 3C) of the device against the reference on qkv (N × 3C) and dout (N × C), N = b·t.
inline Errors compare(const Case& k, const std::vector<float>& qkv, const std::vector<float>& dout,
                      const std::vector<float>& out, const std::vector<float>& dqkv) {
    const int T = k.t, HS = k.hs, C = k.h * HS;
    const double scale = 1.0 / sqrt((double)HS), keep = k.p > 0 ? 1.0 / (1.0 - k.p) : 1.0;
    std::vector<double> rout(out.size(), 0.0), rd(dqkv.size(), 0.0);
    std::vector<double> s(T), a(T), m(T), dp(T);
    for (int b = 0; b < k.b; ++b)
        for (int h = 0; h < k.h; ++h) {
            const int64_t bh = (int64_t)b * k.h + h;
            auto at = [&](int i, int part, int d) { return ((size_t)b * T + i) * 3 * C + (size_t)part * C + h * HS + d; };
            auto val = [&](int i, int part, int d) { return (double)round_bf16(qkv[at(i, part, d)]); };
            auto g = [&](int i, int d) { return (double)round_bf16(dout[((size_t)b * T + i) * C + h * HS + d]); };
            for (int i = 0; i < T; ++i) {
                double mx = -INFINITY, sum = 0, D = 0;
                for (int j = 0; j <= i; ++j) {
                    double x = 0;
                    for (int d = 0; d < HS; ++d) x += val(i, 0, d) * val(j, 1, d);
                    s[j] = x * scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j <= i; ++j) sum += (a[j] = exp(s[j] - mx));
                for (int j = 0; j <= i; ++j) {
                    a[j] /= sum;
                    m[j] = 1.0;
                    if (k.p > 0) {  // device_util.cuh dropout_mask of element ((b·H + h)·T + i)·T + j
                        uint64_t e = (uint64_t)((bh * T + i) * T + j);
                        uint64_t r = i4t::nn::splitmix64(k.site_key ^ (e * 0xD1B54A32D192ED03ull));
                        m[j] = (float)(r >> 40) * (1.0f / 16777216.0f) >= k.p ? keep : 0.0;
                    }
                }
                for (int d = 0; d < HS; ++d) {
                    double o = 0;
                    for (int j = 0; j <= i; ++j) o += a[j] * m[j] * val(j, 2, d);
                    rout[((size_t)b * T + i) * C + h * HS + d] = o;
                    D += o * g(i, d);
                }
                for (int j = 0; j <= i; ++j) {
                    double x = 0;
                    for (int d = 0; d < HS; ++d) x += g(i, d) * val(j, 2, d);
                    const double ds = a[j] * (m[j] * x - D);
                    for (int d = 0; d < HS; ++d) {
                        rd[at(i, 0, d)] += ds * val(j, 1, d) * scale;
                        rd[at(j, 1, d)] += ds * val(i, 0, d) * scale;
                        rd[at(j, 2, d)] += a[j] * m[j] * g(i, d);
                    }
                }
            }
        }
    Errors e{0, 0, 0, 0, 0, {0, 0, 0}};
    double num[4] = {0, 0, 0, 0}, den[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < out.size(); ++i) {
        if (!std::isfinite(out[i])) e.nonfinite++;
        num[0] += (out[i] - rout[i]) * (out[i] - rout[i]);
        den[0] += rout[i] * rout[i];
    }
    for (size_t i = 0; i < dqkv.size(); ++i) {
        if (!std::isfinite(dqkv[i])) e.nonfinite++;
        const int part = 1 + (int)((i % (3 * (size_t)C)) / C);
        num[part] += (dqkv[i] - rd[i]) * (dqkv[i] - rd[i]);
        den[part] += rd[i] * rd[i];
    }
    // A part whose exact gradient is zero (T = 1: the softmax of a single score has none, so ∂q = ∂k = 0 while the
    // BF16 kernels leave rounding-level values) is measured against the whole ∂qkv instead of itself (H200: the
    // per-part ratio was inf there).
    const double all = den[1] + den[2] + den[3];
    auto rel = [&](int part) { return sqrt(num[part] / (den[part] > 1e-12 * all ? den[part] : all)); };
    e.out = sqrt(num[0] / den[0]);
    e.dq = rel(1);
    e.dk = rel(2);
    e.dv = rel(3);
    for (int part = 1; part <= 3; ++part) e.share[part - 1] = sqrt(den[part] / all);
    return e;
}

}  // namespace attention_reference
