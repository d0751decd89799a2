// gemm_s8_sm90_cfg2.cu — configuration 2 of the SM90 int8 GEMM table (see gemm_s8_sm90.cu).
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
using namespace sm90;
I4T_SM90_CONFIG(2, GemmConfig<Shape<_256, _128, _128>, Shape<_1, _2, _1>, Coop, CoopEpi>)
}  // namespace i4t
