// test_bf16_activations.cu — the INT4 layer's BF16 activations (docs/conventions.md "BF16 activations of the INT4
// layer"): BF16 inputs are widened exactly on load, so every FP32 output of the BF16 path must equal, bit for bit, the
// FP32 path run on the widened tensors, and a BF16 output must be RN_bf16 of the FP32 path's output.
//   1. "bit split digits, BF16 ∇Y = FP32 on the widened ∇Y (bits)": bit_split_impl and bit_split_fold_impl (both
//      layouts; aligned, c % 4 != 0 and 2-byte-offset ∇Y) on BF16 vs FP32;
//   2. "linear_backward_typed BF16 = FP32 on the widened ∇Y, X; ∇X = RN_bf16 (bits)":
//      int4train_linear_backward_typed(BF16 ∇Y, X, ∇X) vs int4train_linear_backward on the widened ∇Y and X: ∇W, both
//      step gradients and ∇b equal, BF16 ∇X = RN_bf16(FP32 ∇X); with and without ∇b (the two min/max readers), both
//      samplings (the folded SM90 path and the general/compacted one), accumulate on and off, odd shapes, G ≤ 32 (the
//      register tail) and G = 64 (the generic tail), on the fast and the generic kernels;
//   3. "hq_forward_typed BF16 = FP32 on the widened X; Y = RN_bf16 (bits)": int4train_hq_forward_typed(BF16 X, Y) vs
//      int4train_hq_forward on the widened X: packed X and W codes equal, BF16 Y = RN_bf16(FP32 Y); G ≤ 32 (register
//      prologue) and G > 32, X at a 2-byte offset (the block kernel), c % 8 != 0 (Y through the padded buffer), with
//      and without bias, fast and generic kernels.
#include "selftest.h"

#include <cuda_bf16.h>

#include "ops/operators.cuh"

namespace {

// BF16 bits of a finite float, rounded to nearest even (the data here has no NaN).
uint16_t bf16_rn(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
float widen(uint16_t b) {
    const uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

// The BF16 bits of v (rounded to nearest even) and, in place, their exact FP32 values.
std::vector<uint16_t> to_bf16(std::vector<float>& v) {
    std::vector<uint16_t> b(v.size());
    for (size_t i = 0; i < v.size(); ++i) { b[i] = bf16_rn(v[i]); v[i] = widen(b[i]); }
    return b;
}

// ∇Y with outliers, a zero row every 5, a signed zero, a BF16 subnormal and a tie that rounds to even; returns the
// BF16 bits and sets `wide` to their exact FP32 values.
std::vector<uint16_t> bf16_grad_y(int n, int c, std::vector<float>& wide) {
    auto g = randn_outliers(n, c, 1e-3f, 1);
    for (int i = 0; i < n; i += 5) for (int j = 0; j < c; ++j) g[(size_t)i * c + j] = 0.0f;
    g[(size_t)(n - 1) * c + (c - 1)] = 0.37f;  // sets Mx
    if (n > 1) g[(size_t)c] = -0.0f;
    if (n > 2) g[2 * (size_t)c] = 1e-40f;
    if (n > 3) g[3 * (size_t)c] = (1.0f + 0x1p-8f) * 0x1p-8f;  // halfway between two BF16s: rounds to even
    wide = g;
    return to_bf16(wide);
}

// The digits of a BF16 ∇Y (at an offset of `off` elements: off = 1 takes the unaligned loads) against those of its
// widened FP32 copy, under the same scales.
void check_digits(int4train_context ctx, int n, int c, int mode, int off) {
    std::vector<float> wide;
    const auto b = bf16_grad_y(n, c, wide);
    std::vector<uint16_t> up(b.size() + 1, 0);
    std::copy(b.begin(), b.end(), up.begin() + off);
    const uint64_t seed = 0xB16ull + (uint64_t)(n * 17 + c + mode);
    const int cp = (c + 31) / 32 * 32, kp = (n + 31) / 32 * 32;
    const size_t nc = (size_t)n * c;
    DBuf<float> dw(wide), dsc(3);
    DBuf<uint16_t> db(up);
    const auto* g16 = reinterpret_cast<const __nv_bfloat16*>(db.p + off);
    DBuf<int8_t> h32(nc), l32(nc), h16(nc), l16(nc), r32((size_t)n * cp), c32((size_t)c * kp), r16((size_t)n * cp),
        c16((size_t)c * kp);
    CK(int4train_bit_split(ctx, dw.p, n, c, seed, mode, h32.p, l32.p, dsc.p));
    const i4t::PhiloxKey key(seed);
    CK(i4t::bit_split_impl(ctx, g16, n, c, dsc.p, key, mode, h16.p, l16.p));
    CK(i4t::bit_split_fold_impl(ctx, dw.p, n, c, dsc.p, key, mode, r32.p, cp, c32.p, kp));
    CK(i4t::bit_split_fold_impl(ctx, g16, n, c, dsc.p, key, mode, r16.p, cp, c16.p, kp));
    CK(int4train_context_synchronize(ctx));
    const size_t dh = count_diff(h16.down(), h32.down()), dl = count_diff(l16.down(), l32.down());
    const size_t dr = count_diff(r16.down(), r32.down()), dc = count_diff(c16.down(), c32.down());
    report(dh + dl + dr + dc == 0 && l2(wide) > 0, "bit split digits, BF16 ∇Y = FP32 on the widened ∇Y (bits)",
           fmt("mode=%d n=%d c=%d%s: differing high %zu, low %zu, folded rows %zu, folded columns %zu", mode, n, c,
               off ? " (∇Y at a 2-byte offset)" : (c % 4 ? " (c % 4 != 0)" : ""), dh, dl, dr, dc));
}

constexpr const char* kBackwardCase = "linear_backward_typed BF16 = FP32 on the widened ∇Y, X; ∇X = RN_bf16 (bits)";

// The BF16 copies of ∇Y and X (the FP32 copies in BackwardInputs hold their widened values).
struct Bf16Inputs { DBuf<uint16_t> gy, x; };

struct Outputs { std::vector<float> gx, gw, gs, gb; std::vector<uint16_t> gx16; };

// One backward; bf16 = nullptr runs int4train_linear_backward on the FP32 inputs, otherwise the typed BF16 entry on
// the BF16 copies (∇X into gx16). Accumulating outputs start from `start` (the same values for both runs).
Outputs run_backward(int4train_context ctx, const BackwardInputs& in, const Bf16Inputs* bf16, int n, int c, int d,
                     int g, int mode, int sampling, uint64_t seed, bool bias, int acc, float start, bool* ok) {
    const size_t nd = (size_t)n * d, cd = (size_t)c * d;
    DBuf<float> dgx(std::vector<float>(nd, start)), dgw(std::vector<float>(cd, start)),
        dgs(std::vector<float>(2, start)), dgb(std::vector<float>((size_t)c, start));
    DBuf<uint16_t> dgx16(nd);
    const int4train_status s =
        bf16 ? int4train_linear_backward_typed(ctx, INT4TRAIN_DTYPE_BF16, bf16->gy.p, bf16->x.p, in.w.p, in.xp.p,
                                               in.wp.p, in.sx.p, in.sw.p, n, c, d, g, mode, sampling, seed, dgx16.p,
                                               dgw.p, dgs.p, dgs.p + 1, bias ? dgb.p : nullptr, acc)
             : int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, n, c, d, g,
                                         mode, sampling, seed, dgx.p, dgw.p, dgs.p, dgs.p + 1, bias ? dgb.p : nullptr,
                                         acc);
    *ok = s == INT4TRAIN_SUCCESS;
    if (!*ok) report(false, kBackwardCase, fmt("status %d: %s", (int)s, int4train_last_error()));
    Outputs o{bf16 ? std::vector<float>{} : dgx.down(), dgw.down(), dgs.down(),
              bias ? dgb.down() : std::vector<float>{}, {}};
    if (bf16) o.gx16 = dgx16.down();
    return o;
}

void check_backward(int4train_context ctx, const char* kernels) {
    struct S { int n, c, d, g; };
    // c % 4 != 0 (the fold's checked path), odd n, d % 4 != 0 (no folded path), a G above 32 (the generic LSQ tail)
    const std::vector<S> shapes = {{300, 130, 96, 16}, {513, 264, 64, 32}, {77, 50, 66, 2}, {256, 512, 128, 64},
                                   {1000, 1027, 128, 8}};
    for (size_t k = 0; k < shapes.size(); ++k)
        for (int sampling = 0; sampling < 2; ++sampling) {
            const S s = shapes[k];
            const int mode = (int)(k + sampling) % 2, acc = (int)(k % 2);
            const uint64_t seed = 0xBF16ull + 5 * k + sampling;
            HostBackwardInputs h(s.n, s.c, s.d, s.g, mode, 5);
            const auto gy16 = bf16_grad_y(s.n, s.c, h.gy);  // h.gy, h.x ← the widened BF16 ∇Y, X
            const auto x16 = to_bf16(h.x);
            const auto xh = cpu_hadamard(h.x, s.g);          // the forward's codes of the BF16 X
            h.sx = cpu_init_step(xh) * 0.7f;
            h.xq = cpu_quant(xh, h.sx, mode);
            BackwardInputs in(h);
            const Bf16Inputs in16{DBuf<uint16_t>(gy16), DBuf<uint16_t>(x16)};
            for (int bias = 0; bias < 2; ++bias) {
                bool ok32 = false, ok16 = false;
                const Outputs f = run_backward(ctx, in, nullptr, s.n, s.c, s.d, s.g, mode, sampling, seed, bias, acc,
                                               0.25f, &ok32);
                const Outputs o = run_backward(ctx, in, &in16, s.n, s.c, s.d, s.g, mode, sampling, seed, bias, acc,
                                               0.25f, &ok16);
                if (!ok32 || !ok16) return;
                std::vector<uint16_t> want_gx(f.gx.size());  // RN_bf16 of the FP32 ∇X
                for (size_t i = 0; i < f.gx.size(); ++i) want_gx[i] = bf16_rn(f.gx[i]);
                const size_t dx = count_diff(o.gx16, want_gx), dw = count_diff(o.gw, f.gw),
                             ds = count_diff(o.gs, f.gs), dbb = count_diff(o.gb, f.gb);
                report(dx + dw + ds + dbb == 0 && l2(f.gx) > 0 && l2(f.gw) > 0, kBackwardCase,
                       fmt("%s kernels, sampling=%d mode=%d n=%d c=%d d=%d G=%d %s accumulate=%d: differing ∇X %zu, "
                           "∇W %zu, ∇s %zu, ∇b %zu (∇X vs RN_bf16 of the FP32 ∇X)", kernels, sampling, mode, s.n, s.c, s.d, s.g,
                           bias ? "with ∇b" : "without ∇b", acc, dx, dw, ds, dbb));
            }
        }
}

void check_forward(int4train_context ctx, const char* kernels) {
    struct S { int n, c, d, g, off; };
    // c = 64, 136: Y straight from the GEMM; c = 50, 130, 20, 36 (c % 8 != 0): through the padded buffer
    const std::vector<S> shapes = {{64, 64, 64, 16, 0}, {77, 50, 96, 32, 0}, {129, 136, 256, 128, 0},
                                   {301, 130, 64, 8, 1}, {33, 20, 40, 2, 0}, {40, 36, 64, 4, 0}};
    for (size_t k = 0; k < shapes.size(); ++k) {
        const S s = shapes[k];
        const int mode = (int)k % 2;
        auto x = randn_outliers(s.n, s.d), w = randn_outliers(s.c, s.d, 0.05f), bias = randn_outliers(1, s.c, 0.1f);
        const auto x16 = to_bf16(x);  // x ← its widened BF16 values
        const float sx = cpu_init_step(cpu_hadamard(x, s.g)), sw = cpu_init_step(cpu_hadamard(w, s.g));
        std::vector<uint16_t> up(x16.size() + 1, 0);
        std::copy(x16.begin(), x16.end(), up.begin() + s.off);
        DBuf<float> dx(x), dw(w), db(bias), dsx(std::vector<float>{sx}), dsw(std::vector<float>{sw});
        DBuf<uint16_t> dx16(up);
        const size_t nc = (size_t)s.n * s.c, xb = (size_t)s.n * s.d / 2, wb = (size_t)s.c * s.d / 2;
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
            DBuf<float> y32(nc);
            DBuf<uint16_t> y16(nc);
            DBuf<uint8_t> xp32(xb), wp32(wb), xp16(xb), wp16(wb);
            const float* b = with_bias ? db.p : nullptr;
            CK(int4train_hq_forward(ctx, dx.p, dw.p, b, dsx.p, dsw.p, s.n, s.c, s.d, s.g, mode, y32.p, xp32.p, wp32.p));
            CK(int4train_hq_forward_typed(ctx, INT4TRAIN_DTYPE_BF16, dx16.p + s.off, dw.p, b, dsx.p, dsw.p, s.n, s.c,
                                          s.d, s.g, mode, y16.p, xp16.p, wp16.p));
            const auto y = y32.down();
            std::vector<uint16_t> want_y(nc);  // RN_bf16 of the FP32 Y
            for (size_t i = 0; i < nc; ++i) want_y[i] = bf16_rn(y[i]);
            const size_t dy = count_diff(y16.down(), want_y), dxp = count_diff(xp16.down(), xp32.down()),
                         dwp = count_diff(wp16.down(), wp32.down());
            report(dy + dxp + dwp == 0 && l2(y) > 0, "hq_forward_typed BF16 = FP32 on the widened X; Y = RN_bf16 (bits)",
                   fmt("%s kernels, mode=%d n=%d c=%d d=%d G=%d%s %s: differing Y (vs RN_bf16 of the FP32 Y) %zu, "
                       "X codes %zu, W codes %zu",
                       kernels, mode, s.n, s.c, s.d, s.g, s.off ? " (X at a 2-byte offset)" : "",
                       with_bias ? "with bias" : "without bias", dy, dxp, dwp));
        }
    }
}

}  // namespace

void test_bf16_forward_bits(int4train_context ctx) {
    check_forward(ctx, "fast");
    int4train_context generic = create_generic_context("hq_forward_typed BF16 (generic kernels)");
    if (!generic) return;
    check_forward(generic, "generic");
    int4train_context_destroy(generic);
}

void test_bf16_grad_y_bits(int4train_context ctx) {
    struct S { int n, c, off; };
    const S shapes[] = {{64, 64, 0}, {200, 136, 0}, {130, 70, 0}, {201, 136, 1}, {1000, 512, 0}};
    for (int mode = 0; mode < 2; ++mode)
        for (const S& s : shapes) check_digits(ctx, s.n, s.c, mode, s.off);
    check_backward(ctx, "fast");
    int4train_context generic = create_generic_context("linear_backward_typed BF16 (generic kernels)");
    if (!generic) return;
    check_backward(generic, "generic");
    int4train_context_destroy(generic);
}
