// selftest.cu — checks every operator of libint4train against plain CPU C++ implementations of docs/conventions.md
// on random data with outliers: integer outputs bit-exact, floating outputs within tolerances; then error paths.
// Usage: int4train_selftest [--quick]   (--quick: smaller sizes, no timing; for compute-sanitizer)
// Last line: "N passed, M failed".
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "int4train.h"

static int g_pass = 0, g_fail = 0;
static bool g_quick = false;

static void report(bool ok, const char* name, const std::string& detail) {
    if (ok) ++g_pass; else ++g_fail;
    printf("[%s] %s%s%s\n", ok ? "PASS" : "FAIL", name, detail.empty() ? "" : ": ", detail.c_str());
    fflush(stdout);
}
static std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

#define CK(call)                                                                                     \
    do {                                                                                             \
        int4train_status s_ = (call);                                                                \
        if (s_ != INT4TRAIN_SUCCESS) {                                                               \
            report(false, #call, fmt("status %d: %s", (int)s_, int4train_last_error()));             \
            return;                                                                                  \
        }                                                                                            \
    } while (0)
#define CUDA_CK(call)                                                                                \
    do {                                                                                             \
        cudaError_t e_ = (call);                                                                     \
        if (e_ != cudaSuccess) {                                                                     \
            printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);          \
            exit(2);                                                                                 \
        }                                                                                            \
    } while (0)

template <class T>
struct DBuf {
    T* p = nullptr;
    size_t n = 0;
    explicit DBuf(size_t count) : n(count) {
        CUDA_CK(cudaMalloc(&p, sizeof(T) * (count ? count : 1)));
        CUDA_CK(cudaMemset(p, 0xA5, sizeof(T) * (count ? count : 1)));  // poison
    }
    DBuf(const std::vector<T>& h) : DBuf(h.size()) { up(h); }
    ~DBuf() { cudaFree(p); }
    void up(const std::vector<T>& h) { CUDA_CK(cudaMemcpy(p, h.data(), sizeof(T) * n, cudaMemcpyHostToDevice)); }
    std::vector<T> down() const {
        std::vector<T> h(n);
        CUDA_CK(cudaDeviceSynchronize());
        CUDA_CK(cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost));
        return h;
    }
    DBuf(const DBuf&) = delete;
    DBuf& operator=(const DBuf&) = delete;
};

// ---------------------------------------------------------------- CPU reference (docs/conventions.md) --------
static float rha(float x) {
    float t = truncf(x);
    float f = x - t;
    if (f >= 0.5f) return t + 1.0f;
    if (f <= -0.5f) return t - 1.0f;
    return t;
}

static double canon_chunk(const double* x, size_t n) {
    double lane[256] = {0};
    for (size_t i = 0; i < n; ++i) lane[i % 256] += x[i];
    for (int s = 128; s >= 1; s >>= 1)
        for (int t = 0; t < s; ++t) lane[t] += lane[t + s];
    return lane[0];
}
static double canon_sum(const std::vector<double>& v) {
    if (v.size() <= 4096) return canon_chunk(v.data(), v.size());
    std::vector<double> part((v.size() + 4095) / 4096);
    for (size_t c = 0; c < part.size(); ++c) part[c] = canon_chunk(v.data() + c * 4096, std::min<size_t>(4096, v.size() - c * 4096));
    return canon_sum(part);
}

struct Ph { uint32_t x0, x1; };
static Ph philox(uint64_t seed, uint64_t index, uint32_t stream) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = stream, c3 = 0;
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return {c0, c1};
}
static float u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
static float u01c(uint32_t x) { return (float)((x >> 8) + 1u) * (1.0f / 16777216.0f); }
static double u01d(uint32_t a, uint32_t b) { return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * (1.0 / 9007199254740992.0); }

static std::vector<float> cpu_hadamard(const std::vector<float>& x, int g) {
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
static float cpu_init_step(const std::vector<float>& v) {
    std::vector<double> t(v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = fabs((double)v[i]);
    double mean = canon_sum(t) / (double)v.size();
    return (float)(2.0 * mean / sqrt(7.0) + 1e-10);
}
static int qn_of(int mode) { return mode == 1 ? -7 : -8; }
static std::vector<int8_t> cpu_quant(const std::vector<float>& v, float s, int mode) {
    std::vector<int8_t> q(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        float r = rha(v[i] / s);
        r = std::min(std::max(r, (float)qn_of(mode)), 7.0f);
        q[i] = (int8_t)r;
    }
    return q;
}
static std::vector<uint8_t> cpu_pack(const std::vector<int8_t>& q) {
    std::vector<uint8_t> p(q.size() / 2);
    for (size_t j = 0; j < p.size(); ++j) p[j] = (uint8_t)((q[2 * j + 1] << 4) | (q[2 * j] & 0xF));
    return p;
}
static std::vector<int32_t> cpu_gemm(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int m, int n, int k) {
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
struct Split { std::vector<int8_t> h, l; float mx, sup, sdn; };
static Split cpu_bit_split(const std::vector<float>& g, uint64_t seed, int mode) {
    Split s;
    float mn = INFINITY, mx = -INFINITY;
    for (float v : g) { mn = std::min(mn, v); mx = std::max(mx, v); }
    float lo = -std::min(mn - 1e-8f, 0.0f), hi = std::max(mx + 1e-8f, 0.0f);
    s.mx = std::max(lo, hi);
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
        uint32_t x0 = philox(seed, i, 0).x0;
        float l = mode == 1 ? floorf(r + u01(x0)) : rha((r + u01c(x0)) - 0.5f);
        l = std::min(std::max(l, -L), L);
        s.h[i] = (int8_t)h;
        s.l[i] = (int8_t)l;
    }
    return s;
}
struct Sel { std::vector<double> p; std::vector<uint8_t> keep; int kept[2]; };
static Sel cpu_select(const Split& s, const int8_t* xq, float sx, int n, int c, int d, int sampling, uint64_t seed) {
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
static std::vector<double> cpu_grad_wh(const Split& s, const Sel& sel, const std::vector<int8_t>& xq, float sx, int n, int c, int d) {
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
static std::vector<double> cpu_grad_xh(const Split& s, const Sel& sel, const std::vector<int8_t>& wq, float sw, int n, int c, int d) {
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

// ---------------------------------------------------------------- helpers -------------------------------------
static std::mt19937_64 rng(12345);
// Gaussian with a few outlier channels (×50) and a few exact zeros.
static std::vector<float> randn_outliers(int rows, int cols, float scale = 1.0f, int outlier_cols = 3) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v((size_t)rows * cols);
    for (auto& x : v) x = nd(rng);
    for (int k = 0; k < outlier_cols && k < cols; ++k) {
        int c = (int)(rng() % cols);
        for (int r = 0; r < rows; ++r) v[(size_t)r * cols + c] *= 50.0f;
    }
    return v;
}
static std::vector<int8_t> rand_codes(size_t n, int lo = -8, int hi = 7) {
    std::vector<int8_t> v(n);
    for (auto& x : v) x = (int8_t)(lo + (int)(rng() % (uint64_t)(hi - lo + 1)));
    return v;
}
template <class T>
static size_t count_diff(const std::vector<T>& a, const std::vector<T>& b) {
    size_t k = 0;
    for (size_t i = 0; i < a.size(); ++i) if (memcmp(&a[i], &b[i], sizeof(T)) != 0) ++k;
    return k;
}
template <class A>
static double l2(const std::vector<A>& v) {
    double s = 0;
    for (auto x : v) s += (double)x * (double)x;
    return sqrt(s);
}
template <class A, class B>
static double rel_err(const std::vector<A>& got, const std::vector<B>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        double d = (double)got[i] - (double)ref[i];
        if (std::isnan((double)got[i])) return INFINITY;
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return den == 0 ? sqrt(num) : sqrt(num / den);
}

// ---------------------------------------------------------------- tests ---------------------------------------
static void test_canonical_and_init(int4train_context ctx) {
    std::vector<int64_t> sizes = {1, 100, 4096, 4097, 100000};
    if (!g_quick) sizes.push_back((int64_t)4096 * 4096 + 5);  // two recursion levels
    for (int64_t n : sizes) {
        auto v = randn_outliers(1, (int)n);
        DBuf<float> dv(v);
        DBuf<float> ds(1);
        CK(int4train_lsq_init_step(ctx, dv.p, n, ds.p));
        float got = ds.down()[0], ref = cpu_init_step(v);
        report(memcmp(&got, &ref, 4) == 0, "lsq_init_step (CanonicalSum) bit-exact", fmt("n=%lld got %.9g ref %.9g", (long long)n, got, ref));
    }
}

static void test_hadamard(int4train_context ctx) {
    int rows = 37, cols = 2048;
    for (int g = 1; g <= 1024; g <<= 1) {
        auto x = randn_outliers(rows, cols);
        DBuf<float> dx(x), dy(x.size());
        CK(int4train_hadamard(ctx, dx.p, dy.p, rows, cols, g));
        auto ref = cpu_hadamard(x, g);
        auto got = dy.down();
        size_t diff = count_diff(got, ref);
        CK(int4train_hadamard(ctx, dy.p, dy.p, rows, cols, g));  // in place, involution
        double inv = rel_err(dy.down(), x);
        report(diff == 0 && inv < 1e-6, "hadamard bit-exact + involution", fmt("G=%d mismatches=%zu inv_rel=%.2e", g, diff, inv));
    }
}

static void test_lsq(int4train_context ctx) {
    for (int mode = 0; mode < 2; ++mode) {
        int64_t n = 50000;
        auto v = randn_outliers(1, (int)n);
        v[0] = 0.0f;
        float s = cpu_init_step(v);
        // exact ties: v = (k + 0.5)·s
        for (int k = -9; k < 9; ++k) v[10 + k + 9] = (k + 0.5f) * s;
        DBuf<float> dv(v), ds(std::vector<float>{s});
        DBuf<int8_t> dq(n);
        CK(int4train_lsq_quantize(ctx, dv.p, n, ds.p, mode, dq.p));
        auto ref = cpu_quant(v, s, mode);
        auto got = dq.down();
        report(count_diff(got, ref) == 0, "lsq_quantize bit-exact", fmt("mode=%d mismatches=%zu", mode, count_diff(got, ref)));
        DBuf<float> dd(n);
        CK(int4train_lsq_dequantize(ctx, dq.p, n, ds.p, dd.p));
        auto gd = dd.down();
        size_t bad = 0;
        for (int64_t i = 0; i < n; ++i) if (gd[i] != s * (float)ref[i]) ++bad;
        report(bad == 0, "lsq_dequantize exact", fmt("mode=%d mismatches=%zu", mode, bad));
        // backward
        auto gr = randn_outliers(1, (int)n);
        DBuf<float> dg(gr), dgv(n), dgs(1);
        CK(int4train_lsq_backward(ctx, dv.p, dg.p, n, ds.p, mode, dgv.p, dgs.p));
        std::vector<float> rgv(n);
        std::vector<double> terms(n);
        int qn = qn_of(mode);
        for (int64_t i = 0; i < n; ++i) {
            float r = v[i] / s;
            float e;
            bool in = true;
            if (r < (float)qn) { e = (float)qn; in = false; }
            else if (r > 7.0f) { e = 7.0f; in = false; }
            else e = rha(r) - r;
            rgv[i] = in ? gr[i] : 0.0f;
            terms[i] = (double)e * (double)gr[i];
        }
        float rgs = (float)((1.0 / sqrt((double)n * 7.0)) * canon_sum(terms));
        auto ggv = dgv.down();
        float ggs = dgs.down()[0];
        report(count_diff(ggv, rgv) == 0 && ggs == rgs, "lsq_backward mask exact + step grad",
               fmt("mode=%d mask mismatches=%zu grad_step got %.9g ref %.9g", mode, count_diff(ggv, rgv), ggs, rgs));
    }
}

static void test_pack(int4train_context ctx) {
    int rows = 33, cols = 70;
    auto q = rand_codes((size_t)rows * cols);
    for (int i = 0; i < 16; ++i) q[i] = (int8_t)(i - 8);  // every nibble
    DBuf<int8_t> dq(q), dq2(q.size());
    DBuf<uint8_t> dp(q.size() / 2);
    CK(int4train_pack_int4(ctx, dq.p, dp.p, rows, cols));
    CK(int4train_unpack_int4(ctx, dp.p, dq2.p, rows, cols));
    auto ref = cpu_pack(q);
    report(count_diff(dp.down(), ref) == 0 && count_diff(dq2.down(), q) == 0, "pack/unpack bit-exact round trip", "");
}

static void test_gemm(int4train_context ctx) {
    struct S { int m, n, k; };
    std::vector<S> shapes = {{1, 1, 2}, {7, 5, 34}, {128, 128, 128}, {300, 262, 520}, {256, 512, 1024}, {77, 1000, 96}};
    if (!g_quick) shapes.push_back({512, 768, 2048});
    for (auto s : shapes) {
        auto a = rand_codes((size_t)s.m * s.k), b = rand_codes((size_t)s.n * s.k);
        auto ref = cpu_gemm(a, b, s.m, s.n, s.k);
        DBuf<int8_t> da(a), db(b);
        DBuf<int32_t> dc((size_t)s.m * s.n);
        CK(int4train_gemm_s8(ctx, da.p, db.p, dc.p, s.m, s.n, s.k));
        size_t d8 = count_diff(dc.down(), ref);
        DBuf<uint8_t> pa(cpu_pack(a)), pb(cpu_pack(b));
        DBuf<int32_t> dc4((size_t)s.m * s.n);
        CK(int4train_gemm_s4(ctx, pa.p, pb.p, dc4.p, s.m, s.n, s.k));
        size_t d4 = count_diff(dc4.down(), ref);
        report(d8 == 0 && d4 == 0, "gemm_s8 / gemm_s4 bit-exact", fmt("m=%d n=%d k=%d mismatches s8=%zu s4=%zu", s.m, s.n, s.k, d8, d4));
    }
    {   // full int8 range (the folded digits)
        int m = 130, n = 68, k = 200;
        auto a = rand_codes((size_t)m * k, -128, 127), b = rand_codes((size_t)n * k, -128, 127);
        DBuf<int8_t> da(a), db(b);
        DBuf<int32_t> dc((size_t)m * n);
        CK(int4train_gemm_s8(ctx, da.p, db.p, dc.p, m, n, k));
        report(count_diff(dc.down(), cpu_gemm(a, b, m, n, k)) == 0, "gemm_s8 full int8 range bit-exact", "");
    }
    if (!g_quick) {  // timing (informative) at 8192³ with sampled exactness
        int m = 8192, n = 8192, k = 8192;
        auto a = rand_codes((size_t)m * k), b = rand_codes((size_t)n * k);
        DBuf<int8_t> da(a), db(b);
        DBuf<int32_t> dc((size_t)m * n);
        CK(int4train_gemm_s8(ctx, da.p, db.p, dc.p, m, n, k));
        CK(int4train_context_synchronize(ctx));
        void* st = nullptr;
        CK(int4train_context_get_stream(ctx, &st));
        cudaEvent_t e0, e1;
        cudaEventCreate(&e0);
        cudaEventCreate(&e1);
        const int reps = 10;
        cudaEventRecord(e0, (cudaStream_t)st);
        for (int r = 0; r < reps; ++r) CK(int4train_gemm_s8(ctx, da.p, db.p, dc.p, m, n, k));
        cudaEventRecord(e1, (cudaStream_t)st);
        cudaEventSynchronize(e1);
        float ms = 0;
        cudaEventElapsedTime(&ms, e0, e1);
        ms /= reps;
        auto got = dc.down();
        size_t bad = 0;
        for (int t = 0; t < 64; ++t) {
            int i = (int)(rng() % m), j = (int)(rng() % n);
            int64_t s = 0;
            for (int q = 0; q < k; ++q) s += a[(size_t)i * k + q] * b[(size_t)j * k + q];
            if (got[(size_t)i * n + j] != (int32_t)s) ++bad;
        }
        report(bad == 0, "gemm_s8 8192^3 sampled exactness", fmt("%.3f ms, %.0f TOPS", ms, 2.0 * m * n * k / (ms * 1e-3) / 1e12));
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
    }
}

static void test_hq_forward(int4train_context ctx) {
    struct S { int n, c, d, g; };
    std::vector<S> shapes = {{64, 48, 64, 32}, {77, 50, 96, 32}, {5, 3, 2, 2}, {33, 20, 40, 8}, {256, 384, 512, 64}};
    for (int mode = 0; mode < 2; ++mode)
        for (auto s : shapes) {
            auto x = randn_outliers(s.n, s.d), w = randn_outliers(s.c, s.d, 0.05f);
            std::vector<float> bias(s.c);
            for (auto& b : bias) b = (float)(rng() % 1000) / 1000.0f;
            auto xh = cpu_hadamard(x, s.g), wh = cpu_hadamard(w, s.g);
            float sx = cpu_init_step(xh), sw = cpu_init_step(wh);
            auto qx = cpu_quant(xh, sx, mode), qw = cpu_quant(wh, sw, mode);
            auto p = cpu_gemm(qx, qw, s.n, s.c, s.d);
            std::vector<float> y((size_t)s.n * s.c);
            float sc = sx * sw;
            for (int i = 0; i < s.n; ++i)
                for (int j = 0; j < s.c; ++j) y[(size_t)i * s.c + j] = sc * (float)p[(size_t)i * s.c + j] + bias[j];
            DBuf<float> dx(x), dw(w), db(bias), dsx(std::vector<float>{sx}), dsw(std::vector<float>{sw});
            DBuf<float> dy((size_t)s.n * s.c);
            DBuf<uint8_t> dxp((size_t)s.n * s.d / 2), dwp((size_t)s.c * s.d / 2);
            CK(int4train_hq_forward(ctx, dx.p, dw.p, db.p, dsx.p, dsw.p, s.n, s.c, s.d, s.g, mode, dy.p, dxp.p, dwp.p));
            size_t dxpk = count_diff(dxp.down(), cpu_pack(qx)), dwpk = count_diff(dwp.down(), cpu_pack(qw));
            size_t dyy = count_diff(dy.down(), y);
            report(dxpk == 0 && dwpk == 0 && dyy == 0, "hq_forward codes bit-exact, Y exact",
                   fmt("mode=%d n=%d c=%d d=%d G=%d packed mismatches x=%zu w=%zu, Y mismatches=%zu", mode, s.n, s.c, s.d, s.g, dxpk, dwpk, dyy));
        }
}

static void test_block_search(int4train_context ctx) {
    for (int mode = 0; mode < 2; ++mode) {
        int n = 64, c = 32, d = 256;
        auto x = randn_outliers(n, d, 1.0f, 4), w = randn_outliers(c, d, 0.05f, 0);
        int got_g = 0;
        double scores[11];
        DBuf<float> dx(x), dw(w);
        CK(int4train_block_size_search(ctx, dx.p, dw.p, n, c, d, mode, &got_g, scores));
        auto resid = [&](const std::vector<float>& v, int g) {
            auto t = cpu_hadamard(v, g);
            float s = cpu_init_step(t);
            auto q = cpu_quant(t, s, mode);
            std::vector<float> f(v.size());
            for (size_t i = 0; i < v.size(); ++i) f[i] = s * (float)q[i];
            auto b = cpu_hadamard(f, g);
            std::vector<double> sq(v.size());
            for (size_t i = 0; i < v.size(); ++i) { double dd = (double)(b[i] - v[i]); sq[i] = dd * dd; }
            return sqrt(canon_sum(sq));
        };
        int ref_g = -1;
        double best = 0;
        size_t bad = 0;
        for (int k = 0; k <= 10; ++k) {
            int g = 1 << k;
            if (d % g) { if (!std::isnan(scores[k])) ++bad; continue; }
            double sc = resid(x, g) * resid(w, g);
            if (sc != scores[k]) ++bad;
            if (ref_g < 0 || sc < best) { ref_g = g; best = sc; }
        }
        report(got_g == ref_g && bad == 0, "block_size_search scores exact, argmin", fmt("mode=%d got G=%d ref G=%d score mismatches=%zu", mode, got_g, ref_g, bad));
    }
}

static void test_bit_split_select_lss(int4train_context ctx) {
    struct S { int n, c, d; };
    struct S2 { int n, c, d; bool dense; };
    std::vector<S2> shapes = {{64, 64, 64, false}, {77, 50, 96, false}, {3000, 64, 64, false}, {96, 40, 64, true}, {3000, 48, 32, true}};
    for (int mode = 0; mode < 2; ++mode)
        for (int sampling = 0; sampling < 2; ++sampling)
            for (auto s : shapes) {
                uint64_t seed = 0x123456789ABCDEFull + mode * 7 + sampling;
                // sparse-ish ∇Y: skewed row norms, some rows exactly zero; dense: every row has a large entry, so all
                // 2N stacked rows score > 0 and the water-filling gives fractional p (Bernoulli)
                auto g = randn_outliers(s.n, s.c, 1e-3f, 1);
                for (int i = 0; i < s.n; ++i) {
                    float rs = s.dense ? 1.0f : ((i % 5 == 0) ? 0.0f : (i % 7 == 0 ? 30.0f : 1.0f));
                    for (int j = 0; j < s.c; ++j) g[(size_t)i * s.c + j] *= rs;
                    if (s.dense) g[(size_t)i * s.c + (i % s.c)] = (i % 2 ? 1.0f : -1.0f) * (0.02f + 0.03f * (float)((i * 37) % 11));
                }
                DBuf<float> dg(g);
                DBuf<int8_t> dh(g.size()), dl(g.size());
                DBuf<float> dsc(3);
                CK(int4train_bit_split(ctx, dg.p, s.n, s.c, seed, mode, dh.p, dl.p, dsc.p));
                Split ref = cpu_bit_split(g, seed, mode);
                auto gsc = dsc.down();
                size_t dh_ = count_diff(dh.down(), ref.h), dl_ = count_diff(dl.down(), ref.l);
                bool sc_ok = gsc[0] == ref.mx && gsc[1] == ref.sup && gsc[2] == ref.sdn;
                report(dh_ == 0 && dl_ == 0 && sc_ok, "bit_split digits + scales bit-exact",
                       fmt("mode=%d n=%d c=%d mismatches h=%zu l=%zu scales %s", mode, s.n, s.c, dh_, dl_, sc_ok ? "ok" : "DIFF"));

                auto x = randn_outliers(s.n, s.d), w = randn_outliers(s.c, s.d, 0.05f);
                float sx = cpu_init_step(x), sw = cpu_init_step(w);
                auto xq = cpu_quant(x, sx, mode), wq = cpu_quant(w, sw, mode);
                DBuf<int8_t> dxq(xq);
                DBuf<float> dsx(std::vector<float>{sx}), dsw(std::vector<float>{sw});
                DBuf<uint8_t> dxp(cpu_pack(xq)), dwp(cpu_pack(wq));
                for (int wgt = 1; wgt >= 0; --wgt) {
                    DBuf<double> dp(2 * (size_t)s.n);
                    DBuf<uint8_t> dk(2 * (size_t)s.n);
                    DBuf<int32_t> dkept(2);
                    CK(int4train_lss_select(ctx, dh.p, dl.p, dsc.p, wgt ? dxq.p : nullptr, wgt ? dsx.p : nullptr, s.n, s.c, s.d,
                                            sampling, seed, dp.p, dk.p, dkept.p));
                    Sel rs = cpu_select(ref, wgt ? xq.data() : nullptr, sx, s.n, s.c, s.d, sampling, seed);
                    auto gp = dp.down();
                    auto gk = dk.down();
                    auto gkept = dkept.down();
                    size_t dpp = count_diff(gp, rs.p), dkk = count_diff(gk, rs.keep);
                    double psum = 0;
                    int frac = 0;
                    for (double v : gp) { psum += v; if (v > 0.0 && v < 1.0) ++frac; }
                    report(dpp == 0 && dkk == 0 && gkept[0] == rs.kept[0] && gkept[1] == rs.kept[1], "lss_select p, keep, counts bit-exact",
                           fmt("%s mode=%d sampling=%d n=%d: p mismatches=%zu keep mismatches=%zu kept=(%d,%d) ref (%d,%d) Σp=%.3f, %d fractional p",
                               wgt ? "∇W" : "∇X", mode, sampling, s.n, dpp, dkk, gkept[0], gkept[1], rs.kept[0], rs.kept[1], psum, frac));
                    if (wgt) {
                        DBuf<float> dgw((size_t)s.c * s.d);
                        CK(int4train_lss_grad_weight(ctx, dh.p, dl.p, dxp.p, dsc.p, dsx.p, dk.p, dp.p, s.n, s.c, s.d, dgw.p));
                        auto rw = cpu_grad_wh(ref, rs, xq, sx, s.n, s.c, s.d);
                        double e = rel_err(dgw.down(), rw);
                        report(e < 1e-5, "lss_grad_weight", fmt("mode=%d sampling=%d n=%d rel_err=%.2e |ref|=%.3e", mode, sampling, s.n, e, l2(rw)));
                    } else {
                        DBuf<float> dgx((size_t)s.n * s.d);
                        CK(int4train_lss_grad_input(ctx, dh.p, dl.p, dwp.p, dsc.p, dsw.p, dk.p, dp.p, s.n, s.c, s.d, dgx.p));
                        auto got = dgx.down();
                        auto rx = cpu_grad_xh(ref, rs, wq, sw, s.n, s.c, s.d);
                        double e = rel_err(got, rx);
                        size_t zero_bad = 0;  // rows with nothing kept are exactly 0
                        for (int i = 0; i < s.n; ++i)
                            if (!rs.keep[i] && !rs.keep[s.n + i])
                                for (int j = 0; j < s.d; ++j) if (got[(size_t)i * s.d + j] != 0.0f) ++zero_bad;
                        report(e < 1e-5 && zero_bad == 0, "lss_grad_input", fmt("mode=%d sampling=%d n=%d rel_err=%.2e |ref|=%.3e nonzero-in-dropped=%zu", mode, sampling, s.n, e, l2(rx), zero_bad));
                    }
                }
            }
}

static void test_linear_backward(int4train_context ctx) {
    struct S { int n, c, d, g; };
    std::vector<S> shapes = {{64, 48, 64, 32}, {77, 50, 96, 16}, {256, 384, 512, 64}};
    for (int mode = 0; mode < 2; ++mode)
        for (int sampling = 0; sampling < 2; ++sampling)
            for (auto s : shapes) {
                uint64_t seed = 42 + mode + 2 * sampling;
                auto x = randn_outliers(s.n, s.d), w = randn_outliers(s.c, s.d, 0.05f);
                auto gy = randn_outliers(s.n, s.c, 1e-3f, 1);
                for (int i = 0; i < s.n; i += 4) for (int j = 0; j < s.c; ++j) gy[(size_t)i * s.c + j] = 0.0f;
                auto xh = cpu_hadamard(x, s.g), wh = cpu_hadamard(w, s.g);
                float sx = cpu_init_step(xh) * 0.7f, sw = cpu_init_step(wh) * 0.7f;  // some clipping
                auto xq = cpu_quant(xh, sx, mode), wq = cpu_quant(wh, sw, mode);
                DBuf<float> dgy(gy), dx(x), dw(w), dsx(std::vector<float>{sx}), dsw(std::vector<float>{sw});
                DBuf<uint8_t> dxp(cpu_pack(xq)), dwp(cpu_pack(wq));
                DBuf<float> dgx((size_t)s.n * s.d), dgw((size_t)s.c * s.d), dgsx(1), dgsw(1), dgb(s.c);
                CK(int4train_linear_backward(ctx, dgy.p, dx.p, dw.p, dxp.p, dwp.p, dsx.p, dsw.p, s.n, s.c, s.d, s.g, mode,
                                             sampling, seed, dgx.p, dgw.p, dgsx.p, dgsw.p, dgb.p));
                // CPU composition
                Split sp = cpu_bit_split(gy, seed, mode);
                Sel selw = cpu_select(sp, xq.data(), sx, s.n, s.c, s.d, sampling, seed);
                Sel selx = cpu_select(sp, nullptr, sx, s.n, s.c, s.d, sampling, seed);
                auto gwh = cpu_grad_wh(sp, selw, xq, sx, s.n, s.c, s.d);
                auto gxh = cpu_grad_xh(sp, selx, wq, sw, s.n, s.c, s.d);
                auto lsq = [&](const std::vector<float>& vh, float st, std::vector<double>& gr, double* gs, double* gabs) {
                    int qn = qn_of(mode);
                    double sum = 0, sabs = 0;
                    for (size_t i = 0; i < vh.size(); ++i) {
                        float r = vh[i] / st;
                        double e;
                        bool in = true;
                        if (r < (float)qn) { e = qn; in = false; }
                        else if (r > 7.0f) { e = 7; in = false; }
                        else e = rha(r) - r;
                        sum += e * gr[i];
                        sabs += fabs(e * gr[i]);
                        if (!in) gr[i] = 0.0;
                    }
                    *gs = sum / sqrt((double)vh.size() * 7.0);
                    *gabs = sabs / sqrt((double)vh.size() * 7.0);
                };
                double rgsx, rgsw, asx, asw;
                lsq(xh, sx, gxh, &rgsx, &asx);
                lsq(wh, sw, gwh, &rgsw, &asw);
                std::vector<float> fx(gxh.begin(), gxh.end()), fw(gwh.begin(), gwh.end());
                auto rgx = cpu_hadamard(fx, s.g), rgw = cpu_hadamard(fw, s.g);
                std::vector<double> rgb(s.c, 0.0);
                for (int i = 0; i < s.n; ++i) for (int j = 0; j < s.c; ++j) rgb[j] += gy[(size_t)i * s.c + j];
                double ex = rel_err(dgx.down(), rgx), ew = rel_err(dgw.down(), rgw), eb = rel_err(dgb.down(), rgb);
                float gsx = dgsx.down()[0], gsw = dgsw.down()[0];
                // step gradients: error relative to Σ|e·R|·g (the sum cancels)
                double esx = fabs(gsx - rgsx) / std::max(1e-30, asx), esw = fabs(gsw - rgsw) / std::max(1e-30, asw);
                bool ok = ex < 1e-5 && ew < 1e-5 && eb < 1e-6 && esx < 1e-5 && esw < 1e-5;
                report(ok, "linear_backward",
                       fmt("mode=%d sampling=%d n=%d c=%d d=%d G=%d rel_err ∇X=%.2e ∇W=%.2e ∇b=%.2e ∇s_X=%.2e ∇s_W=%.2e (|∇X|=%.2e |∇W|=%.2e)", mode, sampling,
                           s.n, s.c, s.d, s.g, ex, ew, eb, esx, esw, l2(rgx), l2(rgw)));
            }
}

static void test_errors(int4train_context ctx) {
    DBuf<float> f(64);
    DBuf<int8_t> q(64);
    DBuf<uint8_t> u(64);
    DBuf<int32_t> i32(64);
    DBuf<double> dd(64);
    struct E { const char* name; int4train_status got, want; };
    int4train_context bad = nullptr;
    int g = 0;
    std::vector<E> cases = {
        {"null context", int4train_hadamard(nullptr, f.p, f.p, 1, 8, 8), INT4TRAIN_ERROR_NULL_POINTER},
        {"null input", int4train_hadamard(ctx, nullptr, f.p, 1, 8, 8), INT4TRAIN_ERROR_NULL_POINTER},
        {"group not power of two", int4train_hadamard(ctx, f.p, f.p, 1, 12, 3), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"group does not divide", int4train_hadamard(ctx, f.p, f.p, 1, 24, 16), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"group 2048", int4train_hadamard(ctx, f.p, f.p, 1, 2048, 2048), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"negative rows", int4train_hadamard(ctx, f.p, f.p, -1, 8, 8), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"pack odd cols", int4train_pack_int4(ctx, q.p, u.p, 2, 7), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"gemm m=0", int4train_gemm_s8(ctx, q.p, q.p, i32.p, 0, 4, 4), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"gemm_s4 odd k", int4train_gemm_s4(ctx, u.p, u.p, i32.p, 2, 2, 3), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"gemm null c", int4train_gemm_s8(ctx, q.p, q.p, nullptr, 2, 2, 2), INT4TRAIN_ERROR_NULL_POINTER},
        {"quantize bad mode", int4train_lsq_quantize(ctx, f.p, 8, f.p, 5, q.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"init n=0", int4train_lsq_init_step(ctx, f.p, 0, f.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"bit_split bad mode", int4train_bit_split(ctx, f.p, 2, 2, 1, 9, q.p, q.p, f.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"select x codes without step", int4train_lss_select(ctx, q.p, q.p, f.p, q.p, nullptr, 2, 2, 2, 0, 1, dd.p, u.p, i32.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"select bad sampling", int4train_lss_select(ctx, q.p, q.p, f.p, nullptr, nullptr, 2, 2, 2, 3, 1, dd.p, u.p, i32.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"hq_forward odd d", int4train_hq_forward(ctx, f.p, f.p, nullptr, f.p, f.p, 2, 2, 3, 1, 0, f.p, u.p, u.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"hq_forward null y", int4train_hq_forward(ctx, f.p, f.p, nullptr, f.p, f.p, 2, 2, 4, 1, 0, nullptr, u.p, u.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"block search null group", int4train_block_size_search(ctx, f.p, f.p, 2, 2, 4, 0, nullptr, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"lss_grad_weight n=0", int4train_lss_grad_weight(ctx, q.p, q.p, u.p, f.p, f.p, u.p, dd.p, 0, 2, 2, f.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"lss_grad_input null keep", int4train_lss_grad_input(ctx, q.p, q.p, u.p, f.p, f.p, nullptr, dd.p, 2, 2, 2, f.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"backward null grad", int4train_linear_backward(ctx, nullptr, f.p, f.p, u.p, u.p, f.p, f.p, 2, 2, 4, 2, 0, 0, 1, f.p, f.p, f.p, f.p, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"backward bad group", int4train_linear_backward(ctx, f.p, f.p, f.p, u.p, u.p, f.p, f.p, 2, 2, 4, 8, 0, 0, 1, f.p, f.p, f.p, f.p, nullptr), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"backward bad sampling", int4train_linear_backward(ctx, f.p, f.p, f.p, u.p, u.p, f.p, f.p, 2, 2, 4, 2, 0, 7, 1, f.p, f.p, f.p, f.p, nullptr), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"context bad device", int4train_context_create(999, &bad), INT4TRAIN_ERROR_NO_DEVICE},
        {"context null out", int4train_context_create(0, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"sync null ctx", int4train_context_synchronize(nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"info null ctx", int4train_context_info(nullptr, nullptr, 0, &g, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
    };
    for (auto& e : cases) {
        bool ok = e.got == e.want;
        report(ok, "error path", fmt("%s -> status %d (want %d)", e.name, (int)e.got, (int)e.want));
    }
    // the message is set, and a valid call after errors succeeds
    int4train_status st = int4train_hadamard(ctx, f.p, f.p, 1, 12, 3);
    std::string msg = int4train_last_error();
    report(st == INT4TRAIN_ERROR_INVALID_ARGUMENT && msg.find("group") != std::string::npos, "error message", msg);
    report(int4train_hadamard(ctx, f.p, f.p, 1, 8, 8) == INT4TRAIN_SUCCESS && int4train_context_synchronize(ctx) == INT4TRAIN_SUCCESS,
           "valid call after errors", "");
    report(int4train_context_destroy(nullptr) == INT4TRAIN_SUCCESS, "destroy(NULL) accepted", "");
}

// Informative timings (not checks): the layer's operators next to the bare INT8 GEMM of the same shape.
static void bench_layer(int4train_context ctx, int n, int c, int d, int g, int sampling, int reps) {
    auto x = randn_outliers(n, d), w = randn_outliers(c, d, 0.05f);
    auto gy = randn_outliers(n, c, 1e-3f, 1);
    for (int i = 0; i < n; i += 2) for (int j = 0; j < c; ++j) gy[(size_t)i * c + j] = 0.0f;  // half the tokens silent
    DBuf<float> dx(x), dw(w), dgy(gy), dsx(1), dsw(1), dy((size_t)n * c), dgx((size_t)n * d), dgw((size_t)c * d), dgs(2), dgb(c);
    DBuf<uint8_t> dxp((size_t)n * d / 2), dwp((size_t)c * d / 2);
    DBuf<int8_t> da((size_t)n * d), db((size_t)c * d);
    DBuf<int32_t> dc((size_t)n * c);
    CK(int4train_hadamard(ctx, dx.p, dgx.p, n, d, g));
    CK(int4train_lsq_init_step(ctx, dgx.p, (int64_t)n * d, dsx.p));
    CK(int4train_hadamard(ctx, dw.p, dgw.p, c, d, g));
    CK(int4train_lsq_init_step(ctx, dgw.p, (int64_t)c * d, dsw.p));
    void* st = nullptr;
    CK(int4train_context_get_stream(ctx, &st));
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    float t[3] = {0, 0, 0};
    for (int which = 0; which < 3; ++which) {
        for (int r = -1; r < reps; ++r) {
            if (r == 0) cudaEventRecord(e0, (cudaStream_t)st);
            if (which == 0) CK(int4train_gemm_s8(ctx, da.p, db.p, dc.p, n, c, d));
            if (which == 1) CK(int4train_hq_forward(ctx, dx.p, dw.p, nullptr, dsx.p, dsw.p, n, c, d, g, 0, dy.p, dxp.p, dwp.p));
            if (which == 2) CK(int4train_linear_backward(ctx, dgy.p, dx.p, dw.p, dxp.p, dwp.p, dsx.p, dsw.p, n, c, d, g, 0, sampling, 7,
                                                         dgx.p, dgw.p, dgs.p, dgs.p + 1, dgb.p));
        }
        cudaEventRecord(e1, (cudaStream_t)st);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&t[which], e0, e1);
        t[which] /= reps;
    }
    CK(int4train_context_synchronize(ctx));
    // breakdown of the backward into its public pieces (same inputs)
    {
        DBuf<int8_t> dh((size_t)n * c), dl((size_t)n * c), dxq((size_t)n * d);
        DBuf<float> dsc(3), tmp((size_t)n * d);
        DBuf<double> dp(2 * (size_t)n);
        DBuf<uint8_t> dk(2 * (size_t)n);
        DBuf<int32_t> dkept(2);
        CK(int4train_unpack_int4(ctx, dxp.p, dxq.p, n, d));
        auto timeit = [&](auto&& fn) -> float {
            fn();
            cudaEventRecord(e0, (cudaStream_t)st);
            for (int r = 0; r < reps; ++r) fn();
            cudaEventRecord(e1, (cudaStream_t)st);
            cudaEventSynchronize(e1);
            float ms = 0;
            cudaEventElapsedTime(&ms, e0, e1);
            return ms / reps;
        };
        float tb = timeit([&] { int4train_bit_split(ctx, dgy.p, n, c, 7, 0, dh.p, dl.p, dsc.p); });
        float tsw = timeit([&] { int4train_lss_select(ctx, dh.p, dl.p, dsc.p, dxq.p, dsx.p, n, c, d, sampling, 7, dp.p, dk.p, dkept.p); });
        float tgw = timeit([&] { int4train_lss_grad_weight(ctx, dh.p, dl.p, dxp.p, dsc.p, dsx.p, dk.p, dp.p, n, c, d, dgw.p); });
        float tgi = timeit([&] { int4train_lss_grad_input(ctx, dh.p, dl.p, dwp.p, dsc.p, dsw.p, dk.p, dp.p, n, c, d, dgx.p); });
        float th = timeit([&] { int4train_hadamard(ctx, dx.p, tmp.p, n, d, g); });
        float tl = timeit([&] { int4train_lsq_backward(ctx, dx.p, dgx.p, (int64_t)n * d, dsx.p, 0, tmp.p, dgs.p); });
        CK(int4train_context_synchronize(ctx));
        report(true, "timing breakdown", fmt("N=%d C=%d D=%d sampling=%d: bit_split %.3f, lss_select(∇W) %.3f, lss_grad_weight %.3f, "
                                             "lss_grad_input(general, 2N rows) %.3f, hadamard(N×D) %.3f, lsq_backward(N×D) %.3f ms",
                                             n, c, d, sampling, tb, tsw, tgw, tgi, th, tl));
    }
    double flop = 2.0 * n * c * d;
    report(true, "timing", fmt("N=%d C=%d D=%d G=%d sampling=%d: int8 GEMM %.3f ms (%.0f TOPS), hq_forward %.3f ms, linear_backward %.3f ms",
                               n, c, d, g, sampling, t[0], flop / (t[0] * 1e-3) / 1e12, t[1], t[2]));
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
}

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) if (!strcmp(argv[i], "--quick")) g_quick = true;
    printf("libint4train selftest, version %d%s\n", int4train_version(), g_quick ? " (quick)" : "");
    int count = 0;
    int4train_device_count(&count);
    if (count == 0) {
        printf("no CUDA device\n0 passed, 1 failed\n");
        return 1;
    }
    int4train_context ctx = nullptr;
    if (int4train_context_create(0, &ctx) != INT4TRAIN_SUCCESS) {
        printf("context_create failed: %s\n0 passed, 1 failed\n", int4train_last_error());
        return 1;
    }
    char name[256];
    int cc = 0;
    int4train_context_info(ctx, name, sizeof name, &cc, nullptr);
    printf("device: %s (cc %d)\n", name, cc);
    auto t0 = std::chrono::steady_clock::now();
    test_canonical_and_init(ctx);
    test_hadamard(ctx);
    test_lsq(ctx);
    test_pack(ctx);
    test_gemm(ctx);
    test_hq_forward(ctx);
    test_block_search(ctx);
    test_bit_split_select_lss(ctx);
    test_linear_backward(ctx);
    test_errors(ctx);
    if (!g_quick) {
        bench_layer(ctx, 4096, 4096, 4096, 32, 0, 5);
        bench_layer(ctx, 8192, 4096, 1024, 32, 0, 5);
        bench_layer(ctx, 1024, 1024, 1024, 32, 1, 3);
        bench_layer(ctx, 4096, 4096, 4096, 32, 1, 3);
    }
    size_t ws = 0;
    int4train_context_info(ctx, nullptr, 0, nullptr, &ws);
    int4train_status fin = int4train_context_synchronize(ctx);
    report(fin == INT4TRAIN_SUCCESS, "final synchronize (no asynchronous errors)", fin ? int4train_last_error() : "");
    report(int4train_context_destroy(ctx) == INT4TRAIN_SUCCESS, "context_destroy", "");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("workspace high-water: %zu bytes; %.1f s\n", ws, secs);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
