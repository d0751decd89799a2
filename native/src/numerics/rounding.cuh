// rounding.cuh — the rounding rules of docs/conventions.md "Rounding" and the LSQ code of §2.1, shared by every
// kernel that emits INT4 codes.
#pragma once

#include <math.h>
#include <stdint.h>

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
// The LSQ step rule (§2.1 "Initialization") from Σ|v| over n elements (the sum in double, CanonicalSum):
// s = (float)(κ·(2·mean/sqrt(7)) + 1e-10), κ = scale (1: the paper's rule); for 0 < mean < 2^-20 the scale-free
// max((float)(κ·2·mean/sqrt(7)), 2^-120) (the absolute 1e-10 would swamp tiny tensors; LsqQuantizer.InitStep).
// The per-tensor step (ops/lsq.cu) and the fine-scale ablation's per-row steps (gpt/row_quantizer.cu) both use it.
__host__ __device__ __forceinline__ float lsq_step_rule(double abs_sum, int64_t n, float scale) {
    double mean = abs_sum / (double)n;
    double s = (double)scale * (2.0 * mean / sqrt(7.0));
    return (mean > 0.0 && mean < 0x1p-20) ? fmaxf((float)s, 0x1p-120f) : (float)(s + 1e-10);
}
#if defined(__CUDACC__)
// LSQ code (§2.1): q = clamp(RoundHalfAway(x / s), Qn, 7) with one IEEE division.
__device__ __forceinline__ int lsq_code(float x, float s, int qn) {
    float r = round_half_away(__fdiv_rn(x, s));
    r = fminf(fmaxf(r, (float)qn), (float)kLsqQp);
    return (int)r;
}
#endif

}  // namespace i4t
