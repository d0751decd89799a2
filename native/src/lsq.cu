// lsq.cu — LSQ quantizer: step init, quantize, dequantize, straight-through backward. algorithm.md §2.1, §3.6;
// conventions.md "LSQ".
#include "common.cuh"

namespace i4t {

struct AbsTerm {  // |v_i| in double (exact conversion)
    const float* v;
    __device__ double operator()(int64_t i) const { return (double)fabsf(v[i]); }
};

// s = (float)(2·mean|V|/sqrt(7) + 1e-10), mean = CanonicalSum|v| / n in double.
__global__ void step_from_sum_kernel(const double* sum, int64_t n, float* step) {
    double mean = *sum / (double)n;
    *step = (float)(2.0 * mean / sqrt(7.0) + 1e-10);
}

int4train_status lsq_init_step_impl(int4train_context ctx, const float* v, int64_t n, float* d_step, double* ws) {
    double* d_sum = ws;
    I4T_TRY(canonical_sum(AbsTerm{v}, n, ws + 1, d_sum, ctx->stream));
    step_from_sum_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, n, d_step);
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

// Padded quantize + pack (§2.3 steps 2–3): thread per byte-pair of the padded row (ld/2 pairs per row).
__global__ void quantize_pad_pack_kernel(const float* __restrict__ v, int rows, int cols, const float* step, int qn,
                                         int8_t* codes, int rows_pad, int ld, uint8_t* packed) {
    float s = *step;
    int64_t pairs_per_row = ld / 2;
    int64_t total = (int64_t)rows_pad * pairs_per_row;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int r = (int)(t / pairs_per_row);
        int j = (int)(t % pairs_per_row);
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
    int64_t total = (int64_t)rows_pad * (ld / 2);
    quantize_pad_pack_kernel<<<grid_for(total), 256, 0, ctx->stream>>>(v, rows, cols, d_step, lsq_qn(mode), codes,
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

__global__ void step_grad_finish_kernel(const double* sum, int64_t n, float* out) {
    double g = 1.0 / sqrt((double)n * 7.0);
    *out = (float)(g * *sum);
}

// grad may alias grad_v: the step-gradient sum is computed before the mask is written.
int4train_status lsq_backward_impl(int4train_context ctx, const float* x, const float* grad, int64_t n,
                                   const float* d_step, int mode, float* grad_v, float* grad_step, double* ws) {
    int qn = lsq_qn(mode);
    if (grad_step && grad_v) {  // one pass: mask and step-gradient terms
        double* d_sum = ws;
        I4T_TRY(canonical_sum(StepGradMaskTerm{x, grad, d_step, qn, grad_v}, n, ws + 1, d_sum, ctx->stream));
        step_grad_finish_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, n, grad_step);
        I4T_LAUNCH("step_grad_finish_kernel");
        return INT4TRAIN_SUCCESS;
    }
    if (grad_step) {
        double* d_sum = ws;
        I4T_TRY(canonical_sum(StepGradTerm{x, grad, d_step, qn}, n, ws + 1, d_sum, ctx->stream));
        step_grad_finish_kernel<<<1, 1, 0, ctx->stream>>>(d_sum, n, grad_step);
        I4T_LAUNCH("step_grad_finish_kernel");
    }
    if (grad_v) {
        lsq_mask_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(x, grad, n, d_step, qn, grad_v);
        I4T_LAUNCH("lsq_mask_kernel");
    }
    return INT4TRAIN_SUCCESS;
}

static int4train_status check_mode(int mode, const char* fn) {
    if (mode != INT4TRAIN_MODE_CODE && mode != INT4TRAIN_MODE_PAPER)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: mode %d is not 0 (code) or 1 (paper)", fn, mode);
    return INT4TRAIN_SUCCESS;
}
int4train_status check_mode_pub(int mode, const char* fn) { return check_mode(mode, fn); }

}  // namespace i4t

using namespace i4t;

extern "C" {

INT4TRAIN_API int4train_status int4train_lsq_init_step(int4train_context ctx, const float* d_v, int64_t n,
                                                       float* d_step) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(d_v);
    I4T_NOTNULL(d_step);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_init_step: n (%lld) must be positive", (long long)n);
    Plan p;
    p.add<double>(canon_ws_count(n) + 1);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    double* ws = ar.take<double>(canon_ws_count(n) + 1);
    I4T_ARENA_CHECK(ar);
    return lsq_init_step_impl(ctx, d_v, n, d_step, ws);
}

INT4TRAIN_API int4train_status int4train_lsq_quantize(int4train_context ctx, const float* d_v, int64_t n,
                                                      const float* d_step, int mode, int8_t* d_codes) {
    I4T_TRY(enter(ctx));
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
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(d_codes);
    I4T_NOTNULL(d_step);
    I4T_NOTNULL(d_out);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_dequantize: n (%lld) must be positive", (long long)n);
    dequantize_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(d_codes, n, d_step, d_out);
    I4T_LAUNCH("dequantize_kernel");
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_lsq_backward(int4train_context ctx, const float* d_v, const float* d_grad,
                                                      int64_t n, const float* d_step, int mode, float* d_grad_v,
                                                      float* d_grad_step) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(d_v);
    I4T_NOTNULL(d_grad);
    I4T_NOTNULL(d_step);
    I4T_NOTNULL(d_grad_v);
    I4T_NOTNULL(d_grad_step);
    if (n <= 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lsq_backward: n (%lld) must be positive", (long long)n);
    I4T_TRY(check_mode(mode, "int4train_lsq_backward"));
    Plan p;
    p.add<double>(canon_ws_count(n) + 1);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    double* ws = ar.take<double>(canon_ws_count(n) + 1);
    I4T_ARENA_CHECK(ar);
    return lsq_backward_impl(ctx, d_v, d_grad, n, d_step, mode, d_grad_v, d_grad_step, ws);
}

}  // extern "C"
