// t128x256x128_c2x1_coop.cu — SM90 int8 GEMM, tile 128×256×128, cluster 2×1, cooperative: picked
// where the problem has at least one full wave of output tiles.
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_DEFINE(gemm_sm90_t128x256x128_c2x1_coop, GemmConfig<Shape<_128, _256, _128>, Shape<_2, _1, _1>, sm90::Coop, sm90::CoopEpi>)
}  // namespace i4t
