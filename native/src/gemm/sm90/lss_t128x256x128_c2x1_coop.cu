// lss_t128x256x128_c2x1_coop.cu — the 128×256×128 / 2×1 cooperative GEMM with the LSS GEMMs'
// scaling (∇(VH) = s_V·(s↓·acc) in FP64, FP32 out) in the epilogue.
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_FP32_DEFINE(gemm_sm90_lss_t128x256x128_c2x1_coop, GemmFp32Config<Shape<_128, _256, _128>, Shape<_2, _1, _1>, sm90::Coop, sm90::CoopEpi, sm90::LssScale>)
}  // namespace i4t
