// fp8_cast.cuh — the element-wise passes of the benchmark's FP8 baseline (ops lt_fp8, linear_fp8): per-tensor amax
// and the scaled cast of a BF16 matrix to e4m3 / e5m2, optionally writing the transposed copy in the same pass (the
// "cast + transpose" that Transformer Engine runs so each FP8 GEMM gets its operands K-major). Current scaling:
// scale = fp8_max / amax of this very tensor, computed on the device each call (no host synchronisation).
// A benchmark baseline, not the library's numerics: nothing here is bit-specified (docs/conventions.md does not apply).
#pragma once
#include <stdint.h>

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "runtime/status.cuh"

namespace i4t {
namespace bench {

constexpr float kE4m3Max = 448.0f;    // largest finite e4m3 (S.1111.110)
constexpr float kE5m2Max = 57344.0f;  // largest finite e5m2 (S.11110.11)

// *d_amax = max(*d_amax, max |x|) over `count` BF16 values; the caller zeroes *d_amax first (stream-ordered).
// NaNs are ignored (fmaxf), as a baseline may.
int4train_status fp8_amax(cudaStream_t s, int sm_count, const __nv_bfloat16* x, int64_t count, float* d_amax);

// out[r][c] = fp8(scale · x[r][c]) (row-major, rows × cols) and, when out_t is not null, out_t[c][r] = the same byte
// (cols × rows), with scale = fp8_max / *d_amax (1 when amax is 0 or not finite) and the rounding of the hardware
// convert (round to nearest even, saturating to ±fp8_max). One thread block writes *d_scale_inv = 1 / scale: the
// factor the FP8 GEMM multiplies its product by (cuBLASLt's A/B scale pointers). rows and cols multiples of 16
// (the FP8 GEMM's leading-dimension rule; the 16-byte stores rely on it too).
int4train_status fp8_cast_transpose(cudaStream_t s, const __nv_bfloat16* x, int rows, int cols,
                                    __nv_fp8_interpretation_t kind, const float* d_amax, uint8_t* out, uint8_t* out_t,
                                    float* d_scale_inv);

}  // namespace bench
}  // namespace i4t
