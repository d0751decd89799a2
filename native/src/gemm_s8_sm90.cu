// gemm_s8_sm90.cu — the integer GEMM on Hopper (algorithm.md §2.3 step 4, §7.5): CUTLASS 3.x/4.x SM90 kernel,
// int8 × int8 → int32 on wgmma (IGMMA), TMA warp-specialized cooperative, tile 128×128×128, cluster 1×1×1.
// "TN": A is M×K row-major, B is N×K (= K×N column-major), D = A·Bᵀ is M×N row-major int32.
// INT4 codes in [−8, 7] are exact in int8, so the INT32 result is bit-identical to an INT4 GEMM (§7.5: Hopper
// has no 4-bit wgmma and its 4-bit mma.sync is emulated). Compiled for sm_90a only (its own translation unit).
// Requirements (the callers pad): K % 32 == 0 (16-byte TMA rows), N % 4 == 0 (16-byte int32 output rows).
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

using TileShape = Shape<_128, _128, _128>;
using ClusterShape = Shape<_1, _1, _1>;

using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
    cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
    cutlass::epilogue::collective::EpilogueTileAuto, ElementAcc, ElementCompute, ElementC, LayoutC, kAlignC,
    ElementD, LayoutC, kAlignC, cutlass::epilogue::TmaWarpSpecializedCooperative>::CollectiveOp;

using CollectiveMainloop = typename cutlass::gemm::collective::CollectiveBuilder<
    cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, ElementA, LayoutA, kAlignA, ElementB, LayoutB, kAlignB,
    ElementAcc, TileShape, ClusterShape,
    cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
        sizeof(typename CollectiveEpilogue::SharedStorage))>,
    cutlass::gemm::KernelTmaWarpSpecializedCooperative>::CollectiveOp;

using GemmKernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, CollectiveMainloop,
                                                        CollectiveEpilogue>;
using Gemm = cutlass::gemm::device::GemmUniversalAdapter<GemmKernel>;

using StrideA = typename Gemm::GemmKernel::StrideA;
using StrideB = typename Gemm::GemmKernel::StrideB;
using StrideC = typename Gemm::GemmKernel::StrideC;
using StrideD = typename Gemm::GemmKernel::StrideD;

typename Gemm::Arguments make_args(const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k, int sm_count) {
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

}  // namespace

size_t gemm_sm90_workspace(int m, int n, int k, int sm_count) {
    auto args = make_args(nullptr, nullptr, nullptr, m, n, k, sm_count);
    return Gemm::get_workspace_size(args);
}

int4train_status gemm_sm90(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                           int sm_count, void* ws, size_t ws_bytes) {
    auto args = make_args(a, b, c, m, n, k, sm_count);
    Gemm gemm;
    cutlass::Status st = gemm.can_implement(args);
    if (st != cutlass::Status::kSuccess)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "CUTLASS SM90 GEMM cannot implement m=%d n=%d k=%d: %s", m, n, k,
                    cutlass::cutlassGetStatusString(st));
    size_t need = Gemm::get_workspace_size(args);
    if (need > ws_bytes) return fail(INT4TRAIN_ERROR_INTERNAL, "CUTLASS SM90 GEMM: workspace %zu < %zu", ws_bytes, need);
    st = gemm.initialize(args, ws, stream);
    if (st != cutlass::Status::kSuccess) {
        cudaError_t e = cudaGetLastError();
        return fail(e != cudaSuccess ? INT4TRAIN_ERROR_CUDA : INT4TRAIN_ERROR_INTERNAL,
                    "CUTLASS SM90 GEMM initialize: %s (%s)", cutlass::cutlassGetStatusString(st), cudaGetErrorString(e));
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

}  // namespace i4t
