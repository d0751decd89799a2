// test_backward.cu — self-tests of the backward operators (bit split, selection, LSS GEMMs, the whole layer
// backward) against the CPU reference.
#include "selftest.h"

#include <string.h>

static bool same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }
static void check_accumulate(int4train_context ctx, int n, int c, int d, int g, int mode, int sampling, uint64_t seed,
                             const float* gy, const float* x, const float* w, const uint8_t* xp, const uint8_t* wp,
                             const float* sx, const float* sw, const std::vector<float>& gx,
                             const std::vector<float>& gw, float gsx, float gsw, const std::vector<float>& gb);

void test_bit_split_select_lss(int4train_context ctx) {
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

void test_linear_backward(int4train_context ctx) {
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
                                             sampling, seed, dgx.p, dgw.p, dgsx.p, dgsw.p, dgb.p, 0));
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
                check_accumulate(ctx, s.n, s.c, s.d, s.g, mode, sampling, seed, dgy.p, dx.p, dw.p, dxp.p, dwp.p, dsx.p,
                                 dsw.p, dgx.down(), dgw.down(), dgsx.down()[0], dgsw.down()[0], dgb.down());
            }
}


// Nonzero sampling on SM90 takes the folded path (one split pass, scaled GEMM epilogues, lss_folded.cu) when the
// gradient outputs are 16-byte aligned and d % 4 == 0; misaligned outputs take the general path (bit split +
// selection + masked GEMMs). Both must give the same bits (docs/method.md §3.5: the masks change no product).
void test_folded_backward_bits(int4train_context ctx) {
    struct S { int n, c, d, g; };
    std::vector<S> shapes = {{77, 50, 96, 16}, {300, 130, 256, 32}, {1024, 768, 512, 64}};
    for (int mode = 0; mode < 2; ++mode)
        for (auto s : shapes) {
            uint64_t seed = 7 + mode;
            BackwardInputs in(HostBackwardInputs(s.n, s.c, s.d, s.g, mode, 5));
            const size_t nd = (size_t)s.n * s.d, cd = (size_t)s.c * s.d;
            DBuf<float> gx_a(nd), gw_a(cd), gx_b(nd + 1), gw_b(cd + 1), gs(4), gb(2 * (size_t)s.c);
            CK(int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c, s.d, s.g, mode, 0,
                                         seed, gx_a.p, gw_a.p, gs.p, gs.p + 1, gb.p, 0));
            CK(int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c, s.d, s.g, mode, 0,
                                         seed, gx_b.p + 1, gw_b.p + 1, gs.p + 2, gs.p + 3, gb.p + s.c, 0));
            auto a_x = gx_a.down(), a_w = gw_a.down(), b_x = gx_b.down(), b_w = gw_b.down(), st = gs.down();
            b_x.erase(b_x.begin());
            b_w.erase(b_w.begin());
            size_t dxb = count_diff(a_x, b_x), dwb = count_diff(a_w, b_w);
            bool steps = memcmp(&st[0], &st[2], 4) == 0 && memcmp(&st[1], &st[3], 4) == 0;
            report(dxb == 0 && dwb == 0 && steps && l2(a_x) > 0 && l2(a_w) > 0, "folded vs general backward (bits)",
                   fmt("mode=%d n=%d c=%d d=%d: differing bits ∇X %zu, ∇W %zu, step gradients %s", mode, s.n, s.c, s.d,
                       dxb, dwb, steps ? "same" : "DIFFERENT"));
        }
}

int4train_context create_generic_context(const char* test) {
    setenv("INT4TRAIN_GENERIC_KERNELS", "1", 1);
    int4train_context generic = nullptr;
    int4train_status st = int4train_context_create(0, &generic);
    unsetenv("INT4TRAIN_GENERIC_KERNELS");
    if (st == INT4TRAIN_SUCCESS) return generic;
    report(false, test, fmt("second context: %s", int4train_last_error()));
    return nullptr;
}

// Every specialised fast path of linear_backward (folded LSS with scaled GEMM epilogues, Bernoulli GEMMs over the
// compacted kept rows, register LSQ backward tail, tiled code transposes) against the generic kernels of a second
// context created with INT4TRAIN_GENERIC_KERNELS=1: the same inputs must give the same bits in every output.
void test_fast_paths_bits(int4train_context ctx) {
    int4train_context generic = create_generic_context("fast paths vs generic kernels");
    if (!generic) return;
    struct S { int n, c, d, g; };
    std::vector<S> shapes = {{77, 50, 96, 16}, {300, 130, 256, 1}, {513, 96, 200, 8}, {1024, 768, 512, 32},
                             {256, 384, 512, 64}, {64, 40, 196, 4}, {50, 30, 98, 2}};
    for (int sampling = 0; sampling < 2; ++sampling)
        for (auto s : shapes) {
            const int mode = (s.n + sampling) % 2;
            const uint64_t seed = 99 + (uint64_t)s.n;
            BackwardInputs in(HostBackwardInputs(s.n, s.c, s.d, s.g, mode, 3));
            const size_t nd = (size_t)s.n * s.d, cd = (size_t)s.c * s.d;
            DBuf<float> fx(nd), fw(cd), gx(nd), gw(cd), fs(2), gs(2), fb(s.c), gb(s.c);
            CK(int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c, s.d, s.g, mode,
                                         sampling, seed, fx.p, fw.p, fs.p, fs.p + 1, fb.p, 0));
            CUDA_CK(cudaDeviceSynchronize());
            CK(int4train_linear_backward(generic, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c, s.d, s.g, mode,
                                         sampling, seed, gx.p, gw.p, gs.p, gs.p + 1, gb.p, 0));
            auto a_x = fx.down(), a_w = fw.down(), b_x = gx.down(), b_w = gw.down();
            size_t dxb = count_diff(a_x, b_x), dwb = count_diff(a_w, b_w);
            size_t dsb = count_diff(fs.down(), gs.down()), dbb = count_diff(fb.down(), gb.down());
            report(dxb + dwb + dsb + dbb == 0 && l2(a_x) > 0 && l2(a_w) > 0, "fast paths vs generic kernels (bits)",
                   fmt("sampling=%d mode=%d n=%d c=%d d=%d G=%d: differing ∇X %zu, ∇W %zu, ∇s %zu, ∇b %zu", sampling,
                       mode, s.n, s.c, s.d, s.g, dxb, dwb, dsb, dbb));
        }
    int4train_context_destroy(generic);
}

// accumulate = 1 adds each parameter gradient to what its buffer held (old + result, one FP32 add: bit-identical to
// writing a temporary and adding it, as the GPT did) and still overwrites ∇X.
static void check_accumulate(int4train_context ctx, int n, int c, int d, int g, int mode, int sampling, uint64_t seed,
                             const float* gy, const float* x, const float* w, const uint8_t* xp, const uint8_t* wp,
                      const float* sx, const float* sw, const std::vector<float>& gx, const std::vector<float>& gw,
                      float gsx, float gsw, const std::vector<float>& gb) {
    auto old_w = randn_outliers(c, d, 1e-3f, 2), old_b = randn_outliers(1, c, 1e-3f, 3);
    auto old_s = randn_outliers(1, 2, 1e-3f, 4);
    DBuf<float> agx((size_t)n * d), agw(old_w), ags(old_s), agb(old_b);
    CK(int4train_linear_backward(ctx, gy, x, w, xp, wp, sx, sw, n, c, d, g, mode, sampling, seed, agx.p, agw.p, ags.p,
                                 ags.p + 1, agb.p, 1));
    auto rgx = agx.down(), rgw = agw.down(), rgs = ags.down(), rgb = agb.down();
    bool ok = memcmp(rgx.data(), gx.data(), sizeof(float) * gx.size()) == 0;
    for (size_t i = 0; i < gw.size(); ++i) ok = ok && same_bits(rgw[i], old_w[i] + gw[i]);
    for (size_t i = 0; i < gb.size(); ++i) ok = ok && same_bits(rgb[i], old_b[i] + gb[i]);
    ok = ok && same_bits(rgs[0], old_s[0] + gsx) && same_bits(rgs[1], old_s[1] + gsw);
    report(ok, "linear_backward accumulate", fmt("mode=%d sampling=%d n=%d c=%d d=%d G=%d: ∇X overwritten, ∇W/∇b/∇s "
                                                  "= old + result bit for bit", mode, sampling, n, c, d, g));
}

// ∇b's column sums as the library defines them (grad_y_stats.cu): 256-row strips summed in row order in double from
// 0.0, the strips summed in order, one rounding to float.
static std::vector<float> cpu_bias_strip_sums(const std::vector<float>& gy, int n, int c) {
    std::vector<float> gb(c);
    for (int j = 0; j < c; ++j) {
        double total = 0.0;
        for (int r0 = 0; r0 < n; r0 += 256) {
            double strip = 0.0;
            for (int i = r0; i < std::min(n, r0 + 256); ++i) strip += (double)gy[(size_t)i * c + j];
            total += strip;
        }
        gb[j] = (float)total;
    }
    return gb;
}

// With ∇b asked for, the backward takes ∇b's strip sums and the bit split's min/max from one read of ∇Y
// (grad_y_stats.cu); without, the split's own min/max pass sets the scales. Both must give the same ∇X, ∇W and step
// gradients bit for bit (the scales set every digit, so a wrong Mx shows in both), on the folded path (aligned
// outputs; Nonzero sampling on SM90) and the general path (outputs one float off), and ∇b must equal the CPU's strip
// sums bit for bit. n is not a multiple of 256, c not a multiple of 4, and ∇Y's largest magnitude sits in its last
// row and column (the tail strip, tile and column a skipped element would lose); the last shape has more column
// tiles than the pass launches blocks, so a block walks several.
void test_bias_one_read_bits(int4train_context ctx) {
    struct S { int n, c, d, g; };
    std::vector<S> shapes = {{300, 130, 96, 16}, {513, 262, 64, 32}, {1000, 1027, 128, 8}};
    if (!g_quick) shapes.push_back({40, 2048 * 256 + 5, 32, 16});
    for (int sampling = 0; sampling < 2; ++sampling)
        for (size_t k = 0; k < shapes.size(); ++k) {
            const S s = shapes[k];
            const int mode = (int)(k + sampling) % 2;
            const uint64_t seed = 2024 + 3 * k + sampling;
            HostBackwardInputs h(s.n, s.c, s.d, s.g, mode, 5);
            float big = 0.0f;
            for (float v : h.gy) big = std::max(big, fabsf(v));
            h.gy[(size_t)(s.n - 1) * s.c + (s.c - 1)] = 1.5f * big;  // sets Mx
            h.gy[(size_t)(s.c - 1)] = -1.25f * big;                   // the minimum, row 0
            BackwardInputs in(h);
            const auto ref_b = cpu_bias_strip_sums(h.gy, s.n, s.c);
            const size_t nd = (size_t)s.n * s.d, cd = (size_t)s.c * s.d;
            for (int off = 0; off < 2; ++off) {
                std::vector<float> gx[2], gw[2], gst[2], gb;  // [0]: without ∇b, [1]: with
                for (int with_bias = 0; with_bias < 2; ++with_bias) {
                    DBuf<float> dgx(nd + off), dgw(cd + off), dgs(2 + off), dgb(s.c + off);
                    CK(int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c,
                                                 s.d, s.g, mode, sampling, seed, dgx.p + off, dgw.p + off, dgs.p + off,
                                                 dgs.p + off + 1, with_bias ? dgb.p + off : nullptr, 0));
                    auto skip = [off](std::vector<float> v) { v.erase(v.begin(), v.begin() + off); return v; };
                    gx[with_bias] = skip(dgx.down());
                    gw[with_bias] = skip(dgw.down());
                    gst[with_bias] = skip(dgs.down());
                    if (with_bias) gb = skip(dgb.down());
                }
                const size_t dx = count_diff(gx[0], gx[1]), dw = count_diff(gw[0], gw[1]), ds = count_diff(gst[0], gst[1]);
                const size_t db = count_diff(gb, ref_b);
                report(dx + dw + ds + db == 0 && l2(gx[1]) > 0 && l2(gw[1]) > 0 && l2(gb) > 0,
                       "linear_backward ∇b + split scales from one read of ∇Y (bits)",
                       fmt("sampling=%d mode=%d n=%d c=%d d=%d %s outputs: with vs without ∇b differing ∇X %zu, ∇W %zu, "
                           "∇s %zu; ∇b vs CPU strip sums %zu of %d", sampling, mode, s.n, s.c, s.d,
                           off ? "misaligned (general path)" : "aligned", dx, dw, ds, db, s.c));
            }
        }
}
