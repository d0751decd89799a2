// config_table.cu — the integer GEMM on Hopper (method.md §2.3 step 4, §7.5): CUTLASS 3.x/4.x SM90 kernels,
// int8 × int8 → int32 on wgmma (IGMMA), TMA warp-specialized. A small table of configurations (tile, cluster,
// schedule) is compiled in and one is picked per shape (gemm_sm90_pick); INT32 accumulation is exact whatever the
// tile, so every configuration gives bit-identical results.
// "TN": A is M×K row-major, B is N×K (= K×N column-major), D = A·Bᵀ is M×N row-major int32.
// INT4 codes in [−8, 7] are exact in int8, so the INT32 result is bit-identical to an INT4 GEMM (§7.5: Hopper
// has no 4-bit wgmma and its 4-bit mma.sync is emulated). Compiled for sm_90a only (its own translation unit).
// Requirements (the callers pad): K % 32 == 0 (16-byte TMA rows), N % 4 == 0 (16-byte int32 output rows).
// Build option INT4TRAIN_GEMM_TUNED=0 compiles only configuration 0 (the original 128×128×128, cluster 1×1).
#include "gemm_s8_sm90.cuh"
#include "runtime/launch.cuh"

#ifndef INT4TRAIN_GEMM_TUNED
#define INT4TRAIN_GEMM_TUNED 1
#endif

namespace i4t {
using namespace cute;
using namespace sm90;

namespace {
// The table, index = configuration number of the C ABI (int4train_bench_gemm_configs) and of gemm_sm90_cfg.
struct Sm90Config {
    const char* name;
    size_t (*workspace)(int m, int n, int k, int sm_count);
    int4train_status (*run)(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                            int sm_count, void* ws, size_t ws_bytes);
};
const Sm90Config kConfigs_[] = {
    {"0: tile 128x128x128, cluster 1x1, cooperative", gemm_sm90_t128x128x128_c1x1_coop_workspace,
     gemm_sm90_t128x128x128_c1x1_coop_run},
#if INT4TRAIN_GEMM_TUNED
    {"1: tile 128x256x128, cluster 2x1, cooperative", gemm_sm90_t128x256x128_c2x1_coop_workspace,
     gemm_sm90_t128x256x128_c2x1_coop_run},
    {"2: tile 256x128x128, cluster 1x2, cooperative", gemm_sm90_t256x128x128_c1x2_coop_workspace,
     gemm_sm90_t256x128x128_c1x2_coop_run},
    {"3: tile 128x128x128, cluster 2x1, ping-pong", gemm_sm90_t128x128x128_c2x1_pingpong_workspace,
     gemm_sm90_t128x128x128_c2x1_pingpong_run},
#endif
};
constexpr int kConfigs = (int)(sizeof kConfigs_ / sizeof kConfigs_[0]);
}  // namespace
int gemm_sm90_config_count() { return kConfigs; }
const char* gemm_sm90_config_name(int cfg) { return (cfg >= 0 && cfg < kConfigs) ? kConfigs_[cfg].name : "?"; }

// The tuned table, measured on the H200 (perf/results/2026-12-01-h200-gemm-sweep.md, every layer GEMM of T8192/16384 ×
// h1024–8192): with K <= 4096 the 128×128 ping-pong kernel with a 2×1 cluster is 10–20 % faster than the cooperative
// ones (its two consumer warp groups overlap one tile's epilogue with the next tile's MMAs, which matters when each
// tile has few k-blocks); with a longer K the 128×256 cooperative tile with a 2×1 cluster is fastest wherever it
// gives at least one full wave of output tiles; small problems keep the 128×128 cooperative tile.
int gemm_sm90_pick(int m, int n, int k, int sm_count) {
#if INT4TRAIN_GEMM_TUNED
    if (k <= 4096 && ceil_div(m, 128) * ceil_div(n, 128) >= sm_count) return 3;
    const int64_t tiles_wide = ceil_div(m, 128) * ceil_div(n, 256);
    if (tiles_wide >= sm_count) return 1;
#else
    (void)m; (void)n; (void)k; (void)sm_count;
#endif
    return 0;
}

size_t gemm_sm90_workspace_cfg(int cfg, int m, int n, int k, int sm_count) {
    return kConfigs_[(cfg >= 0 && cfg < kConfigs) ? cfg : 0].workspace(m, n, k, sm_count);
}

int4train_status gemm_sm90_cfg(int cfg, cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n,
                               int k, int sm_count, void* ws, size_t ws_bytes) {
    if (cfg < 0 || cfg >= kConfigs)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "CUTLASS SM90 GEMM: no configuration %d", cfg);
    return kConfigs_[cfg].run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
}

size_t gemm_sm90_workspace(int m, int n, int k, int sm_count) {
    return gemm_sm90_workspace_cfg(gemm_sm90_pick(m, n, k, sm_count), m, n, k, sm_count);
}

int4train_status gemm_sm90(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                           int sm_count, void* ws, size_t ws_bytes) {
    return gemm_sm90_cfg(gemm_sm90_pick(m, n, k, sm_count), stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
}

#if defined(INT4TRAIN_HAS_SM90_DQ)
// The FP32-output GEMMs take the configuration gemm_sm90_pick gives the plain GEMM (0, 1 or 3; the wide and ping-pong
// ones are compiled only with the tuned table).
#if INT4TRAIN_GEMM_TUNED
// One shape pick per call: the entry of the configuration gemm_sm90_pick names (3, 1, otherwise the base tile).
template <class Fn>
static Fn fp32_pick(int m, int n, int k, int sm_count, Fn pingpong, Fn wide, Fn base) {
    switch (gemm_sm90_pick(m, n, k, sm_count)) {
        case 3: return pingpong;
        case 1: return wide;
        default: return base;
    }
}
#define I4T_FP32_PICK(kind, fn)                                                                                \
    fp32_pick(m, n, k, sm_count, gemm_sm90_##kind##_t128x128x128_c2x1_pingpong_##fn,                          \
              gemm_sm90_##kind##_t128x256x128_c2x1_coop_##fn, gemm_sm90_##kind##_t128x128x128_c1x1_coop_##fn)
#else
#define I4T_FP32_PICK(kind, fn) (gemm_sm90_##kind##_t128x128x128_c1x1_coop_##fn)
#endif

size_t gemm_sm90_dq_workspace(int m, int n, int k, int sm_count) {
    return I4T_FP32_PICK(dq, workspace)(m, n, k, sm_count);
}

int4train_status gemm_sm90_dq(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias, const float* sx,
                              const float* sw, float* y, int ldy, int m, int n, int k, int sm_count, void* ws,
                              size_t ws_bytes) {
    return I4T_FP32_PICK(dq, run)(stream, a, b, bias, sx, sw, y, ldy, m, n, k, sm_count, ws, ws_bytes);
}

#if defined(INT4TRAIN_HAS_SM90_DQ_BF16)
// The BF16-output dequantize: the same configuration as the FP32 one of the shape.
size_t gemm_sm90_dq_bf16_workspace(int m, int n, int k, int sm_count) {
    return I4T_FP32_PICK(dq_bf16, workspace)(m, n, k, sm_count);
}

int4train_status gemm_sm90_dq_bf16(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias,
                                   const float* sx, const float* sw, __nv_bfloat16* y, int ldy, int m, int n, int k,
                                   int sm_count, void* ws, size_t ws_bytes) {
    return I4T_FP32_PICK(dq_bf16, run)(stream, a, b, bias, sx, sw, y, ldy, m, n, k, sm_count, ws, ws_bytes);
}
#endif

size_t gemm_sm90_lss_workspace(int m, int n, int k, int sm_count) {
    return I4T_FP32_PICK(lss, workspace)(m, n, k, sm_count);
}

int4train_status gemm_sm90_lss(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* s_outer,
                               const float* s_inner, float* y, int ldy, int m, int n, int k, int sm_count, void* ws,
                               size_t ws_bytes) {
    return I4T_FP32_PICK(lss, run)(stream, a, b, s_outer, s_inner, nullptr, y, ldy, m, n, k, sm_count, ws, ws_bytes);
}
#endif

}  // namespace i4t
