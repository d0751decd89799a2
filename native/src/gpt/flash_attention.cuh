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
#include <stdlib.h>

#include <type_traits>

#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn::flash {

constexpr float kLog2e = 1.4426950408889634f;

// The two shapes the kernels come in (each kernel is a template over one). A block owns 16 rows per warp (queries in
// the forward and the ∂q pass, keys in the ∂k∂v pass) and streams the other side's rows through shared memory an
// inner tile at a time (narrower for hs > 64 so the FP32 accumulators and a score tile fit the registers).
//   V2 (the default; INT4TRAIN_FLASH_V2=0 selects V1: see use_v2): 8 warps (128-row tiles: each streamed key/value
//       row serves twice the queries of V1, halving the L2 → SM traffic), and the next inner tile's rows are read
//       into registers while the tensor cores work on the current one (a double-buffered shared tile, one barrier
//       per tile).
//   V1: the first kernels' shape: 4 warps, 64-row tiles, each inner tile loaded, then used.
// Experimental variants of V2 (ConfigV2Tuned, ConfigV2Wide), chosen by INT4TRAIN_FLASH_TUNE (tune_bits), give the
// same bits as V2 and exist to be timed against it (the self-test's bench_attention).
struct ConfigV1 {
    static constexpr int kWarps = 4;
    static constexpr bool kPipelined = false;
    static constexpr int kMinBlocks = 0;           // __launch_bounds__'s blocks per SM (0: not given, ptxas's choice)
    static constexpr bool kInteriorFast = false;   // the backward's unmasked path on interior tiles (ConfigV2Tuned)
    static constexpr int kStrips = 1;              // 16-row MMA strips per warp (ConfigV2Wide; the forward only)
    template <int HS> __host__ __device__ static constexpr int forward_inner() { return 64; }
    template <int HS> __host__ __device__ static constexpr int kv_inner() { return HS <= 64 ? 64 : 32; }
    template <int HS> __host__ __device__ static constexpr int q_inner() { return HS <= 64 ? 64 : 32; }
};
struct ConfigV2 {
    static constexpr int kWarps = 8;
    static constexpr bool kPipelined = true;
    static constexpr int kMinBlocks = 0;
    static constexpr bool kInteriorFast = false;
    static constexpr int kStrips = 1;
    template <int HS> __host__ __device__ static constexpr int forward_inner() { return HS <= 64 ? 64 : 32; }
    template <int HS> __host__ __device__ static constexpr int kv_inner() { return HS <= 64 ? 64 : 16; }
    template <int HS> __host__ __device__ static constexpr int q_inner() { return HS <= 64 ? 64 : 32; }
};
// The V2 kernels with the tuning switches (INT4TRAIN_FLASH_TUNE, see tune_bits): MinBlocks 2 asks ptxas for two
// blocks per SM (≤ 128 registers a thread: spills allowed, to be measured), Interior the backward's score_grad without
// the mask and index tests on tiles wholly at or below the diagonal and before T (as the forward's `diagonal` flag).
// (MinBlocks 0 leaves the bound out, as the default kernels do: an explicit 1 made ptxas allocate differently.)
template <int MinBlocks, bool Interior> struct ConfigV2Tuned : ConfigV2 {
    static constexpr int kMinBlocks = MinBlocks;
    static constexpr bool kInteriorFast = Interior;
};
// The forward with 32 rows a warp (INT4TRAIN_FLASH_TUNE bit 8): two 16-row strips share every K and V fragment a
// warp loads from shared memory (twice the MMAs per ldmatrix); 4 warps keep the 128-row tile (the same grid), and at
// ≤ 255 registers two blocks fit an SM.
struct ConfigV2Wide : ConfigV2 {
    static constexpr int kWarps = 4;
    static constexpr int kStrips = 2;
};
template <class Cfg> __host__ __device__ constexpr int threads_of() { return 32 * Cfg::kWarps; }
template <class Cfg> __host__ __device__ constexpr int tile_of() { return 16 * Cfg::kWarps * Cfg::kStrips; }
// Shared-memory rows are padded by 8 BF16 (16 bytes) so the 8 rows a fragment load touches fall in different banks.
template <int W> __host__ __device__ constexpr int padded() { return W + 8; }

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (lo) in the lower half
    return *reinterpret_cast<uint32_t*>(&v);
}
// x as an MMA sees it once a tile loader (flash_attention_tiles.cuh bf16x4: pack_bf16) has rounded it: BF16 to
// nearest even, back in FP32. D (flash_attention.cu delta_kernel) forms ∂out from this so that D and the backward's
// ∂ã = ∂out·v use the very same ∂out values (docs/conventions.md, fused attention).
__device__ __forceinline__ float as_mma_operand(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

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

// 2^x by the SFU alone (ex2.approx.ftz: relative error ~2⁻²², results below 2⁻¹²⁶ flush to 0; 2^(−∞) = 0): exp2f's
// denormal-range fix-up would add a compare and two multiplies to each score element, and these values only ever
// become BF16 MMA operands or FP32 sums of them.
#if defined(I4T_FLASH_HOST_EMULATION)
inline float fast_exp2(float x) { return exp2f(x); }
#else
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
#endif

// ldmatrix.x4: lane l gives the address of row l % 8 of 8×8 matrix l / 8 (16-byte aligned); lane (g, q) receives
// (M[g][2q], M[g][2q+1]) of each matrix M — with .trans (M[2q][g], M[2q+1][g]) — in r[0..3] (the PTX ISA's ldmatrix).
#if defined(I4T_FLASH_HOST_EMULATION)
void ldmatrix_x4(uint32_t (&r)[4], const __nv_bfloat16* row);
void ldmatrix_x4_trans(uint32_t (&r)[4], const __nv_bfloat16* row);
#else
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __nv_bfloat16* row) {
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __nv_bfloat16* row) {
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
#endif

// A fragment of the 16×16 block at `at` of a row-major BF16 tile with row length ld, by one ldmatrix.x4 of
// rows 0–7 × cols 0–7 (a0), rows 8–15 × cols 0–7 (a1), rows 0–7 × cols 8–15 (a2), rows 8–15 × cols 8–15 (a3).
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const __nv_bfloat16* at, int ld, int lane) {
    const int m = lane >> 3;
    ldmatrix_x4(a, at + ((m & 1) * 8 + (lane & 7)) * ld + (m >> 1) * 8);
}

// d0 += A·B and d1 += A·B' over the two 16 × 8 outputs at n-tiles `at` and `at` + 8 rows, where B[k][n] is stored
// n-major: B[k][n] = at[n·ld + k] (a row-major K tile is Kᵀ's B in S = Q·Kᵀ, ...); one 16-wide k step; only the
// live ones. One ldmatrix.x4 (matrices: n 0–7 × k 0–7, n 0–7 × k 8–15, n 8–15 × k 0–7, n 8–15 × k 8–15) hands each
// lane exactly its (b0, b1) of both n-tiles.
__device__ __forceinline__ void mma_nmajor_pair(float (&d0)[4], float (&d1)[4], const uint32_t (&a)[4],
                                                const __nv_bfloat16* at, int ld, int lane, bool live0, bool live1) {
    const int m = lane >> 3;
    uint32_t b[4];
    ldmatrix_x4(b, at + ((m >> 1) * 8 + (lane & 7)) * ld + (m & 1) * 8);
    if (live0) mma_bf16(d0, a, b[0], b[1]);
    if (live1) mma_bf16(d1, a, b[2], b[3]);
}

// d0 += A·B and d1 += A·B' over the 16 × 8 outputs at columns `at` and `at` + 8 of a k-major tile (B[k][n] =
// at[k·ld + n]: a row-major V, Q, G or K tile whose rows are the MMA's k), one 16-wide k step. ldmatrix.x4.trans of
// k 0–7 × n 0–7, k 8–15 × n 0–7, k 0–7 × n 8–15, k 8–15 × n 8–15 hands lane (g, q) (B[2q][g], B[2q+1][g]) and
// (B[2q+8][g], B[2q+9][g]) of both column blocks — no transposed copy of the tile in shared memory.
__device__ __forceinline__ void mma_kmajor_pair(float (&d0)[4], float (&d1)[4], const uint32_t (&a)[4],
                                                const __nv_bfloat16* at, int ld, int lane) {
    const int m = lane >> 3;
    uint32_t b[4];
    ldmatrix_x4_trans(b, at + ((m & 1) * 8 + (lane & 7)) * ld + (m >> 1) * 8);
    mma_bf16(d0, a, b[0], b[1]);
    mma_bf16(d1, a, b[2], b[3]);
}

// Whether columns [c0, c0 + width) of a warp's tile meet [lo, hi), the columns the causal mask leaves it (the
// warp-uniform skip of blocks that are wholly masked: on the diagonal tiles only; their values stay 0 and are masked).
__device__ __forceinline__ bool cols_live(int c0, int width, int lo, int hi) { return c0 + width > lo && c0 < hi; }

// The two score-like tiles both backward kernels start from, over hs for one warp's 16-row strip:
// s += A·Y_kᵀ for one 16-wide k block: a the A fragment, y the block's first column in a row-major tile of NT·8 rows
// (row length ld); only the 8-column tiles that meet the live columns [lo, hi).
template <int NT>
__device__ __forceinline__ void strip_times_nmajor(float (&s)[NT][4], const uint32_t (&a)[4], const __nv_bfloat16* y,
                                                   int ld, int lo, int hi, int lane) {
#pragma unroll
    for (int nt = 0; nt < NT; nt += 2)
        if (cols_live(nt * 8, 16, lo, hi))
            mma_nmajor_pair(s[nt], s[nt + 1], a, y + nt * 8 * ld, ld, lane, cols_live(nt * 8, 8, lo, hi),
                            cols_live(nt * 8 + 8, 8, lo, hi));
}

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
        strip_times_nmajor<NT>(s, a, y + kk * 16, ld, lo, hi, lane);
        load_a(a, z + kk * 16, ld, lane);
        strip_times_nmajor<NT>(t, a, w + kk * 16, ld, lo, hi, lane);
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
        for (int dt = 0; dt < DT; dt += 2)
            mma_kmajor_pair(acc[dt], acc[dt + 1], a, b + kc * 16 * ld + dt * 8, ld, lane);
    }
}

// The forward's products for a warp of SR 16-row strips (ConfigV2Wide: 2; else 1), each B fragment loaded once for
// all strips. Strip sr's live columns are [0, hi[sr]) (hi ascending: later strips, later rows, more keys).
// s[sr] += A_sr·Y_kᵀ (as strip_times_nmajor), a[sr] strip sr's A fragment of one 16-wide k block.
template <int NT, int SR>
__device__ __forceinline__ void strips_times_nmajor(float (&s)[SR][NT][4], const uint32_t (&a)[SR][4],
                                                    const __nv_bfloat16* y, int ld, const int (&hi)[SR], int lane) {
    const int m = lane >> 3;
#pragma unroll
    for (int nt = 0; nt < NT; nt += 2) {
        if (!cols_live(nt * 8, 16, 0, hi[SR - 1])) continue;
        uint32_t b[4];
        ldmatrix_x4(b, y + (nt * 8 + (m >> 1) * 8 + (lane & 7)) * ld + (m & 1) * 8);
#pragma unroll
        for (int sr = 0; sr < SR; ++sr) {
            if (cols_live(nt * 8, 8, 0, hi[sr])) mma_bf16(s[sr][nt], a[sr], b[0], b[1]);
            if (cols_live(nt * 8 + 8, 8, 0, hi[sr])) mma_bf16(s[sr][nt + 1], a[sr], b[2], b[3]);
        }
    }
}
// acc[sr] += P_sr·B (as strip_times_kmajor): P_sr strip sr's FP32 accumulators, B k-major.
template <int NT, int DT, int SR>
__device__ __forceinline__ void strips_times_kmajor(float (&acc)[SR][DT][4], const float (&p)[SR][NT][4],
                                                    const __nv_bfloat16* b, int ld, const int (&hi)[SR], int lane) {
    const int m = lane >> 3;
#pragma unroll
    for (int kc = 0; kc < NT / 2; ++kc) {
        if (!cols_live(kc * 16, 16, 0, hi[SR - 1])) continue;
        uint32_t a[SR][4];
#pragma unroll
        for (int sr = 0; sr < SR; ++sr)
            if (cols_live(kc * 16, 16, 0, hi[sr])) a_from_acc(a[sr], p[sr], kc);
#pragma unroll
        for (int dt = 0; dt < DT; dt += 2) {
            uint32_t f[4];
            ldmatrix_x4_trans(f, b + (kc * 16 + (m & 1) * 8 + (lane & 7)) * ld + dt * 8 + (m >> 1) * 8);
#pragma unroll
            for (int sr = 0; sr < SR; ++sr) {
                if (!cols_live(kc * 16, 16, 0, hi[sr])) continue;
                mma_bf16(acc[sr][dt], a[sr], f[0], f[1]);
                mma_bf16(acc[sr][dt + 1], a[sr], f[2], f[3]);
            }
        }
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

// The blocks of a pass: x the row tiles of one (sequence, head) — consecutive blocks share that head's k and v,
// which then stay in L2 while its tiles run — and y = b·H + h (at most 65535: flash_attention_supported).
template <class Cfg> inline dim3 grid_of(AttentionShape sh) {
    return dim3((unsigned)((sh.t + tile_of<Cfg>() - 1) / tile_of<Cfg>()), (unsigned)(sh.b * sh.nh));
}

// Whether this process runs the pipelined kernels: yes unless INT4TRAIN_FLASH_V2=0 (read at each launch, so a
// self-test can run and time both). On the H200 they were 10-35 % faster than the first kernels. (Their one self-test
// failure there, T = 1, hs 16, was D's rounding of ∂out — flash_attention.cu delta_kernel — which both sets share;
// the two sets had been checked on different random data.)
inline bool use_v2() {
    const char* v = getenv("INT4TRAIN_FLASH_V2");
    return v == nullptr || v[0] != '0';
}
// INT4TRAIN_FLASH_TUNE: a bitmask (strtoul base 0: "5", "0x5"; 0 = the untuned V2 kernels) of variants of the V2
// kernels, read at each launch so one self-test run can time each (test_attention.cu). Every variant computes the
// same bits as the untuned kernels. Only for hs 64 and 128 (tunable: the shapes the bench measures; other head
// sizes, and V1, run the untuned kernels whatever the switch says). Unset, each head size has its own default, from
// the H200 (2026-12-02): hs 64 → 1 + 2 + 4 (self-test forward + backward 0.724 → 0.597 ms at 8 × 12 heads × T 1024;
// a bf16 gpt2-small step 24.30 → 23.32 ms); hs 128 → 1 + 2 (bit 4 made its backward faster, 1.29 → 1.15 ms, but its
// forward slower, 0.389 → 0.436 ms in the self-test and 0.39 → 0.62 ms a launch in a gpt-1b step under ncu, and the
// bf16 gpt-1b step measured 184.8 ms against the previous session's 181 with it on). Bit 8 slowed both forwards.
enum : unsigned {
    kTuneDoutBf16 = 1u,    // the backward reads ∂out as the BF16 copy flash_attention_delta wrote (half the bytes)
    kTuneInterior = 2u,    // the backward's score_grad skips the mask and index tests on interior tiles
    kTuneTwoBlocks = 4u,   // the forward and ∂q kernels built for 2 blocks per SM (__launch_bounds__(256, 2))
    kTuneWide = 8u,        // the forward with two 16-row strips a warp (ConfigV2Wide; takes precedence over 4 there)
};
// Every default has kTuneDoutBf16: whether the model allocates the BF16 ∂out copy does not depend on the head size.
constexpr unsigned kTuneDefaultHs64 = kTuneDoutBf16 | kTuneInterior | kTuneTwoBlocks;
constexpr unsigned kTuneDefaultHs128 = kTuneDoutBf16 | kTuneInterior;
inline unsigned tune_bits(int hs) {
    const char* v = getenv("INT4TRAIN_FLASH_TUNE");
    if (v != nullptr) return (unsigned)strtoul(v, nullptr, 0) & 15u;
    return hs == 128 ? kTuneDefaultHs128 : kTuneDefaultHs64;
}
template <int HS> __host__ __device__ constexpr bool tunable() { return HS == 64 || HS == 128; }
// Whether the kernels of Cfg at HS come in a BF16-∂out build (kTuneDoutBf16).
template <int HS, class Cfg> __host__ __device__ constexpr bool takes_bf16_dout() {
    return Cfg::kPipelined && tunable<HS>();
}

// The kernels, by which tuned builds each has: the forward (two blocks, wide), the ∂k∂v kernel (interior) and the
// ∂q kernel (two blocks, interior).
enum class Pass { forward, kv, q };
template <Pass P> constexpr bool has_two_blocks() { return P != Pass::kv; }
template <Pass P> constexpr bool has_interior() { return P != Pass::forward; }
template <Pass P> constexpr bool has_wide() { return P == Pass::forward; }

// Calls f(Cfg{}) for the configuration use_v2 and tune_bits choose for pass P.
template <int HS, Pass P, class F> inline void with_config(F&& f) {
    constexpr bool kTwo = has_two_blocks<P>(), kInterior = has_interior<P>();
    if (!use_v2()) return f(ConfigV1{});
    if constexpr (tunable<HS>()) {
        const unsigned t = tune_bits(HS);
        const bool two = (t & kTuneTwoBlocks) != 0, interior = (t & kTuneInterior) != 0;
        if constexpr (has_wide<P>()) {
            if (t & kTuneWide) return f(ConfigV2Wide{});
        }
        if constexpr (kTwo && kInterior) {
            if (two && interior) return f(ConfigV2Tuned<2, true>{});
        }
        if constexpr (kTwo) {
            if (two) return f(ConfigV2Tuned<2, false>{});
        }
        if constexpr (kInterior) {
            if (interior) return f(ConfigV2Tuned<0, true>{});
        }
    }
    f(ConfigV2{});
}
// Calls f(Cfg{}) for every configuration with_config<HS, P> may choose (flash_attention_prepare).
template <int HS, Pass P, class F> inline void for_each_config(F&& f) {
    constexpr bool kTwo = has_two_blocks<P>(), kInterior = has_interior<P>();
    f(ConfigV1{});
    f(ConfigV2{});
    if constexpr (tunable<HS>()) {
        if constexpr (has_wide<P>()) f(ConfigV2Wide{});
        if constexpr (kTwo && kInterior) f(ConfigV2Tuned<2, true>{});
        if constexpr (kTwo) f(ConfigV2Tuned<2, false>{});
        if constexpr (kInterior) f(ConfigV2Tuned<0, true>{});
    }
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
