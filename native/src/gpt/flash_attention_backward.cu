// flash_attention_backward.cu — fused causal attention, backward (FlashAttention-2), deterministic: two kernels that
// each recompute the probabilities from q, k and the forward's lse₂, one over key tiles writing ∂k and ∂v, one over
// query tiles writing ∂q. Every output element is summed by one thread in one fixed order: no atomics, the same bits
// on every run (graph replay = eager, resume exact).
//
// With s_ij = q_i·k_j/√hs, a = softmax_causal(s), ã = a ⊙ mask (dropout), out = ã·v and g = ∂L/∂out:
//   a_ij   = 2^(s_ij·log₂e − lse₂_i)                         (recomputed; 0 for j > i)
//   ∂v_j   = Σ_i ã_ij·g_i
//   ∂ã_ij  = g_i·v_j,   ∂a_ij = mask_ij·∂ã_ij
//   ∂s_ij  = a_ij·(∂a_ij − Σ_j' a_ij'·∂a_ij') = a_ij·(mask_ij·(g_i·v_j) − D_i)
//            with D_i = Σ_j a_ij·mask_ij·(g_i·v_j) = g_i·(Σ_j ã_ij·v_j) = g_i·out_i  (flash_attention_delta)
//   ∂q_i   = (1/√hs)·Σ_j ∂s_ij·k_j,   ∂k_j = (1/√hs)·Σ_i ∂s_ij·q_i
// The same element index as the forward keys the dropout mask. MMA operands (q, k, v, g, ã, ∂s) are BF16, sums FP32.
#include <math.h>

#include "runtime/launch.cuh"
#include "runtime/status.cuh"
#include "flash_attention.cuh"
#include "flash_attention_tiles.cuh"

namespace i4t::nn {
namespace flash {

template <int HS, class Cfg> constexpr int kv_smem() {  // k, v (the block's rows); q, g, lse₂, D (buffered)
    constexpr int BQ = Cfg::template kv_inner<HS>(), NB = buffers_of<Cfg>();
    return 2 * (tile_of<Cfg>() + NB * BQ) * padded<HS>() * (int)sizeof(__nv_bfloat16) +
           2 * NB * BQ * (int)sizeof(float);
}
template <int HS, class Cfg> constexpr int q_smem() {  // q, g (the block's rows); k, v (buffered)
    return 2 * (tile_of<Cfg>() + buffers_of<Cfg>() * Cfg::template q_inner<HS>()) * padded<HS>() *
           (int)sizeof(__nv_bfloat16);
}

// What both kernels take (one struct: the two launches pass the same values). Q: qkv's element type, the BF16 copy
// the device GPT keeps, or FP32 (the self-test's and the CPU emulation's input; the same tiles: load_rows).
template <class Q> struct BackwardArgs {
    float* dqkv;
    const Q* qkv;
    const float *dout, *lse2, *delta;
    int nh, t_len;
    float scale_log2, scale, p, keep_scale;
    DropoutKey dk;
    const __nv_bfloat16* dout16 = nullptr;  // dout rounded to BF16 (flash_attention_delta), for the G = BF16 builds
};

// Block (x: tile, y: b·H + h)'s head: the first element of its q row 0 in qkv and in dqkv (k at +c, v at +2c), of its
// ∂out row 0 (G: FP32 ∂out, or its BF16 copy BackwardArgs::dout16), its lse₂/D rows (bh·T + i) and its dropout key.
template <class Q, class G> struct Head {
    const Q* qkv;
    const G* dout;
    float* dqkv;
    int64_t bh, row_len;
    int c;
    uint64_t key;
};
template <int HS, class G, class Q> __device__ __forceinline__ Head<Q, G> head_of(const BackwardArgs<Q>& a) {
    const int bh = blockIdx.y, b = bh / a.nh, h = bh % a.nh, c = a.nh * HS;
    const int64_t row_len = 3 * (int64_t)c, first = (int64_t)b * a.t_len;
    const G* dout;
    if constexpr (std::is_same_v<G, float>) dout = a.dout;
    else dout = a.dout16;
    return Head<Q, G>{a.qkv + first * row_len + (int64_t)h * HS, dout + first * c + (int64_t)h * HS,
                      a.dqkv + first * row_len + (int64_t)h * HS, bh, row_len, c, a.p > 0 ? site_key(a.dk) : 0};
}

// The recomputed a_ij and ∂s_ij of one score element: sc = q_i·k_j (FP32 accumulator), dp = g_i·v_j; returns
// ã_ij = a·mask in *ad (for ∂v) and ∂s_ij. Shared by both kernels so they agree on every rule (mask, index, base 2).
// kInterior: the caller knows j ≤ i < T for the whole tile (interior_tile), so the tests are left out.
template <bool kInterior, class Q, class G>
__device__ __forceinline__ float score_grad(float sc, float dp, int i, int j, float lse2, float d,
                                            const BackwardArgs<Q>& g, const Head<Q, G>& hd, float* ad) {
    const int64_t t = g.t_len;
    const bool valid = kInterior || (j <= i && i < t);
    const float a = valid ? fast_exp2(fmaf(sc, g.scale_log2, -lse2)) : 0.f;
    const float mk = g.p > 0 && valid ? dropout_mask(hd.key, (hd.bh * t + i) * t + j, g.p, g.keep_scale) : 1.f;
    *ad = __fmul_rn(a, mk);
    // Every rounding spelled out (no contraction left to the compiler): the interior and the general instantiation
    // then round alike whatever the code generator does with either (under compute-sanitizer memcheck the tuned
    // kernels differed from the default ones in 64 elements, 2026-12-02, while they agree bit for bit without it).
    return __fmul_rn(a, __fmaf_rn(mk, dp, -d));
}

// Whether a warp's score tile — queries [i_first, i_last], keys up to j_last — lies wholly at or below the diagonal
// and before T: every element valid (j ≤ i < T), score_grad<true>'s case.
// Only configurations with kInteriorFast (INT4TRAIN_FLASH_TUNE bit 2) look; the others always take the full tests.
template <class Cfg>
__device__ __forceinline__ bool interior_tile(int i_first, int i_last, int j_last, int t_len) {
    return Cfg::kInteriorFast && j_last <= i_first && i_last < t_len;
}

// Runs f(std::true_type) on an interior tile, else f(std::false_type): score_grad's loop built both ways only where
// Cfg has the switch.
template <class Cfg, class F> __device__ __forceinline__ void by_tile_kind(bool interior, F&& f) {
    if constexpr (Cfg::kInteriorFast) {
        if (interior) return f(std::true_type{});
    }
    f(std::false_type{});
}

// ∂k, ∂v of a tile of 16 keys per warp, the queries i ≥ k0 streaming through shared memory BQ at a time.
// The warp computes the transposed scores Sᵀ = K_w·Qᵀ (rows = its keys), so ãᵀ and ∂sᵀ are A fragments of
// ∂v += ãᵀ·G and ∂k += ∂sᵀ·Q straight from the registers.
template <int HS, class Cfg, class Q, class G>
__global__ void __launch_bounds__(threads_of<Cfg>(), Cfg::kMinBlocks) kv_kernel(const BackwardArgs<Q> args) {
    constexpr int TILE = tile_of<Cfg>(), THREADS = threads_of<Cfg>(), BQ = Cfg::template kv_inner<HS>();
    constexpr int LD = padded<HS>(), NT = BQ / 8, DT = HS / 8, NB = buffers_of<Cfg>();
    static_assert(Cfg::kStrips == 1, "one 16-row strip a warp");
    extern __shared__ __align__(16) unsigned char smem[];
    __nv_bfloat16* ks = reinterpret_cast<__nv_bfloat16*>(smem);  // TILE × LD
    __nv_bfloat16* vs = ks + TILE * LD;                            // TILE × LD
    __nv_bfloat16* qs = vs + TILE * LD;  // NB × BQ × LD: Qᵀ's B of Sᵀ = K·Qᵀ (n-major), Q's B of ∂k (k-major)
    __nv_bfloat16* gs = qs + NB * BQ * LD;  // NB × BQ × LD: Gᵀ's B of ∂ãᵀ = V·Gᵀ, G's B of ∂v
    float* ls = reinterpret_cast<float*>(gs + NB * BQ * LD);  // NB × BQ
    float* ds = ls + NB * BQ;                                 // NB × BQ
    const Head<Q, G> hd = head_of<HS, G>(args);
    const int t_len = args.t_len, c = hd.c;
    const int k0 = blockIdx.x * TILE;  // the first key tiles see the most queries: each head's first
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q2 = (lane & 3) * 2;
    const int key0 = k0 + warp * 16 + (lane >> 2);  // this thread's keys: key0 and key0 + 8

    load_own_rows<Cfg, TILE, HS>(ks, hd.qkv + c, hd.row_len, k0, t_len);
    load_own_rows<Cfg, TILE, HS>(vs, hd.qkv + 2 * c, hd.row_len, k0, t_len);
    float dkacc[DT][4] = {}, dvacc[DT][4] = {};
    // the queries q0 = k0 + it·BQ (TILE is a multiple of BQ: k0 starts on a query tile)
    TilePair<BQ, HS, THREADS, Q, G> qg{hd.qkv, hd.dout, hd.row_len, c, args.lse2 + hd.bh * t_len,
                                 args.delta + hd.bh * t_len, k0, t_len, qs, gs, ls, ds};
    stream_tiles<Cfg>((t_len - k0 + BQ - 1) / BQ, qg, [&](int it, int buf) {
        const int q0 = k0 + it * BQ;
        if (k0 + warp * 16 > q0 + BQ - 1) return;  // all of this warp's keys are after all these queries
        const __nv_bfloat16 *qt = qs + buf * BQ * LD, *gt = gs + buf * BQ * LD;
        const float *lt = ls + buf * BQ, *dtl = ds + buf * BQ;
        const int lo = k0 + warp * 16 - q0;  // queries q0 + [lo, BQ) are at or after this warp's first key
        float st[NT][4] = {}, dpt[NT][4] = {};  // Sᵀ = K_w·Qᵀ, ∂ãᵀ = V_w·Gᵀ
        strip_products<HS, NT>(st, dpt, ks + warp * 16 * LD, qt, vs + warp * 16 * LD, gt, LD, lo, BQ, lane);
        by_tile_kind<Cfg>(interior_tile<Cfg>(q0, q0 + BQ - 1, k0 + warp * 16 + 15, t_len), [&](auto interior) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) {  // element (key j, query i) of the transposed tile
                    const int col = nt * 8 + q2 + (e & 1), i = q0 + col, j = key0 + (e >> 1) * 8;
                    float ad;
                    dpt[nt][e] = score_grad<decltype(interior)::value>(st[nt][e], dpt[nt][e], i, j, lt[col],
                                                                       dtl[col], args, hd, &ad);
                    st[nt][e] = ad;
                }
        });
        strip_times_kmajor<NT, DT>(dvacc, st, gt, LD, lo, BQ, lane);   // ∂v += ãᵀ·G
        strip_times_kmajor<NT, DT>(dkacc, dpt, qt, LD, lo, BQ, lane);  // ∂k += ∂sᵀ·Q (times 1/√hs below)
    });
    store_strip<DT>(hd.dqkv + c, hd.row_len, dkacc, {args.scale, args.scale}, key0, t_len, lane);
    store_strip<DT>(hd.dqkv + 2 * c, hd.row_len, dvacc, {1.f, 1.f}, key0, t_len, lane);
}

// ∂q of a tile of 16 queries per warp, the keys j ≤ the tile's last query streaming BK at a time:
// S = Q_w·Kᵀ and ∂ã = G_w·Vᵀ as in the forward, then ∂q += ∂s·K from the registers.
template <int HS, class Cfg, class Q, class G>
__global__ void __launch_bounds__(threads_of<Cfg>(), Cfg::kMinBlocks) q_kernel(const BackwardArgs<Q> args) {
    constexpr int TILE = tile_of<Cfg>(), THREADS = threads_of<Cfg>(), BK = Cfg::template q_inner<HS>();
    constexpr int LD = padded<HS>(), NT = BK / 8, DT = HS / 8, NB = buffers_of<Cfg>();
    static_assert(Cfg::kStrips == 1, "one 16-row strip a warp");
    extern __shared__ __align__(16) unsigned char smem[];
    __nv_bfloat16* qs = reinterpret_cast<__nv_bfloat16*>(smem);  // TILE × LD
    __nv_bfloat16* gs = qs + TILE * LD;                            // TILE × LD
    __nv_bfloat16* ks = gs + TILE * LD;       // NB × BK × LD: Kᵀ's B of S (n-major), K's B of ∂q (k-major)
    __nv_bfloat16* vs = ks + NB * BK * LD;    // NB × BK × LD: Vᵀ's B of ∂ã
    const Head<Q, G> hd = head_of<HS, G>(args);
    const int t_len = args.t_len, c = hd.c;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * TILE;  // each head's longest rows first
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q2 = (lane & 3) * 2;
    const int row0 = q0 + warp * 16 + (lane >> 2);  // this thread's queries: row0 and row0 + 8

    load_own_rows<Cfg, TILE, HS>(qs, hd.qkv, hd.row_len, q0, t_len);
    load_own_rows<Cfg, TILE, HS>(gs, hd.dout, c, q0, t_len);
    float lr[2], dr[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = row0 + r * 8;
        lr[r] = i < t_len ? args.lse2[hd.bh * t_len + i] : 0.f;
        dr[r] = i < t_len ? args.delta[hd.bh * t_len + i] : 0.f;
    }
    float dqacc[DT][4] = {};
    const int k_end = min(t_len, q0 + TILE);
    TilePair<BK, HS, THREADS, Q, Q> kv{hd.qkv + c, hd.qkv + 2 * c, hd.row_len, hd.row_len, nullptr, nullptr, 0, t_len,
                                 ks, vs};
    stream_tiles<Cfg>((k_end + BK - 1) / BK, kv, [&](int it, int buf) {
        const int k0 = it * BK;
        if (k0 > q0 + warp * 16 + 15) return;  // all these keys are after all of this warp's queries
        const __nv_bfloat16 *kt = ks + buf * BK * LD, *vt = vs + buf * BK * LD;
        const int live = q0 + warp * 16 + 16 - k0;  // keys k0 + [0, live) are at or before this warp's last query
        float s[NT][4] = {}, dp[NT][4] = {};  // S = Q_w·Kᵀ, ∂ã = G_w·Vᵀ
        strip_products<HS, NT>(s, dp, qs + warp * 16 * LD, kt, gs + warp * 16 * LD, vt, LD, 0, live, lane);
        const int i_first = q0 + warp * 16;
        by_tile_kind<Cfg>(interior_tile<Cfg>(i_first, i_first + 15, k0 + BK - 1, t_len), [&](auto interior) {
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = e >> 1, i = row0 + r * 8, j = k0 + nt * 8 + q2 + (e & 1);
                    float ad;
                    s[nt][e] = score_grad<decltype(interior)::value>(s[nt][e], dp[nt][e], i, j, lr[r], dr[r], args,
                                                                     hd, &ad);
                }
        });
        strip_times_kmajor<NT, DT>(dqacc, s, kt, LD, 0, live, lane);  // ∂q += ∂s·K (times 1/√hs below)
    });
    store_strip<DT>(hd.dqkv, hd.row_len, dqacc, {args.scale, args.scale}, row0, t_len, lane);
}

#if !defined(I4T_FLASH_HOST_EMULATION)  // (the emulation runs the kernels only)
template <class Q> static cudaError_t prepare_backward_of() {
    cudaError_t e = cudaSuccess;
    for (int hs = 16; hs <= 128 && e == cudaSuccess; hs += 16)
        with_head_size(hs, [&](auto hsc) {
            constexpr int HS = decltype(hsc)::value;
            auto allow = [&](auto kernel, int smem) {
                if (e == cudaSuccess) e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
            };
            for_each_config<HS, Pass::kv>([&](auto cfg) {
                using Cfg = decltype(cfg);
                allow(kv_kernel<HS, Cfg, Q, float>, kv_smem<HS, Cfg>());
                if constexpr (takes_bf16_dout<HS, Cfg>()) allow(kv_kernel<HS, Cfg, Q, __nv_bfloat16>, kv_smem<HS, Cfg>());
            });
            for_each_config<HS, Pass::q>([&](auto cfg) {
                using Cfg = decltype(cfg);
                allow(q_kernel<HS, Cfg, Q, float>, q_smem<HS, Cfg>());
                if constexpr (takes_bf16_dout<HS, Cfg>()) allow(q_kernel<HS, Cfg, Q, __nv_bfloat16>, q_smem<HS, Cfg>());
            });
        });
    return e;
}

// One backward kernel of Cfg on its grid: kernel_of(G{}) its build for ∂out of type G — the BF16 copy where the
// caller gave one and Cfg has that build (takes_bf16_dout), else FP32.
template <int HS, class Cfg, class Q, class KernelOf>
static void launch_pass(cudaStream_t s, AttentionShape sh, int smem, const BackwardArgs<Q>& args, KernelOf kernel_of) {
    void (*kernel)(BackwardArgs<Q>) = kernel_of(0.f);
    if constexpr (takes_bf16_dout<HS, Cfg>()) {
        if (args.dout16 != nullptr) kernel = kernel_of(__nv_bfloat16{});
    }
    kernel<<<grid_of<Cfg>(sh), threads_of<Cfg>(), smem, s>>>(args);
}

cudaError_t prepare_backward() {
    const cudaError_t e = prepare_backward_of<__nv_bfloat16>();
    return e != cudaSuccess ? e : prepare_backward_of<float>();
}
#endif

}  // namespace flash

#if !defined(I4T_FLASH_HOST_EMULATION)
template <class Q>
static cudaError_t launch_backward(cudaStream_t s, AttentionShape sh, float* dqkv, const float* dout, const Q* qkv,
                                   const float* lse2, const float* delta, float p, DropoutKey key,
                                   const __nv_bfloat16* dout16) {
    const int hs = sh.c / sh.nh;
    const float scale = 1.0f / sqrtf((float)hs), scale_log2 = flash::kLog2e * scale;
    const float keep_scale = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    const flash::BackwardArgs<Q> args{dqkv, qkv,        dout,  lse2, delta,      sh.nh,
                                      sh.t, scale_log2, scale, p,    keep_scale, key, dout16};
    const bool known = flash::with_head_size(hs, [&](auto hsc) {
        constexpr int HS = decltype(hsc)::value;
        // both kernels on one grid (every configuration of V1 or V2 has that shape's tiles)
        flash::with_config<HS, flash::Pass::kv>([&](auto cfg) {
            using Cfg = decltype(cfg);
            flash::launch_pass<HS, Cfg>(s, sh, flash::kv_smem<HS, Cfg>(), args,
                                        [&](auto g) { return &flash::kv_kernel<HS, Cfg, Q, decltype(g)>; });
        });
        flash::with_config<HS, flash::Pass::q>([&](auto cfg) {
            using Cfg = decltype(cfg);
            flash::launch_pass<HS, Cfg>(s, sh, flash::q_smem<HS, Cfg>(), args,
                                        [&](auto g) { return &flash::q_kernel<HS, Cfg, Q, decltype(g)>; });
        });
    });
    return known ? cudaGetLastError() : cudaErrorInvalidValue;
}

cudaError_t flash_attention_backward(cudaStream_t s, AttentionShape sh, float* dqkv, const float* dout,
                                     const __nv_bfloat16* qkv, const float* lse2, const float* delta, float p,
                                     DropoutKey key, const __nv_bfloat16* dout_bf16) {
    return launch_backward(s, sh, dqkv, dout, qkv, lse2, delta, p, key, dout_bf16);
}

cudaError_t flash_attention_backward(cudaStream_t s, AttentionShape sh, float* dqkv, const float* dout,
                                     const float* qkv, const float* lse2, const float* delta, float p,
                                     DropoutKey key, const __nv_bfloat16* dout_bf16) {
    return launch_backward(s, sh, dqkv, dout, qkv, lse2, delta, p, key, dout_bf16);
}
#endif

}  // namespace i4t::nn
