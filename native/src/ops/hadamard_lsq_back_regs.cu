// hadamard_lsq_back_regs.cu — the fused backward tail of lsq.cu (recompute VH, LSQ backward, back-transform) for
// G ≤ 512 on registers (G = 64 … 512: the stages h ≥ 32 through shared memory, hadamard_regs.cuh
// stages_above_32): 16 elements per thread (hadamard_regs.cuh), the division with a hoisted reciprocal and the
// branch-free rounding of numerics/lsq_fast.cuh. Bit-identical to hadamard_lsq_back_kernel (lsq.cu), the generic
// kernel, in every output: out, and the chunk sums of the step gradient.
//
// SASS per element, sm_90, nvcc 11.8 (static count of the hot path: a full chunk, no fallback division; the old
// kernel's count includes both sides of round_half_away's branches and the inline setup of __fdiv_rn's slow calls):
//                          warp G=32    regs G=32   regs G=16
//   SHFL (quarter rate)         2.00        1.00        0         (G = 32: 10 shuffle stages per element → 2 exchanges)
//   FADD / FMUL / FFMA   9 / 3.9 / 14.4 13 / 3.1 / 4.3  11 / 3.1 / 4.3
//   MUFU.RCP + FCHK       2.9 + 2.9     .06 + .06   .06 + .06
//   FRND / F2F / DMUL+DADD  1.9 / 2 / 1.5  1 / 2 / 2.5  1 / 2 / 2.5
//   FSETP / FSEL / FMNMX   4 / 1 / 0   3.3 / 5.9 / 1.9  3.3 / 2.9 / 1.9
//   SEL/MOV, BRA/BSSY/CALL   9.1, 25.1   0.2, 0.4    0.2, 0.4
//   LOP3/PRMT/SHF/IADD/ISETP   9.6         5.3         5.0
//   LDG / STG / LDS / STS  3.1/1.1/1.1/.6  .8/.3/2.1/1.1  .8/.3/2.1/1.1  (LDS/STS: the terms and the canonical tree)
//   total                    105.9        50.8        44.4
// (Global accesses per element: 3 of 32 bits before; 0.5 loads and 0.25 stores of 128 bits now.)
//
// Why the step-gradient sum still comes out bit for bit: CanonicalSum's lane t must add the terms of elements
// t, t+256, ... in that order (conventions.md), but here a thread holds 16 consecutive elements. Each thread writes
// its 16 terms (double, exact products) into shared memory at their element index, and after a barrier lane t reads
// t + 256k for k = 0..15 and adds them in k order: the same additions as the generic kernel's lane t.
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "numerics/canonical_sum.cuh"
#include "numerics/lsq_fast.cuh"
#include "ops/hadamard_regs.cuh"
#include "ops/operators.cuh"

namespace i4t {

// Shared-memory slot of element i's term: i with its bits 1..3 xor-ed with the writing thread's index (mod 8 among
// the 8 threads of a 16-byte-store phase), so the double2 stores of a quarter warp hit 8 different bank groups; the
// reads (16 consecutive aligned elements per half warp) stay a permutation of one 128-byte line.
template <int G>
__device__ __forceinline__ int term_slot(int i) {
    return G < 32 ? i ^ (((i >> 4) & 7) << 1)   // kLoad: thread i / 16
                  : i ^ (((i >> 5) & 3) << 1);  // kForward: lane pair i / 32, the lane bit is element bit 3
}

// V: the element type of v, O: of out (float or __nv_bfloat16: widened on load, rounded to nearest even on store).
template <int G, class V, class O>
__global__ void __launch_bounds__(kCanonLanes) hadamard_lsq_back_regs_kernel(const V* __restrict__ v,
                                                                             const float* grad, O* out,
                                                                             int64_t total, float scale,
                                                                             const float* step, int qn,
                                                                             double* chunk_sums, bool accumulate) {
    __shared__ __align__(16) double terms[kCanonChunk];
    __shared__ double lanes[kCanonLanes];
    const int t = threadIdx.x, u = t & 1;
    const int64_t base = (int64_t)blockIdx.x * kCanonChunk;
    const int len = (int)((total - base) < kCanonChunk ? (total - base) : kCanonChunk);
    const int pair = 32 * (t >> 1);  // chunk-local first element of this lane pair's 32
    const LsqQuotient quotient(*step);

    // 1. VH = H(V)·scale, its quotients by the step (elements past len read 0 and are never stored).
    float x[16], g[16];
    load_pair_layout<G, PairLayout::kLoad>(v + base, pair, u, len, x);
    load_pair_layout<G, PairLayout::kForward>(grad + base, pair, u, len, g);
    // G > 32: the stages h ≥ 32 use this warp's 512 elements' worth of `terms` as floats (2 KB of the warp's 4 KB of
    // terms below would overlap two other warps' runs, hence the barrier before the terms are written)
    float* run = reinterpret_cast<float*>(terms) + 512 * (t >> 5);
    butterfly_forward<G>(x, u);
    stages_above_32<G, PairLayout::kForward>(x, u, t & 31, run);
    if constexpr (G > 32) __syncthreads();
#pragma unroll
    for (int k = 0; k < 16; ++k) x[k] = __fmul_rn(x[k], scale);
    quotient.divide_exact(x);

    // 2. residual e, term (double)e·(double)R into shared memory, masked gradient in place of the quotient.
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        double term[2];
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            const int k = 2 * j + m;
            const float e = lsq_residual_of_quotient(x[k], qn, g[k], &x[k]);
            term[m] = (double)e * (double)g[k];
        }
        const int i = pair + run_offset<G, PairLayout::kForward>(j >> 1, u) + 2 * (j & 1);
        *reinterpret_cast<double2*>(&terms[term_slot<G>(i)]) = make_double2(term[0], term[1]);
    }
    __syncthreads();

    // 3. lane t adds the terms of t, t + 256, ... in order; the canonical tree over the 256 lanes.
    //    (term_slot(t + 256k) = term_slot(t) + 256k: the swizzle bits come from i / 16 mod 8 or i / 32 mod 4)
    const double* mine = terms + term_slot<G>(t);
    double acc = 0.0;
    if (len == kCanonChunk) {
#pragma unroll
        for (int k = 0; k < kCanonChunk / kCanonLanes; ++k) acc += mine[k * kCanonLanes];
    } else {
        for (int k = 0; t + k * kCanonLanes < len; ++k) acc += mine[k * kCanonLanes];
    }
    const double chunk = canon_lanes_reduce(acc, lanes);
    if (t == 0) chunk_sums[blockIdx.x] = chunk;

    // 4. out = H(masked gradient)·scale (accumulate: out ← out + that, one FP32 add; out does not alias grad then).
    // (canon_lanes_reduce ended with a barrier: every thread has read its terms, so `run` may be written again)
    butterfly_backward<G>(x, u);
    stages_above_32<G, PairLayout::kBackward>(x, u, t & 31, run);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const int64_t e = pair + run_offset<G, PairLayout::kBackward>(j, u);
        float r[4];
#pragma unroll
        for (int m = 0; m < 4; ++m) r[m] = __fmul_rn(x[4 * j + m], scale);
        O* o = out + base + e;
        if (e + 3 < len) {
            if (accumulate) {  // FP32 out only (hadamard_lsq_backward_impl)
                const float4 old = load4_widened(o, 0);
                r[0] = __fadd_rn(old.x, r[0]); r[1] = __fadd_rn(old.y, r[1]);
                r[2] = __fadd_rn(old.z, r[2]); r[3] = __fadd_rn(old.w, r[3]);
            }
            store4_narrowed(o, 0, make_float4(r[0], r[1], r[2], r[3]));
        } else {
#pragma unroll
            for (int m = 0; m < 4; ++m)
                if (e + m < len) store_narrowed(o, m, accumulate ? __fadd_rn(load_widened(o, m), r[m]) : r[m]);
        }
    }
}

template <class V, class O>
bool hadamard_lsq_back_regs_applies(int4train_context ctx, const V* v, const float* grad, const O* out, int group) {
    return !ctx->generic_kernels && group <= kMaxRegisterGroup && aligned4(v) && aligned4(grad) && aligned4(out);
}

template <class V, class O>
int4train_status hadamard_lsq_back_regs(int4train_context ctx, const V* v, const float* grad, O* out,
                                        int64_t total, int group, float scale, const float* d_step, int qn,
                                        double* chunk_sums, bool accumulate) {
    const unsigned chunks = (unsigned)ceil_div(total, kCanonChunk);
    const bool launched = with_register_group(group, [&](auto g) {
        hadamard_lsq_back_regs_kernel<decltype(g)::value, V, O><<<chunks, kCanonLanes, 0, ctx->stream>>>(
            v, grad, out, total, scale, d_step, qn, chunk_sums, accumulate);
    });
    if (!launched) return fail(INT4TRAIN_ERROR_INTERNAL, "hadamard_lsq_back_regs: G = %d", group);
    I4T_LAUNCH("hadamard_lsq_back_regs_kernel");
    return INT4TRAIN_SUCCESS;
}

// (v, out) as FP32 (∇W, and ∇X of FP32 activations) and BF16 (∇X of BF16 activations)
#define I4T_LSQ_BACK_REGS_FOR(V, O)                                                                                  \
    template bool hadamard_lsq_back_regs_applies<V, O>(int4train_context, const V*, const float*, const O*, int);     \
    template int4train_status hadamard_lsq_back_regs<V, O>(int4train_context, const V*, const float*, O*, int64_t,   \
                                                           int, float, const float*, int, double*, bool);
I4T_LSQ_BACK_REGS_FOR(float, float)
I4T_LSQ_BACK_REGS_FOR(__nv_bfloat16, __nv_bfloat16)
#undef I4T_LSQ_BACK_REGS_FOR

}  // namespace i4t
