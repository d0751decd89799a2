// bit_split.cu — bit splitting of ∇Y into two INT4 digits (method.md §3.3, conventions.md "Bit splitting").
//   Mx = max(−min(minG − 1e−8f, 0), max(maxG + 1e−8f, 0)), or max(max|g|, 2^−120) when 0 < max|g| < 2^−10;
//   t = g·(98/Mx);  h = clamp(RHA(t/14), −L, L);
//   r = t − 14h;  code mode (L=6): l = clamp(RHA((r + U01Closed) − 0.5), −6, 6);
//   paper mode (L=7): l = clamp(floor(r + U01), −7, 7);  s↑ = Mx/7, s↓ = Mx/98.
// Randomness: element i (flat index) uses word i % 4 of Philox(seed, counter i / 4, stream 0).
// The digits themselves: numerics/split_digits.cuh (the same bits without a division or round instruction).
// Two steps: the scales (bit_split_scales_impl: a min/max pass of its own, or bit_split_scales_from_minmax over min/max
// partials another pass already wrote — the layer backward's one read of ∇Y with ∇b, grad_y_stats.cu), then the
// digits under them (bit_split_impl, or bit_split_fold_impl for the folded layouts of the SM90 backward).
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/philox.cuh"
#include "numerics/split_digits.cuh"
#include "numerics/widen.cuh"
#include "ops/operators.cuh"
#include "ops/min_max.cuh"

namespace i4t {

// Each thread's min/max over a grid-strided range (4 elements at a time when the tensor is aligned to 4 elements).
// T: float or __nv_bfloat16 (widened exactly on load, numerics/widen.cuh).
template <class T>
__global__ void __launch_bounds__(kMinMaxThreads) minmax_partial_kernel(const T* __restrict__ g, int64_t n,
                                                                        float* part /*2 per block*/) {
    __shared__ float smin[kMinMaxThreads], smax[kMinMaxThreads];
    float mn = INFINITY, mx = -INFINITY;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x, first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    int64_t tail = 0;
    if (aligned4(g)) {
        for (int64_t i = first; i < n / 4; i += stride) {
            const float4 v = load4_widened(g, i);
            mn = fminf(fminf(mn, v.x), fminf(v.y, fminf(v.z, v.w)));
            mx = fmaxf(fmaxf(mx, v.x), fmaxf(v.y, fmaxf(v.z, v.w)));
        }
        tail = n / 4 * 4;
    }
    for (int64_t i = tail + first; i < n; i += stride) {
        const float v = load_widened(g, i);
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

// One thread per group of 4 consecutive elements (one Philox call: element i takes word i % 4 of counter i / 4).
template <bool kPaper, class T>
__global__ void split_kernel(const T* __restrict__ g, int64_t n, const float* scales, PhiloxKey key,
                             int8_t* high, int8_t* low) {
    const uint64_t seed = key.value();
    const float k98 = __fdiv_rn(98.0f, scales[0]);
    const int64_t groups = (n + 3) / 4;
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < groups; j += (int64_t)gridDim.x * blockDim.x) {
        const Philox4Out rnd = philox4(seed, (uint64_t)j, kStreamBitSplit);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int64_t i = 4 * j + e;
            if (i < n) {
                const SplitDigits d = split_digits<kPaper>(load_widened(g, i), k98, rnd.x[e]);
                high[i] = split_byte(split_high_biased(d));
                low[i] = split_byte(d.low_biased);
            }
        }
    }
}

// The folded digit 14h + l of every element (the INT8 view of a bit-split pair, method.md §3.3: s↑·h + s↓·l =
// s↓·(14h + l)) written in the two layouts the LSS GEMMs read, from one read of ∇Y: rows (n × cp, K = c, for ∇X)
// and columns (c × kp, K = n, for ∇W), both zero-padded. A 64 × 64 tile per CTA: thread (tx, ty) folds the 4 × 4
// block of rows 4·ty.. and columns 4·tx.. (16-byte loads when aligned) into one word per row (column e in byte e),
// stores each row's word, transposes the 4 × 4 bytes in registers into one word per column (row q in byte q) and puts
// those in the transposed tile in shared memory (a row stride of 17 words spreads the banks); then each thread
// stores 16 tokens of one column with one 16-byte store. Identical digits to split_kernel (same Philox index: the
// flat element index). A tile inside the matrix with c % 4 == 0 (kVec) takes a path without bounds checks.
//
// Issued SASS instructions per element, interior tile with 16-byte loads (nvcc 11.8 -arch=sm_90, cuobjdump -sass;
// 16 elements per thread, the per-thread set-up and the transposed store included; before: the old round-half-away
// branches counted on both sides, as a mixed warp issues both, the __fdiv_rn slow-path calls not counted):
//   class                                          before (code / paper)   after (code / paper)
//   FFMA/FADD/FMUL (+HFMA2 constants)                17.8 / 13.8             11.3 / 8.3
//   branches, BSSY/BSYNC                             14.9 / 11.9              0.4 / 0.4
//   uniform datapath, constants, S2R                 10.1 / 10.1              3.4 / 3.4
//   integer/address (IADD3, IMAD, LEA, ...)           9.9 /  9.6              1.9 / 1.9
//   predicates, selects (FSETP, ISETP, FSEL)          6.7 /  4.7              1.3 / 0.3
//   IMAD.WIDE/.HI (Philox multiplies, addresses)      5.5 /  5.5              5.2 / 5.2
//   LOP3 (Philox xors, sign copies)                   5.4 /  5.4              6.4 / 6.4
//   moves (MOV, IMAD.MOV, CS2R)                       5.1 /  5.1              1.0 / 1.1
//   FMNMX (clamps)                                    4.0 /  4.0              3.0 / 4.0
//   PRMT/SHF/LEA.HI (byte packing, U01 bits)          3.7 /  3.7              2.7 / 2.6
//   F2I/I2FP conversions                              3.0 /  3.0              1.0 / 1.0
//   FRND                                              2.0 /  2.0              0   / 0
//   FCHK/MUFU (divisions)                             1.1 /  1.1              0.1 / 0.1
//   memory (LDG, STG, STS, LDS)                       1.2 /  1.2              1.2 / 1.2
//   total                                            90.3 / 81.1             38.9 / 35.9
// Before, per element: __fdiv_rn(t, 14) (FCHK, 5 FFMA, a branch), two branchy round-half-aways (FRND.TRUNC, FADD,
// FSETP, two predicated FADDs, a branch, BSSY/BSYNC), two F2I, the mode and the bounds tested per element, and
// per Philox call 20 IADD3s of zero (the 64-bit products) and the key schedule again. After: 18 per element for the
// digits (code; paper 14: numerics/split_digits.cuh), ~10 for Philox (20 IMAD.WIDE + 20 LOP3 per 4 elements,
// __umulhi), 1.25 PRMT for the packing and the 4 × 4 transposition, the rest per thread (k98, the key, addresses).
constexpr int kFoldTile = 64, kFoldWords = kFoldTile / 4 + 1;

// Row q's four folded digits (columns col..col+3) under the general path's bounds: B + 0 (a zero byte) outside ∇Y.
template <bool kVec, bool kPaper, class T>
__device__ __forceinline__ uint32_t fold_row_checked(const T* __restrict__ g, int n, int c, int row, int col,
                                                     float k98, uint64_t seed) {
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (row < n) {
        const T* src = g + (int64_t)row * c;
        if (kVec && col + 3 < c) {
            const float4 f = load4_widened(src + col, 0);
            v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
        } else {
#pragma unroll
            for (int e = 0; e < 4; ++e) v[e] = col + e < c ? load_widened(src, col + e) : 0.0f;
        }
    }
    const uint64_t first = (uint64_t)row * (uint64_t)c + (uint64_t)col;  // flat index of column col
    Philox4Out rnd{};
    if (kVec && row < n && col < c) rnd = philox4(seed, first / 4, kStreamBitSplit);  // c % 4 == 0: one group
    float b[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        b[e] = kSplitBias;
        if (row < n && col + e < c) {
            const uint64_t i = first + (uint64_t)e;
            const uint32_t x = kVec ? rnd.x[e] : philox4(seed, i / 4, kStreamBitSplit).x[i % 4];
            b[e] = split_folded_biased(split_digits<kPaper>(v[e], k98, x));
        }
    }
    return split_pack4(b[0], b[1], b[2], b[3]);
}

template <bool kVec, bool kPaper, class T>
__global__ void __launch_bounds__(256) split_fold_kernel(const T* __restrict__ g, int n, int c,
                                                         const float* scales, PhiloxKey key,
                                                         int8_t* __restrict__ rows, int cp, int8_t* __restrict__ cols,
                                                         int kp) {
    const uint64_t seed = key.value();
    __shared__ uint32_t tile[kFoldTile][kFoldWords];  // [column][4-token word]
    const float k98 = __fdiv_rn(98.0f, scales[0]);
    const int r0 = blockIdx.y * kFoldTile, c0 = blockIdx.x * kFoldTile;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int col = c0 + 4 * tx, row0 = r0 + 4 * ty;
    uint32_t word[4];  // row q's digits, column e in byte e
    if (kVec && r0 + kFoldTile <= n && c0 + kFoldTile <= c) {
        // interior: every element exists and col < c ≤ cp; row q's 4 elements are Philox group (row·c + col)/4
        const uint32_t c4 = (uint32_t)c / 4u;
        const T* src = g + (int64_t)row0 * c + col;
        float4 f[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) f[q] = load4_widened(src, (int64_t)q * c4);
        uint64_t group = (uint64_t)(uint32_t)row0 * c4 + (uint32_t)col / 4u;
        int8_t* out = rows + (int64_t)row0 * cp + col;
#pragma unroll
        for (int q = 0; q < 4; ++q, group += c4) {
            const Philox4Out rnd = philox4(seed, group, kStreamBitSplit);
            word[q] = split_pack4(split_folded_biased(split_digits<kPaper>(f[q].x, k98, rnd.x[0])),
                                  split_folded_biased(split_digits<kPaper>(f[q].y, k98, rnd.x[1])),
                                  split_folded_biased(split_digits<kPaper>(f[q].z, k98, rnd.x[2])),
                                  split_folded_biased(split_digits<kPaper>(f[q].w, k98, rnd.x[3])));
            *reinterpret_cast<uint32_t*>(out + (int64_t)q * cp) = word[q];
        }
    } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int row = row0 + q;
            word[q] = fold_row_checked<kVec, kPaper, T>(g, n, c, row, col, k98, seed);
            if (row < n && col < cp) *reinterpret_cast<uint32_t*>(rows + (int64_t)row * cp + col) = word[q];
        }
    }
    // 4 × 4 byte transpose: column e's word holds row q in byte q
    const uint32_t a01 = __byte_perm(word[0], word[1], 0x5140u), b01 = __byte_perm(word[0], word[1], 0x7362u);
    const uint32_t a23 = __byte_perm(word[2], word[3], 0x5140u), b23 = __byte_perm(word[2], word[3], 0x7362u);
    tile[4 * tx + 0][ty] = __byte_perm(a01, a23, 0x5410u);
    tile[4 * tx + 1][ty] = __byte_perm(a01, a23, 0x7632u);
    tile[4 * tx + 2][ty] = __byte_perm(b01, b23, 0x5410u);
    tile[4 * tx + 3][ty] = __byte_perm(b01, b23, 0x7632u);
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

template <class T>
int4train_status bit_split_scales_impl(int4train_context ctx, Arena& ar, const T* grad, int rows, int cols,
                                       float* scales) {
    const int64_t n = (int64_t)rows * cols;
    const int nb = minmax_blocks(n);
    float* part = ar.take<float>(2 * (int64_t)nb);
    I4T_ARENA_CHECK(ar);
    minmax_partial_kernel<T><<<nb, kMinMaxThreads, 0, ctx->stream>>>(grad, n, part);
    I4T_LAUNCH("minmax_partial_kernel");
    return bit_split_scales_from_minmax(ctx, part, nb, scales);
}

template <class T>
int4train_status bit_split_impl(int4train_context ctx, const T* grad, int rows, int cols, const float* scales,
                                PhiloxKey seed, int mode, int8_t* high, int8_t* low) {
    const int64_t n = (int64_t)rows * cols;
    if (mode == INT4TRAIN_MODE_PAPER)
        split_kernel<true, T><<<grid_for((n + 3) / 4), 256, 0, ctx->stream>>>(grad, n, scales, seed, high, low);
    else
        split_kernel<false, T><<<grid_for((n + 3) / 4), 256, 0, ctx->stream>>>(grad, n, scales, seed, high, low);
    I4T_LAUNCH("split_kernel");
    return INT4TRAIN_SUCCESS;
}

template <class T>
int4train_status bit_split_fold_impl(int4train_context ctx, const T* grad, int rows, int cols, const float* scales,
                                     PhiloxKey seed, int mode, int8_t* folded_rows, int cp, int8_t* folded_cols,
                                     int kp) {
    if (cp % 32 != 0 || kp % 32 != 0 || cp < cols || kp < rows || (uintptr_t)folded_rows % 4 || (uintptr_t)folded_cols % 16)
        return fail(INT4TRAIN_ERROR_INTERNAL, "bit_split_fold: layouts not padded/aligned");
    const int64_t ty = ceil_div((int64_t)(kp > rows ? kp : rows), kFoldTile), tx = ceil_div(cp, kFoldTile);
    if (ty > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bit_split_fold: %d rows are too many", rows);
    const dim3 grid((unsigned)tx, (unsigned)ty);
    const bool vec = cols % 4 == 0 && aligned4(grad), paper = mode == INT4TRAIN_MODE_PAPER;
    auto kernel = vec ? (paper ? split_fold_kernel<true, true, T> : split_fold_kernel<true, false, T>)
                      : (paper ? split_fold_kernel<false, true, T> : split_fold_kernel<false, false, T>);
    kernel<<<grid, 256, 0, ctx->stream>>>(grad, rows, cols, scales, seed, folded_rows, cp, folded_cols, kp);
    I4T_LAUNCH("split_fold_kernel");
    return INT4TRAIN_SUCCESS;
}

// The element types of ∇Y: FP32, and BF16 widened on load (the FP32 path's bits on the widened tensor).
#define I4T_BIT_SPLIT_FOR(T)                                                                                         \
    template int4train_status bit_split_scales_impl<T>(int4train_context, Arena&, const T*, int, int, float*);     \
    template int4train_status bit_split_impl<T>(int4train_context, const T*, int, int, const float*, PhiloxKey, int, \
                                                int8_t*, int8_t*);                                                 \
    template int4train_status bit_split_fold_impl<T>(int4train_context, const T*, int, int, const float*, PhiloxKey, \
                                                     int, int8_t*, int, int8_t*, int);
I4T_BIT_SPLIT_FOR(float)
I4T_BIT_SPLIT_FOR(__nv_bfloat16)
#undef I4T_BIT_SPLIT_FOR

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
