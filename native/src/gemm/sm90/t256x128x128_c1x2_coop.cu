// t256x128x128_c1x2_coop.cu — SM90 int8 GEMM, tile 256×128×128, cluster 1×2, cooperative
// (in the table for the benchmark's configuration sweep).
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_DEFINE(gemm_sm90_t256x128x128_c1x2_coop, GemmConfig<Shape<_256, _128, _128>, Shape<_1, _2, _1>, sm90::Coop, sm90::CoopEpi>)
}  // namespace i4t
