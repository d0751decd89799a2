// cpu_reference.cu — the self-test's CPU implementation of docs/conventions.md (rounding, CanonicalSum, Philox,
// Hadamard, LSQ, packing, integer GEMM, bit split, selection, LSS gradients).
#include "selftest.h"

// ---------------------------------------------------------------- CPU reference (docs/conventions.md) --------
float rha(float x) {
    float t = truncf(x);
    float f = x - t;
    if (f >= 0.5f) return t + 1.0f;
    if (f <= -0.5f) return t - 1.0f;
    return t;
}

double canon_chunk(const double* x, size_t n) {
    double lane[256] = {0};
    for (size_t i = 0; i < n; ++i) lane[i % 256] += x[i];
    for (int s = 128; s >= 1; s >>= 1)
        for (int t = 0; t < s; ++t) lane[t] += lane[t + s];
    return lane[0];
}
double canon_sum(const std::vector<double>& v) {
    if (v.size() <= 4096) return canon_chunk(v.data(), v.size());
    std::vector<double> part((v.size() + 4095) / 4096);
    for (size_t c = 0; c < part.size(); ++c) part[c] = canon_chunk(v.data() + c * 4096, std::min<size_t>(4096, v.size() - c * 4096));
    return canon_sum(part);
}

Ph4 philox4(uint64_t seed, uint64_t index, uint32_t stream) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = stream, c3 = 0;
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return {{c0, c1, c2, c3}};
}
Ph philox(uint64_t seed, uint64_t index, uint32_t stream) {
    Ph4 o = philox4(seed, index, stream);
    return {o.x[0], o.x[1]};
}
float u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
float u01c(uint32_t x) { return (float)((x >> 8) + 1u) * (1.0f / 16777216.0f); }
double u01d(uint32_t a, uint32_t b) { return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * (1.0 / 9007199254740992.0); }

std::vector<float> cpu_hadamard(const std::vector<float>& x, int g) {
    std::vector<float> y = x;
    float scale = (float)(1.0 / sqrt((double)g));
    for (size_t b = 0; b < y.size(); b += g) {
        float* v = y.data() + b;
        for (int h = 1; h < g; h <<= 1)
            for (int i = 0; i < g; ++i)
                if ((i & h) == 0) {
                    float a = v[i], c = v[i + h];
                    v[i] = a + c;
                    v[i + h] = a - c;
                }
        for (int i = 0; i < g; ++i) v[i] = v[i] * scale;
    }
    return y;
}
float cpu_init_step(const std::vector<float>& v) {
    std::vector<double> t(v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = fabs((double)v[i]);
    double mean = canon_sum(t) / (double)v.size();
    double st = 2.0 * mean / sqrt(7.0);
    // conventions.md "LSQ": tiny tensors (0 < mean < 2^-20) get the scale-free step, floored at 2^-120
    return (mean > 0.0 && mean < 0x1p-20) ? std::max((float)st, 0x1p-120f) : (float)(st + 1e-10);
}
int qn_of(int mode) { return mode == 1 ? -7 : -8; }
std::vector<int8_t> cpu_quant(const std::vector<float>& v, float s, int mode) {
    std::vector<int8_t> q(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        float r = rha(v[i] / s);
        r = std::min(std::max(r, (float)qn_of(mode)), 7.0f);
        q[i] = (int8_t)r;
    }
    return q;
}
std::vector<uint8_t> cpu_pack(const std::vector<int8_t>& q) {
    std::vector<uint8_t> p(q.size() / 2);
    for (size_t j = 0; j < p.size(); ++j) p[j] = (uint8_t)((q[2 * j + 1] << 4) | (q[2 * j] & 0xF));
    return p;
}
std::vector<int32_t> cpu_gemm(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int m, int n, int k) {
    std::vector<int32_t> c((size_t)m * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            int64_t s = 0;
            const int8_t* ar = &a[(size_t)i * k];
            const int8_t* br = &b[(size_t)j * k];
            for (int t = 0; t < k; ++t) s += (int)ar[t] * (int)br[t];
            c[(size_t)i * n + j] = (int32_t)s;
        }
    return c;
}
Split cpu_bit_split(const std::vector<float>& g, uint64_t seed, int mode) {
    Split s;
    float mn = INFINITY, mx = -INFINITY;
    for (float v : g) { mn = std::min(mn, v); mx = std::max(mx, v); }
    // conventions.md "Bit splitting": max|g| below 2^-10 gives the scale-free Mx = max(max|g|, 2^-120)
    float amax = std::max(-mn, mx);
    if (amax > 0.0f && amax < 0x1p-10f) {
        s.mx = std::max(amax, 0x1p-120f);
    } else {
        float lo = -std::min(mn - 1e-8f, 0.0f), hi = std::max(mx + 1e-8f, 0.0f);
        s.mx = std::max(lo, hi);
    }
    s.sup = s.mx / 7.0f;
    s.sdn = s.mx / 98.0f;
    float k98 = 98.0f / s.mx;
    float L = mode == 1 ? 7.0f : 6.0f;
    s.h.resize(g.size());
    s.l.resize(g.size());
    for (size_t i = 0; i < g.size(); ++i) {
        float t = g[i] * k98;
        float h = std::min(std::max(rha(t / 14.0f), -L), L);
        float r = t - 14.0f * h;
        uint32_t x0 = philox4(seed, i / 4, 0).x[i % 4];  // element i: word i % 4 of counter i / 4
        float l = mode == 1 ? floorf(r + u01(x0)) : rha((r + u01c(x0)) - 0.5f);
        l = std::min(std::max(l, -L), L);
        s.h[i] = (int8_t)h;
        s.l[i] = (int8_t)l;
    }
    return s;
}
Sel cpu_select(const Split& s, const int8_t* xq, float sx, int n, int c, int d, int sampling, uint64_t seed) {
    std::vector<double> sc(2 * (size_t)n);
    for (int i = 0; i < n; ++i) {
        int64_t nh = 0, nl = 0, na = 0;
        for (int j = 0; j < c; ++j) {
            nh += s.h[(size_t)i * c + j] * s.h[(size_t)i * c + j];
            nl += s.l[(size_t)i * c + j] * s.l[(size_t)i * c + j];
        }
        if (xq) for (int j = 0; j < d; ++j) na += xq[(size_t)i * d + j] * xq[(size_t)i * d + j];
        double ch = (double)s.sup * sqrt((double)nh), cl = (double)s.sdn * sqrt((double)nl);
        if (xq) {
            double ya = (double)sx * sqrt((double)na);
            ch = ch * ya;
            cl = cl * ya;
        }
        sc[i] = ch;
        sc[n + i] = cl;
    }
    Sel r;
    size_t m = 2 * (size_t)n;
    r.p.assign(m, 0.0);
    r.keep.assign(m, 0);
    if (sampling == 0) {
        for (size_t i = 0; i < m; ++i) { r.p[i] = sc[i] > 0 ? 1.0 : 0.0; r.keep[i] = sc[i] > 0; }
    } else {
        double B = n, total = canon_sum(sc);
        if (total != 0.0) {
            double f0 = B / total;
            for (size_t i = 0; i < m; ++i) r.p[i] = sc[i] * f0;
            for (size_t it = 0; it < m; ++it) {
                double mx = 0;
                for (double v : r.p) mx = std::max(mx, v);
                if (mx <= 1.0) break;
                long long cnt = 0;
                for (double& v : r.p) if (v >= 1.0) { ++cnt; v = 1.0; }
                std::vector<double> sm(m);
                for (size_t i = 0; i < m; ++i) sm[i] = r.p[i] < 1.0 ? r.p[i] : 0.0;
                double small = canon_sum(sm);
                if (small == 0.0) break;
                double f = (B - (double)cnt) / small;
                for (double& v : r.p) if (v < 1.0) v = v * f;
            }
            for (double& v : r.p) v = std::min(v, 1.0);
        }
        for (size_t i = 0; i < m; ++i) {
            Ph ph = philox(seed, i, 1);
            r.keep[i] = u01d(ph.x0, ph.x1) < r.p[i];
        }
    }
    r.kept[0] = r.kept[1] = 0;
    for (size_t i = 0; i < m; ++i) if (r.keep[i]) r.kept[i < (size_t)n ? 0 : 1]++;
    return r;
}
std::vector<double> cpu_grad_wh(const Split& s, const Sel& sel, const std::vector<int8_t>& xq, float sx, int n, int c, int d) {
    std::vector<double> g((size_t)c * d, 0.0);
    for (int i = 0; i < n; ++i)
        for (int part = 0; part < 2; ++part) {
            size_t si = (size_t)part * n + i;
            if (!sel.keep[si]) continue;
            double w = (double)(part ? s.sdn : s.sup) / sel.p[si];
            const int8_t* pr = (part ? s.l : s.h).data() + (size_t)i * c;
            for (int cc = 0; cc < c; ++cc) {
                if (!pr[cc]) continue;
                double wc = w * pr[cc];
                for (int dd = 0; dd < d; ++dd) g[(size_t)cc * d + dd] += wc * xq[(size_t)i * d + dd];
            }
        }
    for (double& v : g) v *= sx;
    return g;
}
std::vector<double> cpu_grad_xh(const Split& s, const Sel& sel, const std::vector<int8_t>& wq, float sw, int n, int c, int d) {
    std::vector<double> g((size_t)n * d, 0.0);
    for (int i = 0; i < n; ++i)
        for (int part = 0; part < 2; ++part) {
            size_t si = (size_t)part * n + i;
            if (!sel.keep[si]) continue;
            double w = (double)(part ? s.sdn : s.sup) / sel.p[si];
            const int8_t* pr = (part ? s.l : s.h).data() + (size_t)i * c;
            for (int cc = 0; cc < c; ++cc) {
                if (!pr[cc]) continue;
                for (int dd = 0; dd < d; ++dd) g[(size_t)i * d + dd] += w * pr[cc] * wq[(size_t)cc * d + dd];
            }
        }
    for (double& v : g) v *= sw;
    return g;
}

