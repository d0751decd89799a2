// dq_bf16_t128x256x128_c2x1_coop.cu — the 128×256×128 / 2×1 cooperative GEMM with hq_forward's dequantize in the epilogue
// writing a BF16 Y (RN_bf16 of the FP32 Y = (s_X·s_W)·acc + bias). Built with INT4TRAIN_GEMM_DQ_BF16.
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_BF16_DEFINE(gemm_sm90_dq_bf16_t128x256x128_c2x1_coop, GemmFp32Config<Shape<_128, _256, _128>, Shape<_2, _1, _1>, sm90::Coop, sm90::CoopEpi, sm90::HqDequant, cutlass::bfloat16_t>)
}  // namespace i4t
