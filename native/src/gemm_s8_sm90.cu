// gemm_s8_sm90.cu — the integer GEMM on Hopper (algorithm.md §2.3 step 4, §7.5): CUTLASS 3.x/4.x SM90 kernels,
// int8 × int8 → int32 on wgmma (IGMMA), TMA warp-specialized. A small table of configurations (tile, cluster,
// schedule) is compiled in and one is picked per shape (gemm_sm90_pick); INT32 accumulation is exact whatever the
// tile, so every configuration gives bit-identical results.
// "TN": A is M×K row-major, B is N×K (= K×N column-major), D = A·Bᵀ is M×N row-major int32.
// INT4 codes in [−8, 7] are exact in int8, so the INT32 result is bit-identical to an INT4 GEMM (§7.5: Hopper
// has no 4-bit wgmma and its 4-bit mma.sync is emulated). Compiled for sm_90a only (its own translation unit).
// Requirements (the callers pad): K % 32 == 0 (16-byte TMA rows), N % 4 == 0 (16-byte int32 output rows).
// Build option INT4TRAIN_GEMM_TUNED=0 compiles only configuration 0 (the original 128×128×128, cluster 1×1).
#include "gemm_s8_sm90.cuh"

#ifndef INT4TRAIN_GEMM_TUNED
#define INT4TRAIN_GEMM_TUNED 1
#endif

namespace i4t {
using namespace cute;
using namespace sm90;

// Configuration 0 (the original kernel) lives here; 1–3 in gemm_s8_sm90_cfg<N>.cu (compiled when tuned).
I4T_SM90_CONFIG(0, GemmConfig<Shape<_128, _128, _128>, Shape<_1, _1, _1>, Coop, CoopEpi>)

namespace {
#if INT4TRAIN_GEMM_TUNED
constexpr int kConfigs = 4;
#else
constexpr int kConfigs = 1;
#endif
const char* const kConfigNames[4] = {
    "0: tile 128x128x128, cluster 1x1, cooperative",
    "1: tile 128x256x128, cluster 2x1, cooperative",
    "2: tile 256x128x128, cluster 1x2, cooperative",
    "3: tile 128x128x128, cluster 2x1, ping-pong",
};
}  // namespace
int gemm_sm90_config_count() { return kConfigs; }
const char* gemm_sm90_config_name(int cfg) { return (cfg >= 0 && cfg < kConfigs) ? kConfigNames[cfg] : "?"; }

// The tuned table (measured on the H100, perf/results): the 128×256 tile with a 2×1 cluster wherever it gives
// at least one full wave of output tiles; the original 128×128 tile for small problems (more, smaller tiles).
int gemm_sm90_pick(int m, int n, int k, int sm_count) {
    (void)k;
#if INT4TRAIN_GEMM_TUNED
    const int64_t tiles_wide = ceil_div(m, 128) * ceil_div(n, 256);
    if (tiles_wide >= sm_count) return 1;
#else
    (void)m; (void)n; (void)sm_count;
#endif
    return 0;
}

size_t gemm_sm90_workspace_cfg(int cfg, int m, int n, int k, int sm_count) {
    switch (cfg) {
#if INT4TRAIN_GEMM_TUNED
        case 1: return gemm_sm90_workspace_cfg1(m, n, k, sm_count);
        case 2: return gemm_sm90_workspace_cfg2(m, n, k, sm_count);
        case 3: return gemm_sm90_workspace_cfg3(m, n, k, sm_count);
#endif
        default: return gemm_sm90_workspace_cfg0(m, n, k, sm_count);
    }
}

int4train_status gemm_sm90_cfg(int cfg, cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n,
                               int k, int sm_count, void* ws, size_t ws_bytes) {
    switch (cfg) {
        case 0: return gemm_sm90_run_cfg0(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
#if INT4TRAIN_GEMM_TUNED
        case 1: return gemm_sm90_run_cfg1(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
        case 2: return gemm_sm90_run_cfg2(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
        case 3: return gemm_sm90_run_cfg3(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
#endif
        default: return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "CUTLASS SM90 GEMM: no configuration %d", cfg);
    }
}

size_t gemm_sm90_workspace(int m, int n, int k, int sm_count) {
    return gemm_sm90_workspace_cfg(gemm_sm90_pick(m, n, k, sm_count), m, n, k, sm_count);
}

int4train_status gemm_sm90(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                           int sm_count, void* ws, size_t ws_bytes) {
    return gemm_sm90_cfg(gemm_sm90_pick(m, n, k, sm_count), stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
}

#if defined(INT4TRAIN_HAS_SM90_DQ)
// The dequantizing GEMM (hq_forward): the configuration gemm_sm90_pick gives the plain GEMM (0 or 1).
static int gemm_sm90_dq_pick(int m, int n, int k, int sm_count) {
#if INT4TRAIN_GEMM_TUNED
    return gemm_sm90_pick(m, n, k, sm_count) == 1 ? 1 : 0;
#else
    (void)m; (void)n; (void)k; (void)sm_count;
    return 0;
#endif
}

size_t gemm_sm90_dq_workspace(int m, int n, int k, int sm_count) {
#if INT4TRAIN_GEMM_TUNED
    if (gemm_sm90_dq_pick(m, n, k, sm_count) == 1) return gemm_sm90_dq_workspace_cfg1(m, n, k, sm_count);
#endif
    return gemm_sm90_dq_workspace_cfg0(m, n, k, sm_count);
}

int4train_status gemm_sm90_dq(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias, const float* sx,
                              const float* sw, float* y, int ldy, int m, int n, int k, int sm_count, void* ws,
                              size_t ws_bytes) {
#if INT4TRAIN_GEMM_TUNED
    if (gemm_sm90_dq_pick(m, n, k, sm_count) == 1)
        return gemm_sm90_dq_run_cfg1(stream, a, b, bias, sx, sw, y, ldy, m, n, k, sm_count, ws, ws_bytes);
#endif
    return gemm_sm90_dq_run_cfg0(stream, a, b, bias, sx, sw, y, ldy, m, n, k, sm_count, ws, ws_bytes);
}
#endif

}  // namespace i4t
