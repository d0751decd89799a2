// test_lsq_fast.cu — the register kernels of issue 11 (hadamard_quant_regs_kernel, hadamard_lsq_back_regs_kernel)
// and their arithmetic (numerics/lsq_fast.cuh) against the generic kernels and rules, bit for bit:
//   1. "lsq_fast rules exhaustive": for every one of the 2^32 float bit patterns x and a set of steps s (significands
//      1, 1 + ulp, all ones, 1.5, random; in range, at and beyond the fast path's limits 2^±60, subnormal), the
//      hoisted-reciprocal quotient equals __fdiv_rn(x, s), the code equals lsq_code(x, s, qn) and the residual and
//      mask equal lsq_e's rule, in both modes; RoundHalfAway's branch-free form equals round_half_away for every x.
//   2. "hadamard_quantize fast vs generic kernels (bits)": packed codes of X and W and Y of int4train_hq_forward
//      from the register kernel and from the block kernel (INT4TRAIN_GENERIC_KERNELS=1), G = 1..1024, odd rows, d not
//      a multiple of 32 (padded codes), tails, outliers, a zero row, a tiny row and a huge row.
//   3. "LSQ backward tail fast vs generic kernels (special rows, bits)": int4train_linear_backward likewise, with
//      tails whose length is not a multiple of 4 and the same special rows (they take the __fdiv_rn fallback).
#include "selftest.h"
#include "numerics/lsq_fast.cuh"

namespace {

using i4t::LsqQuotient;

__device__ unsigned long long g_bad[5];
__device__ unsigned int g_first[5];

__device__ void note(int which, uint32_t xb) {
    atomicAdd(&g_bad[which], 1ull);
    atomicMin(&g_first[which], xb);
}

__device__ bool same_or_both_nan(float a, float b) {
    return __float_as_uint(a) == __float_as_uint(b) || (isnan(a) && isnan(b));
}

// The rule of lsq.cu's lsq_e on the exact quotient (the generic kernels' oracle).
__device__ float generic_residual(float v, int qn, bool* in) {
    if (v < (float)qn) { *in = false; return (float)qn; }
    if (v > 7.0f) { *in = false; return 7.0f; }
    *in = true;
    return __fsub_rn(i4t::round_half_away(v), v);
}

__global__ void lsq_fast_rules_kernel(float s, int qn, bool check_rounding) {
    const LsqQuotient quotient(s);
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t b = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; b < (1ull << 32); b += stride) {
        const uint32_t xb = (uint32_t)b;
        const float x = __uint_as_float(xb);
        const float exact = __fdiv_rn(x, s);
        float v[1] = {x}, c[1] = {x};
        quotient.divide_exact(v);
        quotient.divide_for_code(c);
        if (!same_or_both_nan(v[0], exact)) note(0, xb);
        if (i4t::lsq_code_of_quotient(c[0], qn) != i4t::lsq_code(x, s, qn)) note(1, xb);
        bool in_ref;
        const float e_ref = generic_residual(exact, qn, &in_ref);
        const float g = 1.0f + (float)(xb & 7);  // a nonzero upstream gradient
        float masked;
        const float e = i4t::lsq_residual_of_quotient(v[0], qn, g, &masked);
        if (!same_or_both_nan(e, e_ref) || __float_as_uint(masked) != __float_as_uint(in_ref ? g : 0.0f)) note(2, xb);
        if (check_rounding && !same_or_both_nan(i4t::round_half_away_fast(x), i4t::round_half_away(x))) note(3, xb);
    }
}

}  // namespace

void test_lsq_fast_rules() {
    std::vector<float> steps = {1.0f, 0x1.000002p0f, 0x1.fffffep0f, 1.5f, 0.1f, 0.0123f, 7.77f, 3.3e-3f,
                                0x1.3p-40f, 0x1.7p59f, 0x1p-60f, 0x1p60f, 0x1.fffffep-61f, 0x1p61f, 1e-40f};
    for (int k = 0; k < 6; ++k) steps.push_back(std::ldexp(1.0f + (float)(rng() % (1u << 23)) / 8388608.0f, (int)(rng() % 40) - 30));
    if (g_quick) steps.resize(6);
    for (size_t k = 0; k < steps.size(); ++k)
        for (int mode = 0; mode < 2; ++mode) {
            unsigned long long zero[5] = {0, 0, 0, 0, 0};
            unsigned int first[5] = {~0u, ~0u, ~0u, ~0u, ~0u};
            CUDA_CK(cudaMemcpyToSymbol(g_bad, zero, sizeof zero));
            CUDA_CK(cudaMemcpyToSymbol(g_first, first, sizeof first));
            lsq_fast_rules_kernel<<<4096, 256>>>(steps[k], qn_of(mode), k == 0 && mode == 0);
            CUDA_CK(cudaGetLastError());
            CUDA_CK(cudaDeviceSynchronize());
            CUDA_CK(cudaMemcpyFromSymbol(zero, g_bad, sizeof zero));
            CUDA_CK(cudaMemcpyFromSymbol(first, g_first, sizeof first));
            report(zero[0] + zero[1] + zero[2] + zero[3] == 0, "lsq_fast rules exhaustive",
                   fmt("s=%a mode=%d: all 2^32 x: quotient ≠ __fdiv_rn %llu (first x=0x%08x), code ≠ lsq_code %llu "
                       "(0x%08x), residual/mask ≠ lsq_e %llu (0x%08x), RoundHalfAway ≠ round_half_away %llu (0x%08x)",
                       steps[k], mode, zero[0], first[0], zero[1], first[1], zero[2], first[2], zero[3], first[3]));
        }
}

// Rows that send a thread to the __fdiv_rn fallback (zero, tiny, huge) next to ordinary ones.
static void add_special_rows(std::vector<float>& m, int rows, int cols) {
    if (rows < 4) return;
    for (int j = 0; j < cols; ++j) {
        m[(size_t)1 * cols + j] = 0.0f;
        m[(size_t)2 * cols + j] *= 1e-30f;
        m[(size_t)3 * cols + j] *= (j % 7 == 0) ? 1e30f : 1.0f;
    }
}

void test_hadamard_quant_fast_bits(int4train_context ctx) {
    int4train_context generic = create_generic_context("hadamard_quantize fast vs generic kernels");
    if (!generic) return;
    struct S { int n, c, d, g; };
    const std::vector<S> shapes = {{77, 50, 96, 1}, {33, 20, 40, 2}, {129, 64, 256, 4}, {301, 130, 64, 8},
                                   {65, 48, 112, 16}, {257, 96, 160, 32}, {5, 3, 32, 32}, {1000, 36, 512, 32},
                                   // G > 32: the stages h ≥ 32 through shared memory (hadamard_regs.cuh), runs of 512
                                   // that end inside a row, tails; G = 1024 stays on the block kernel in both contexts
                                   {129, 40, 128, 64}, {65, 24, 256, 128}, {40, 16, 512, 256}, {33, 10, 1024, 512},
                                   {9, 8, 1536, 512}, {7, 6, 2048, 1024}};
    for (int mode = 0; mode < 2; ++mode)
        for (auto s : shapes) {
            auto x = randn_outliers(s.n, s.d), w = randn_outliers(s.c, s.d, 0.05f);
            add_special_rows(x, s.n, s.d);
            add_special_rows(w, s.c, s.d);
            const float sx = cpu_init_step(cpu_hadamard(randn_outliers(s.n, s.d), s.g));
            const float sw = cpu_init_step(cpu_hadamard(randn_outliers(s.c, s.d, 0.05f), s.g));
            std::vector<float> bias(s.c, 0.25f);
            DBuf<float> dx(x), dw(w), db(bias), dsx(std::vector<float>{sx}), dsw(std::vector<float>{sw});
            DBuf<float> y_f((size_t)s.n * s.c), y_g((size_t)s.n * s.c);
            DBuf<uint8_t> xp_f((size_t)s.n * s.d / 2), wp_f((size_t)s.c * s.d / 2), xp_g(xp_f.n), wp_g(wp_f.n);
            CK(int4train_hq_forward(ctx, dx.p, dw.p, db.p, dsx.p, dsw.p, s.n, s.c, s.d, s.g, mode, y_f.p, xp_f.p, wp_f.p));
            CUDA_CK(cudaDeviceSynchronize());
            CK(int4train_hq_forward(generic, dx.p, dw.p, db.p, dsx.p, dsw.p, s.n, s.c, s.d, s.g, mode, y_g.p, xp_g.p, wp_g.p));
            const size_t dxp = count_diff(xp_f.down(), xp_g.down()), dwp = count_diff(wp_f.down(), wp_g.down());
            const size_t dy = count_diff(y_f.down(), y_g.down());
            report(dxp + dwp + dy == 0, "hadamard_quantize fast vs generic kernels (bits)",
                   fmt("mode=%d n=%d c=%d d=%d G=%d: differing packed X %zu, packed W %zu, Y %zu", mode, s.n, s.c, s.d,
                       s.g, dxp, dwp, dy));
        }
    int4train_context_destroy(generic);
}

void test_lsq_back_fast_special_bits(int4train_context ctx) {
    int4train_context generic = create_generic_context("LSQ backward tail fast vs generic kernels");
    if (!generic) return;
    struct S { int n, c, d, g; };
    // n·d ≡ 2 (mod 4) for G ≤ 2: the last chunk ends inside a 16-byte run
    const std::vector<S> shapes = {{41, 24, 30, 1}, {77, 40, 98, 2}, {129, 36, 68, 4}, {300, 130, 88, 8},
                                   {63, 20, 80, 16}, {513, 96, 224, 32},
                                   {77, 40, 192, 64}, {129, 36, 256, 128}, {65, 24, 768, 256}, {41, 20, 1024, 512},
                                   {9, 12, 1024, 1024}};
    for (int mode = 0; mode < 2; ++mode)
        for (auto s : shapes) {
            HostBackwardInputs h(s.n, s.c, s.d, s.g, mode, 5);
            add_special_rows(h.x, s.n, s.d);
            add_special_rows(h.w, s.c, s.d);
            BackwardInputs in(h);
            const size_t nd = (size_t)s.n * s.d, cd = (size_t)s.c * s.d;
            DBuf<float> fx(nd), fw(cd), gx(nd), gw(cd), fs(2), gs(2);
            CK(int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c, s.d,
                                         s.g, mode, 0, 5, fx.p, fw.p, fs.p, fs.p + 1, nullptr, 0));
            CUDA_CK(cudaDeviceSynchronize());
            CK(int4train_linear_backward(generic, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, s.n, s.c,
                                         s.d, s.g, mode, 0, 5, gx.p, gw.p, gs.p, gs.p + 1, nullptr, 0));
            auto a_x = fx.down(), a_w = fw.down();
            const size_t dxb = count_diff(a_x, gx.down()), dwb = count_diff(a_w, gw.down());
            const size_t dsb = count_diff(fs.down(), gs.down());
            report(dxb + dwb + dsb == 0 && l2(a_x) > 0 && l2(a_w) > 0,
                   "LSQ backward tail fast vs generic kernels (special rows, bits)",
                   fmt("mode=%d n=%d c=%d d=%d G=%d: differing ∇X %zu, ∇W %zu, ∇s %zu", mode, s.n, s.c, s.d, s.g, dxb,
                       dwb, dsb));
        }
    int4train_context_destroy(generic);
}
