// lsq_fast.cuh — the LSQ quotient v = x / s, code and straight-through residual of conventions.md "LSQ" and
// "Rounding" with fewer instructions per element than rounding.cuh's lsq_code and lsq.cu's lsq_e, which stay as
// they are: the generic kernels (INT4TRAIN_GENERIC_KERNELS=1, the self-test's oracle) use them. Every result here
// is bit-identical to theirs; the self-test checks the quotient exhaustively over the significands of x for a set
// of steps (test_lsq_fast.cu) and the kernels that use it against the generic ones.
#pragma once

#include <math.h>
#include <stdint.h>

#include "numerics/rounding.cuh"

namespace i4t {

// ---- the quotient: __fdiv_rn(x, s) with the reciprocal hoisted out of the per-element work -----------------------
// __fdiv_rn spends MUFU.RCP + FCHK + 5 FFMA + a slow-path branch per element (SASS, sm_90). Here y = RN(1/s) once per
// thread, then per element
//     q0 = RN(x·y);  r0 = s·q0 − x;  q1 = RN(q0 − r0·y);  r1 = s·q1 − x;  v = RN(q1 − r1·y)   (r0, r1: FMA)
// Why v = RN(x/s): y has relative error < 2^-24 (it is correctly rounded), so q0 is within 1.5 ulp of x/s; r0 is
// then exact or rounded with relative error ≤ 2^-24, and q1 = RN(x/s + ε) with |ε| < 2^-21 ulp, i.e. q1 is a
// faithful approximation. With q1 faithful, r1 is exact, and Markstein's theorem (Markstein 1990; Muller et al.,
// Handbook of Floating-Point Arithmetic §4.9: faithful q, reciprocal with relative error < 2^-p, one FMA correction)
// gives RN(q1 − r1·y) = RN(x/s). (One correction from q0 was right on every one of 1.26e10 significand pairs tried on
// a CPU, but q0 is not always faithful, so the theorem does not cover it: the second correction costs 2 FFMA.)
// The theorem needs no underflow or overflow and the residuals on the 2^-149 grid: s ∈ [2^-60, 2^60] and
// |x| ∈ [s·2^-40, s·2^40] (so x, y and x/s are normal, and the residuals s·q − x, multiples of ulp(s)·ulp(q) ≥ 2^-147,
// lie on the 2^-149 grid: exact whenever they fit in 24 bits, normal when they do not). Anything else — a
// zero, a tiny, huge or infinite x, a step outside the range — takes __fdiv_rn (per thread: one out-of-range
// element sends the thread's whole batch there). A NaN x may take either path: v is NaN in both, and the codes and
// residuals downstream do not depend on a NaN's payload (fmaxf drops it; arithmetic returns the canonical NaN).
struct LsqQuotient {
    float s, y, lo, hi;
    bool step_ok;
    __device__ explicit LsqQuotient(float step) {  // (in the body: clang's host pass rejects __fdiv_rn in an initializer list)
        s = step;
        y = __fdiv_rn(1.0f, step);  // RN(1/s), whatever -prec-div says
        lo = step * 0x1p-40f;
        hi = step * 0x1p40f;
        step_ok = step >= 0x1p-60f && step <= 0x1p60f;
    }

    __device__ __forceinline__ float corrected(float x) const {
        float q = __fmul_rn(x, y);
        float r = __fmaf_rn(s, q, -x);
        q = __fmaf_rn(-r, y, q);
        r = __fmaf_rn(s, q, -x);
        return __fmaf_rn(-r, y, q);
    }

    // v[k] ← RN(v[k] / s) = __fdiv_rn(v[k], s) for all N elements (the LSQ backward needs the exact quotient: its
    // residual RoundHalfAway(v) − v is −v for |v| < 0.5).
    template <int N>
    __device__ __forceinline__ void divide_exact(float (&v)[N]) const {
        float amin = fabsf(v[0]), amax = amin;
#pragma unroll
        for (int k = 1; k < N; ++k) {
            amin = fminf(amin, fabsf(v[k]));
            amax = fmaxf(amax, fabsf(v[k]));
        }
        divide(v, step_ok && amin >= lo && amax <= hi);
    }

    // v[k] ← a quotient with the same LSQ code as RN(v[k] / s) (the forward only needs the codes). Below the range,
    // |v| < s·2^-40 (zero, tiny), both the exact and the corrected quotient are below 2^-39 in magnitude (x·y is
    // within 2^-23 of x/s, the corrections move it by less than that again, subnormal roundings by 2^-149), so both
    // give code 0: only the upper bound (inf, huge: x·y could overflow, inf − inf is NaN) needs __fdiv_rn.
    template <int N>
    __device__ __forceinline__ void divide_for_code(float (&v)[N]) const {
        float amax = fabsf(v[0]);
#pragma unroll
        for (int k = 1; k < N; ++k) amax = fmaxf(amax, fabsf(v[k]));
        divide(v, step_ok && amax <= hi);
    }

    template <int N>
    __device__ __forceinline__ void divide(float (&v)[N], bool fast) const {
        if (fast) {
#pragma unroll
            for (int k = 0; k < N; ++k) v[k] = corrected(v[k]);
        } else {
#pragma unroll
            for (int k = 0; k < N; ++k) v[k] = __fdiv_rn(v[k], s);
        }
    }
};

// ---- rounding of the quotient ----------------------------------------------------------------------------------
// RoundHalfAway(v) = trunc(RZ(v + copysign(0.5, v))) for every v, branch-free (round_half_away in rounding.cuh
// branches twice). Why: for |v| < 2^23 the exact sum w = v ± 0.5 has trunc(w) = RoundHalfAway(v) (floor(v + 0.5) for
// v ≥ 0, ceil(v − 0.5) for v < 0), and rounding w toward zero cannot pass the integer trunc(w) (it is representable),
// so trunc(RZ(w)) = trunc(w). For |v| ≥ 2^23 v is an integer and RZ(v ± 0.5) = v. Signed zeros, infinities and NaN
// come out as from round_half_away (−0.3 → −0, +0 → +0, −0 → −0).
__device__ __forceinline__ float rz_half_away(float v) {
    // copysignf(0.5f, v) as one LOP3 ((v & 0x80000000) | 0x3f000000): nvcc 11.8 emits two LOP3 for copysignf
    uint32_t half;
    asm("lop3.b32 %0, %1, 0x80000000, 0x3f000000, 0xea;" : "=r"(half) : "r"(__float_as_uint(v)));
    return __fadd_rz(v, __uint_as_float(half));
}
__device__ __forceinline__ float round_half_away_fast(float v) { return truncf(rz_half_away(v)); }

// The code clamp(RoundHalfAway(v), qn, 7) of a quotient v (= lsq_code after its division). clamp and trunc commute
// here (the bounds are integers and trunc is monotone), so the clamp runs on RZ(v ± 0.5) and one F2I.TRUNC
// truncates; a NaN clamps to qn as in lsq_code (fmaxf returns the number).
__device__ __forceinline__ int lsq_code_of_quotient(float v, int qn) {
    return __float2int_rz(fminf(fmaxf(rz_half_away(v), (float)qn), (float)kLsqQp));
}

// The straight-through residual of a quotient v and the masked upstream gradient (= lsq.cu's lsq_e after its
// division, and `in ? grad : 0`): e = Qn if v < Qn, 7 if v > 7, else RoundHalfAway(v) − v; *masked = grad when
// Qn ≤ v ≤ 7 (and for NaN, as there), else 0. The mask is read back from e: in range |e| ≤ 0.5, outside |e| ≥ 7, NaN
// compares false (a bool from v's two comparisons made nvcc keep 16 predicates in registers: P2R + ISETP each).
__device__ __forceinline__ float lsq_residual_of_quotient(float v, int qn, float grad, float* masked) {
    float e = __fsub_rn(round_half_away_fast(v), v);
    e = v > (float)kLsqQp ? (float)kLsqQp : e;
    e = v < (float)qn ? (float)qn : e;
    *masked = fabsf(e) > 0.5f ? 0.0f : grad;
    return e;
}

}  // namespace i4t
