// flash_attention.cuh — what the fused attention's forward (flash_attention.cu) and backward
// (flash_attention_backward.cu) kernels share: the tile shape, the BF16 tensor-core MMA, its fragment loaders and the
// tile loader that turns FP32 rows of qkv (or ∂out) into BF16 tiles in shared memory.
//
// Tensor cores: mma.sync.m16n8k16 with BF16 A (16×16, row-major) and B (16×8, "col": stored n-major), FP32
// accumulators C (16×8). In a warp, lane = 4·g + q (g = lane/4 the group, q = lane%4); the PTX ISA's fragment layouts
// (§ "Matrix Fragments for mma.m16n8k16 with floating point type"):
//   A: a0 = A[g][2q, 2q+1], a1 = A[g+8][2q, 2q+1], a2 = A[g][2q+8, 2q+9], a3 = A[g+8][2q+8, 2q+9]
//   B: b0 = B[2q, 2q+1][g],  b1 = B[2q+8, 2q+9][g]
//   C: c0, c1 = C[g][2q, 2q+1],  c2, c3 = C[g+8][2q, 2q+1]
// (each 32-bit register holds two BF16, the lower index in the lower half). Two adjacent C tiles (columns 0–7 and
// 8–15) of one 16-row strip are exactly the A fragment of that strip's 16×16 block: a score tile computed by one MMA
// feeds the next MMA from registers (FlashAttention-2's P·V without a trip through shared memory).
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>

#include <type_traits>

#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn::flash {

constexpr int kWarps = 4, kThreads = 32 * kWarps;
// The rows a block owns (queries in the forward and the ∂q pass, keys in the ∂k∂v pass): 16 per warp.
constexpr int kTile = 16 * kWarps;
constexpr float kLog2e = 1.4426950408889634f;

// The tile the loops stream (keys in the forward and ∂q pass, queries in the ∂k∂v pass): narrower for hs > 64 so the
// FP32 accumulators of the backward (two 16 × hs strips per warp) and a score tile fit the registers.
template <int HS> __host__ __device__ constexpr int inner_tile() { return HS <= 64 ? 64 : 32; }
// Shared-memory rows are padded by 8 BF16 (16 bytes) so the 8 rows a fragment load touches fall in different banks.
template <int W> __host__ __device__ constexpr int padded() { return W + 8; }

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (lo) in the lower half
    return *reinterpret_cast<uint32_t*>(&v);
}
__device__ __forceinline__ uint32_t ld_pair(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// d += A·B on the tensor cores (BF16 × BF16, FP32 accumulation). I4T_FLASH_HOST_EMULATION: a CPU emulation of these
// kernels (a check of the fragment bookkeeping without a GPU) supplies its own.
#if defined(I4T_FLASH_HOST_EMULATION)
void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
#else
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
#endif

// A fragment of the 16×16 block at `at` of a row-major BF16 tile with row length ld.
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const __nv_bfloat16* at, int ld, int lane) {
    const int g = lane >> 2, q2 = (lane & 3) * 2;
    a[0] = ld_pair(at + g * ld + q2);
    a[1] = ld_pair(at + (g + 8) * ld + q2);
    a[2] = ld_pair(at + g * ld + q2 + 8);
    a[3] = ld_pair(at + (g + 8) * ld + q2 + 8);
}

// d += A·B over the 16 × 8 output at n-tile `at`, where B[k][n] is stored n-major: B[k][n] = at[n·ld + k] (a
// row-major K tile is Kᵀ's B in S = Q·Kᵀ, ...). k runs over one 16-wide step.
__device__ __forceinline__ void mma_nmajor(float (&d)[4], const uint32_t (&a)[4], const __nv_bfloat16* at, int ld,
                                           int lane) {
    const int g = lane >> 2, q2 = (lane & 3) * 2;
    mma_bf16(d, a, ld_pair(at + g * ld + q2), ld_pair(at + g * ld + q2 + 8));
}

// The B fragment (b0, b1) of a 16 × 8 block of a k-major BF16 tile (B[k][n] = at[k·ld + n]: a row-major V, Q, G or
// K tile whose rows are the MMA's k) by ldmatrix.x2.trans: lanes 0–15 give the addresses of the 16 rows (16-byte
// aligned: ld and the column a multiple of 8), and the transposed 8×8 loads hand lane (g, q) exactly
// (B[2q][g], B[2q+1][g]) and (B[2q+8][g], B[2q+9][g]) — no transposed copy of the tile in shared memory.
#if defined(I4T_FLASH_HOST_EMULATION)
void ldmatrix_x2_trans(uint32_t& b0, uint32_t& b1, const __nv_bfloat16* row);
#else
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t& b0, uint32_t& b1, const __nv_bfloat16* row) {
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(b0), "=r"(b1) : "r"(addr));
}
#endif

// d += A·B over the 16 × 8 output at column `at` of a k-major tile (B[k][n] = at[k·ld + n]), one 16-wide k step.
__device__ __forceinline__ void mma_kmajor(float (&d)[4], const uint32_t (&a)[4], const __nv_bfloat16* at, int ld,
                                           int lane) {
    uint32_t b0, b1;
    ldmatrix_x2_trans(b0, b1, at + (lane & 15) * ld);
    mma_bf16(d, a, b0, b1);
}

// Whether columns [c0, c0 + width) of a warp's tile meet [lo, hi), the columns the causal mask leaves it (the
// warp-uniform skip of blocks that are wholly masked: on the diagonal tiles only; their values stay 0 and are masked).
__device__ __forceinline__ bool cols_live(int c0, int width, int lo, int hi) { return c0 + width > lo && c0 < hi; }

// The two score-like tiles both backward kernels start from, over hs for one warp's 16-row strip:
// s += X·Yᵀ and t += Z·Wᵀ, with x, z the strip's first rows and y, w row-major tiles of NT·8 rows (row length ld);
// only the 8-column tiles that meet the live columns [lo, hi).
template <int HS, int NT>
__device__ __forceinline__ void strip_products(float (&s)[NT][4], float (&t)[NT][4], const __nv_bfloat16* x,
                                               const __nv_bfloat16* y, const __nv_bfloat16* z,
                                               const __nv_bfloat16* w, int ld, int lo, int hi, int lane) {
#pragma unroll
    for (int kk = 0; kk < HS / 16; ++kk) {
        uint32_t a[4];
        load_a(a, x + kk * 16, ld, lane);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
            if (cols_live(nt * 8, 8, lo, hi)) mma_nmajor(s[nt], a, y + nt * 8 * ld + kk * 16, ld, lane);
        load_a(a, z + kk * 16, ld, lane);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
            if (cols_live(nt * 8, 8, lo, hi)) mma_nmajor(t[nt], a, w + nt * 8 * ld + kk * 16, ld, lane);
    }
}

// The A fragment of 16-column block kc of a strip of FP32 accumulators acc[n-tile][4] (C layout), rounded to BF16.
template <int NT>
__device__ __forceinline__ void a_from_acc(uint32_t (&a)[4], const float (&acc)[NT][4], int kc) {
    a[0] = pack_bf16(acc[2 * kc][0], acc[2 * kc][1]);
    a[1] = pack_bf16(acc[2 * kc][2], acc[2 * kc][3]);
    a[2] = pack_bf16(acc[2 * kc + 1][0], acc[2 * kc + 1][1]);
    a[3] = pack_bf16(acc[2 * kc + 1][2], acc[2 * kc + 1][3]);
}

// acc (a 16 × 8·DT strip) += P·B: P the strip's 16 × 8·NT FP32 accumulators (rounded to BF16 as A fragments, straight
// from the registers), B a k-major tile of 8·NT rows and row length ld; only the 16-column blocks of P that meet its
// live columns [lo, hi) (P is 0 elsewhere).
template <int NT, int DT>
__device__ __forceinline__ void strip_times_kmajor(float (&acc)[DT][4], const float (&p)[NT][4],
                                                   const __nv_bfloat16* b, int ld, int lo, int hi, int lane) {
#pragma unroll
    for (int kc = 0; kc < NT / 2; ++kc) {
        if (!cols_live(kc * 16, 16, lo, hi)) continue;
        uint32_t a[4];
        a_from_acc(a, p, kc);
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) mma_kmajor(acc[dt], a, b + kc * 16 * ld + dt * 8, ld, lane);
    }
}

// A 16 × 8·DT strip of accumulators to FP32 rows: this thread's rows row0 and row0 + 8 (those before t_len), row r
// times mul[r], at out + row·row_len.
template <int DT>
__device__ __forceinline__ void store_strip(float* out, int64_t row_len, const float (&acc)[DT][4],
                                            const float (&mul)[2], int row0, int t_len, int lane) {
    const int q2 = (lane & 3) * 2;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int row = row0 + r * 8;
        if (row >= t_len) continue;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
            *reinterpret_cast<float2*>(out + (int64_t)row * row_len + dt * 8 + q2) =
                make_float2(acc[dt][2 * r] * mul[r], acc[dt][2 * r + 1] * mul[r]);
    }
}

// Four consecutive values of a row as four BF16 values (8 bytes): FP32 rounded to nearest even, BF16 (the device
// GPT's copy of qkv, cast from FP32 with the same rounding) as they are — so both give the same bits.
__device__ __forceinline__ uint2 bf16x4(const float* p) {
    const float4 v = *reinterpret_cast<const float4*>(p);
    return make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
}
__device__ __forceinline__ uint2 bf16x4(const __nv_bfloat16* p) { return *reinterpret_cast<const uint2*>(p); }

// Rows [first, first + R) of one head (hs = HS values at src + t·row_len, t the row in the sequence; FP32 or BF16,
// bf16x4) into a row-major BF16 tile in shared memory (dst[r·ld + d], ld = padded<HS>()); rows at or past t_len are
// zeros. All threads of the block take part (the caller syncs); a warp reads whole rows (coalesced).
template <int R, int HS, class Q>
__device__ __forceinline__ void load_rows(__nv_bfloat16* dst, const Q* src, int64_t row_len, int first, int t_len) {
    constexpr int kVec = HS / 4, ld = padded<HS>();
    for (int e = threadIdx.x; e < R * kVec; e += kThreads) {
        const int r = e / kVec, c = (e % kVec) * 4;
        uint2 v = make_uint2(0u, 0u);  // BF16 +0 is 0 bits, as pack_bf16(0, 0)
        if (first + r < t_len) v = bf16x4(src + (int64_t)(first + r) * row_len + c);
        *reinterpret_cast<uint2*>(dst + r * ld + c) = v;
    }
}

// The blocks of a pass: x the 64-row tiles of one (sequence, head) — consecutive blocks share that head's k and v,
// which then stay in L2 while its tiles run — and y = b·H + h (at most 65535: flash_attention_supported).
inline dim3 grid_of(AttentionShape sh) {
    return dim3((unsigned)((sh.t + kTile - 1) / kTile), (unsigned)(sh.b * sh.nh));
}

// Calls f(std::integral_constant<int, HS>) for the supported head sizes (16, 32, ..., 128); false otherwise.
template <class F> inline bool with_head_size(int hs, F&& f) {
    switch (hs) {
        case 16: f(std::integral_constant<int, 16>{}); return true;
        case 32: f(std::integral_constant<int, 32>{}); return true;
        case 48: f(std::integral_constant<int, 48>{}); return true;
        case 64: f(std::integral_constant<int, 64>{}); return true;
        case 80: f(std::integral_constant<int, 80>{}); return true;
        case 96: f(std::integral_constant<int, 96>{}); return true;
        case 112: f(std::integral_constant<int, 112>{}); return true;
        case 128: f(std::integral_constant<int, 128>{}); return true;
        default: return false;
    }
}

// flash_attention_backward.cu: sets the backward kernels' shared-memory limit (flash_attention_prepare).
cudaError_t prepare_backward();

}  // namespace i4t::nn::flash
