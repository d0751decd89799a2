// hadamard.cu — block-diagonal Walsh–Hadamard transform, method.md §2.2, conventions.md "Hadamard".
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/rounding.cuh"
#include "numerics/lsq_fast.cuh"
#include "numerics/widen.cuh"
#include "ops/hadamard_regs.cuh"
#include "ops/operators.cuh"

namespace i4t {

// One CTA transforms a chunk of up to 1024 consecutive floats (a whole number of G-blocks, since G | 1024 and
// the array is made of whole G-blocks). Stage h (1, 2, ..., G/2): for every i with (i & h) == 0,
// (x[i], x[i+h]) <- (x[i] + x[i+h], x[i] − x[i+h]); the pair (i, i+h) stays inside one aligned G-block because
// 2h <= G. Then one multiplication by scale(G) = (float)(1/sqrt(G)). The stages are separated by barriers, so
// the result is bit-identical to the sequential butterfly order of the conventions.
constexpr int kHadChunk = 1024;

// Loads this CTA's chunk into shared memory and runs the unnormalised butterfly stages on it (the barrier after
// each stage keeps the conventions' stage order). Returns the chunk length. Shared by both kernels below.
// T: float or __nv_bfloat16 (BF16 activations, widened exactly on load: numerics/widen.cuh).
template <class T>
__device__ __forceinline__ int load_and_butterfly(const T* __restrict__ x, int64_t total, int64_t base, int group,
                                                  float* s) {
    int len = (int)((total - base) < kHadChunk ? (total - base) : kHadChunk);
    for (int i = threadIdx.x; i < len; i += blockDim.x) s[i] = load_widened(x, base + i);
    __syncthreads();
    int half = len >> 1;
    for (int lg = 0; (1 << lg) < group; ++lg) {
        const int h = 1 << lg;
        for (int p = threadIdx.x; p < half; p += blockDim.x) {
            int i = ((p >> lg) << (lg + 1)) | (p & (h - 1));  // = (p / h)·2h + p % h
            float a = s[i], b = s[i + h];
            s[i] = __fadd_rn(a, b);
            s[i + h] = __fsub_rn(a, b);
        }
        __syncthreads();
    }
    return len;
}

__global__ void __launch_bounds__(512) hadamard_kernel(const float* __restrict__ x, float* y, int64_t total,
                                                       int group, float scale) {
    __shared__ float s[kHadChunk];
    int64_t base = (int64_t)blockIdx.x * kHadChunk;
    int len = load_and_butterfly(x, total, base, group, s);
    for (int i = threadIdx.x; i < len; i += blockDim.x) y[base + i] = __fmul_rn(s[i], scale);
}

// Fused forward prologue (§2.2 + §2.3 steps 1–3): the transform of one chunk as above, then the LSQ codes of
// the transformed values written into the padded GEMM operand (row r, column col at codes[r·ld + col]) and the
// packed INT4 copy. Same operations in the same order as hadamard + quantize, so the codes are identical.
template <class T>
__global__ void __launch_bounds__(512) hadamard_quant_kernel(const T* __restrict__ x, int64_t total, int group,
                                                             float scale, int cols, const float* step, int qn,
                                                             int8_t* codes, int ld, uint8_t* packed) {
    __shared__ float s[kHadChunk];
    __shared__ int64_t row0;
    __shared__ int col0;
    int64_t base = (int64_t)blockIdx.x * kHadChunk;
    if (threadIdx.x == 0) {  // the chunk's first (row, column): one 64-bit division per CTA, published by the
        row0 = base / cols;  // barrier inside load_and_butterfly
        col0 = (int)(base - row0 * cols);
    }
    int len = load_and_butterfly(x, total, base, group, s);
    int half = len >> 1;
    const float st = *step;
    for (int p = threadIdx.x; p < half; p += blockDim.x) {
        int64_t f = base + 2 * p;  // even: cols is even, so the pair stays in one row
        int64_t r = row0;
        int col = col0 + 2 * p;    // < cols + 1024: a few subtractions reach the row
        while (col >= cols) { col -= cols; ++r; }
        int q0 = lsq_code(__fmul_rn(s[2 * p], scale), st, qn);
        int q1 = lsq_code(__fmul_rn(s[2 * p + 1], scale), st, qn);
        char2 pr;
        pr.x = (char)q0;
        pr.y = (char)q1;
        *reinterpret_cast<char2*>(codes + r * ld + col) = pr;
        packed[f >> 1] = (uint8_t)((q1 << 4) | (q0 & 0xF));
    }
}

// The same fused prologue for G ≤ 512 on registers: 16 consecutive floats per thread, lanes 2p and 2p+1 holding one
// aligned run of 32 (hadamard_regs.cuh: stages h ≤ 8 in registers, h = 16 one exchange across the pair), the
// division with a hoisted reciprocal and the branch-free code of numerics/lsq_fast.cuh; grid-stride over runs of
// 512 elements per warp. Same butterflies in the same stage order and the same quotients and codes as the block
// kernel above, bit for bit. Needs x 16-byte, codes 8-byte and packed 4-byte aligned (else the block kernel runs).
// It replaces hadamard_quant_warp4_kernel (4 floats per lane, stages h ≥ 4 as shuffles), which ncu found issue-bound
// on the H200 (SM 76 %, DRAM 30 % of peak). SASS of the loop body per element, sm_90, nvcc 11.8 (static count of the
// hot path: full runs, no fallback division; the old one includes both sides of round_half_away's branches):
//                          warp4 G=32   regs G=32   regs G=16
//   SHFL (quarter rate)         3.00        0.50        0
//   FADD / FMUL / FFMA    11 / 1 / 5   6 / 2 / 4   5 / 2 / 4      (5 butterfly FADD for G = 32 in both)
//   MUFU.RCP + FCHK          1 + 1        0 + 0       0 + 0      (one __fdiv_rn per thread for the reciprocal)
//   FRND / F2I                 1 / 1       0 / 1       0 / 1
//   FSETP/FSEL/FMNMX         2 / 0 / 2  .2/1.5/2.9   .2/0/2.9
//   SEL/MOV, BRA/BSSY/CALL  8.3, 7.5    0.3, 0.3    0, 0.25
//   LOP3/PRMT/SHF/IADD/ISETP   6.3         4.4         3.9
//   LDG / STG               .25 / .5    .25 / .25   .25 / .25
//   total                     54.5        24.5        20.5
// G = 64 … 512: the stages h ≥ 32 through the warp's 512 floats of shared memory (hadamard_regs.cuh
// stages_above_32); the layout afterwards is kForward as for G = 32, so the code stores below serve every G.
template <int G, class T>
__global__ void __launch_bounds__(256) hadamard_quant_regs_kernel(const T* __restrict__ x, int64_t total,
                                                                  float scale, int cols, const float* step, int qn,
                                                                  int8_t* codes, int ld, uint8_t* packed) {
    __shared__ __align__(16) float runs[G > 32 ? 8 * 512 : 1];  // 8 warps × one run of 512 (G > 32 only)
    const int lane = threadIdx.x & 31, u = lane & 1;
    const LsqQuotient quotient(*step);
    const int64_t nwarps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t w = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32; w * 512 < total; w += nwarps) {
        const int64_t pair = w * 512 + 32 * (lane >> 1);  // the lane pair's first element
        float v[16];
        load_pair_layout<G, PairLayout::kLoad>(x, pair, u, total, v);
        butterfly_forward<G>(v, u);
        stages_above_32<G, PairLayout::kForward>(v, u, lane, runs + (G > 32 ? 512 * (threadIdx.x / 32) : 0));
#pragma unroll
        for (int k = 0; k < 16; ++k) v[k] = __fmul_rn(v[k], scale);
        quotient.divide_for_code(v);
        int q[16];
#pragma unroll
        for (int k = 0; k < 16; ++k) q[k] = lsq_code_of_quotient(v[k], qn);
#pragma unroll
        for (int r = 0; r < 2; ++r) {  // slots 8r .. 8r+7: 8 consecutive elements from e0
            const int* c = q + 8 * r;
            const int64_t e0 = pair + run_offset<G, PairLayout::kForward>(2 * r, u);
            const uint32_t lo = __byte_perm(__byte_perm(c[0], c[1], 0x0040), __byte_perm(c[2], c[3], 0x0040), 0x5410);
            const uint32_t hi = __byte_perm(__byte_perm(c[4], c[5], 0x0040), __byte_perm(c[6], c[7], 0x0040), 0x5410);
            // byte i of a code word → nibble pairs: byte 0 = code 0 | code 1 << 4, byte 2 = code 2 | code 3 << 4
            const uint32_t nlo = (lo & 0x0F0F0F0Fu) | ((lo >> 4) & 0xF0F0F0F0u);
            const uint32_t nhi = (hi & 0x0F0F0F0Fu) | ((hi >> 4) & 0xF0F0F0F0u);
            if (e0 + 8 <= total && ld == cols) {
                *reinterpret_cast<uint2*>(codes + e0) = make_uint2(lo, hi);
                *reinterpret_cast<uint32_t*>(packed + (e0 >> 1)) = __byte_perm(nlo, nhi, 0x6420);
            } else if (e0 < total) {  // the tail, or padded rows (ld > cols): row and column of e0, then step along
                int64_t row = e0 / cols;
                int col = (int)(e0 - row * cols);
#pragma unroll
                for (int m = 0; m < 8; ++m) {
                    if (e0 + m >= total) break;
                    codes[row * ld + col] = (int8_t)c[m];
                    if ((m & 1) == 0) packed[(e0 + m) >> 1] = (uint8_t)((c[m + 1] << 4) | (c[m] & 0xF));  // total even
                    if (++col == cols) { col = 0; ++row; }
                }
            }
        }
    }
}

template <class T>
int4train_status hadamard_quantize_pad_pack(int4train_context ctx, const T* x, int rows, int cols, int group,
                                            const float* d_step, int mode, int8_t* codes, int rows_pad, int ld,
                                            uint8_t* packed) {
    if (cols % 2 != 0 || ld % 2 != 0 || ld < cols || rows_pad < rows)
        return fail(INT4TRAIN_ERROR_INTERNAL, "hadamard_quantize_pad_pack: bad padding");
    if (ld != cols || rows_pad != rows) I4T_CUDA(cudaMemsetAsync(codes, 0, (size_t)rows_pad * ld, ctx->stream));
    int64_t total = (int64_t)rows * cols;
    float scale = (float)(1.0 / sqrt((double)group));
    const bool aligned = aligned4(x) && ((uintptr_t)packed % 4 == 0) && ((uintptr_t)codes % 8 == 0);
    if (group <= kMaxRegisterGroup && aligned && !ctx->generic_kernels) {
        int64_t warps = ceil_div(total, 512);
        int64_t blocks = ceil_div(warps, 8 * 2);  // 2 iterations per warp, 8 warps per CTA
        if (blocks < 1) blocks = 1;
        const int64_t cap = ctx->sm_count > 0 ? (int64_t)ctx->sm_count * 64 : 8192;  // grid-stride beyond ~8 waves
        if (blocks > cap) blocks = cap;
        const int qn = lsq_qn(mode);
        const bool launched = with_register_group(group, [&](auto g) {
            hadamard_quant_regs_kernel<decltype(g)::value, T><<<(unsigned)blocks, 256, 0, ctx->stream>>>(
                x, total, scale, cols, d_step, qn, codes, ld, packed);
        });
        if (!launched) return fail(INT4TRAIN_ERROR_INTERNAL, "hadamard_quantize_pad_pack: G = %d", group);
        I4T_LAUNCH("hadamard_quant_regs_kernel");
        return INT4TRAIN_SUCCESS;
    }
    int64_t blocks = ceil_div(total, kHadChunk);
    if (blocks > 0x7fffffffLL) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "hadamard: tensor too large");
    hadamard_quant_kernel<T><<<(unsigned)blocks, 512, 0, ctx->stream>>>(x, total, group, scale, cols, d_step, lsq_qn(mode),
                                                                     codes, ld, packed);
    I4T_LAUNCH("hadamard_quant_kernel");
    return INT4TRAIN_SUCCESS;
}

#define I4T_HADAMARD_QUANT_FOR(T)                                                                                    \
    template int4train_status hadamard_quantize_pad_pack<T>(int4train_context, const T*, int, int, int, const float*, \
                                                            int, int8_t*, int, int, uint8_t*);
I4T_HADAMARD_QUANT_FOR(float)
I4T_HADAMARD_QUANT_FOR(__nv_bfloat16)
#undef I4T_HADAMARD_QUANT_FOR

int4train_status hadamard_impl(int4train_context ctx, const float* x, float* y, int64_t total, int group) {
    if (total <= 0) return INT4TRAIN_SUCCESS;
    float scale = (float)(1.0 / sqrt((double)group));
    int64_t blocks = ceil_div(total, kHadChunk);
    if (blocks > 0x7fffffffLL) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "hadamard: tensor too large");
    hadamard_kernel<<<(unsigned)blocks, 512, 0, ctx->stream>>>(x, y, total, group, scale);
    I4T_LAUNCH("hadamard_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" INT4TRAIN_API int4train_status int4train_hadamard(int4train_context ctx, const float* d_x, float* d_y,
                                                             int rows, int cols, int group) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_x);
    I4T_NOTNULL(d_y);
    if (rows <= 0 || cols <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_hadamard: rows (%d) and cols (%d) must be positive", rows, cols);
    I4T_TRY(check_group(cols, group, "int4train_hadamard"));
    return hadamard_impl(ctx, d_x, d_y, (int64_t)rows * cols, group);
}
