// gemm_s8_sm90.cuh — the CUTLASS SM90 int8 TN GEMM template (tile, cluster, schedule), shared by the translation
// units of the configuration table (gemm_s8_sm90*.cu; one configuration per unit so they compile in parallel).
#pragma once
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

namespace i4t {
namespace sm90 {

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

// ---- The same GEMM with the HQ forward's dequantize folded into the epilogue (hq_forward.cu) --------------------
// D[i, j] = (s_X·s_W)·float(acc[i, j]) + bias[j], FP32, with the reference's arithmetic: the scale product is one
// FP32 multiply of the two device step scalars (Sm90ScalarBroadcast with two pointers, reduced by multiplies), the
// accumulator is converted round-to-nearest, then one _rn multiply and one _rn add (no FMA contraction), so Y is
// bit-identical to the separate dequantize pass. bias == nullptr adds −0.0f, which leaves every value unchanged.
template <class T>
struct MulRn {
    CUTLASS_HOST_DEVICE T operator()(T const& a, T const& b) const { return a * b; }
};
template <int N>
struct MulRn<cutlass::Array<float, N>> {
    CUTLASS_DEVICE cutlass::Array<float, N> operator()(cutlass::Array<float, N> const& a,
                                                       cutlass::Array<float, N> const& b) const {
        cutlass::Array<float, N> r;
        CUTLASS_PRAGMA_UNROLL
        for (int i = 0; i < N; ++i) r[i] = __fmul_rn(a[i], b[i]);
        return r;
    }
};
template <class T>
struct AddRn {
    CUTLASS_HOST_DEVICE T operator()(T const& a, T const& b) const { return a + b; }
};
template <int N>
struct AddRn<cutlass::Array<float, N>> {
    CUTLASS_DEVICE cutlass::Array<float, N> operator()(cutlass::Array<float, N> const& a,
                                                       cutlass::Array<float, N> const& b) const {
        cutlass::Array<float, N> r;
        CUTLASS_PRAGMA_UNROLL
        for (int i = 0; i < N; ++i) r[i] = __fadd_rn(a[i], b[i]);
        return r;
    }
};

template <class TileShape, class ClusterShape, class KernelSchedule, class EpilogueSchedule>
struct GemmDqConfig {
    static constexpr auto kRound = cutlass::FloatRoundStyle::round_to_nearest;
    using Alpha = cutlass::epilogue::fusion::Sm90ScalarBroadcast<float, Stride<_0, _0, int64_t>, 2>;
    using Acc = cutlass::epilogue::fusion::Sm90AccFetch;
    using Bias = cutlass::epilogue::fusion::Sm90RowBroadcast<0, TileShape, float, float, Stride<_0, _1, int64_t>>;
    using Scaled = cutlass::epilogue::fusion::Sm90EVT<
        cutlass::epilogue::fusion::Sm90Compute<MulRn, float, float, kRound>, Alpha, Acc>;
    using Evt = cutlass::epilogue::fusion::Sm90EVT<
        cutlass::epilogue::fusion::Sm90Compute<AddRn, float, float, kRound>, Scaled, Bias>;

    using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
        cutlass::epilogue::collective::EpilogueTileAuto, ElementAcc, float, void, LayoutC, 4,
        float, LayoutC, 4, EpilogueSchedule, Evt>::CollectiveOp;

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

    // y: m × n FP32 with row stride ldy (ldy % 4 == 0, n % 4 == 0, y 16-byte aligned); bias: n floats or nullptr.
    static typename Gemm::Arguments make_args(const int8_t* a, const int8_t* b, const float* bias, const float* sx,
                                              const float* sw, float* y, int ldy, int m, int n, int k, int sm_count) {
        StrideA sa = cutlass::make_cute_packed_stride(StrideA{}, make_shape(m, k, 1));
        StrideB sb = cutlass::make_cute_packed_stride(StrideB{}, make_shape(n, k, 1));
        StrideC sc = cutlass::make_cute_packed_stride(StrideC{}, make_shape(m, ldy, 1));
        StrideD sd = cutlass::make_cute_packed_stride(StrideD{}, make_shape(m, ldy, 1));
        cutlass::KernelHardwareInfo hw;
        hw.device_id = 0;
        hw.sm_count = sm_count;
        typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                                      {m, n, k, 1},
                                      {a, sa, b, sb},
                                      {{}, nullptr, sc, y, sd},
                                      hw};
        args.epilogue.thread = {
            // add: (alpha·acc) + bias
            {
                // mul: alpha · float(acc)
                {{1.0f, 1.0f}, {sx, sw}, {}},  // alpha = s_X·s_W (device scalars)
                {},                            // acc
                {}                             // MulRn
            },
            {bias, -0.0f, {}},  // per-column bias (−0.0 when absent)
            {}                  // AddRn
        };
        return args;
    }

    static size_t workspace(int m, int n, int k, int sm_count) {
        float dummy_scalar = 0;
        auto args = make_args(nullptr, nullptr, nullptr, &dummy_scalar, &dummy_scalar, nullptr, n, m, n, k, sm_count);
        return Gemm::get_workspace_size(args);
    }

    static int4train_status run(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias,
                                const float* sx, const float* sw, float* y, int ldy, int m, int n, int k, int sm_count,
                                void* ws, size_t ws_bytes) {
        auto args = make_args(a, b, bias, sx, sw, y, ldy, m, n, k, sm_count);
        Gemm gemm;
        cutlass::Status st = gemm.can_implement(args);
        if (st != cutlass::Status::kSuccess)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "CUTLASS SM90 dequantizing GEMM cannot implement m=%d n=%d k=%d: %s",
                        m, n, k, cutlass::cutlassGetStatusString(st));
        size_t need = Gemm::get_workspace_size(args);
        if (need > ws_bytes)
            return fail(INT4TRAIN_ERROR_INTERNAL, "CUTLASS SM90 dequantizing GEMM: workspace %zu < %zu", ws_bytes, need);
        st = gemm.initialize(args, ws, stream);
        if (st != cutlass::Status::kSuccess) {
            cudaError_t e = cudaGetLastError();
            return fail(e != cudaSuccess ? INT4TRAIN_ERROR_CUDA : INT4TRAIN_ERROR_INTERNAL,
                        "CUTLASS SM90 dequantizing GEMM initialize: %s (%s)", cutlass::cutlassGetStatusString(st),
                        cudaGetErrorString(e));
        }
        st = gemm.run(stream);
        if (st != cutlass::Status::kSuccess) {
            cudaError_t e = cudaGetLastError();
            return fail(e != cudaSuccess ? INT4TRAIN_ERROR_CUDA : INT4TRAIN_ERROR_INTERNAL,
                        "CUTLASS SM90 dequantizing GEMM run: %s (%s)", cutlass::cutlassGetStatusString(st),
                        cudaGetErrorString(e));
        }
        I4T_LAUNCH("CUTLASS SM90 dequantizing GEMM");
        return INT4TRAIN_SUCCESS;
    }
};

using Coop = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
using CoopEpi = cutlass::epilogue::TmaWarpSpecializedCooperative;
using Pingpong = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
using PingpongEpi = cutlass::epilogue::TmaWarpSpecialized;

}  // namespace sm90

// One configuration's entry points (defined in gemm_s8_sm90_cfg<N>.cu by I4T_SM90_CONFIG).
#define I4T_SM90_DECLARE(N)                                                                                  \
    size_t gemm_sm90_workspace_cfg##N(int m, int n, int k, int sm_count);                                    \
    int4train_status gemm_sm90_run_cfg##N(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, \
                                          int m, int n, int k, int sm_count, void* ws, size_t ws_bytes);
#define I4T_SM90_CONFIG(N, ...)                                                                              \
    using SmConfig##N = __VA_ARGS__;                                                                         \
    size_t gemm_sm90_workspace_cfg##N(int m, int n, int k, int sm_count) {                                   \
        return SmConfig##N::workspace(m, n, k, sm_count);                                                            \
    }                                                                                                        \
    int4train_status gemm_sm90_run_cfg##N(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, \
                                          int m, int n, int k, int sm_count, void* ws, size_t ws_bytes) {    \
        return SmConfig##N::run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);                                   \
    }
// The dequantizing configurations (gemm_s8_sm90_dq<N>.cu): the same tile/cluster/schedule as configuration N.
#define I4T_SM90_DQ_DECLARE(N)                                                                                  \
    size_t gemm_sm90_dq_workspace_cfg##N(int m, int n, int k, int sm_count);                                    \
    int4train_status gemm_sm90_dq_run_cfg##N(cudaStream_t stream, const int8_t* a, const int8_t* b,             \
                                             const float* bias, const float* sx, const float* sw, float* y,     \
                                             int ldy, int m, int n, int k, int sm_count, void* ws,              \
                                             size_t ws_bytes);
#define I4T_SM90_DQ_CONFIG(N, ...)                                                                              \
    using SmDqConfig##N = __VA_ARGS__;                                                                          \
    size_t gemm_sm90_dq_workspace_cfg##N(int m, int n, int k, int sm_count) {                                   \
        return SmDqConfig##N::workspace(m, n, k, sm_count);                                                     \
    }                                                                                                           \
    int4train_status gemm_sm90_dq_run_cfg##N(cudaStream_t stream, const int8_t* a, const int8_t* b,             \
                                             const float* bias, const float* sx, const float* sw, float* y,     \
                                             int ldy, int m, int n, int k, int sm_count, void* ws,              \
                                             size_t ws_bytes) {                                                 \
        return SmDqConfig##N::run(stream, a, b, bias, sx, sw, y, ldy, m, n, k, sm_count, ws, ws_bytes);         \
    }
I4T_SM90_DQ_DECLARE(0)
I4T_SM90_DQ_DECLARE(1)
I4T_SM90_DECLARE(0)
I4T_SM90_DECLARE(1)
I4T_SM90_DECLARE(2)
I4T_SM90_DECLARE(3)

}  // namespace i4t
