// dq_bf16_t128x128x128_c2x1_pingpong.cu — the 128×128×128 / 2×1 ping-pong GEMM with hq_forward's dequantize in the epilogue
// writing a BF16 Y (RN_bf16 of the FP32 Y = (s_X·s_W)·acc + bias). Built with INT4TRAIN_GEMM_DQ_BF16.
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_BF16_DEFINE(gemm_sm90_dq_bf16_t128x128x128_c2x1_pingpong, GemmFp32Config<Shape<_128, _128, _128>, Shape<_2, _1, _1>, sm90::Pingpong, sm90::PingpongEpi, sm90::HqDequant, cutlass::bfloat16_t>)
}  // namespace i4t
