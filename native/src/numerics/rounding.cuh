// rounding.cuh — the rounding rules of docs/conventions.md "Rounding" and the LSQ code of §2.1, shared by every
// kernel that emits INT4 codes.
#pragma once

#include <math.h>

#include "int4train.h"

namespace i4t {

// ---- rounding (conventions.md "Rounding") ------------------------------------------------------------------
// Nearest integer, ties away from zero; exact for every finite x (x − trunc(x) is exact in FP32).
__host__ __device__ __forceinline__ float round_half_away(float x) {
    float t = truncf(x);
    float frac = x - t;
    if (frac >= 0.5f) return t + 1.0f;
    if (frac <= -0.5f) return t - 1.0f;
    return t;
}
__host__ __device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
__host__ __device__ __forceinline__ int lsq_qn(int mode) { return mode == INT4TRAIN_MODE_PAPER ? -7 : -8; }
constexpr int kLsqQp = 7;
#if defined(__CUDACC__)
// LSQ code (§2.1): q = clamp(RoundHalfAway(x / s), Qn, 7) with one IEEE division.
__device__ __forceinline__ int lsq_code(float x, float s, int qn) {
    float r = round_half_away(__fdiv_rn(x, s));
    r = fminf(fmaxf(r, (float)qn), (float)kLsqQp);
    return (int)r;
}
#endif

}  // namespace i4t
