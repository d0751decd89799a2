// block_search.cu — Hadamard block-size search, the code's criterion (method.md §2.2, conventions.md
// "Block-size search"): for every G | D, score(G) = ‖X̄ − X‖_F·‖W̄ − W‖_F with X̄ = H_G(s_X·q(H_G(X)/s_X)),
// s_X from the LSQ init rule on H_G(X). Synchronous (the caller needs the chosen G on the host).
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/rounding.cuh"
#include "numerics/canonical_sum.cuh"
#include "ops/operators.cuh"

namespace i4t {

// out = s·clamp(RoundHalfAway(v/s), Qn, 7) (fake quantization; same operations as quantize + dequantize).
__global__ void fake_quant_kernel(const float* __restrict__ v, int64_t n, const float* step, int qn, float* out) {
    float s = *step;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float r = round_half_away(__fdiv_rn(v[i], s));
        r = fminf(fmaxf(r, (float)qn), (float)kLsqQp);
        out[i] = __fmul_rn(s, r);
    }
}

// term i = (double)(xbar_i − x_i)², the difference in FP32, the square in double (exact).
struct SqDiffTerm {
    const float* xbar;
    const float* x;
    __device__ double operator()(int64_t i) const {
        double dd = (double)__fsub_rn(xbar[i], x[i]);
        return dd * dd;
    }
};

static int4train_status residual_sumsq(int4train_context ctx, const float* x, int64_t total, int group, int mode,
                                       float* t1, float* t2, float* step, double* ws, double* d_out) {
    I4T_TRY(hadamard_impl(ctx, x, t1, total, group));
    I4T_TRY(lsq_init_step_impl(ctx, t1, total, step, ws));
    fake_quant_kernel<<<grid_for(total), 256, 0, ctx->stream>>>(t1, total, step, lsq_qn(mode), t2);
    I4T_LAUNCH("fake_quant_kernel");
    I4T_TRY(hadamard_impl(ctx, t2, t1, total, group));
    return canonical_sum(SqDiffTerm{t1, x}, total, ws, d_out, ctx->stream);
}

int4train_status block_size_search_impl(int4train_context ctx, const float* d_x, const float* d_w, int n, int c, int d,
                                        int mode, int* h_group, double* h_scores, const LentScratch& lent) {
    static constexpr const char* fn = "int4train_block_size_search";  // messages name the public entry point
    I4T_TRY(enter(ctx, fn));
    I4T_NOTNULL_IN(fn, d_x);
    I4T_NOTNULL_IN(fn, d_w);
    I4T_NOTNULL_IN(fn, h_group);
    I4T_ALIGNED_IN(fn, h_scores);
    if (n <= 0 || c <= 0 || d <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d), c (%d), d (%d) must be positive", fn, n, c, d);
    I4T_TRY(check_mode(mode, fn));
    const int64_t nx = (int64_t)n * d, nw = (int64_t)c * d, nmax = nx > nw ? nx : nw;
    const bool lent_fits = lent.fits(nmax, true);
    Plan p;
    if (!lent_fits) {
        p.add<float>(nmax);
        p.add<float>(nmax);
    }
    p.add<float>(2);
    p.add<double>(canon_ws_count(nmax) + 1);
    p.add<double>(22);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    float* t1 = lent_fits ? lent.a : ar.take<float>(nmax);
    float* t2 = lent_fits ? lent.b : ar.take<float>(nmax);
    float* steps = ar.take<float>(2);
    double* ws = ar.take<double>(canon_ws_count(nmax) + 1);
    double* sums = ar.take<double>(22);
    I4T_ARENA_CHECK(ar);
    I4T_CUDA(cudaMemsetAsync(sums, 0, 22 * sizeof(double), ctx->stream));

    for (int k = 0; k <= 10; ++k) {
        int g = 1 << k;
        if (d % g != 0) continue;
        I4T_TRY(residual_sumsq(ctx, d_x, nx, g, mode, t1, t2, steps, ws, sums + 2 * k));
        I4T_TRY(residual_sumsq(ctx, d_w, nw, g, mode, t1, t2, steps + 1, ws, sums + 2 * k + 1));
    }
    double h_sums[22];
    I4T_CUDA(cudaMemcpyAsync(h_sums, sums, sizeof h_sums, cudaMemcpyDeviceToHost, ctx->stream));
    I4T_CUDA(cudaStreamSynchronize(ctx->stream));
    int best = -1;
    double best_score = 0.0;
    for (int k = 0; k <= 10; ++k) {
        int g = 1 << k;
        double score = NAN;
        if (d % g == 0) {
            score = sqrt(h_sums[2 * k]) * sqrt(h_sums[2 * k + 1]);
            if (best < 0 || score < best_score) {  // strict: the smallest G wins ties
                best = g;
                best_score = score;
            }
        }
        if (h_scores) h_scores[k] = score;
    }
    *h_group = best;
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

extern "C" INT4TRAIN_API int4train_status int4train_block_size_search(int4train_context ctx, const float* d_x,
                                                                      const float* d_w, int n, int c, int d, int mode,
                                                                      int* h_group, double* h_scores) {
    return i4t::block_size_search_impl(ctx, d_x, d_w, n, c, d, mode, h_group, h_scores, i4t::LentScratch{});
}
