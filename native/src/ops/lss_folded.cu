// lss_folded.cu — linear_backward steps 1–3 for Nonzero sampling on the SM90 path (docs/method.md §3.3–§3.5,
// §3.8): one read of ∇Y, two GEMMs with the scaling in their epilogue, no selection pass.
//
// Why the selection can be skipped: in Nonzero mode a part is kept exactly when its row of digits is nonzero (for
// ∇W also when a_i ≠ 0), with p = 1. A row that is not kept is therefore either zero already or multiplies a zero
// row a_i, so the masks change no integer product: the GEMMs over the unmasked folded digits 14h + l (the INT8 view
// of a bit-split pair, s↑·h + s↓·l = s↓·(14h + l)) give the same INT32 sums, and the epilogue
// ∇(VH) = float(s_V·(s↓·double(G))) is the general path's (lss_matmul.cu: the epilogue of a folded ∇X token, which is
// the reference's ∇X arithmetic, and ∇W's dequantize with no fractional row), so the result is bit-identical to the
// general path of lss_select.cu + lss_matmul.cu.
//
//   1. the folded digits in both layouts (bit_split_fold_impl, bit_split.cu) under the split scales the caller took
//      (linear_backward.cu: its own min/max pass, or with ∇b one read of ∇Y for both, grad_y_stats.cu)
//   2. X codes transposed (d × n, for ∇W's K = n) and W codes transposed (d × c, for ∇X's K = c), one launch
// (Running 2. and ∇b on a second stream beside 1. was measured on the H200 and gained nothing: the split already
// fills every SM, so the side kernels only queued behind it.)
//   3. ∇(WH) = s_X·(s↓·A_colsᵀ·Xᵀ) (c × d) and ∇(XH) = s_W·(s↓·A_rows·Ŵ) (n × d) straight into the outputs
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {

namespace {
struct FoldedShape {
    int kp, cp;  // padded token count (∇W's K) and padded C (∇X's K)
    size_t gemm_ws;
};
FoldedShape folded_shape(int4train_context ctx, int n, int c, int d) {
    FoldedShape s;
    s.kp = (int)round_up(n, 32);
    s.cp = (int)round_up(c, 32);
    const size_t w = gemm_padded_lss_workspace(ctx, c, d, s.kp), x = gemm_padded_lss_workspace(ctx, n, d, s.cp);
    s.gemm_ws = w > x ? w : x;
    return s;
}
}  // namespace

bool lss_epilogue_available(int4train_context ctx, int d, const float* out) {
    return !ctx->generic_kernels && gemm_dq_available(ctx) && d % 4 == 0 && (uintptr_t)out % 16 == 0;
}

bool lss_folded_available(int4train_context ctx, int d, const float* grad_x, const float* grad_w) {
    return lss_epilogue_available(ctx, d, grad_x) && lss_epilogue_available(ctx, d, grad_w);
}

void lss_folded_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    const FoldedShape s = folded_shape(ctx, n, c, d);
    p.add<int8_t>((int64_t)n * s.cp);  // folded digits, rows
    p.add<int8_t>((int64_t)c * s.kp);  // folded digits, columns
    p.add<int8_t>((int64_t)d * s.kp);  // X codes transposed
    p.add<int8_t>((int64_t)d * s.cp);  // W codes transposed
    p.add<char>((int64_t)s.gemm_ws);
}

template <class T>
int4train_status lss_folded_impl(int4train_context ctx, Arena& ar, const T* grad_y, const uint8_t* x_packed,
                                 const uint8_t* w_packed, const float* step_x, const float* step_w, int n, int c,
                                 int d, PhiloxKey seed, int mode, const float* scales, float* grad_xh, float* grad_wh) {
    const FoldedShape s = folded_shape(ctx, n, c, d);
    int8_t* rows = ar.take<int8_t>((int64_t)n * s.cp);
    int8_t* cols = ar.take<int8_t>((int64_t)c * s.kp);
    int8_t* xt = ar.take<int8_t>((int64_t)d * s.kp);
    int8_t* wt = ar.take<int8_t>((int64_t)d * s.cp);
    char* ws = ar.take<char>((int64_t)s.gemm_ws);
    I4T_ARENA_CHECK(ar);
    I4T_TRY(bit_split_fold_impl(ctx, grad_y, n, c, scales, seed, mode, rows, s.cp, cols, s.kp));
    phase_done(ctx, "bit split digits (folded, both layouts)");
    I4T_TRY(unpack_transpose_pad_two(ctx, {x_packed, n, d, xt, d, s.kp}, {w_packed, c, d, wt, d, s.cp}));
    phase_done(ctx, "codes transposed (X, W)");
    I4T_TRY(gemm_padded_lss(ctx, cols, xt, step_x, scales + 2, grad_wh, d, c, d, s.kp, ws, s.gemm_ws));
    phase_done(ctx, "LSS dW (GEMM, scaling epilogue)");
    I4T_TRY(gemm_padded_lss(ctx, rows, wt, step_w, scales + 2, grad_xh, d, n, d, s.cp, ws, s.gemm_ws));
    phase_done(ctx, "LSS dX (GEMM, scaling epilogue)");
    return INT4TRAIN_SUCCESS;
}

#define I4T_LSS_FOLDED_FOR(T)                                                                                        \
    template int4train_status lss_folded_impl<T>(int4train_context, Arena&, const T*, const uint8_t*, const uint8_t*, \
                                                  const float*, const float*, int, int, int, PhiloxKey, int,          \
                                                  const float*, float*, float*);
I4T_LSS_FOLDED_FOR(float)
I4T_LSS_FOLDED_FOR(__nv_bfloat16)
#undef I4T_LSS_FOLDED_FOR

}  // namespace i4t
