// hadamard.cu — block-diagonal Walsh–Hadamard transform, method.md §2.2, conventions.md "Hadamard".
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/rounding.cuh"
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
__device__ __forceinline__ int load_and_butterfly(const float* __restrict__ x, int64_t total, int64_t base, int group,
                                                  float* s) {
    int len = (int)((total - base) < kHadChunk ? (total - base) : kHadChunk);
    for (int i = threadIdx.x; i < len; i += blockDim.x) s[i] = x[base + i];
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
__global__ void __launch_bounds__(512) hadamard_quant_kernel(const float* __restrict__ x, int64_t total, int group,
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

// The same fused prologue for G ≤ 32 as one warp per 128 consecutive floats, 4 per lane (16-byte loads), grid-stride:
// the butterfly stages run on registers, with no shared memory and no barriers (the block kernel above spends most of
// its time in barriers and shared-memory traffic: ncu 2026-11-23, 24 % of DRAM peak at 88 % SM). Stages h = 1, 2 pair
// values inside a lane; stages h ≥ 4 pair slot k of lane l with slot k of lane l ^ (h/4) through shuffles, the lane
// with (lane & h/4) == 0 holding a = x[i] and keeping a + b, its partner keeping a − b. Same pairs, same additions,
// same stage order as load_and_butterfly, so the codes are bit-identical. A G-block never straddles a 128-element group
// (G | 128, whole G-blocks); elements past the end load 0 and write nothing. Needs x 16-byte, codes 4-byte and packed
// 2-byte aligned (the caller checks; otherwise the block kernel runs).
__global__ void __launch_bounds__(256) hadamard_quant_warp4_kernel(const float* __restrict__ x, int64_t total, int group,
                                                                   float scale, int cols, const float* step, int qn,
                                                                   int8_t* codes, int ld, uint8_t* packed) {
    const int lane = threadIdx.x & 31;
    const float st = *step;
    const int64_t nwarps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t w = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32; w * 128 < total; w += nwarps) {
        const int64_t f = w * 128 + 4 * (int64_t)lane;
        float v[4];
        if (f + 3 < total) {
            float4 t = *reinterpret_cast<const float4*>(x + f);
            v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w;
        } else {
#pragma unroll
            for (int k = 0; k < 4; ++k) v[k] = f + k < total ? x[f + k] : 0.0f;
        }
        if (group >= 2) {  // h = 1: (0,1), (2,3)
            float a0 = v[0], a2 = v[2];
            v[0] = __fadd_rn(a0, v[1]); v[1] = __fsub_rn(a0, v[1]);
            v[2] = __fadd_rn(a2, v[3]); v[3] = __fsub_rn(a2, v[3]);
        }
        if (group >= 4) {  // h = 2: (0,2), (1,3)
            float a0 = v[0], a1 = v[1];
            v[0] = __fadd_rn(a0, v[2]); v[2] = __fsub_rn(a0, v[2]);
            v[1] = __fadd_rn(a1, v[3]); v[3] = __fsub_rn(a1, v[3]);
        }
        for (int m = 1; 4 * m < group; m <<= 1) {  // h = 4m: lanes l and l ^ m, slot by slot
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                float o = __shfl_xor_sync(0xffffffffu, v[k], m);
                v[k] = (lane & m) ? __fsub_rn(o, v[k]) : __fadd_rn(v[k], o);
            }
        }
        int q[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) q[k] = lsq_code(__fmul_rn(v[k], scale), st, qn);
        if (f + 3 < total && ld == cols) {
            char4 c4;
            c4.x = (char)q[0]; c4.y = (char)q[1]; c4.z = (char)q[2]; c4.w = (char)q[3];
            *reinterpret_cast<char4*>(codes + f) = c4;
            ushort pk = (ushort)(((q[1] << 4) | (q[0] & 0xF)) & 0xFF) | (ushort)((((q[3] << 4) | (q[2] & 0xF)) & 0xFF) << 8);
            *reinterpret_cast<ushort*>(packed + (f >> 1)) = pk;
        } else {
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                int64_t e = f + k;
                if (e >= total) break;
                int64_t r = e / cols;
                codes[r * ld + (e - r * cols)] = (int8_t)q[k];
                if ((k & 1) == 0) packed[e >> 1] = (uint8_t)((q[k + 1] << 4) | (q[k] & 0xF));  // total even
            }
        }
    }
}

int4train_status hadamard_quantize_pad_pack(int4train_context ctx, const float* x, int rows, int cols, int group,
                                            const float* d_step, int mode, int8_t* codes, int rows_pad, int ld,
                                            uint8_t* packed) {
    if (cols % 2 != 0 || ld % 2 != 0 || ld < cols || rows_pad < rows)
        return fail(INT4TRAIN_ERROR_INTERNAL, "hadamard_quantize_pad_pack: bad padding");
    if (ld != cols || rows_pad != rows) I4T_CUDA(cudaMemsetAsync(codes, 0, (size_t)rows_pad * ld, ctx->stream));
    int64_t total = (int64_t)rows * cols;
    float scale = (float)(1.0 / sqrt((double)group));
    const bool aligned = ((uintptr_t)x % 16 == 0) && ((uintptr_t)packed % 2 == 0) && ((uintptr_t)codes % 4 == 0);
    if (group <= 32 && aligned) {
        int64_t warps = ceil_div(total, 128);
        int64_t blocks = ceil_div(warps, 8 * 4);  // 4 iterations per warp, 8 warps per CTA
        if (blocks < 1) blocks = 1;
        const int64_t cap = ctx->sm_count > 0 ? (int64_t)ctx->sm_count * 64 : 8192;  // grid-stride beyond ~8 waves
        if (blocks > cap) blocks = cap;
        hadamard_quant_warp4_kernel<<<(unsigned)blocks, 256, 0, ctx->stream>>>(x, total, group, scale, cols, d_step,
                                                                               lsq_qn(mode), codes, ld, packed);
        I4T_LAUNCH("hadamard_quant_warp4_kernel");
        return INT4TRAIN_SUCCESS;
    }
    int64_t blocks = ceil_div(total, kHadChunk);
    if (blocks > 0x7fffffffLL) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "hadamard: tensor too large");
    hadamard_quant_kernel<<<(unsigned)blocks, 512, 0, ctx->stream>>>(x, total, group, scale, cols, d_step, lsq_qn(mode),
                                                                     codes, ld, packed);
    I4T_LAUNCH("hadamard_quant_kernel");
    return INT4TRAIN_SUCCESS;
}

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
