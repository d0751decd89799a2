// lss_matmul.cu — LSS-MM for the weight and the activation gradient (method.md §3.4, §3.5; conventions.md
// "Leverage scores and selection"). The selection (keep, p) lives in device memory, so no host sync: the GEMMs run
// over the full padded row set with the rows that are not taken zeroed (zero rows do not change an integer
// product, §9 items 8, 19).
//
// ∇(WH) = s_X·Σ_kept (s_part/p_i)·part_iᵀ·a_i. Kept rows with p_i = 1 (all kept rows in Nonzero mode) go through
// ONE INT8 GEMM on the folded digit 14·h·[↑ taken] + l·[↓ taken] ∈ [−98, 98] (the INT8 view of conventions.md
// "Bit splitting"): with s↑ = 14·s↓ this is s↓·(14·G↑ + G↓) = s↑·G↑ + s↓·G↓. Kept rows with p_i < 1 (Bernoulli)
// are not an integer GEMM (1/p scales the reduction dim, [I #4]): they are added by a tiled FP32 product whose
// token loop is skipped on the device when no row is fractional (the count stays in device memory).
// ∇(XH)_i = s_W·(s↑·G↑_i/p↑_i + s↓·G↓_i/p↓_i) over the kept parts: one INT8 GEMM of the 2N stacked rows
// (h rows then l rows, not-kept rows zeroed) against Ŵ, then a per-row epilogue (1/p is an output-row scale).
#include "runtime/status.cuh"
#include "runtime/validate.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {

__device__ __forceinline__ int nib(uint8_t b, int hi) { return hi ? (((int)(b >> 4) ^ 8) - 8) : (((int)(b & 0xF) ^ 8) - 8); }

// A[c, i] (C × kp) = folded digit of token i in column c; zero for i >= n. 32×32 smem transpose.
__global__ void fold_transpose_kernel(const int8_t* __restrict__ high, const int8_t* __restrict__ low,
                                      const uint8_t* __restrict__ keep, const double* __restrict__ prob, int n, int c,
                                      int8_t* a, int kp) {
    __shared__ int8_t tile[32][33];
    int i0 = blockIdx.y * 32, c0 = blockIdx.x * 32;
    int tx = threadIdx.x, ty = threadIdx.y;
    for (int k = ty; k < 32; k += 8) {
        int i = i0 + k, col = c0 + tx;
        int v = 0;
        if (i < n && col < c) {
            bool up = keep[i] && prob[i] == 1.0;
            bool dn = keep[n + i] && prob[n + i] == 1.0;
            int64_t o = (int64_t)i * c + col;
            v = (up ? 14 * (int)high[o] : 0) + (dn ? (int)low[o] : 0);
        }
        tile[k][tx] = (int8_t)v;
    }
    __syncthreads();
    for (int k = ty; k < 32; k += 8) {
        int col = c0 + k, i = i0 + tx;
        if (col < c && i < kp) a[(int64_t)col * kp + i] = tile[tx][k];
    }
}

// Per stacked row: w_i = s_part/p_i if kept with p_i < 1, else 0 (those rows are not in the INT GEMM);
// *count = number of such rows (integer atomics: order-independent).
__global__ void fractional_weights_kernel(const uint8_t* __restrict__ keep, const double* __restrict__ prob,
                                          const float* scales, int n, float* w, int32_t* count) {
    const int64_t m = 2 * (int64_t)n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < m; i += (int64_t)gridDim.x * blockDim.x) {
        bool f = keep[i] && prob[i] < 1.0;
        float s = i < n ? scales[1] : scales[2];
        w[i] = f ? (float)((double)s / prob[i]) : 0.0f;
        if (f) atomicAdd(count, 1);
    }
}

// ∇(WH)[c, d] = s_X·(s↓·G[c, d] + F[c, d]) with the FP32 product of the fractional rows
// F = Σ_i (w↑_i·h_i + w↓_i·l_i)ᵀ·a_i (both parts of token i multiply the same a_i, so they fold into one FP32
// row). A 64×64 output tile per CTA, 16 tokens per step, 4×4 outputs per thread; the k loop is skipped when no
// row is fractional (Nonzero sampling), so the kernel is then just the dequantizing epilogue.
constexpr int kFt = 64, kFk = 16;
__global__ void __launch_bounds__(256) grad_weight_fp_kernel(const int32_t* __restrict__ g, int ldg,
                                                             const int8_t* __restrict__ high,
                                                             const int8_t* __restrict__ low,
                                                             const uint8_t* __restrict__ x_packed,
                                                             const float* __restrict__ w, const int32_t* count,
                                                             const float* scales, const float* step_x, int n, int c,
                                                             int d, float* out) {
    __shared__ float as[kFk][kFt];
    __shared__ float bs[kFk][kFt];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int c0 = blockIdx.y * kFt, d0 = blockIdx.x * kFt;
    float acc[4][4] = {};
    if (*count > 0) {
        for (int i0 = 0; i0 < n; i0 += kFk) {
            for (int e = threadIdx.x; e < kFk * kFt; e += 256) {
                int k = e / kFt, j = e % kFt;
                int i = i0 + k;
                float av = 0.0f, bv = 0.0f;
                if (i < n) {
                    float wu = w[i], wd = w[n + i];
                    int cc = c0 + j;
                    if (cc < c && (wu != 0.0f || wd != 0.0f))
                        av = wu * (float)high[(int64_t)i * c + cc] + wd * (float)low[(int64_t)i * c + cc];
                    int dd = d0 + j;
                    if (dd < d) bv = (float)nib(x_packed[(int64_t)i * (d / 2) + (dd >> 1)], dd & 1);
                }
                as[k][j] = av;
                bs[k][j] = bv;
            }
            __syncthreads();
#pragma unroll
            for (int k = 0; k < kFk; ++k) {
                float a4[4], b4[4];
#pragma unroll
                for (int r = 0; r < 4; ++r) a4[r] = as[k][ty * 4 + r];
#pragma unroll
                for (int q = 0; q < 4; ++q) b4[q] = bs[k][tx * 4 + q];
#pragma unroll
                for (int r = 0; r < 4; ++r)
#pragma unroll
                    for (int q = 0; q < 4; ++q) acc[r][q] = fmaf(a4[r], b4[q], acc[r][q]);
            }
            __syncthreads();
        }
    }
    const double sdn = (double)scales[2], sx = (double)*step_x;
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            int row = c0 + ty * 4 + r, col = d0 + tx * 4 + q;
            if (row < c && col < d)
                out[(int64_t)row * d + col] = (float)(sx * (sdn * (double)g[(int64_t)row * ldg + col] + (double)acc[r][q]));
        }
}

void lss_grad_weight_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    const int kp = (int)round_up(n, 32), dp = (int)round_up(d, 4);
    p.add<int8_t>((int64_t)c * kp);
    p.add<int8_t>((int64_t)dp * kp);
    p.add<int32_t>((int64_t)c * dp);
    p.add<float>(2 * (int64_t)n);
    p.add<int32_t>(1);
    p.add<char>((int64_t)gemm_padded_workspace(ctx, c, dp, kp));
}

int4train_status lss_grad_weight_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                      const uint8_t* x_packed, const float* scales, const float* step_x,
                                      const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_wh) {
    const int kp = (int)round_up(n, 32), dp = (int)round_up(d, 4);
    const size_t gws = gemm_padded_workspace(ctx, c, dp, kp);
    int8_t* a = ar.take<int8_t>((int64_t)c * kp);
    int8_t* b = ar.take<int8_t>((int64_t)dp * kp);
    int32_t* g = ar.take<int32_t>((int64_t)c * dp);
    float* w = ar.take<float>(2 * (int64_t)n);
    int32_t* count = ar.take<int32_t>(1);
    char* ws = ar.take<char>((int64_t)gws);
    I4T_ARENA_CHECK(ar);
    dim3 tgrid((unsigned)ceil_div(c, 32), (unsigned)ceil_div(kp, 32));
    if (tgrid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "lss_grad_weight: n too large");
    fold_transpose_kernel<<<tgrid, dim3(32, 8), 0, ctx->stream>>>(high, low, keep, prob, n, c, a, kp);
    I4T_LAUNCH("fold_transpose_kernel");
    I4T_TRY(unpack_transpose_pad(ctx, x_packed, n, d, b, dp, kp));
    I4T_TRY(gemm_padded(ctx, a, b, g, c, dp, kp, ws, gws));
    I4T_CUDA(cudaMemsetAsync(count, 0, sizeof(int32_t), ctx->stream));
    fractional_weights_kernel<<<grid_for(2 * (int64_t)n), 256, 0, ctx->stream>>>(keep, prob, scales, n, w, count);
    I4T_LAUNCH("fractional_weights_kernel");
    dim3 fgrid((unsigned)ceil_div(d, kFt), (unsigned)ceil_div(c, kFt));
    if (fgrid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "lss_grad_weight: c too large");
    grad_weight_fp_kernel<<<fgrid, 256, 0, ctx->stream>>>(g, dp, high, low, x_packed, w, count, scales, step_x, n, c, d,
                                                          grad_wh);
    I4T_LAUNCH("grad_weight_fp_kernel");
    return INT4TRAIN_SUCCESS;
}

// A (2n × cp): rows 0..n−1 = h masked by keep↑, rows n..2n−1 = l masked by keep↓, zero columns c..cp−1.
__global__ void stack_mask_kernel(const int8_t* __restrict__ high, const int8_t* __restrict__ low,
                                  const uint8_t* __restrict__ keep, int n, int c, int8_t* a, int cp) {
    const int col = 4 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (col >= cp) return;
    for (int64_t r = blockIdx.y; r < 2 * (int64_t)n; r += gridDim.y) {
        const bool k = keep[r];
        const int8_t* src = r < n ? high + r * c : low + (r - n) * c;
        char4 o;
        int8_t* ov = reinterpret_cast<int8_t*>(&o);
#pragma unroll
        for (int q = 0; q < 4; ++q) ov[q] = (k && col + q < c) ? src[col + q] : (int8_t)0;
        *reinterpret_cast<char4*>(a + r * cp + col) = o;
    }
}

// Folded form (only when every kept row has p = 1, i.e. Nonzero sampling): A (n × cp) = 14·h·k↑ + l·k↓, one GEMM
// of n rows; then ∇(XH)_i = s_W·s↓·G_i (s↓·(14·G↑ + G↓) = s↑·G↑ + s↓·G↓ with s↑ = 14·s↓).
// One row per blockIdx.y step (grid-strided), 4 consecutive columns per thread (cp % 32 == 0: char4 stores):
// no 64-bit division per byte; keep flags read once per row.
__global__ void fold_mask_kernel(const int8_t* __restrict__ high, const int8_t* __restrict__ low,
                                 const uint8_t* __restrict__ keep, int n, int c, int8_t* a, int cp) {
    const int col = 4 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (col >= cp) return;
    for (int64_t r = blockIdx.y; r < n; r += gridDim.y) {
        const bool up = keep[r], dn = keep[n + r];
        const int8_t* h = high + r * c;
        const int8_t* l = low + r * c;
        char4 o;
        int8_t* ov = reinterpret_cast<int8_t*>(&o);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            int cc = col + q, v = 0;
            if (cc < c) v = (up ? 14 * (int)h[cc] : 0) + (dn ? (int)l[cc] : 0);
            ov[q] = (int8_t)v;
        }
        *reinterpret_cast<char4*>(a + r * cp + col) = o;
    }
}

// ∇(XH)_i = s_W·s↓·G_i for the rows with a kept part, 0 otherwise (rows grid-strided over blockIdx.y, columns
// over x: no 64-bit division per element; G is not read for rows with nothing kept).
__global__ void grad_input_fold_epilogue_kernel(const int32_t* __restrict__ g, int ldg, const uint8_t* __restrict__ keep,
                                                const float* scales, const float* step_w, int n, int d, float* out) {
    const double sdn = (double)scales[2], sw = (double)*step_w;
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= d) return;
    for (int64_t i = blockIdx.y; i < n; i += gridDim.y) {
        out[i * d + col] = (keep[i] || keep[n + i]) ? (float)(sw * (sdn * (double)g[i * ldg + col])) : 0.0f;
    }
}

// out[i, d] = s_W·(k↑ ? s↑·G↑[i,d]/p↑ : 0  +  k↓ ? s↓·G↓[i,d]/p↓ : 0); exactly 0 when nothing is kept.
__global__ void grad_input_epilogue_kernel(const int32_t* __restrict__ g, int ldg, const uint8_t* __restrict__ keep,
                                           const double* __restrict__ prob, const float* scales, const float* step_w,
                                           int n, int d, float* out) {
    const double sup = (double)scales[1], sdn = (double)scales[2], sw = (double)*step_w;
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= d) return;
    for (int64_t i = blockIdx.y; i < n; i += gridDim.y) {
        const bool ku = keep[i], kd = keep[n + i];
        double v = 0.0;
        if (ku) v += sup * (double)g[i * ldg + col] / prob[i];
        if (kd) v += sdn * (double)g[(n + i) * ldg + col] / prob[n + i];
        out[i * d + col] = (ku || kd) ? (float)(sw * v) : 0.0f;
    }
}

void lss_grad_input_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    const int cp = (int)round_up(c, 32), dp = (int)round_up(d, 4);
    p.add<int8_t>(2 * (int64_t)n * cp);
    p.add<int8_t>((int64_t)dp * cp);
    p.add<int32_t>(2 * (int64_t)n * dp);
    p.add<char>((int64_t)gemm_padded_workspace(ctx, 2 * n, dp, cp));
}

int4train_status lss_grad_input_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                     const uint8_t* w_packed, const float* scales, const float* step_w,
                                     const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_xh,
                                     bool fold) {
    const int cp = (int)round_up(c, 32), dp = (int)round_up(d, 4);
    const size_t gws = gemm_padded_workspace(ctx, 2 * n, dp, cp);
    int8_t* a = ar.take<int8_t>(2 * (int64_t)n * cp);
    int8_t* b = ar.take<int8_t>((int64_t)dp * cp);
    int32_t* g = ar.take<int32_t>(2 * (int64_t)n * dp);
    char* ws = ar.take<char>((int64_t)gws);
    I4T_ARENA_CHECK(ar);
    if (fold) {
        const size_t gws1 = gemm_padded_workspace(ctx, n, dp, cp);
        if (gws1 > gws) return fail(INT4TRAIN_ERROR_INTERNAL, "lss_grad_input: GEMM workspace");
        fold_mask_kernel<<<row_grid(cp / 4, n), 256, 0, ctx->stream>>>(high, low, keep, n, c, a, cp);
        I4T_LAUNCH("fold_mask_kernel");
        I4T_TRY(unpack_transpose_pad(ctx, w_packed, c, d, b, dp, cp));
        I4T_TRY(gemm_padded(ctx, a, b, g, n, dp, cp, ws, gws));
        grad_input_fold_epilogue_kernel<<<row_grid(d, n), 256, 0, ctx->stream>>>(g, dp, keep, scales, step_w, n, d,
                                                                                  grad_xh);
        I4T_LAUNCH("grad_input_fold_epilogue_kernel");
        return INT4TRAIN_SUCCESS;
    }
    stack_mask_kernel<<<row_grid(cp / 4, 2 * (int64_t)n), 256, 0, ctx->stream>>>(high, low, keep, n, c, a, cp);
    I4T_LAUNCH("stack_mask_kernel");
    I4T_TRY(unpack_transpose_pad(ctx, w_packed, c, d, b, dp, cp));
    I4T_TRY(gemm_padded(ctx, a, b, g, 2 * n, dp, cp, ws, gws));
    grad_input_epilogue_kernel<<<row_grid(d, n), 256, 0, ctx->stream>>>(g, dp, keep, prob, scales, step_w, n, d,
                                                                         grad_xh);
    I4T_LAUNCH("grad_input_epilogue_kernel");
    return INT4TRAIN_SUCCESS;
}

static int4train_status check_lss(const char* fn, int n, int c, int d) {
    if (n <= 0 || c <= 0 || d <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d), c (%d), d (%d) must be positive", fn, n, c, d);
    if (d % 2 != 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: d (%d) must be even (packed codes)", fn, d);
    if (n > (1 << 29)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d) too large", fn, n);
    I4T_TRY(check_dim(fn, "c", c));
    I4T_TRY(check_dim(fn, "d", d));
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" {

INT4TRAIN_API int4train_status int4train_lss_grad_weight(int4train_context ctx, const int8_t* d_high,
                                                         const int8_t* d_low, const uint8_t* d_x_packed,
                                                         const float* d_scales, const float* d_step_x,
                                                         const uint8_t* d_keep, const double* d_prob, int n, int c,
                                                         int d, float* d_grad_wh) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_x_packed);
    I4T_NOTNULL(d_scales);
    I4T_NOTNULL(d_step_x);
    I4T_NOTNULL(d_keep);
    I4T_NOTNULL(d_prob);
    I4T_NOTNULL(d_grad_wh);
    I4T_TRY(check_lss("int4train_lss_grad_weight", n, c, d));
    Plan p;
    lss_grad_weight_plan(ctx, p, n, c, d);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    return lss_grad_weight_impl(ctx, ar, d_high, d_low, d_x_packed, d_scales, d_step_x, d_keep, d_prob, n, c, d,
                                d_grad_wh);
}

INT4TRAIN_API int4train_status int4train_lss_grad_input(int4train_context ctx, const int8_t* d_high,
                                                        const int8_t* d_low, const uint8_t* d_w_packed,
                                                        const float* d_scales, const float* d_step_w,
                                                        const uint8_t* d_keep, const double* d_prob, int n, int c,
                                                        int d, float* d_grad_xh) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_w_packed);
    I4T_NOTNULL(d_scales);
    I4T_NOTNULL(d_step_w);
    I4T_NOTNULL(d_keep);
    I4T_NOTNULL(d_prob);
    I4T_NOTNULL(d_grad_xh);
    I4T_TRY(check_lss("int4train_lss_grad_input", n, c, d));
    Plan p;
    lss_grad_input_plan(ctx, p, n, c, d);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    // The selection's p values are in device memory: the general (stacked, 1/p per row) form.
    return lss_grad_input_impl(ctx, ar, d_high, d_low, d_w_packed, d_scales, d_step_w, d_keep, d_prob, n, c, d,
                               d_grad_xh, false);
}

}  // extern "C"
