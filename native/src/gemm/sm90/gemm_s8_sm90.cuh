// gemm_s8_sm90.cuh — the CUTLASS SM90 int8 TN GEMM as composable parts: one shared mainloop (Mainloop), one
// launcher (launch), and two kinds of epilogue: INT32 output (GemmConfig) and the float epilogue trees
// (GemmFp32Config: the HQ forward's dequantize, the LSS scaling), writing FP32 or, for the dequantize, BF16.
// Each configuration of the table (config_table.cu) is one translation unit named by tile, cluster and schedule.
#pragma once
#include "runtime/status.cuh"
#include "runtime/tool_marks.cuh"
#include "gemm/gemm.cuh"

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

// The mainloop every configuration shares: int8 A (row-major) × int8 B (column-major) on wgmma with INT32
// accumulation, as many pipeline stages as the shared memory left by the epilogue allows.
template <class TileShape, class ClusterShape, class KernelSchedule, class CollectiveEpilogue>
using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
    cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, ElementA, LayoutA, kAlignA, ElementB, LayoutB, kAlignB,
    ElementAcc, TileShape, ClusterShape,
    cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
        sizeof(typename CollectiveEpilogue::SharedStorage))>,
    KernelSchedule>::CollectiveOp;

// The device-level GEMM of one mainloop + epilogue pair.
template <class TileShape, class ClusterShape, class KernelSchedule, class CollectiveEpilogue>
using DeviceGemm = cutlass::gemm::device::GemmUniversalAdapter<cutlass::gemm::kernel::GemmUniversal<
    Shape<int, int, int, int>, Mainloop<TileShape, ClusterShape, KernelSchedule, CollectiveEpilogue>,
    CollectiveEpilogue>>;

inline cutlass::KernelHardwareInfo hardware(int sm_count) {
    cutlass::KernelHardwareInfo hw;
    hw.device_id = 0;
    hw.sm_count = sm_count;
    return hw;
}

// Checks, initialises and launches a CUTLASS GEMM on `stream`, mapping CUTLASS and CUDA failures to statuses with
// their text (what: the kernel's name in messages).
template <class Gemm>
int4train_status launch(const typename Gemm::Arguments& args, cudaStream_t stream, void* ws, size_t ws_bytes,
                        const char* what, int m, int n, int k) {
    Gemm gemm;
    cutlass::Status st = gemm.can_implement(args);
    if (st != cutlass::Status::kSuccess)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s cannot implement m=%d n=%d k=%d: %s", what, m, n, k,
                    cutlass::cutlassGetStatusString(st));
    size_t need = Gemm::get_workspace_size(args);
    if (need > ws_bytes) return fail(INT4TRAIN_ERROR_INTERNAL, "%s: workspace %zu < %zu", what, ws_bytes, need);
    st = gemm.initialize(args, ws, stream);
    if (st == cutlass::Status::kSuccess) st = gemm.run(stream);
    if (st != cutlass::Status::kSuccess) {
        cudaError_t e = cudaGetLastError();
        return fail(e != cudaSuccess ? INT4TRAIN_ERROR_CUDA : INT4TRAIN_ERROR_INTERNAL, "%s: %s (%s)", what,
                    cutlass::cutlassGetStatusString(st), cudaGetErrorString(e));
    }
    I4T_LAUNCH(what);
    return INT4TRAIN_SUCCESS;
}

// The plain GEMM: D = A·Bᵀ as INT32 (m × n, row-major).
template <class TileShape, class ClusterShape, class KernelSchedule, class EpilogueSchedule>
struct GemmConfig {
    using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
        cutlass::epilogue::collective::EpilogueTileAuto, ElementAcc, ElementCompute, ElementC, LayoutC, kAlignC,
        ElementD, LayoutC, kAlignC, EpilogueSchedule>::CollectiveOp;
    using Gemm = DeviceGemm<TileShape, ClusterShape, KernelSchedule, CollectiveEpilogue>;

    static typename Gemm::Arguments make_args(const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                                              int sm_count) {
        using K = typename Gemm::GemmKernel;
        auto sa = cutlass::make_cute_packed_stride(typename K::StrideA{}, make_shape(m, k, 1));
        auto sb = cutlass::make_cute_packed_stride(typename K::StrideB{}, make_shape(n, k, 1));
        auto sc = cutlass::make_cute_packed_stride(typename K::StrideC{}, make_shape(m, n, 1));
        auto sd = cutlass::make_cute_packed_stride(typename K::StrideD{}, make_shape(m, n, 1));
        typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm, {m, n, k, 1}, {a, sa, b, sb},
                                      {{}, c, sc, c, sd}, hardware(sm_count)};
        args.epilogue.thread.alpha = 1;
        args.epilogue.thread.beta = 0;  // C is never read
        return args;
    }

    static size_t workspace(int m, int n, int k, int sm_count) {
        return Gemm::get_workspace_size(make_args(nullptr, nullptr, nullptr, m, n, k, sm_count));
    }

    static int4train_status run(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                                int sm_count, void* ws, size_t ws_bytes) {
        int4train_status st =
            launch<Gemm>(make_args(a, b, c, m, n, k, sm_count), stream, ws, ws_bytes, "CUTLASS SM90 GEMM", m, n, k);
        if (st == INT4TRAIN_SUCCESS) mark_written_by_tma(c, m, sizeof(int32_t) * n, sizeof(int32_t) * n, stream);
        return st;
    }
};

// ---- The same GEMM with the HQ forward's dequantize folded into the epilogue (hq_forward.cu) --------------------
// D[i, j] = (s_X·s_W)·float(acc[i, j]) + bias[j], FP32, with the reference's arithmetic: the scale product is one
// FP32 multiply of the two device step scalars (Sm90ScalarBroadcast with two pointers, reduced by multiplies), the
// accumulator is converted round-to-nearest, then one _rn multiply and one _rn add (no FMA contraction), so Y is
// bit-identical to the separate dequantize pass. bias == nullptr adds −0.0f, which leaves every value unchanged.
// With a BF16 Y (ElementOut = cutlass::bfloat16_t) the root node computes the same FP32 value and converts it with
// NumericArrayConverter<bfloat16_t, float, N, round_to_nearest> (cvt.rn.bf16x2.f32): Y = RN_bf16(FP32 Y), bit for bit
// (docs/conventions.md "BF16 activations of the INT4 layer").
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

// The FP32-output epilogues, as policies of GemmFp32Config: an epilogue visitor tree (Evt) over the INT32
// accumulator and the thread arguments it takes from up to three device pointers (p0, p1, p2).
//
// Each policy's Tree<TileShape, ElementOut> ends in a node whose output type is ElementOut, the epilogue's D type.
//
// HqDequant (hq_forward): y = (s_X·s_W)·acc + bias, p0 = bias (n floats or nullptr), p1 = s_X, p2 = s_W.
struct HqDequant {
    static constexpr auto kRound = cutlass::FloatRoundStyle::round_to_nearest;
    template <class TileShape, class ElementOut>
    struct Tree {
        using Alpha = cutlass::epilogue::fusion::Sm90ScalarBroadcast<float, Stride<_0, _0, int64_t>, 2>;
        using Acc = cutlass::epilogue::fusion::Sm90AccFetch;
        using Bias = cutlass::epilogue::fusion::Sm90RowBroadcast<0, TileShape, float, float, Stride<_0, _1, int64_t>>;
        using Scaled = cutlass::epilogue::fusion::Sm90EVT<
            cutlass::epilogue::fusion::Sm90Compute<MulRn, float, float, kRound>, Alpha, Acc>;
        using Evt = cutlass::epilogue::fusion::Sm90EVT<
            cutlass::epilogue::fusion::Sm90Compute<AddRn, ElementOut, float, kRound>, Scaled, Bias>;
    };
    static constexpr const char* kName = "CUTLASS SM90 dequantizing GEMM";
    template <class Args>
    static void set(Args& thread, const float* bias, const float* sx, const float* sw) {
        thread = {
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
    }
};

// LssScale (the LSS GEMMs of linear_backward, docs/method.md §3.5): y = float(s_outer·(s_inner·double(acc))) with
// both products in FP64, exactly the reference's epilogue ∇(VH) = s_V·(s↓·G) (conventions.md "Leverage scores and selection", the folded path):
// p0 = s_outer (s_X or s_W), p1 = s_inner (s↓), p2 unused.
struct LssScale {
    static constexpr auto kRound = cutlass::FloatRoundStyle::round_to_nearest;
    template <class TileShape, class ElementOut>
    struct Tree {
        using Scalar = cutlass::epilogue::fusion::Sm90ScalarBroadcast<float, Stride<_0, _0, int64_t>, 1>;
        using Acc = cutlass::epilogue::fusion::Sm90AccFetch;
        using Inner = cutlass::epilogue::fusion::Sm90EVT<
            cutlass::epilogue::fusion::Sm90Compute<cutlass::multiplies, double, double, kRound>, Scalar, Acc>;
        using Evt = cutlass::epilogue::fusion::Sm90EVT<
            cutlass::epilogue::fusion::Sm90Compute<cutlass::multiplies, ElementOut, double, kRound>, Scalar, Inner>;
    };
    static constexpr const char* kName = "CUTLASS SM90 LSS-scaling GEMM";
    template <class Args>
    static void set(Args& thread, const float* s_outer, const float* s_inner, const float*) {
        thread = {
            {{1.0f}, {s_outer}, {}},  // s_outer (device scalar, exact in FP64)
            {
                {{1.0f}, {s_inner}, {}},  // s_inner
                {},                       // acc (INT32, exact in FP64)
                {}                        // s_inner·acc in FP64
            },
            {}  // s_outer·(…) in FP64, rounded to FP32 once
        };
    }
};

// An int8 GEMM whose epilogue computes in float through one of the policies above and writes ElementOut: float, or
// cutlass::bfloat16_t (the HQ dequantize's BF16 Y, INT4TRAIN_HAS_SM90_DQ_BF16).
template <class TileShape, class ClusterShape, class KernelSchedule, class EpilogueSchedule, class Epilogue,
          class ElementOut = float>
struct GemmFp32Config {
    static constexpr int kAlignOut = 16 / (int)sizeof(ElementOut);  // elements of a 16-byte TMA row unit
    using Evt = typename Epilogue::template Tree<TileShape, ElementOut>::Evt;
    using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
        cutlass::epilogue::collective::EpilogueTileAuto, ElementAcc, float, void, LayoutC, kAlignOut,
        ElementOut, LayoutC, kAlignOut, EpilogueSchedule, Evt>::CollectiveOp;
    using Gemm = DeviceGemm<TileShape, ClusterShape, KernelSchedule, CollectiveEpilogue>;

    // y: m × n ElementOut with row stride ldy (ldy and n multiples of kAlignOut, y 16-byte aligned).
    static typename Gemm::Arguments make_args(const int8_t* a, const int8_t* b, const float* p0, const float* p1,
                                              const float* p2, ElementOut* y, int ldy, int m, int n, int k,
                                              int sm_count) {
        using K = typename Gemm::GemmKernel;
        auto sa = cutlass::make_cute_packed_stride(typename K::StrideA{}, make_shape(m, k, 1));
        auto sb = cutlass::make_cute_packed_stride(typename K::StrideB{}, make_shape(n, k, 1));
        auto sc = cutlass::make_cute_packed_stride(typename K::StrideC{}, make_shape(m, ldy, 1));
        auto sd = cutlass::make_cute_packed_stride(typename K::StrideD{}, make_shape(m, ldy, 1));
        typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm, {m, n, k, 1}, {a, sa, b, sb},
                                      {{}, nullptr, sc, y, sd}, hardware(sm_count)};
        Epilogue::set(args.epilogue.thread, p0, p1, p2);
        return args;
    }

    static size_t workspace(int m, int n, int k, int sm_count) {
        float dummy_scalar = 0;
        return Gemm::get_workspace_size(
            make_args(nullptr, nullptr, nullptr, &dummy_scalar, &dummy_scalar, nullptr, n, m, n, k, sm_count));
    }

    static int4train_status run(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* p0,
                                const float* p1, const float* p2, ElementOut* y, int ldy, int m, int n, int k,
                                int sm_count, void* ws, size_t ws_bytes) {
        int4train_status st = launch<Gemm>(make_args(a, b, p0, p1, p2, y, ldy, m, n, k, sm_count), stream, ws,
                                           ws_bytes, Epilogue::kName, m, n, k);
        if (st == INT4TRAIN_SUCCESS)
            mark_written_by_tma(y, m, sizeof(ElementOut) * n, sizeof(ElementOut) * ldy, stream);
        return st;
    }
};

using Coop = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
using CoopEpi = cutlass::epilogue::TmaWarpSpecializedCooperative;
using Pingpong = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
using PingpongEpi = cutlass::epilogue::TmaWarpSpecialized;

}  // namespace sm90

// One configuration's entry points, named by the configuration (NAME_workspace, NAME_run); defined in the
// translation unit named after it (one configuration per unit, so they compile in parallel).
#define I4T_SM90_DECLARE(NAME)                                                                                \
    size_t NAME##_workspace(int m, int n, int k, int sm_count);                                                \
    int4train_status NAME##_run(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, \
                                int k, int sm_count, void* ws, size_t ws_bytes);
#define I4T_SM90_DEFINE(NAME, ...)                                                                            \
    size_t NAME##_workspace(int m, int n, int k, int sm_count) {                                               \
        return sm90::__VA_ARGS__::workspace(m, n, k, sm_count);                                                \
    }                                                                                                          \
    int4train_status NAME##_run(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, \
                                int k, int sm_count, void* ws, size_t ws_bytes) {                              \
        return sm90::__VA_ARGS__::run(stream, a, b, c, m, n, k, sm_count, ws, ws_bytes);                        \
    }
// The FP32-output configurations (GemmFp32Config): the same tile/cluster/schedule as the plain one of the same
// name, with the epilogue policy's three pointer arguments.
#define I4T_SM90_FP32_DECLARE(NAME)                                                                           \
    size_t NAME##_workspace(int m, int n, int k, int sm_count);                                                \
    int4train_status NAME##_run(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* p0,         \
                                const float* p1, const float* p2, float* y, int ldy, int m, int n, int k,      \
                                int sm_count, void* ws, size_t ws_bytes);
#define I4T_SM90_FP32_DEFINE(NAME, ...)                                                                       \
    size_t NAME##_workspace(int m, int n, int k, int sm_count) {                                               \
        return sm90::__VA_ARGS__::workspace(m, n, k, sm_count);                                                \
    }                                                                                                          \
    int4train_status NAME##_run(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* p0,         \
                                const float* p1, const float* p2, float* y, int ldy, int m, int n, int k,      \
                                int sm_count, void* ws, size_t ws_bytes) {                                     \
        return sm90::__VA_ARGS__::run(stream, a, b, p0, p1, p2, y, ldy, m, n, k, sm_count, ws, ws_bytes);       \
    }
// The BF16-output dequantizing configurations (GemmFp32Config with ElementOut = cutlass::bfloat16_t, the same bits as
// __nv_bfloat16): y is the caller's __nv_bfloat16 buffer.
#define I4T_SM90_BF16_DECLARE(NAME)                                                                           \
    size_t NAME##_workspace(int m, int n, int k, int sm_count);                                                \
    int4train_status NAME##_run(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* p0,         \
                                const float* p1, const float* p2, __nv_bfloat16* y, int ldy, int m, int n,      \
                                int k, int sm_count, void* ws, size_t ws_bytes);
#define I4T_SM90_BF16_DEFINE(NAME, ...)                                                                       \
    size_t NAME##_workspace(int m, int n, int k, int sm_count) {                                               \
        return sm90::__VA_ARGS__::workspace(m, n, k, sm_count);                                                \
    }                                                                                                          \
    int4train_status NAME##_run(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* p0,         \
                                const float* p1, const float* p2, __nv_bfloat16* y, int ldy, int m, int n,      \
                                int k, int sm_count, void* ws, size_t ws_bytes) {                              \
        static_assert(sizeof(cutlass::bfloat16_t) == sizeof(__nv_bfloat16), "BF16 storage");                  \
        return sm90::__VA_ARGS__::run(stream, a, b, p0, p1, p2, reinterpret_cast<cutlass::bfloat16_t*>(y), ldy, \
                                      m, n, k, sm_count, ws, ws_bytes);                                        \
    }
I4T_SM90_DECLARE(gemm_sm90_t128x128x128_c1x1_coop)
I4T_SM90_DECLARE(gemm_sm90_t128x256x128_c2x1_coop)
I4T_SM90_DECLARE(gemm_sm90_t256x128x128_c1x2_coop)
I4T_SM90_DECLARE(gemm_sm90_t128x128x128_c2x1_pingpong)
I4T_SM90_FP32_DECLARE(gemm_sm90_dq_t128x128x128_c1x1_coop)
I4T_SM90_FP32_DECLARE(gemm_sm90_dq_t128x256x128_c2x1_coop)
I4T_SM90_FP32_DECLARE(gemm_sm90_lss_t128x128x128_c1x1_coop)
I4T_SM90_FP32_DECLARE(gemm_sm90_lss_t128x256x128_c2x1_coop)
I4T_SM90_FP32_DECLARE(gemm_sm90_dq_t128x128x128_c2x1_pingpong)
I4T_SM90_FP32_DECLARE(gemm_sm90_lss_t128x128x128_c2x1_pingpong)
I4T_SM90_BF16_DECLARE(gemm_sm90_dq_bf16_t128x128x128_c1x1_coop)
I4T_SM90_BF16_DECLARE(gemm_sm90_dq_bf16_t128x256x128_c2x1_coop)
I4T_SM90_BF16_DECLARE(gemm_sm90_dq_bf16_t128x128x128_c2x1_pingpong)

}  // namespace i4t
