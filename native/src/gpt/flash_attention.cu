// flash_attention.cu — fused causal attention, forward (FlashAttention-2), and ∂'s precomputed row term D.
// One block per (sequence b, head h, tile of 16 queries per warp: 128 with 8 warps, or the first kernels' 64 with 4;
// flash_attention.cuh ConfigV1/V2); the keys and values stream through shared memory an inner tile at a time, up to
// the diagonal (pipelined: the next tile's reads in flight during the MMAs, flash_attention_tiles.cuh). The T×T
// scores never exist in memory: each warp keeps its 16-row score tile in registers (tensor-core accumulators) and
// folds it into its output with the online softmax.
//
// Scores in base 2: s_ij = (q_i·k_j)·(1/√hs)·log₂e, so exp(x/√hs) = 2^s and softmax(q·kᵀ/√hs) = 2^(s − lse₂) with
// lse₂_i = log₂ Σ_{j≤i} 2^(s_ij). Online softmax over key tiles K₁, K₂, ... (row i; m the running max, ℓ the running
// sum, o the running unnormalised output):
//   m' = max(m, max_{j∈K} s_ij),  α = 2^(m − m'),  p̃_ij = 2^(s_ij − m'),
//   ℓ' = α·ℓ + Σ_{j∈K} p̃_ij,      o' = α·o + Σ_{j∈K} (p̃_ij·mask_ij)·v_j
// and at the end out_i = o/ℓ, lse₂_i = m + log₂ ℓ (the one thing kept for the backward: B·H·T floats instead of the
// B·H·T·T probabilities). Dropout on the probabilities (ã = a ⊙ mask, nanoGPT's attn_dropout) multiplies p̃ by the
// mask of element ((b·H + h)·T + i)·T + j — the element index of the unfused path's a (attention.cu), so both paths
// draw the same masks — and leaves ℓ alone (the mask drops probabilities after the softmax normalised them).
// The MMAs round q, k, v and p̃·mask to BF16 (round to nearest even) and accumulate in FP32; m, ℓ, lse₂ are FP32.
#include <math.h>

#include "runtime/launch.cuh"
#include "runtime/status.cuh"
#include "flash_attention.cuh"
#include "flash_attention_tiles.cuh"

namespace i4t::nn {
namespace flash {

template <int HS, class Cfg> constexpr int forward_smem() {  // q (the block's rows); k, v (inner tiles, buffered)
    return (tile_of<Cfg>() + 2 * buffers_of<Cfg>() * Cfg::template forward_inner<HS>()) * padded<HS>() *
           (int)sizeof(__nv_bfloat16);
}

// out (N × C rows, head h at columns h·hs) and lse2 ((b·H + h)·T + i) from qkv (N × 3C, [q | k | v]). Q: the BF16
// copy the device GPT keeps, or FP32 (the self-test's and the CPU emulation's input; the same bits: load_rows).
// A warp owns SR = Cfg::kStrips strips of 16 rows (ConfigV2Wide: 2, sharing each K/V fragment; else 1); each row's
// arithmetic is the same whatever SR, so every configuration gives the same bits.
template <int HS, class Cfg, class Q>
__global__ void __launch_bounds__(threads_of<Cfg>(), Cfg::kMinBlocks)
    forward_kernel(float* __restrict__ out, float* __restrict__ lse2, const Q* __restrict__ qkv, int nh,
                   int t_len, float scale_log2, float p, float keep_scale, DropoutKey dk) {
    constexpr int TILE = tile_of<Cfg>(), THREADS = threads_of<Cfg>(), BK = Cfg::template forward_inner<HS>();
    constexpr int LD = padded<HS>(), NT = BK / 8, DT = HS / 8, SR = Cfg::kStrips, WR = 16 * SR;
    // q's A fragments stay in registers with one strip; with two they are read from shared memory on every key tile
    // (in registers they pushed the warp past 255: sm_80, hs 64, 164 bytes of spill stores; hs 128 worse)
    constexpr bool kQRegs = SR == 1;
    extern __shared__ __align__(16) unsigned char smem[];
    __nv_bfloat16* qs = reinterpret_cast<__nv_bfloat16*>(smem);  // TILE × LD
    __nv_bfloat16* ks = qs + TILE * LD;                            // buffers × BK × LD (keys row-major: Kᵀ's B)
    __nv_bfloat16* vs = ks + buffers_of<Cfg>() * BK * LD;          // buffers × BK × LD (values: V's B, k-major)
    const int bh = blockIdx.y, b = bh / nh, h = bh % nh, c = nh * HS;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * TILE;  // each head's longest rows (most keys) first
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q2 = (lane & 3) * 2;
    const int w0 = q0 + warp * WR;                  // this warp's first row
    const int row0 = w0 + (lane >> 2);              // this thread's rows: row0 + 16·sr and row0 + 16·sr + 8
    const int64_t row_len = 3 * (int64_t)c;
    const Q* base = qkv + (int64_t)b * t_len * row_len + (int64_t)h * HS;
    const uint64_t key = p > 0 ? site_key(dk) : 0;

    load_own_rows<Cfg, TILE, HS>(qs, base, row_len, q0, t_len);
    __syncthreads();
    const __nv_bfloat16* q_warp = qs + warp * WR * LD;
    uint32_t qf[kQRegs ? HS / 16 : 1][SR][4];
    if constexpr (kQRegs) {
#pragma unroll
        for (int kk = 0; kk < HS / 16; ++kk)
#pragma unroll
            for (int sr = 0; sr < SR; ++sr) load_a(qf[kk][sr], q_warp + sr * 16 * LD + kk * 16, LD, lane);
    }

    float o[SR][DT][4] = {};
    float m[SR][2], l[SR][2];  // l: this thread's share of the row sum
#pragma unroll
    for (int sr = 0; sr < SR; ++sr) m[sr][0] = m[sr][1] = -INFINITY, l[sr][0] = l[sr][1] = 0.f;
    const int k_end = min(t_len, q0 + TILE);
    TilePair<BK, HS, THREADS, Q, Q> kv{base + c, base + 2 * c, row_len, row_len, nullptr, nullptr, 0, t_len, ks, vs};
    stream_tiles<Cfg>((k_end + BK - 1) / BK, kv, [&](int it, int buf) {
        const int k0 = it * BK;
        const __nv_bfloat16 *kt = ks + buf * BK * LD, *vt = vs + buf * BK * LD;
        int live[SR];  // keys k0 + [0, live[sr]) are at or before strip sr's last row
#pragma unroll
        for (int sr = 0; sr < SR; ++sr) live[sr] = w0 + 16 * sr + 16 - k0;
        if (live[SR - 1] <= 0) return;  // (a 128-row tile's first warps, on its last key tiles)
        // whether some key of the tile is after one of this warp's rows: only then is the causal mask needed
        const bool diagonal = k0 + BK - 1 > w0;
        float s[SR][NT][4] = {};
#pragma unroll
        for (int kk = 0; kk < HS / 16; ++kk) {
            if constexpr (kQRegs) {
                strips_times_nmajor<NT, SR>(s, qf[kk], kt + kk * 16, LD, live, lane);
            } else {
#pragma unroll
                for (int sr = 0; sr < SR; ++sr) load_a(qf[0][sr], q_warp + sr * 16 * LD + kk * 16, LD, lane);
                strips_times_nmajor<NT, SR>(s, qf[0], kt + kk * 16, LD, live, lane);
            }
        }
#pragma unroll
        for (int sr = 0; sr < SR; ++sr) {
            const int rs = row0 + 16 * sr;  // this thread's rows of strip sr: rs, rs + 8
            // causal mask (key j > row i: −∞) and the new running max, in unscaled q·k (scale_log2 > 0 keeps the
            // order); a row's 4 threads share it through shuffles
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int i = rs + (e >> 1) * 8, j = k0 + nt * 8 + q2 + (e & 1);
                    if (diagonal && j > i) s[sr][nt][e] = -INFINITY;
                    mx[e >> 1] = fmaxf(mx[e >> 1], s[sr][nt][e]);
                }
            float alpha[2], ref[2];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                const float m_new = fmaxf(m[sr][r], mx[r] * scale_log2);  // (−∞ · scale stays −∞)
                ref[r] = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing yet: no NaN from −∞ − −∞
                alpha[r] = fast_exp2(m[sr][r] - ref[r]);    // 0 on the first tile (m = −∞)
                m[sr][r] = m_new;
                l[sr][r] *= alpha[r];
            }
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = e >> 1;
                    const float pt = fast_exp2(fmaf(s[sr][nt][e], scale_log2, -ref[r]));  // 2^(−∞) = 0 (masked)
                    l[sr][r] += pt;
                    if (p > 0 && pt > 0) {
                        const int i = rs + r * 8, j = k0 + nt * 8 + q2 + (e & 1);
                        s[sr][nt][e] = pt * dropout_mask(key, ((int64_t)bh * t_len + i) * t_len + j, p, keep_scale);
                    } else {
                        s[sr][nt][e] = pt;
                    }
                }
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
                o[sr][dt][0] *= alpha[0];
                o[sr][dt][1] *= alpha[0];
                o[sr][dt][2] *= alpha[1];
                o[sr][dt][3] *= alpha[1];
            }
        }
        strips_times_kmajor<NT, DT, SR>(o, s, vt, LD, live, lane);  // o += (p̃ ⊙ mask)·V
    });
#pragma unroll
    for (int sr = 0; sr < SR; ++sr) {
        float inv[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            l[sr][r] += __shfl_xor_sync(0xffffffffu, l[sr][r], 1);  // the row's 4 shares, in a fixed order
            l[sr][r] += __shfl_xor_sync(0xffffffffu, l[sr][r], 2);
            inv[r] = 1.0f / l[sr][r];
            const int i = row0 + 16 * sr + r * 8;
            if (i < t_len && (lane & 3) == 0) lse2[(int64_t)bh * t_len + i] = m[sr][r] + log2f(l[sr][r]);
        }
        store_strip<DT>(out + (int64_t)b * t_len * c + (int64_t)h * HS, c, o[sr], inv, row0 + 16 * sr, t_len, lane);
    }
}

// D_i = Σ_d ∂out_id·out_id for each (b, h, i), one warp each (a fixed-order shuffle sum). out is the FP32 attention
// output or its BF16 copy (the bf16 precision keeps only that, as PyTorch's flash attention keeps a BF16 output).
// ∂out enters rounded to BF16 exactly as the backward's tiles hold it (as_mma_operand): ∂s_ij = a_ij·(∂ã_ij − D_i)
// cancels to rounding level only if D_i = Σ_j ã_ij·∂ã_ij for the kernels' own ∂ã_ij = bf16(∂out_i)·v_j. With the
// FP32 ∂out, D_i carried an extra Σ_d (∂out_id − bf16(∂out_id))·out_id, which every a_ij·(...) of the row repeats:
// at T = 1, where the exact ∂q and ∂k are 0, that residue alone was up to 3× ∂qkv's norm on outlier data (CPU
// emulation, 40 seeds; the self-test's T = 1 failure on the H200).
// dout16 (N × C, or null): where to write that rounding of ∂out as BF16 (kTuneDoutBf16: the backward kernels then
// read it instead of converting FP32 ∂out on every key tile; the same bits as their own rounding, bf16x4).
template <class O>
__global__ void delta_kernel(float* __restrict__ delta, __nv_bfloat16* __restrict__ dout16,
                             const float* __restrict__ dout, const O* __restrict__ out, int b, int t_len, int nh,
                             int hs) {
    const int64_t w = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    if (w >= (int64_t)b * nh * t_len) return;
    const int lane = threadIdx.x % 32, i = (int)(w % t_len);
    const int64_t bh = w / t_len;
    const int64_t at = ((bh / nh) * t_len + i) * (int64_t)nh * hs + (bh % nh) * (int64_t)hs;
    float sum = 0.f;
    for (int d = lane; d < hs; d += 32) {
        const __nv_bfloat16 g = __float2bfloat16_rn(dout[at + d]);  // as_mma_operand's rounding
        if (dout16 != nullptr) dout16[at + d] = g;
        sum += __bfloat162float(g) * (float)out[at + d];
    }
    sum = warp_sum(sum);
    if (lane == 0) delta[w] = sum;
}

}  // namespace flash

#if !defined(I4T_FLASH_HOST_EMULATION)  // (the emulation runs the kernels only)
bool flash_attention_supported(int hs, int64_t sequences_heads) {
    return hs >= 16 && hs <= 128 && hs % 16 == 0 && sequences_heads <= 65535;  // (grid_of: y = b·H + h)
}

cudaError_t flash_attention_prepare() {
    cudaError_t e = cudaSuccess;
    for (int hs = 16; hs <= 128 && e == cudaSuccess; hs += 16)
        flash::with_head_size(hs, [&](auto hsc) {
            constexpr int HS = decltype(hsc)::value;
            flash::for_each_config<HS, flash::Pass::forward>([&](auto cfg) {
                using Cfg = decltype(cfg);
                if (e == cudaSuccess)
                    e = cudaFuncSetAttribute(flash::forward_kernel<HS, Cfg, __nv_bfloat16>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             flash::forward_smem<HS, Cfg>());
                if (e == cudaSuccess)
                    e = cudaFuncSetAttribute(flash::forward_kernel<HS, Cfg, float>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             flash::forward_smem<HS, Cfg>());
            });
        });
    return e != cudaSuccess ? e : flash::prepare_backward();
}

template <class Q>
static cudaError_t launch_forward(cudaStream_t s, AttentionShape sh, float* out, float* lse2, const Q* qkv, float p,
                                  DropoutKey key) {
    const int hs = sh.c / sh.nh;
    const float scale_log2 = flash::kLog2e / sqrtf((float)hs), keep_scale = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    const bool known = flash::with_head_size(hs, [&](auto hsc) {
        constexpr int HS = decltype(hsc)::value;
        flash::with_config<HS, flash::Pass::forward>([&](auto cfg) {
            using Cfg = decltype(cfg);
            flash::forward_kernel<HS, Cfg, Q>
                <<<flash::grid_of<Cfg>(sh), flash::threads_of<Cfg>(), flash::forward_smem<HS, Cfg>(), s>>>(
                    out, lse2, qkv, sh.nh, sh.t, scale_log2, p, keep_scale, key);
        });
    });
    return known ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t flash_attention_forward(cudaStream_t s, AttentionShape sh, float* out, float* lse2,
                                    const __nv_bfloat16* qkv, float p, DropoutKey key) {
    return launch_forward(s, sh, out, lse2, qkv, p, key);
}

cudaError_t flash_attention_forward(cudaStream_t s, AttentionShape sh, float* out, float* lse2, const float* qkv,
                                    float p, DropoutKey key) {
    return launch_forward(s, sh, out, lse2, qkv, p, key);
}

// (the same answer for every head size: each default has the bit, and a set switch applies to all)
bool flash_attention_bf16_dout() { return (flash::tune_bits(64) & flash::kTuneDoutBf16) != 0; }

cudaError_t flash_attention_delta(cudaStream_t s, AttentionShape sh, float* delta, const float* dout,
                                  const float* out, const __nv_bfloat16* out_bf16, __nv_bfloat16* dout_bf16) {
    const int hs = sh.c / sh.nh;
    const int64_t warps = (int64_t)sh.b * sh.nh * sh.t;
    const unsigned blocks = (unsigned)ceil_div(warps, 8);
    if (out) flash::delta_kernel<<<blocks, 256, 0, s>>>(delta, dout_bf16, dout, out, sh.b, sh.t, sh.nh, hs);
    else flash::delta_kernel<<<blocks, 256, 0, s>>>(delta, dout_bf16, dout, out_bf16, sh.b, sh.t, sh.nh, hs);
    return cudaGetLastError();
}

#endif

}  // namespace i4t::nn
