// t128x128x128_c2x1_pingpong.cu — SM90 int8 GEMM, tile 128×128×128, cluster 2×1, ping-pong
// (in the table for the benchmark's configuration sweep).
#include "gemm_s8_sm90.cuh"

namespace i4t {
using namespace cute;
I4T_SM90_DEFINE(gemm_sm90_t128x128x128_c2x1_pingpong, GemmConfig<Shape<_128, _128, _128>, Shape<_2, _1, _1>, sm90::Pingpong, sm90::PingpongEpi>)
}  // namespace i4t
