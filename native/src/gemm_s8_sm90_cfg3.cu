// gemm_s8_sm90_cfg3.cu — configuration 3 of the SM90 int8 GEMM table (see gemm_s8_sm90.cu).
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
using namespace sm90;
I4T_SM90_CONFIG(3, GemmConfig<Shape<_128, _128, _128>, Shape<_2, _1, _1>, Pingpong, PingpongEpi>)
}  // namespace i4t
