// gemm_s8_sm90_dq0.cu — configuration 0 of the SM90 int8 GEMM table with the HQ forward's dequantize
// (Y = (s_X·s_W)·acc + bias, FP32) in the epilogue (see gemm_s8_sm90.cuh, GemmDqConfig).
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
using namespace sm90;
I4T_SM90_DQ_CONFIG(0, GemmDqConfig<Shape<_128, _128, _128>, Shape<_1, _1, _1>, Coop, CoopEpi>)
}  // namespace i4t
