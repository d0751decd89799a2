// gemm_s8_sm90.cu — the integer GEMM on Hopper (algorithm.md §2.3 step 4, §7.5): CUTLASS 3.x/4.x SM90 kernels,
// int8 × int8 → int32 on wgmma (IGMMA), TMA warp-specialized. A small table of configurations (tile, cluster,
// schedule) is compiled in and one is picked per shape (gemm_sm90_pick); INT32 accumulation is exact whatever the
// tile, so every configuration gives bit-identical results.
// "TN": A is M×K row-major, B is N×K (= K×N column-major), D = A·Bᵀ is M×N row-major int32.
// INT4 codes in [−8, 7] are exact in int8, so the INT32 result is bit-identical to an INT4 GEMM (§7.5: Hopper
// has no 4-bit wgmma and its 4-bit mma.sync is emulated). Compiled for sm_90a only (its own translation unit).
// Requirements (the callers pad): K % 32 == 0 (16-byte TMA rows), N % 4 == 0 (16-byte int32 output rows).
// Build option INT4TRAIN_GEMM_TUNED=0 compiles only configuration 0 (the original 128×128×128, cluster 1×1).
#include "common.cuh"

#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/numeric_types.h>
#include <cutlass/kernel_hardware_info.h>
#include <cutlass/gemm/dispatch_policy.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/util/packed_stride.hpp>

#ifndef INT4TRAIN_GEMM_TUNED
#define INT4TRAIN_GEMM_TUNED 1
#endif

namespace i4t {
namespace {

using namespace cute;

using ElementA = int8_t;
using ElementB = int8_t;
using ElementC = int32_t;
using ElementD = int32_t;
using ElementAcc = int32_t;
using ElementCompute = int32_t;
using LayoutA = cutlass::layout::RowMajor;
using LayoutB = cutlass::layout::ColumnMajor;
using LayoutC = cutlass::layout::RowMajor;
constexpr int kAlignA = 16;  // elements (16 bytes)
constexpr int kAlignB = 16;
constexpr int kAlignC = 4;   // int32: 16 bytes

template <class TileShape, class ClusterShape, class KernelSchedule, class EpilogueSchedule>
struct GemmConfig {
    using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
        cutlass::epilogue::collective::EpilogueTileAuto, ElementAcc, ElementCompute, ElementC, LayoutC, kAlignC,
        ElementD, LayoutC, kAlignC, EpilogueSchedule>::CollectiveOp;

    using CollectiveMainloop = typename cutlass::gemm::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, ElementA, LayoutA, kAlignA, ElementB, LayoutB, kAlignB,
        ElementAcc, TileShape, ClusterShape,
        cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
            sizeof(typename CollectiveEpilogue::SharedStorage))>,
        KernelSchedule>::CollectiveOp;

    using GemmKernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, CollectiveMainloop,
                                                            CollectiveEpilogue>;
    using Gemm = cutlass::gemm::device::GemmUniversalAdapter<GemmKernel>;
    using StrideA = typename Gemm::GemmKernel::StrideA;
    using StrideB = typename Gemm::GemmKernel::StrideB;
    using StrideC = typename Gemm::GemmKernel::StrideC;
    using StrideD = typename Gemm::GemmKernel::StrideD;

    static typename Gemm::Arguments make_args(const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                                              int sm_count) {
        StrideA sa = cutlass::make_cute_packed_stride(StrideA{}, make_shape(m, k, 1));
        StrideB sb = cutlass::make_cute_packed_stride(StrideB{}, make_shape(n, k, 1));
        StrideC sc = cutlass::make_cute_packed_stride(StrideC{}, make_shape(m, n, 1));
        StrideD sd = cutlass::make_cute_packed_stride(StrideD{}, make_shape(m, n, 1));
        cutlass::KernelHardwareInfo hw;
        hw.device_id = 0;
        hw.sm_count = sm_count;
        typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                                      {m, n, k, 1},
                                      {a, sa, b, sb},
                                      {{}, c, sc, c, sd},
                                      hw};
        args.epilogue.thread.alpha = 1;
        args.epilogue.thread.beta = 0;  // C is never read
        return args;
    }

    static size_t workspace(int m, int n, int k, int sm_count) {
        auto args = make_args(nullptr, nullptr, nullptr, m, n, k, sm_count);
        return Gemm::get_workspace_size(args);
    }

    static int4train_status run(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                                int sm_count, void* ws, size_t ws_bytes) {
        auto args = make_args(a, b, c, m, n, k, sm_count);
        Gemm gemm;
        cutlass::Status st = gemm.can_implement(args);
        if (st != cutlass::Status::kSuccess)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "CUTLASS SM90 GEMM cannot implement m=%d n=%d k=%d: %s", m, n,
                        k, cutlass::cutlassGetStatusString(st));
        size_t need = Gemm::get_workspace_size(args);
        if (need > ws_bytes)
            return fail(INT4TRAIN_ERROR_INTERNAL, "CUTLASS SM90 GEMM: workspace %zu < %zu", ws_bytes, need);
        st = gemm.initialize(args, ws, stream);
        if (st != cutlass::Status::kSuccess) {
            cudaError_t e = cudaGetLastError();
            return fail(e != cudaSuccess ? INT4TRAIN_ERROR_CUDA : INT4TRAIN_ERROR_INTERNAL,
                        "CUTLASS SM90 GEMM initialize: %s (%s)", cutlass::cutlassGetStatusString(st),
                        cudaGetErrorString(e));
        }
        st = gemm.run(stream);
        if (st != cutlass::Status::kSuccess) {
            cudaError_t e = cudaGetLastError();
            return fail(e != cudaSuccess ? INT4TRAIN_ERROR_CUDA : INT4TRAIN_ERROR_INTERNAL,
                        "CUTLASS SM90 GEMM run: %s (%s)", cutlass::cutlassGetStatusString(st), cudaGetErrorString(e));
        }
        I4T_LAUNCH("CUTLASS SM90 GEMM");
        return INT4TRAIN_SUCCESS;
    }
};

using Coop = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
using CoopEpi = cutlass::epilogue::TmaWarpSpecializedCooperative;
using Cfg0 = GemmConfig<Shape<_128, _128, _128>, Shape<_1, _1, _1>, Coop, CoopEpi>;
#if INT4TRAIN_GEMM_TUNED
using Pingpong = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
using PingpongEpi = cutlass::epilogue::TmaWarpSpecialized;
using Cfg1 = GemmConfig<Shape<_128, _256, _128>, Shape<_2, _1, _1>, Coop, CoopEpi>;
using Cfg2 = GemmConfig<Shape<_256, _128, _128>, Shape<_1, _2, _1>, Coop, CoopEpi>;
using Cfg3 = GemmConfig<Shape<_128, _128, _128>, Shape<_2, _1, _1>, Pingpong, PingpongEpi>;
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
        case 1: return Cfg1::workspace(m, n, k, sm_count);
        case 2: return Cfg2::workspace(m, n, k, sm_count);
        case 3: return Cfg3::workspace(m, n, k, sm_count);
#endif
        default: return Cfg0::workspace(m, n, k, sm_count);
    }
}

int4train_status gemm_sm90_cfg(int cfg, cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n,
                               int k, int sm_count, void* ws, size_t ws_bytes) {
    switch (cfg) {
        case 0: return Cfg0::run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
#if INT4TRAIN_GEMM_TUNED
        case 1: return Cfg1::run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
        case 2: return Cfg2::run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
        case 3: return Cfg3::run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);
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

}  // namespace i4t
