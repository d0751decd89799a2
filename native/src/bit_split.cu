// bit_split.cu — bit splitting of ∇Y into two INT4 digits (algorithm.md §3.3, conventions.md "Bit splitting").
//   Mx = max(−min(minG − 1e−8f, 0), max(maxG + 1e−8f, 0)), or max(max|g|, 2^−120) when 0 < max|g| < 2^−10;
//   t = g·(98/Mx);  h = clamp(RHA(t/14), −L, L);
//   r = t − 14h;  code mode (L=6): l = clamp(RHA((r + U01Closed) − 0.5), −6, 6);
//   paper mode (L=7): l = clamp(floor(r + U01), −7, 7);  s↑ = Mx/7, s↓ = Mx/98.
// Randomness: Philox(seed, flat element index, stream 0), word x0.
#include "common.cuh"

namespace i4t {

constexpr int kMinMaxThreads = 256;

// Tree reduction of each thread's (min, max) over the block into smin[0], smax[0]. Exact in any order.
__device__ __forceinline__ void block_min_max(float mn, float mx, float* smin, float* smax) {
    smin[threadIdx.x] = mn;
    smax[threadIdx.x] = mx;
    __syncthreads();
    for (int s = kMinMaxThreads / 2; s >= 1; s >>= 1) {
        if ((int)threadIdx.x < s) {
            smin[threadIdx.x] = fminf(smin[threadIdx.x], smin[threadIdx.x + s]);
            smax[threadIdx.x] = fmaxf(smax[threadIdx.x], smax[threadIdx.x + s]);
        }
        __syncthreads();
    }
}

__global__ void __launch_bounds__(kMinMaxThreads) minmax_partial_kernel(const float* __restrict__ g, int64_t n,
                                                                        float* part /*2 per block*/) {
    __shared__ float smin[kMinMaxThreads], smax[kMinMaxThreads];
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = g[i];
        mn = fminf(mn, v);
        mx = fmaxf(mx, v);
    }
    block_min_max(mn, mx, smin, smax);
    if (threadIdx.x == 0) {
        part[2 * blockIdx.x] = smin[0];
        part[2 * blockIdx.x + 1] = smax[0];
    }
}

// Min and max are exact in any order, so the partial reduction order does not matter.
__global__ void __launch_bounds__(kMinMaxThreads) scales_kernel(const float* __restrict__ part, int nparts, float* scales) {
    __shared__ float smin[kMinMaxThreads], smax[kMinMaxThreads];
    float mn = INFINITY, mx = -INFINITY;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) {
        mn = fminf(mn, part[2 * i]);
        mx = fmaxf(mx, part[2 * i + 1]);
    }
    block_min_max(mn, mx, smin, smax);
    if (threadIdx.x == 0) {
        // max|∇Y| below 2^-10: Mx = max(max|∇Y|, 2^-120), scale-free (the absolute 1e-8 would fix the digit grid
        // at 1e-8/98 for tiny ∇Y, issue 13 item 11); otherwise the code's rule, bit for bit. BitSplit.ComputeMx.
        float m = fmaxf(-smin[0], smax[0]);
        if (!(m > 0.0f && m < 0x1p-10f)) {
            float a = __fsub_rn(smin[0], 1e-8f);
            float b = __fadd_rn(smax[0], 1e-8f);
            m = fmaxf(-fminf(a, 0.0f), fmaxf(b, 0.0f));
        } else {
            m = fmaxf(m, 0x1p-120f);
        }
        scales[0] = m;
        scales[1] = __fdiv_rn(m, 7.0f);
        scales[2] = __fdiv_rn(m, 98.0f);
    }
}

__global__ void split_kernel(const float* __restrict__ g, int64_t n, const float* scales, uint64_t seed, int mode,
                             int8_t* high, int8_t* low) {
    const float k98 = __fdiv_rn(98.0f, scales[0]);
    const bool paper = mode == INT4TRAIN_MODE_PAPER;
    const float L = paper ? 7.0f : 6.0f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float t = __fmul_rn(g[i], k98);
        float h = fminf(fmaxf(round_half_away(__fdiv_rn(t, 14.0f)), -L), L);
        float r = __fsub_rn(t, __fmul_rn(14.0f, h));  // 14h is exact
        uint32_t x0 = philox(seed, (uint64_t)i, kStreamBitSplit).x0;
        float l;
        if (paper) {
            l = floorf(__fadd_rn(r, u01(x0)));
        } else {
            l = round_half_away(__fsub_rn(__fadd_rn(r, u01_closed(x0)), 0.5f));
        }
        l = fminf(fmaxf(l, -L), L);
        high[i] = (int8_t)h;
        low[i] = (int8_t)l;
    }
}

static int minmax_blocks(int64_t n) { return (int)(grid_for(n, kMinMaxThreads) > 1024 ? 1024 : grid_for(n, kMinMaxThreads)); }

void bit_split_plan(Plan& p, int rows, int cols) { p.add<float>(2 * (int64_t)minmax_blocks((int64_t)rows * cols)); }

int4train_status bit_split_impl(int4train_context ctx, Arena& ar, const float* grad, int rows, int cols, uint64_t seed,
                                int mode, int8_t* high, int8_t* low, float* scales) {
    int64_t n = (int64_t)rows * cols;
    int nb = minmax_blocks(n);
    float* part = ar.take<float>(2 * (int64_t)nb);
    I4T_ARENA_CHECK(ar);
    minmax_partial_kernel<<<nb, kMinMaxThreads, 0, ctx->stream>>>(grad, n, part);
    I4T_LAUNCH("minmax_partial_kernel");
    scales_kernel<<<1, kMinMaxThreads, 0, ctx->stream>>>(part, nb, scales);
    I4T_LAUNCH("scales_kernel");
    split_kernel<<<grid_for(n), 256, 0, ctx->stream>>>(grad, n, scales, seed, mode, high, low);
    I4T_LAUNCH("split_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" INT4TRAIN_API int4train_status int4train_bit_split(int4train_context ctx, const float* d_grad, int rows,
                                                              int cols, uint64_t seed, int mode, int8_t* d_high,
                                                              int8_t* d_low, float* d_scales) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(d_grad);
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_scales);
    if (rows <= 0 || cols <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_bit_split: rows (%d) and cols (%d) must be positive", rows, cols);
    I4T_TRY(check_mode_pub(mode, "int4train_bit_split"));
    Plan p;
    bit_split_plan(p, rows, cols);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    return bit_split_impl(ctx, ar, d_grad, rows, cols, seed, mode, d_high, d_low, d_scales);
}
