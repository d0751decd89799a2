// lss_t128x128x128_c2x1_pingpong.cu — the 128×128×128 / 2×1 ping-pong GEMM (the pick for K <= 4096)
// with the LSS GEMMs' scaling (∇(VH) = s_V·(s↓·acc) in FP64, FP32 out) in the epilogue.
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_FP32_DEFINE(gemm_sm90_lss_t128x128x128_c2x1_pingpong, GemmFp32Config<Shape<_128, _128, _128>, Shape<_2, _1, _1>, sm90::Pingpong, sm90::PingpongEpi, sm90::LssScale>)
}  // namespace i4t
