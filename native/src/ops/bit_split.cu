// bit_split.cu — bit splitting of ∇Y into two INT4 digits (method.md §3.3, conventions.md "Bit splitting").
//   Mx = max(−min(minG − 1e−8f, 0), max(maxG + 1e−8f, 0)), or max(max|g|, 2^−120) when 0 < max|g| < 2^−10;
//   t = g·(98/Mx);  h = clamp(RHA(t/14), −L, L);
//   r = t − 14h;  code mode (L=6): l = clamp(RHA((r + U01Closed) − 0.5), −6, 6);
//   paper mode (L=7): l = clamp(floor(r + U01), −7, 7);  s↑ = Mx/7, s↓ = Mx/98.
// Randomness: element i (flat index) uses word i % 4 of Philox(seed, counter i / 4, stream 0).
// Two steps: the scales (bit_split_scales_impl: a min/max pass of its own, or bit_split_scales_from_minmax over min/max
// partials another pass already wrote — the layer backward's one read of ∇Y with ∇b, grad_y_stats.cu), then the
// digits under them (bit_split_impl, or bit_split_fold_impl for the folded layouts of the SM90 backward).
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/rounding.cuh"
#include "numerics/philox.cuh"
#include "ops/operators.cuh"
#include "ops/min_max.cuh"

namespace i4t {

// Each thread's min/max over a grid-strided range (4 floats at a time when the tensor allows 16-byte loads).
__global__ void __launch_bounds__(kMinMaxThreads) minmax_partial_kernel(const float* __restrict__ g, int64_t n,
                                                                        float* part /*2 per block*/) {
    __shared__ float smin[kMinMaxThreads], smax[kMinMaxThreads];
    float mn = INFINITY, mx = -INFINITY;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x, first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    int64_t tail = 0;
    if ((uintptr_t)g % 16 == 0) {
        const float4* g4 = reinterpret_cast<const float4*>(g);
        for (int64_t i = first; i < n / 4; i += stride) {
            const float4 v = g4[i];
            mn = fminf(fminf(mn, v.x), fminf(v.y, fminf(v.z, v.w)));
            mx = fmaxf(fmaxf(mx, v.x), fmaxf(v.y, fmaxf(v.z, v.w)));
        }
        tail = n / 4 * 4;
    }
    for (int64_t i = tail + first; i < n; i += stride) {
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

// The digit pair of one element (conventions.md "Bit splitting") from its random word x0.
__device__ __forceinline__ void split_digits(float g, float k98, float L, bool paper, uint32_t x0, float& h, float& l) {
    float t = __fmul_rn(g, k98);
    h = fminf(fmaxf(round_half_away(__fdiv_rn(t, 14.0f)), -L), L);
    float r = __fsub_rn(t, __fmul_rn(14.0f, h));  // 14h is exact
    l = paper ? floorf(__fadd_rn(r, u01(x0))) : round_half_away(__fsub_rn(__fadd_rn(r, u01_closed(x0)), 0.5f));
    l = fminf(fmaxf(l, -L), L);
}

// One thread per group of 4 consecutive elements (one Philox call: element i takes word i % 4 of counter i / 4).
__global__ void split_kernel(const float* __restrict__ g, int64_t n, const float* scales, PhiloxKey key, int mode,
                             int8_t* high, int8_t* low) {
    const uint64_t seed = key.value();
    const float k98 = __fdiv_rn(98.0f, scales[0]);
    const bool paper = mode == INT4TRAIN_MODE_PAPER;
    const float L = paper ? 7.0f : 6.0f;
    const int64_t groups = (n + 3) / 4;
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < groups; j += (int64_t)gridDim.x * blockDim.x) {
        const Philox4Out rnd = philox4(seed, (uint64_t)j, kStreamBitSplit);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int64_t i = 4 * j + e;
            if (i < n) {
                float h, l;
                split_digits(g[i], k98, L, paper, rnd.x[e], h, l);
                high[i] = (int8_t)h;
                low[i] = (int8_t)l;
            }
        }
    }
}

// The folded digit 14h + l of every element (the INT8 view of a bit-split pair, method.md §3.3: s↑·h + s↓·l =
// s↓·(14h + l)) written in the two layouts the LSS GEMMs read, from one read of ∇Y: rows (n × cp, K = c, for ∇X)
// and columns (c × kp, K = n, for ∇W), both zero-padded. A 64 × 64 tile per CTA: thread (tx, ty) folds the 4 × 4
// block of rows 4·ty.. and columns 4·tx.. (16-byte loads when aligned), stores each row's 4 digits row-major, and
// each column's 4 digits as one word of the transposed tile in shared memory (a row stride of 17 words spreads the
// banks); then each thread stores 16 tokens of one column with one 16-byte store. Identical digits to split_kernel
// (same Philox index: the flat element index).
constexpr int kFoldTile = 64, kFoldWords = kFoldTile / 4 + 1;
template <bool kVec>
__global__ void __launch_bounds__(256) split_fold_kernel(const float* __restrict__ g, int n, int c,
                                                         const float* scales, PhiloxKey key, int mode,
                                                         int8_t* __restrict__ rows, int cp, int8_t* __restrict__ cols,
                                                         int kp) {
    const uint64_t seed = key.value();
    __shared__ uint32_t tile[kFoldTile][kFoldWords];  // [column][4-token word]
    const float k98 = __fdiv_rn(98.0f, scales[0]);
    const bool paper = mode == INT4TRAIN_MODE_PAPER;
    const float L = paper ? 7.0f : 6.0f;
    const int r0 = blockIdx.y * kFoldTile, c0 = blockIdx.x * kFoldTile;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int col = c0 + 4 * tx;
    uint32_t word[4] = {0u, 0u, 0u, 0u};  // column e's digits of the 4 rows, row q in byte q
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const int row = r0 + 4 * ty + q;
        float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (row < n) {
            const float* src = g + (int64_t)row * c;
            if (kVec && col + 3 < c) {
                const float4 f = *reinterpret_cast<const float4*>(src + col);
                v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
            } else {
#pragma unroll
                for (int e = 0; e < 4; ++e) v[e] = col + e < c ? src[col + e] : 0.0f;
            }
        }
        char4 o;
        int8_t* ov = reinterpret_cast<int8_t*>(&o);
        const uint64_t first = (uint64_t)row * (uint64_t)c + (uint64_t)col;  // flat index of column col
        Philox4Out rnd{};
        if (kVec && row < n && col < c) rnd = philox4(seed, first / 4, kStreamBitSplit);  // c % 4 == 0: one group
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            int folded = 0;
            if (row < n && col + e < c) {
                const uint64_t i = first + (uint64_t)e;
                const uint32_t x0 = kVec ? rnd.x[e] : philox4(seed, i / 4, kStreamBitSplit).x[i % 4];
                float h, l;
                split_digits(v[e], k98, L, paper, x0, h, l);
                folded = 14 * (int)h + (int)l;
            }
            ov[e] = (int8_t)folded;
            word[e] |= (uint32_t)(uint8_t)folded << (8 * q);
        }
        if (row < n && col < cp) *reinterpret_cast<char4*>(rows + (int64_t)row * cp + col) = o;
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) tile[4 * tx + e][ty] = word[e];
    __syncthreads();
    // transposed: thread t writes 16 tokens (4 words) of one column
    const int tc = threadIdx.x / 4, w0 = 4 * (threadIdx.x % 4);
    const int ccol = c0 + tc, crow = r0 + 4 * w0;
    if (ccol < c && crow < kp) {
        const uint4 o = make_uint4(tile[tc][w0], tile[tc][w0 + 1], tile[tc][w0 + 2], tile[tc][w0 + 3]);
        *reinterpret_cast<uint4*>(cols + (int64_t)ccol * kp + crow) = o;
    }
}

static int minmax_blocks(int64_t n) { return (int)(grid_for(n, kMinMaxThreads) > 1024 ? 1024 : grid_for(n, kMinMaxThreads)); }

void bit_split_plan(Plan& p, int rows, int cols) { p.add<float>(2 * (int64_t)minmax_blocks((int64_t)rows * cols)); }

int4train_status bit_split_scales_from_minmax(int4train_context ctx, const float* minmax, int nparts, float* scales) {
    if (nparts < 1) return fail(INT4TRAIN_ERROR_INTERNAL, "bit_split_scales_from_minmax: no min/max partials");
    scales_kernel<<<1, kMinMaxThreads, 0, ctx->stream>>>(minmax, nparts, scales);
    I4T_LAUNCH("scales_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status bit_split_scales_impl(int4train_context ctx, Arena& ar, const float* grad, int rows, int cols,
                                       float* scales) {
    const int64_t n = (int64_t)rows * cols;
    const int nb = minmax_blocks(n);
    float* part = ar.take<float>(2 * (int64_t)nb);
    I4T_ARENA_CHECK(ar);
    minmax_partial_kernel<<<nb, kMinMaxThreads, 0, ctx->stream>>>(grad, n, part);
    I4T_LAUNCH("minmax_partial_kernel");
    return bit_split_scales_from_minmax(ctx, part, nb, scales);
}

int4train_status bit_split_impl(int4train_context ctx, const float* grad, int rows, int cols, const float* scales,
                                PhiloxKey seed, int mode, int8_t* high, int8_t* low) {
    const int64_t n = (int64_t)rows * cols;
    split_kernel<<<grid_for((n + 3) / 4), 256, 0, ctx->stream>>>(grad, n, scales, seed, mode, high, low);
    I4T_LAUNCH("split_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status bit_split_fold_impl(int4train_context ctx, const float* grad, int rows, int cols, const float* scales,
                                     PhiloxKey seed, int mode, int8_t* folded_rows, int cp, int8_t* folded_cols,
                                     int kp) {
    if (cp % 32 != 0 || kp % 32 != 0 || cp < cols || kp < rows || (uintptr_t)folded_rows % 4 || (uintptr_t)folded_cols % 16)
        return fail(INT4TRAIN_ERROR_INTERNAL, "bit_split_fold: layouts not padded/aligned");
    const int64_t ty = ceil_div((int64_t)(kp > rows ? kp : rows), kFoldTile), tx = ceil_div(cp, kFoldTile);
    if (ty > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bit_split_fold: %d rows are too many", rows);
    const dim3 grid((unsigned)tx, (unsigned)ty);
    if (cols % 4 == 0 && (uintptr_t)grad % 16 == 0)
        split_fold_kernel<true><<<grid, 256, 0, ctx->stream>>>(grad, rows, cols, scales, seed, mode, folded_rows, cp,
                                                               folded_cols, kp);
    else
        split_fold_kernel<false><<<grid, 256, 0, ctx->stream>>>(grad, rows, cols, scales, seed, mode, folded_rows, cp,
                                                                folded_cols, kp);
    I4T_LAUNCH("split_fold_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" INT4TRAIN_API int4train_status int4train_bit_split(int4train_context ctx, const float* d_grad, int rows,
                                                              int cols, uint64_t seed, int mode, int8_t* d_high,
                                                              int8_t* d_low, float* d_scales) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_grad);
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_scales);
    if (rows <= 0 || cols <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_bit_split: rows (%d) and cols (%d) must be positive", rows, cols);
    I4T_TRY(check_mode(mode, "int4train_bit_split"));
    Plan p;
    bit_split_plan(p, rows, cols);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    I4T_TRY(bit_split_scales_impl(ctx, ar, d_grad, rows, cols, d_scales));
    return bit_split_impl(ctx, d_grad, rows, cols, d_scales, seed, mode, d_high, d_low);
}
