// split_digits.cuh — the digit pair of one bit-split element (method.md §3.3, conventions.md "Bit splitting"), the
// convention's bits in few instructions (issue 11: the split was ALU-bound):
//   t = RN(g·k98);  h = clamp(RHA(RN(t/14)), −L, L);  r = RN(t − 14h);
//   code  (L = 6): l = clamp(RHA(RN(RN(r + U01Closed) − ½)), −6, 6);
//   paper (L = 7): l = clamp(floor(RN(r + U01)), −7, 7)            (RHA: round half away from zero).
// No division and no F2I/FRND round or convert instruction (the conversion pipe runs 16/clk/SM); the one conversion
// left is U01's integer → float (I2FP). Every other step is an FP32 add/FMA with a chosen rounding, a min/max, a
// select or a sign copy. The identities, for all floats:
//  (1) RHA(RN(t/14)) = sign(t)·⌊|t|/14 + ½⌋. RN(t/14) ≥ k + ½ ⇔ t ≥ 14k + 7 (14k + 7 is a float; the float below it,
//      14k + 7 − ulp, gives t/14 = k + ½ − ulp/14, and ulp/14 ≥ 8/14 ulp(k + ½) exceeds half the float spacing below
//      k + ½ — for k = 0, 2^−21/14 > 2^−26), so RHA of the rounded quotient steps exactly where RHA of the exact one does.
//  (2) ⌊|t|/14 + ½⌋ = ⌊RD(|t|·y + ½)⌋ with y = RN(1/14) = (1 + 4.47e−8)/14, for |t| < 105 (so for every t after the
//      clamp, both sides being monotone): at |t| = 14k + 7, |t|·y + ½ = k + 1 + (k + ½)·4.47e−8 ≥ k + 1; at the float
//      below, |t|·y + ½ ≤ k + 1 − ulp(14k + 7)/14 + (k + ½)·4.47e−8 < k + 1 (margin ≥ 1.1e−8 at k = 0, 2.5e−7 at k = 6);
//      rounding down never crosses an integer upward.
//  (3) ⌊x⌋ = RD(x + B) − B with B = 1.5·2^23 for |x| < 2^22 (x + B lies in [2^23, 2^24), spacing 1; the subtraction is
//      exact); larger |x| only move further past the clamp. B + d (d an integer, |d| < 2^22) has d in its low mantissa
//      bits: its low byte is (int8)d — the "biased" digits below, stored without a conversion.
//  (4) RHA(w) = sign(w)·⌊|w| + ½⌋ = sign(w)·⌊RD(|w| + ½)⌋.
//  r = RN(t − 14h) is one FMA (14h is exact), RN(r + U) one FMA of the integer U/2^−24 (exact product): the same
//  roundings as the reference's FMUL/FADD. NaN t gives h = −L and NaN s gives l = −L, as the reference's
//  fminf(fmaxf(NaN, −L), L) does. The self-test checks (1)–(4) over every float t and s against the IEEE-division
//  form (native/tests/selftest/test_split_digits.cu); tests/Int4Train.Tests/Reference/SplitDigitsIdentityTests.cs on a
//  CPU subset.
#pragma once

#include <stdint.h>

#include "numerics/philox.cuh"

namespace i4t {

constexpr float kSplitBias = 0x1.8p23f;      // B = 1.5·2^23 of (3): B + d carries the integer d in its low bits
constexpr float kRecip14Rn = 0x1.24924ap-4f;  // y = RN(1/14) (0x3D924925), slightly above 1/14

// The high digit h (an integer-valued float in [−L, L]) and the residual r = RN(t − 14h).
struct SplitHigh { float h, r; };
template <bool kPaper>
__device__ __forceinline__ SplitHigh split_high(float g, float k98) {
    constexpr float L = kPaper ? 7.0f : 6.0f;
    const float t = __fmul_rn(g, k98);
    const float z = __fmaf_rd(fabsf(t), kRecip14Rn, 0.5f);                     // (2)
    const float mag = __fadd_rn(__fadd_rd(z, kSplitBias), -kSplitBias);       // ⌊z⌋, (3)
    // (1): mag ≥ +0 (or NaN), so OR-ing t's sign bit is copysign in one LOP3; NaN → −L after the clamp
    const float h = fminf(fmaxf(__int_as_float(__float_as_int(mag) | (__float_as_int(t) & INT32_MIN)), -L), L);
    return {h, __fmaf_rn(-14.0f, h, t)};
}

// s = RN(r + U): U01Closed (code) or U01 (paper) of the element's Philox word x.
template <bool kPaper>
__device__ __forceinline__ float split_uniform_sum(float r, uint32_t x) {
    const uint32_t units = kPaper ? u01_units(x) : u01_closed_units(x);
    return __fmaf_rn((float)units, kU01Unit, r);
}

// B + l from s (code: l = clamp(RHA(RN(s − ½)), −6, 6); paper: l = clamp(floor(s), −7, 7)).
template <bool kPaper>
__device__ __forceinline__ float split_low_biased(float s) {
    if (kPaper) return fminf(fmaxf(__fadd_rd(s, kSplitBias), kSplitBias - 7.0f), kSplitBias + 7.0f);  // (3)
    const float w = __fadd_rn(s, -0.5f);
    const float a = fminf(__fadd_rd(__fadd_rd(fabsf(w), 0.5f), kSplitBias), kSplitBias + 6.0f);  // B + min(RHA|w|, 6), (4)
    return w >= 0.0f ? a : __fsub_rn(2.0f * kSplitBias, a);                    // B − min(RHA|w|, 6); NaN → B − 6
}

// Both digits of one element: h as a float, l biased (B + l).
struct SplitDigits { float h, low_biased; };
template <bool kPaper>
__device__ __forceinline__ SplitDigits split_digits(float g, float k98, uint32_t x) {
    const SplitHigh hi = split_high<kPaper>(g, k98);
    return {hi.h, split_low_biased<kPaper>(split_uniform_sum<kPaper>(hi.r, x))};
}

// B + (14h + l), the folded INT8 digit (method.md §3.3) biased: one exact FMA.
__device__ __forceinline__ float split_folded_biased(SplitDigits d) { return __fmaf_rn(14.0f, d.h, d.low_biased); }
// B + h, for the separate high-digit output.
__device__ __forceinline__ float split_high_biased(SplitDigits d) { return __fadd_rn(d.h, kSplitBias); }
// The int8 digit d of a biased value B + d: its low byte.
__device__ __forceinline__ int8_t split_byte(float biased) { return (int8_t)(__float_as_uint(biased) & 0xFFu); }
// Four biased values' digits as one word, element e in byte e.
__device__ __forceinline__ uint32_t split_pack4(float b0, float b1, float b2, float b3) {
    const uint32_t lo = __byte_perm(__float_as_uint(b0), __float_as_uint(b1), 0x0040u);
    const uint32_t hi = __byte_perm(__float_as_uint(b2), __float_as_uint(b3), 0x0040u);
    return __byte_perm(lo, hi, 0x5410u);
}

}  // namespace i4t
