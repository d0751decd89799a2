// lsq.cu — LSQ quantizer: step init, quantize, dequantize, straight-through backward. method.md §2.1, §3.6;
// conventions.md "LSQ".
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/rounding.cuh"
#include "numerics/canonical_sum.cuh"
#include "numerics/widen.cuh"
#include "ops/operators.cuh"

namespace i4t {

// s = lsq_step_rule(CanonicalSum|v|, n, κ) (numerics/rounding.cuh), κ = scale (1: the paper's rule).
__global__ void step_from_sum_kernel(const double* sum, int64_t n, float scale, float* step) {
    *step = lsq_step_rule(*sum, n, scale);
}

int4train_status lsq_init_step_impl(int4train_context ctx, const float* v, int64_t n, float* d_step, double* ws,
                                   float scale) {
    double* d_sum = ws;
    I4T_TRY(canonical_sum(AbsTerm{v}, n, ws + 1, d_sum, ctx->stream));
    step_from_sum_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, n, scale, d_step);
    I4T_LAUNCH("step_from_sum_kernel");
    return INT4TRAIN_SUCCESS;
}

__global__ void quantize_kernel(const float* __restrict__ v, int64_t n, const float* step, int qn, int8_t* codes) {
    float s = *step;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        codes[i] = (int8_t)lsq_code(v[i], s, qn);
}

__global__ void dequantize_kernel(const int8_t* __restrict__ codes, int64_t n, const float* step, float* out) {
    float s = *step;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __fmul_rn(s, (float)codes[i]);
}

int4train_status lsq_dequantize_impl(int4train_context ctx, const int8_t* codes, int64_t n, const float* d_step,
                                     float* out) {
    dequantize_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(codes, n, d_step, out);
    I4T_LAUNCH("dequantize_kernel");
    return INT4TRAIN_SUCCESS;
}

// Padded quantize + pack (§2.3 steps 2–3): thread per byte-pair of the padded row (ld/2 pairs per row), row-strided
// (row_grid(ld / 2, rows_pad)).
__global__ void quantize_pad_pack_kernel(const float* __restrict__ v, int rows, int cols, const float* step, int qn,
                                         int8_t* codes, int rows_pad, int ld, uint8_t* packed) {
    float s = *step;
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= ld / 2) return;
    for (int r = blockIdx.y; r < rows_pad; r += gridDim.y) {
        int c0 = 2 * j;
        int q0 = 0, q1 = 0;
        if (r < rows) {
            if (c0 < cols) q0 = lsq_code(v[(int64_t)r * cols + c0], s, qn);
            if (c0 + 1 < cols) q1 = lsq_code(v[(int64_t)r * cols + c0 + 1], s, qn);
            if (packed && c0 + 1 < cols)
                packed[(int64_t)r * (cols / 2) + j] = (uint8_t)((q1 << 4) | (q0 & 0xF));
        }
        char2 pr;
        pr.x = (char)q0;
        pr.y = (char)q1;
        *reinterpret_cast<char2*>(codes + (int64_t)r * ld + c0) = pr;
    }
}

int4train_status quantize_pad_pack(int4train_context ctx, const float* v, int rows, int cols, const float* d_step,
                                   int mode, int8_t* codes, int rows_pad, int ld, uint8_t* packed) {
    if (ld % 2 != 0 || ld < cols || rows_pad < rows)
        return fail(INT4TRAIN_ERROR_INTERNAL, "quantize_pad_pack: bad padding");
    quantize_pad_pack_kernel<<<row_grid(ld / 2, rows_pad), 256, 0, ctx->stream>>>(v, rows, cols, d_step, lsq_qn(mode), codes,
                                                                       rows_pad, ld, packed);
    I4T_LAUNCH("quantize_pad_pack_kernel");
    return INT4TRAIN_SUCCESS;
}

// Straight-through backward (§2.1, §3.6): v = x/s; mask = 1[Qn <= v <= Qp]; grad_v = mask ? grad : 0;
// e = Qn if v < Qn, Qp if v > Qp, else RoundHalfAway(v) − v; ∇s = Σ e·grad / sqrt(n·7), each term
// (double)e·(double)grad (exact), summed by CanonicalSum.
__device__ __forceinline__ float lsq_e(float x, float s, int qn, bool* in_range) {
    float v = __fdiv_rn(x, s);
    if (v < (float)qn) { *in_range = false; return (float)qn; }
    if (v > (float)kLsqQp) { *in_range = false; return (float)kLsqQp; }
    *in_range = true;
    return __fsub_rn(round_half_away(v), v);
}

__global__ void lsq_mask_kernel(const float* __restrict__ x, const float* __restrict__ grad, int64_t n,
                                const float* step, int qn, float* grad_v) {
    float s = *step;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        bool in;
        (void)lsq_e(x[i], s, qn, &in);
        grad_v[i] = in ? grad[i] : 0.0f;
    }
}

struct StepGradTerm {
    const float* x;
    const float* grad;
    const float* step;
    int qn;
    __device__ double operator()(int64_t i) const {
        bool in;
        float e = lsq_e(x[i], *step, qn, &in);
        return (double)e * (double)grad[i];
    }
};

// Same term, and writes the masked gradient of the same element (each element is visited exactly once by the
// first level of canonical_sum, so grad_v may alias grad).
struct StepGradMaskTerm {
    const float* x;
    const float* grad;
    const float* step;
    int qn;
    float* grad_v;
    __device__ double operator()(int64_t i) const {
        bool in;
        float e = lsq_e(x[i], *step, qn, &in);
        float g = grad[i];
        grad_v[i] = in ? g : 0.0f;
        return (double)e * (double)g;
    }
};

// *out = g·sum (accumulate: *out + g·sum, one FP32 add of the rounded value: int4train_linear_backward's
// accumulate mode, bit-identical to writing a temporary and adding it).
__global__ void step_grad_finish_kernel(const double* sum, int64_t n, float* out, bool accumulate) {
    double g = 1.0 / sqrt((double)n * 7.0);
    float r = (float)(g * *sum);
    *out = accumulate ? __fadd_rn(*out, r) : r;
}

// grad may alias grad_v: the step-gradient sum is computed before the mask is written.
int4train_status lsq_backward_impl(int4train_context ctx, const float* x, const float* grad, int64_t n,
                                   const float* d_step, int mode, float* grad_v, float* grad_step, double* ws) {
    int qn = lsq_qn(mode);
    if (grad_step && grad_v) {  // one pass: mask and step-gradient terms
        double* d_sum = ws;
        I4T_TRY(canonical_sum(StepGradMaskTerm{x, grad, d_step, qn, grad_v}, n, ws + 1, d_sum, ctx->stream));
        step_grad_finish_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, n, grad_step, false);
        I4T_LAUNCH("step_grad_finish_kernel");
        return INT4TRAIN_SUCCESS;
    }
    if (grad_step) {
        double* d_sum = ws;
        I4T_TRY(canonical_sum(StepGradTerm{x, grad, d_step, qn}, n, ws + 1, d_sum, ctx->stream));
        step_grad_finish_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, n, grad_step, false);
        I4T_LAUNCH("step_grad_finish_kernel");
    }
    if (grad_v) {
        lsq_mask_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(x, grad, n, d_step, qn, grad_v);
        I4T_LAUNCH("lsq_mask_kernel");
    }
    return INT4TRAIN_SUCCESS;
}

// ---- Fused backward tail (linear_backward steps 4–5): recompute VH = V·H, LSQ backward, back-transform --------
// One CTA of 256 threads per CanonicalSum chunk of 4096 consecutive elements (a whole number of G-blocks, G | 4096):
//   1. load V's chunk into shared memory, butterfly stages, VH = __fmul_rn(·, scale)   (= hadamard_impl)
//   2. lane t visits elements t, t+256, ... in increasing order: e, mask as lsq_e; acc += (double)e·(double)R;
//      the masked gradient replaces VH in shared memory                                  (= StepGradMaskTerm)
//   3. the 256 lanes are reduced by the canonical tree -> chunk sum                        (= canon_chunk_block)
//   4. butterfly stages on the masked gradient, ·scale, written to out (may alias grad)    (= hadamard_impl)
// Same operations in the same order as the unfused hadamard + lsq_backward + hadamard, so every bit is identical;
// the chunk sums are then summed by CanonicalSum as before. Global traffic: read V, read R, write out (3 passes
// instead of 7, and no VH buffer).
__device__ __forceinline__ void butterfly_smem(float* s, int len, int group) {
    int half = len >> 1;
    for (int lg = 0; (1 << lg) < group; ++lg) {
        const int h = 1 << lg;
        for (int p = threadIdx.x; p < half; p += blockDim.x) {
            int i = ((p >> lg) << (lg + 1)) | (p & (h - 1));
            float a = s[i], b = s[i + h];
            s[i] = __fadd_rn(a, b);
            s[i + h] = __fsub_rn(a, b);
        }
        __syncthreads();
    }
}

constexpr int kFusedPer = kCanonChunk / kCanonLanes;  // 16 elements per lane
static_assert(kCanonChunk % 1024 == 0, "a chunk must hold whole G-blocks for every G <= 1024");

// V, O: float or __nv_bfloat16 (widened on load, rounded to nearest even on store; accumulate with FP32 out only).
template <class V, class O>
__global__ void __launch_bounds__(kCanonLanes) hadamard_lsq_back_kernel(const V* __restrict__ v, const float* grad,
                                                                        O* out, int64_t total, int group,
                                                                        float scale, const float* step, int qn,
                                                                        double* chunk_sums, bool accumulate) {
    __shared__ float s[kCanonChunk];
    __shared__ double lanes[kCanonLanes];
    const int t = threadIdx.x;
    const int64_t base = (int64_t)blockIdx.x * kCanonChunk;
    const int len = (int)((total - base) < kCanonChunk ? (total - base) : kCanonChunk);
    const bool full = len == kCanonChunk;
    if (full) {
#pragma unroll
        for (int k = 0; k < kFusedPer; ++k) s[t + k * kCanonLanes] = load_widened(v, base + t + k * kCanonLanes);
    } else {
        for (int i = t; i < len; i += kCanonLanes) s[i] = load_widened(v, base + i);
    }
    __syncthreads();
    butterfly_smem(s, len, group);
    float g[kFusedPer];
#pragma unroll
    for (int k = 0; k < kFusedPer; ++k) {
        int i = t + k * kCanonLanes;
        g[k] = (full || i < len) ? grad[base + i] : 0.0f;
    }
    const float st = *step;
    double acc = 0.0;
#pragma unroll
    for (int k = 0; k < kFusedPer; ++k) {
        int i = t + k * kCanonLanes;
        if (full || i < len) {
            bool in;
            float e = lsq_e(__fmul_rn(s[i], scale), st, qn, &in);
            acc += (double)e * (double)g[k];
            s[i] = in ? g[k] : 0.0f;
        }
    }
    const double chunk = canon_lanes_reduce(acc, lanes);  // the canonical tree over the 256 lanes
    if (t == 0) chunk_sums[blockIdx.x] = chunk;
    butterfly_smem(s, len, group);
    // accumulate: out ← out + r with one FP32 add of the finished value (out does not alias grad then)
    if (full) {
#pragma unroll
        for (int k = 0; k < kFusedPer; ++k) {
            const int64_t o = base + t + k * kCanonLanes;
            const float r = __fmul_rn(s[t + k * kCanonLanes], scale);
            store_narrowed(out, o, accumulate ? __fadd_rn(load_widened(out, o), r) : r);
        }
    } else {
        for (int i = t; i < len; i += kCanonLanes) {
            const float r = __fmul_rn(s[i], scale);
            store_narrowed(out, base + i, accumulate ? __fadd_rn(load_widened(out, base + i), r) : r);
        }
    }
}

// out = H(mask(H(v)) ⊙ grad) and *grad_step = g·CanonicalSum(e·grad) on a flat array of `total` floats made of
// whole G-blocks; out may alias grad unless accumulate; ws: canon_ws_count(total) + 1 doubles. accumulate: out
// receives old + result; accumulate_step: *grad_step does (∇X is overwritten while ∇s_X accumulates).
template <class V, class O>
int4train_status hadamard_lsq_backward_impl(int4train_context ctx, const V* v, const float* grad, int64_t total,
                                            int group, const float* d_step, int mode, O* out, float* grad_step,
                                            double* ws, bool accumulate, bool accumulate_step) {
    if (total <= 0) return INT4TRAIN_SUCCESS;
    if (accumulate && sizeof(O) != sizeof(float))
        return fail(INT4TRAIN_ERROR_INTERNAL, "hadamard_lsq_backward: accumulating into a BF16 output");
    if (group < 1 || group > 1024 || (group & (group - 1)) != 0 || total % group != 0)
        return fail(INT4TRAIN_ERROR_INTERNAL, "hadamard_lsq_backward: bad group");
    const int64_t m = ceil_div(total, kCanonChunk);
    if (m > 0x7fffffffLL) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "hadamard_lsq_backward: tensor too large");
    const float scale = (float)(1.0 / sqrt((double)group));
    double* d_sum = ws;
    double* level1 = (m == 1) ? d_sum : ws + 1;
    if (hadamard_lsq_back_regs_applies(ctx, v, grad, out, group)) {  // G <= 512: hadamard_lsq_back_regs.cu
        I4T_TRY(hadamard_lsq_back_regs(ctx, v, grad, out, total, group, scale, d_step, lsq_qn(mode), level1, accumulate));
    } else {
        hadamard_lsq_back_kernel<V, O><<<(unsigned)m, kCanonLanes, 0, ctx->stream>>>(v, grad, out, total, group, scale,
                                                                              d_step, lsq_qn(mode), level1, accumulate);
        I4T_LAUNCH("hadamard_lsq_back_kernel");
    }
    if (m > 1) I4T_TRY(canonical_sum(LoadDouble{level1}, m, ws + 1 + m, d_sum, ctx->stream));
    step_grad_finish_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, total, grad_step, accumulate_step);
    I4T_LAUNCH("step_grad_finish_kernel");
    return INT4TRAIN_SUCCESS;
}

template int4train_status hadamard_lsq_backward_impl<float, float>(int4train_context, const float*, const float*,
                                                                   int64_t, int, const float*, int, float*, float*,
                                                                   double*, bool, bool);
template int4train_status hadamard_lsq_backward_impl<__nv_bfloat16, __nv_bfloat16>(
    int4train_context, const __nv_bfloat16*, const float*, int64_t, int, const float*, int, __nv_bfloat16*, float*,
    double*, bool, bool);

}  // namespace i4t

using namespace i4t;

namespace {
// The CanonicalSum workspace of an n-element reduction plus one double for its result (operators.cuh), carved from
// the context's workspace; `ar` keeps it for the caller's call.
int4train_status canon_workspace(int4train_context ctx, int64_t n, i4t::Arena* ar, double** ws) {
    i4t::Plan p;
    p.add<double>(i4t::canon_ws_count(n) + 1);
    I4T_TRY(i4t::make_arena(ctx, p, ar));
    *ws = ar->take<double>(i4t::canon_ws_count(n) + 1);
    I4T_ARENA_CHECK(*ar);
    return INT4TRAIN_SUCCESS;
}
}  // namespace

extern "C" {

INT4TRAIN_API int4train_status int4train_lsq_init_step(int4train_context ctx, const float* d_v, int64_t n,
                                                       float* d_step) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_v);
    I4T_NOTNULL(d_step);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_init_step: n (%lld) must be positive", (long long)n);
    Arena ar;
    double* ws = nullptr;
    I4T_TRY(canon_workspace(ctx, n, &ar, &ws));
    return lsq_init_step_impl(ctx, d_v, n, d_step, ws);
}

INT4TRAIN_API int4train_status int4train_lsq_quantize(int4train_context ctx, const float* d_v, int64_t n,
                                                      const float* d_step, int mode, int8_t* d_codes) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_v);
    I4T_NOTNULL(d_step);
    I4T_NOTNULL(d_codes);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_quantize: n (%lld) must be positive", (long long)n);
    I4T_TRY(check_mode(mode, "int4train_lsq_quantize"));
    quantize_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(d_v, n, d_step, lsq_qn(mode), d_codes);
    I4T_LAUNCH("quantize_kernel");
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_lsq_dequantize(int4train_context ctx, const int8_t* d_codes, int64_t n,
                                                        const float* d_step, float* d_out) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_codes);
    I4T_NOTNULL(d_step);
    I4T_NOTNULL(d_out);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_dequantize: n (%lld) must be positive", (long long)n);
    return lsq_dequantize_impl(ctx, d_codes, n, d_step, d_out);
}

INT4TRAIN_API int4train_status int4train_lsq_backward(int4train_context ctx, const float* d_v, const float* d_grad,
                                                      int64_t n, const float* d_step, int mode, float* d_grad_v,
                                                      float* d_grad_step) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_v);
    I4T_NOTNULL(d_grad);
    I4T_NOTNULL(d_step);
    I4T_NOTNULL(d_grad_v);
    I4T_NOTNULL(d_grad_step);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_backward: n (%lld) must be positive", (long long)n);
    I4T_TRY(check_mode(mode, "int4train_lsq_backward"));
    Arena ar;
    double* ws = nullptr;
    I4T_TRY(canon_workspace(ctx, n, &ar, &ws));
    return lsq_backward_impl(ctx, d_v, d_grad, n, d_step, mode, d_grad_v, d_grad_step, ws);
}

}  // extern "C"
