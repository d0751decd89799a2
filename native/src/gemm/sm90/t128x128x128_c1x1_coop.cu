// t128x128x128_c1x1_coop.cu — SM90 int8 GEMM, tile 128×128×128, cluster 1×1, cooperative: the
// default for problems with fewer output tiles than SMs.
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_DEFINE(gemm_sm90_t128x128x128_c1x1_coop, GemmConfig<Shape<_128, _128, _128>, Shape<_1, _1, _1>, sm90::Coop, sm90::CoopEpi>)
}  // namespace i4t
