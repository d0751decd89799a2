// test_forward.cu — self-tests of the forward operators (CanonicalSum/init, Hadamard, LSQ, packing, GEMM, HQ
// forward, block-size search) against the CPU reference.
#include "selftest.h"

void test_canonical_and_init(int4train_context ctx) {
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

void test_hadamard(int4train_context ctx) {
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

void test_lsq(int4train_context ctx) {
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

void test_pack(int4train_context ctx) {
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

void test_gemm(int4train_context ctx) {
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

void test_hq_forward(int4train_context ctx) {
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

void test_block_search(int4train_context ctx) {
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

