// int4_ablation.cu — issue 15's diagnostic ablations of the INT4 block linears (int4train_gpt_config.int4_ablation,
// docs/conventions.md "INT4 ablations (diagnostic)"). The INT4 GPT lands at ~1.03× BF16's validation loss; these
// keep the quantizer of one half of every INT4 linear and make the other half exact, so two runs tell whether the gap
// comes from the forward's INT4 codes (HQ/LSQ, docs/method.md §2) or the backward's gradient quantizer (bit split +
// LSS, §3). They exist to locate the gap, not to train with.
//   forward-only   the forward unchanged (HQ, INT4 codes, the same Y); the backward replaces bit split + LSS (§3.3–§3.5)
//                  by exact FP32 products with the forward's dequantized codes X̂, Ŵ (unpacked from the codes the
//                  forward saved)
//                      ∇(XH) = ∇Y·(s_W·Ŵ)        ∇(WH) = ∇Yᵀ·(s_X·X̂)
//                  then the INT4 backward's own steps 4–5 (ops/linear_backward.cu: the one fused kernel that
//                  recomputes XH, WH, applies the LSQ mask and step gradients and transforms back by H, §3.6, §3.1)
//                  and ∇b = the column sums of ∇Y. So only the gradient quantizer differs from the INT4 backward.
//   backward-only  Y = X·Wᵀ + b in FP32 from the unquantized X and W (the fp32 precision's GEMM); the INT4 forward still
//                  runs first, for the codes, step sizes and block size its backward reads; the backward is the INT4
//                  backward unchanged (so its LSQ mask and step gradients are those of a forward that quantized).
// Both run on whatever operands the linear's arithmetic gets (a smoothed linear's X', W': block_linear.cu).
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "numerics/canonical_sum.cuh"
#include "ops/operators.cuh"
#include "model.cuh"

namespace i4t {
namespace gpt {
namespace {

// out (rows × cols) = s·codes, the codes unpacked from packed (rows × cols/2 bytes) into `codes`: the operand the
// forward's INT4 GEMM multiplied, times its step size (HQ-MM's dequantization, §2.3, one factor per operand).
int4train_status dequantize(int4train_context ctx, const uint8_t* packed, int rows, int cols, const float* step,
                            int8_t* codes, float* out) {
    I4T_TRY(unpack_pad(ctx, packed, rows, cols, codes, rows, cols));
    return lsq_dequantize_impl(ctx, codes, (int64_t)rows * cols, step, out);
}

}  // namespace

int4train_status ablation_forward(int4train_gpt g, const Linear& L, const float* x, const float* w, float* y, int n) {
    if (g->cfg.int4_ablation != INT4TRAIN_GPT_ABLATION_BACKWARD_ONLY) return INT4TRAIN_SUCCESS;
    return fp32_linear_forward(g, L, x, w, y, n);
}

int4train_status dequantized_backward(int4train_gpt g, const Linear& L, const float* dy, const float* x, const float* w,
                                      float* dx, float* gw, int n) {
    const int4train_layer_s& st = L.state;
    if (st.group == 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_backward: the INT4 linear has had no forward yet");
    int4train_context ctx = g->ctx;
    const int c = L.out, d = L.in;
    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d, most = nd > cd ? nd : cd;
    // the codes of one operand at a time, both dequantized operands, ∇(WH) apart from the ∇W it is added to, and the
    // CanonicalSum workspace of the step gradients (∇(XH) is built in dx, finished in place as the INT4 backward does)
    Plan p;
    p.add<int8_t>(most);
    p.add<float>(nd);
    p.add<float>(cd);
    p.add<float>(cd);
    p.add<double>(canon_ws_count(most) + 1);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    int8_t* codes = ar.take<int8_t>(most);
    float* x_hat = ar.take<float>(nd);
    float* w_hat = ar.take<float>(cd);
    float* grad_wh = ar.take<float>(cd);
    double* cws = ar.take<double>(canon_ws_count(most) + 1);
    I4T_ARENA_CHECK(ar);
    I4T_TRY(dequantize(ctx, L.x_packed, n, d, g->P(L.sx), codes, x_hat));
    I4T_TRY(dequantize(ctx, L.w_packed, c, d, g->P(L.sw), codes, w_hat));
    // ∇(XH) = ∇Y·(s_W·Ŵ) into dx, ∇(WH) = ∇Yᵀ·(s_X·X̂), ∂L/∂b += the column sums of ∇Y: the fp32 precision's GEMMs
    I4T_TRY(fp32_linear_backward(g, L, dy, x_hat, w_hat, dx, grad_wh, 0.0f, n));
    // the INT4 backward's steps 4–5 as it calls them (ops/linear_backward.cu, accumulate mode): ∇X overwritten in
    // place, ∇W and both step gradients accumulated
    I4T_TRY(hadamard_lsq_backward_impl(ctx, x, dx, nd, st.group, g->P(L.sx), st.opt.mode, dx, g->G(L.sx), cws, false,
                                       true));
    return hadamard_lsq_backward_impl(ctx, w, grad_wh, cd, st.group, g->P(L.sw), st.opt.mode, gw, g->G(L.sw), cws, true,
                                      true);
}

}  // namespace gpt
}  // namespace i4t
