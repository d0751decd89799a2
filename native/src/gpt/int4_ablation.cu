// int4_ablation.cu — issue 15's diagnostic ablations of the INT4 block linears (int4train_gpt_config.int4_ablation,
// docs/conventions.md "INT4 ablations (diagnostic)"). The INT4 GPT lands at ~1.03× BF16's validation loss; these
// keep the quantizer of one half of every INT4 linear and make the other half exact, so two runs tell whether the gap
// comes from the forward's INT4 codes (HQ/LSQ, docs/method.md §2) or the backward's gradient quantizer (bit split +
// LSS, §3); the fine-scale ones then ask whether finer steps remove the forward's part. They exist to locate the gap,
// not to train with.
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
//   fine-scales    (and fine-x, fine-w: one operand only) the forward's product with finer steps: one per row of XH
//                  (a token) and one per row of WH (an output channel) instead of the layer's one learned step per
//                  tensor. The INT4 forward still runs first (G, the step sizes, the codes of a per-tensor operand);
//                  then Y = X̂H·(ŴH)ᵀ + b in FP32 (the Hadamard-domain product equals the HQ one: H is orthogonal),
//                  where a fine operand is s_r·clamp(RoundHalfAway(VH/s_r), Qn, Qp) with s_r the LSQ rule of its row
//                  (row_quantizer.cuh) and a per-tensor one s·(the forward's codes). The backward is forward-only's
//                  with these operands (made again from the same inputs: the same bits): ∇(XH) = ∇Y·ŴH,
//                  ∇(WH) = ∇Yᵀ·X̂H, then a per-tensor operand's LSQ tail as forward-only's, a fine operand's
//                  straight-through mask 1[Qn ≤ VH/s_r ≤ Qp] and H; a fine operand's step size gets no gradient (its
//                  steps come from the batch, none is learned). The question it answers: does the forward's cost
//                  come from the one step per tensor?
// All run on whatever operands the linear's arithmetic gets (a smoothed linear's X', W': block_linear.cu).
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "numerics/canonical_sum.cuh"
#include "ops/operators.cuh"
#include "model.cuh"
#include "row_quantizer.cuh"

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

bool fine_x(int ablation) {
    return ablation == INT4TRAIN_GPT_ABLATION_FINE_SCALES || ablation == INT4TRAIN_GPT_ABLATION_FINE_X;
}
bool fine_w(int ablation) {
    return ablation == INT4TRAIN_GPT_ABLATION_FINE_SCALES || ablation == INT4TRAIN_GPT_ABLATION_FINE_W;
}

// The Hadamard-domain operands of a fine-scale ablation's FP32 product, and what its backward needs of them.
struct FineOperands {
    float* x_hat;   // X̂H (n × d)
    float* w_hat;   // ŴH (c × d)
    float* xh;      // XH of a fine X (its mask's values); otherwise idle, a temporary of the backward
    float* wh;      // WH of a fine W, likewise
    float* x_step;  // the per-row steps of a fine X (n)
    float* w_step;  // of a fine W (c)
    int8_t* codes;  // a per-tensor operand's unpacked codes
};

void plan_fine(Plan& p, int n, int c, int d) {
    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d;
    p.add<float>(nd);
    p.add<float>(cd);
    p.add<float>(nd);
    p.add<float>(cd);
    p.add<float>(n);
    p.add<float>(c);
    p.add<int8_t>(nd > cd ? nd : cd);
}

FineOperands take_fine(Arena& ar, int n, int c, int d) {
    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d;
    FineOperands f;
    f.x_hat = ar.take<float>(nd);
    f.w_hat = ar.take<float>(cd);
    f.xh = ar.take<float>(nd);
    f.wh = ar.take<float>(cd);
    f.x_step = ar.take<float>(n);
    f.w_step = ar.take<float>(c);
    f.codes = ar.take<int8_t>(nd > cd ? nd : cd);
    return f;
}

// One operand V (rows × d) in the Hadamard domain as the fine-scale forward multiplies it: fine, VH = V·H with the
// layer's G into vh, its per-row steps and the per-row dequantized codes into out; else s·(the codes the INT4
// forward saved).
int4train_status hat_operand(int4train_context ctx, const Linear& L, bool fine, const float* v, const uint8_t* packed,
                             int rows, const float* step, int8_t* codes, float* vh, float* row_step, float* out) {
    const int d = L.in;
    if (!fine) return dequantize(ctx, packed, rows, d, step, codes, out);
    I4T_TRY(hadamard_impl(ctx, v, vh, (int64_t)rows * d, L.state.group));
    I4T_TRY(row_steps(ctx, vh, rows, d, layer::step_rule_scale(L.state.opt), row_step));
    return row_fake_quantize(ctx, vh, rows, d, row_step, L.state.opt.mode, out);
}

// Both operands from the linear's x and w after its INT4 forward (the same kernels on the same inputs in the forward,
// a forward made again and the backward: the same bits).
int4train_status fine_operands(int4train_gpt g, const Linear& L, const float* x, const float* w, int n,
                               const FineOperands& f) {
    const int a = g->cfg.int4_ablation;
    I4T_TRY(hat_operand(g->ctx, L, fine_x(a), x, L.x_packed, n, g->P(L.sx), f.codes, f.xh, f.x_step, f.x_hat));
    return hat_operand(g->ctx, L, fine_w(a), w, L.w_packed, L.out, g->P(L.sw), f.codes, f.wh, f.w_step, f.w_hat);
}

__global__ void add_into_kernel(float* out, const float* __restrict__ v, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __fadd_rn(out[i], v[i]);
}

// A fine operand's backward tail: grad (rows × d, ∇ of its dequantized VH) masked by its per-row quantizer, then
// back to the original basis by H into tmp; out = that (X: overwritten) or out += that (W: accumulated, one FP32 add
// per element, as the INT4 backward's accumulate mode).
int4train_status fine_tail(int4train_context ctx, const Linear& L, const float* vh, const float* row_step, int rows,
                           float* grad, float* tmp, float* out, bool accumulate) {
    const int64_t total = (int64_t)rows * L.in;
    I4T_TRY(row_mask(ctx, vh, rows, L.in, row_step, L.state.opt.mode, grad));
    I4T_TRY(hadamard_impl(ctx, grad, tmp, total, L.state.group));
    if (!accumulate) {
        I4T_CUDA(cudaMemcpyAsync(out, tmp, sizeof(float) * (size_t)total, cudaMemcpyDeviceToDevice, ctx->stream));
        return INT4TRAIN_SUCCESS;
    }
    add_into_kernel<<<grid_for(total), 256, 0, ctx->stream>>>(out, tmp, total);
    I4T_LAUNCH("add_into_kernel");
    return INT4TRAIN_SUCCESS;
}

// The fine-scale ablations' backward (the header's description; arguments as dequantized_backward's).
int4train_status fine_backward(int4train_gpt g, const Linear& L, const float* dy, const float* x, const float* w,
                               float* dx, float* gw, int n) {
    int4train_context ctx = g->ctx;
    const int a = g->cfg.int4_ablation, c = L.out, d = L.in, group = L.state.group, mode = L.state.opt.mode;
    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d, most = nd > cd ? nd : cd;
    // the operands, ∇(WH) apart from the ∇W it is added to, and the CanonicalSum workspace of the step gradients
    Plan p;
    plan_fine(p, n, c, d);
    p.add<float>(cd);
    p.add<double>(canon_ws_count(most) + 1);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    const FineOperands f = take_fine(ar, n, c, d);
    float* grad_wh = ar.take<float>(cd);
    double* cws = ar.take<double>(canon_ws_count(most) + 1);
    I4T_ARENA_CHECK(ar);
    I4T_TRY(fine_operands(g, L, x, w, n, f));
    // ∇(XH) = ∇Y·ŴH into dx, ∇(WH) = ∇Yᵀ·X̂H, ∂L/∂b += the column sums of ∇Y
    I4T_TRY(fp32_linear_backward(g, L, dy, f.x_hat, f.w_hat, dx, grad_wh, 0.0f, n));
    // X: ∇X overwritten in place (through the idle X̂H buffer when fine), ∇s_X accumulated when per-tensor
    if (fine_x(a))
        I4T_TRY(fine_tail(ctx, L, f.xh, f.x_step, n, dx, f.x_hat, dx, false));
    else
        I4T_TRY(hadamard_lsq_backward_impl(ctx, x, dx, nd, group, g->P(L.sx), mode, dx, g->G(L.sx), cws, false, true));
    if (fine_w(a)) return fine_tail(ctx, L, f.wh, f.w_step, c, grad_wh, f.w_hat, gw, true);
    return hadamard_lsq_backward_impl(ctx, w, grad_wh, cd, group, g->P(L.sw), mode, gw, g->G(L.sw), cws, true, true);
}

}  // namespace

bool ablation_exact_backward(int ablation) {
    return ablation == INT4TRAIN_GPT_ABLATION_FORWARD_ONLY || fine_x(ablation) || fine_w(ablation);
}

int4train_status ablation_forward(int4train_gpt g, const Linear& L, const float* x, const float* w, float* y, int n) {
    const int a = g->cfg.int4_ablation;
    if (a == INT4TRAIN_GPT_ABLATION_BACKWARD_ONLY) return fp32_linear_forward(g, L, x, w, y, n);
    if (!fine_x(a) && !fine_w(a)) return INT4TRAIN_SUCCESS;
    Plan p;
    plan_fine(p, n, L.out, L.in);
    Arena ar;
    I4T_TRY(make_arena(g->ctx, p, &ar));
    const FineOperands f = take_fine(ar, n, L.out, L.in);
    I4T_ARENA_CHECK(ar);
    I4T_TRY(fine_operands(g, L, x, w, n, f));
    return fp32_linear_forward(g, L, f.x_hat, f.w_hat, y, n);
}

int4train_status dequantized_backward(int4train_gpt g, const Linear& L, const float* dy, const float* x, const float* w,
                                      float* dx, float* gw, int n) {
    const int4train_layer_s& st = L.state;
    if (st.group == 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_backward: the INT4 linear has had no forward yet");
    if (g->cfg.int4_ablation != INT4TRAIN_GPT_ABLATION_FORWARD_ONLY) return fine_backward(g, L, dy, x, w, dx, gw, n);
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
