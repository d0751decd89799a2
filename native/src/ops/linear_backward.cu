// linear_backward.cu — the backward of one INT4 linear layer (method.md §3.8), no host synchronisation:
//   1. bit split ∇Y (seed, stream 0)                                          §3.3
//      a. its scales from ∇Y's min/max; with ∇b asked for, the same read of ∇Y also takes ∇b's column sums in
//         256-row strips (grad_y_stats.cu: one read instead of two, the same bits)
//      b. the digits under those scales (bit_split.cu; the folded path writes them folded, lss_folded.cu)
//   2. ∇W selection: scores with the X codes; ∇X selection: plain scores    §3.4, §3.5 (both: seed, stream 1)
//   3. LSS ∇(WH) (C×D) and ∇(XH) (N×D)                                       §3.4, §3.5
//      (Bernoulli sampling: over the kept rows only, compacted by lss_compact.cu; eager calls synchronise the
//      stream once there to size the GEMMs by the kept counts, calls on a capturing stream size them for every row)
//   4. recompute XH, WH (the forward's deterministic transform) and apply the LSQ backward: mask with
//      v = XH/s_X (WH/s_W) and the step gradients                           §3.6, conventions.md "LSQ"
//   5. back-transform: ∇X = ∇(XH)·H, ∇W = ∇(WH)·H (H is symmetric and self-inverse)  §3.1
//      (4 and 5 run as one fused kernel per operand: hadamard_lsq_backward_impl in lsq.cu)
//   6. ∇b = column sums of ∇Y: the sum of 1a's strip partials              §3.6
// accumulate = 1: the final writes of ∇W, ∇b and both step gradients add into the destination (old + result, one
// FP32 add of the finished value, as llm.c's backward passes; ∇X is always overwritten). ∇(WH) is then built in a
// workspace temporary instead of the ∇W buffer.
// BF16 activations (int4train_linear_backward_typed): ∇Y (steps 1a, 1b) and X (step 4) are widened exactly on load, so
// every bit is the FP32 path's on the widened tensors; ∇(XH) is then built in an FP32 workspace and step 5 stores
// ∇X = RN_bf16 of the FP32 ∇X (docs/conventions.md "BF16 activations of the INT4 layer").
// Nonzero sampling on SM90 runs 1b–3 as lss_folded.cu (one split pass, no selection, scaled GEMM epilogues); apart from
// the one synchronisation of Bernoulli sampling (above) nothing waits for the device.
#include <type_traits>

#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/canonical_sum.cuh"
#include "ops/operators.cuh"

namespace i4t {

// The intermediate buffers of the general path (steps 1–3 below): planned and carved in one place. Plan order:
// linear_backward_plan_buffers, then linear_backward_plan_ops (the sub-operators carve theirs after these); take the
// buffers in the same order.
struct LinearBackwardBuffers {
    int8_t *high, *low;      // bit-split digits (n × c)
    int8_t* xq;              // unpacked X codes (n × d), for the ∇W scores
    double *prob_w, *prob_x;  // selection of each GEMM (2n stacked rows)
    uint8_t *keep_w, *keep_x;
    int32_t *kept_w, *kept_x;
};

static int64_t canon_ws_for(int n, int c, int d) {
    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d;
    return canon_ws_count(nd > cd ? nd : cd) + 1;
}

static void linear_backward_plan_buffers(Plan& p, int n, int c, int d) {
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, n2 = 2 * (int64_t)n;
    p.add<int8_t>(nc);
    p.add<int8_t>(nc);
    p.add<int8_t>(nd);
    p.add<double>(n2);
    p.add<double>(n2);
    p.add<uint8_t>(n2);
    p.add<uint8_t>(n2);
    p.add<int32_t>(2);
    p.add<int32_t>(2);
}

// compact: Bernoulli sampling, whose GEMMs run over the kept rows only (lss_compact.cu).
static void linear_backward_plan_ops(int4train_context ctx, Plan& p, int n, int c, int d, bool compact) {
    lss_select_plan(p, n, c, d);  // ∇W selection
    lss_select_plan(p, n, c, d);  // ∇X selection
    if (compact) {
        lss_compact_plan(p, n);
        lss_grad_weight_compact_plan(ctx, p, n, c, d);
        lss_grad_input_compact_plan(ctx, p, n, c, d);
    } else {
        lss_grad_weight_plan(ctx, p, n, c, d);
        lss_grad_input_plan(ctx, p, n, c, d);
    }
}

static LinearBackwardBuffers linear_backward_take(Arena& ar, int n, int c, int d) {
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, n2 = 2 * (int64_t)n;
    LinearBackwardBuffers b;
    b.high = ar.take<int8_t>(nc);
    b.low = ar.take<int8_t>(nc);
    b.xq = ar.take<int8_t>(nd);
    b.prob_w = ar.take<double>(n2);
    b.prob_x = ar.take<double>(n2);
    b.keep_w = ar.take<uint8_t>(n2);
    b.keep_x = ar.take<uint8_t>(n2);
    b.kept_w = ar.take<int32_t>(2);
    b.kept_x = ar.take<int32_t>(2);
    return b;
}

}  // namespace i4t

extern "C" INT4TRAIN_API int4train_status int4train_linear_backward(
    int4train_context ctx, const float* d_grad_y, const float* d_x, const float* d_w, const uint8_t* d_x_packed,
    const uint8_t* d_w_packed, const float* d_step_x, const float* d_step_w, int n, int c, int d, int group, int mode,
    int sampling, uint64_t seed, float* d_grad_x, float* d_grad_w, float* d_grad_step_x, float* d_grad_step_w,
    float* d_grad_bias, int accumulate) {
    return i4t::linear_backward_keyed(ctx, d_grad_y, d_x, d_w, d_x_packed, d_w_packed, d_step_x, d_step_w, n, c, d,
                                      group, mode, sampling, i4t::PhiloxKey(seed), d_grad_x, d_grad_w, d_grad_step_x,
                                      d_grad_step_w, d_grad_bias, accumulate);
}

extern "C" INT4TRAIN_API int4train_status int4train_linear_backward_typed(
    int4train_context ctx, int act_dtype, const void* d_grad_y, const void* d_x, const float* d_w,
    const uint8_t* d_x_packed, const uint8_t* d_w_packed, const float* d_step_x, const float* d_step_w, int n, int c,
    int d, int group, int mode, int sampling, uint64_t seed, void* d_grad_x, float* d_grad_w, float* d_grad_step_x,
    float* d_grad_step_w, float* d_grad_bias, int accumulate) {
    const auto run = [&](auto* type) {
        using T = std::remove_pointer_t<decltype(type)>;
        return i4t::linear_backward_keyed(ctx, static_cast<const T*>(d_grad_y), static_cast<const T*>(d_x), d_w,
                                          d_x_packed, d_w_packed, d_step_x, d_step_w, n, c, d, group, mode, sampling,
                                          i4t::PhiloxKey(seed), static_cast<T*>(d_grad_x), d_grad_w, d_grad_step_x,
                                          d_grad_step_w, d_grad_bias, accumulate);
    };
    switch (act_dtype) {
    case INT4TRAIN_DTYPE_F32: return run((float*)nullptr);
    case INT4TRAIN_DTYPE_BF16: return run((__nv_bfloat16*)nullptr);
    default:
        I4T_TRY(i4t::enter(ctx, "int4train_linear_backward_typed"));
        return i4t::fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                         "int4train_linear_backward_typed: act_dtype %d is not INT4TRAIN_DTYPE_F32 (0) or "
                         "INT4TRAIN_DTYPE_BF16 (1)", act_dtype);
    }
}

// The checks of int4train_linear_backward live here, where every caller (the C ABI, the layer, the GPT's graph) comes
// through; messages name the public entry point (the typed one for a BF16 ∇Y).
template <class T>
int4train_status i4t::linear_backward_keyed(int4train_context ctx, const T* d_grad_y, const T* d_x,
                                            const float* d_w, const uint8_t* d_x_packed, const uint8_t* d_w_packed,
                                            const float* d_step_x, const float* d_step_w, int n, int c, int d,
                                            int group, int mode, int sampling, PhiloxKey seed, T* d_grad_x,
                                            float* d_grad_w, float* d_grad_step_x, float* d_grad_step_w,
                                            float* d_grad_bias, int accumulate) {
    static constexpr const char* fn =
        sizeof(T) == sizeof(float) ? "int4train_linear_backward" : "int4train_linear_backward_typed";
    I4T_TRY(enter(ctx, fn));
    I4T_NOTNULL_IN(fn, d_grad_y);
    I4T_NOTNULL_IN(fn, d_x);
    I4T_NOTNULL_IN(fn, d_w);
    I4T_NOTNULL_IN(fn, d_x_packed);
    I4T_NOTNULL_IN(fn, d_w_packed);
    I4T_NOTNULL_IN(fn, d_step_x);
    I4T_NOTNULL_IN(fn, d_step_w);
    I4T_NOTNULL_IN(fn, d_grad_x);
    I4T_NOTNULL_IN(fn, d_grad_w);
    I4T_NOTNULL_IN(fn, d_grad_step_x);
    I4T_NOTNULL_IN(fn, d_grad_step_w);
    I4T_ALIGNED_IN(fn, d_grad_bias);
    if (n <= 0 || c <= 0 || d <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d), c (%d), d (%d) must be positive", fn, n, c, d);
    if (d % 2 != 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: d (%d) must be even", fn, d);
    if (n > (1 << 29)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d) too large", fn, n);
    I4T_TRY(check_dim(fn, "c", c));
    I4T_TRY(check_dim(fn, "d", d));
    I4T_TRY(check_group(d, group, fn));
    I4T_TRY(check_mode(mode, fn));
    if (sampling != INT4TRAIN_SAMPLING_NONZERO && sampling != INT4TRAIN_SAMPLING_BERNOULLI)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: sampling %d is not 0 or 1", fn, sampling);

    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d;
    const bool bias = d_grad_bias != nullptr;
    // ∇(XH) (FP32) is built in the ∇X buffer itself when ∇X is FP32, in a workspace when it is BF16
    constexpr bool narrow_x = !std::is_same<T, float>::value;
    float* const grad_x_own = reinterpret_cast<float*>(d_grad_x);  // used only when T = float
    // Nonzero sampling on the SM90 path: steps 1–3 as one split pass and two scaled GEMMs (lss_folded.cu),
    // bit-identical to the general path below.
    // (a workspace ∇(XH) is carved 256-byte aligned, so only the output buffers' alignment is in question)
    const bool folded = sampling == INT4TRAIN_SAMPLING_NONZERO && lss_epilogue_available(ctx, d, d_grad_w) &&
                        (narrow_x || lss_folded_available(ctx, d, grad_x_own, d_grad_w));
    // Bernoulli sampling runs its GEMMs over the compacted kept rows (same bits; the generic kernels keep the plain
    // masked GEMMs over every row, the self-test's oracle for it)
    const bool compact = sampling == INT4TRAIN_SAMPLING_BERNOULLI && !ctx->generic_kernels;
    // The buffers of both paths, then step 1's min/max partials, then the path's own (take in the same order).
    Plan p;
    p.add<float>(3);  // the split scales {Mx, s↑, s↓}
    p.add<double>(canon_ws_for(n, c, d));
    if (bias) p.add<double>(bias_partials_count(n, c));
    if (accumulate) p.add<float>(cd);  // ∇(WH), kept apart from the ∇W being added to
    if (narrow_x) p.add<float>(nd);    // ∇(XH) in FP32, for a BF16 ∇X
    if (bias)
        grad_y_stats_plan(p, n, c);
    else
        bit_split_plan(p, n, c);
    if (folded) {
        lss_folded_plan(ctx, p, n, c, d);
    } else {
        linear_backward_plan_buffers(p, n, c, d);
        linear_backward_plan_ops(ctx, p, n, c, d, compact);
    }
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    float* scales = ar.take<float>(3);
    double* cws = ar.take<double>(canon_ws_for(n, c, d));
    double* bias_part = bias ? ar.take<double>(bias_partials_count(n, c)) : nullptr;
    float* grad_wh = accumulate ? ar.take<float>(cd) : d_grad_w;  // ∇(WH): the ∇W buffer itself, or a temporary
    float* grad_xh = narrow_x ? ar.take<float>(nd) : grad_x_own;   // ∇(XH): the ∇X buffer itself, or a temporary
    I4T_ARENA_CHECK(ar);
    // 1a. the split scales of ∇Y; with ∇b asked for, from the one read of ∇Y that also takes ∇b's strip sums (the
    //     same bits as the separate passes, grad_y_stats.cu), otherwise from the bit split's own min/max pass
    if (bias) {
        I4T_TRY(grad_y_stats_impl(ctx, ar, d_grad_y, n, c, bias_part, scales));
        phase_done(ctx, "∇Y min/max + bias partials (one read)");
    } else {
        I4T_TRY(bit_split_scales_impl(ctx, ar, d_grad_y, n, c, scales));
        phase_done(ctx, "∇Y min/max (split scales)");
    }
    if (folded) {
        // 1b–3.
        I4T_TRY(lss_folded_impl(ctx, ar, d_grad_y, d_x_packed, d_w_packed, d_step_x, d_step_w, n, c, d, seed, mode,
                                scales, grad_xh, grad_wh));
    } else {
        const LinearBackwardBuffers b = linear_backward_take(ar, n, c, d);
        I4T_ARENA_CHECK(ar);
        // 1b–2.
        I4T_TRY(bit_split_impl(ctx, d_grad_y, n, c, scales, seed, mode, b.high, b.low));
        phase_done(ctx, "bit split digits");
        I4T_TRY(unpack_pad(ctx, d_x_packed, n, d, b.xq, n, d));
        I4T_TRY(lss_select_impl(ctx, ar, b.high, b.low, scales, b.xq, d_step_x, n, c, d, sampling, seed, b.prob_w,
                                b.keep_w, b.kept_w));
        I4T_TRY(lss_select_impl(ctx, ar, b.high, b.low, scales, nullptr, nullptr, n, c, d, sampling, seed, b.prob_x,
                                b.keep_x, b.kept_x));
        phase_done(ctx, "leverage scores+select");
        // 3. (the Hadamard-domain gradients are built in the output buffers and finished in place; ∇(WH) in grad_wh)
        LssCompaction k{};
        if (compact) {
            I4T_TRY(lss_compact_impl(ctx, ar, b.keep_w, b.prob_w, b.keep_x, b.prob_x, n, &k));
            phase_done(ctx, "kept rows compacted");
        }
        I4T_TRY(compact ? lss_grad_weight_compact_impl(ctx, ar, b.high, b.low, d_x_packed, scales, d_step_x, b.keep_w,
                                                       b.prob_w, k, n, c, d, grad_wh)
                        : lss_grad_weight_impl(ctx, ar, b.high, b.low, d_x_packed, scales, d_step_x, b.keep_w,
                                               b.prob_w, n, c, d, grad_wh));
        phase_done(ctx, "LSS dW (pack+GEMM+dequant)");
        I4T_TRY(compact ? lss_grad_input_compact_impl(ctx, ar, b.high, b.low, d_w_packed, scales, d_step_w, b.keep_x,
                                                      b.prob_x, k, n, c, d, grad_xh)
                        : lss_grad_input_impl(ctx, ar, b.high, b.low, d_w_packed, scales, d_step_w, b.keep_x,
                                              b.prob_x, n, c, d, grad_xh, sampling == INT4TRAIN_SAMPLING_NONZERO));
        phase_done(ctx, "LSS dX (pack+GEMM+dequant)");
    }
    // 4–5. fused per operand (one CTA per CanonicalSum chunk: recompute VH, mask + step-gradient terms,
    //      back-transform), bit-identical to hadamard_impl -> lsq_backward_impl -> hadamard_impl
    const bool acc = accumulate != 0;
    // ∇X is always overwritten (in place over ∇(XH), or BF16 ∇X = RN_bf16 of it from the workspace); ∇W and both step
    // gradients accumulate in accumulate mode
    I4T_TRY(hadamard_lsq_backward_impl(ctx, d_x, grad_xh, nd, group, d_step_x, mode, d_grad_x, d_grad_step_x, cws, false,
                                       acc));
    I4T_TRY(hadamard_lsq_backward_impl(ctx, d_w, grad_wh, cd, group, d_step_w, mode, d_grad_w, d_grad_step_w, cws, acc,
                                       acc));
    phase_done(ctx, "recompute+LSQ backward+back-transform (fused)");
    // 6. (the strip sums were taken in 1a)
    if (bias) {
        I4T_TRY(bias_final_impl(ctx, bias_part, n, c, d_grad_bias, acc));
        phase_done(ctx, "bias gradient (sum of the strip partials)");
    }
    return INT4TRAIN_SUCCESS;
}

#define I4T_LINEAR_BACKWARD_FOR(T)                                                                                   \
    template int4train_status i4t::linear_backward_keyed<T>(                                                         \
        int4train_context, const T*, const T*, const float*, const uint8_t*, const uint8_t*, const float*,           \
        const float*, int, int, int, int, int, int, PhiloxKey, T*, float*, float*, float*, float*, int);
I4T_LINEAR_BACKWARD_FOR(float)
I4T_LINEAR_BACKWARD_FOR(__nv_bfloat16)
#undef I4T_LINEAR_BACKWARD_FOR
