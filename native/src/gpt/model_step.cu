// model_step.cu — the GPT's training step as explicit passes (llm.c style): forward, backward, zero_grad, AdamW.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

using namespace i4t;
using namespace i4t::gpt;

namespace i4t {
namespace gpt {

int4train_status check_tokens(const int32_t* h_tokens, const int32_t* h_targets, int64_t count, int vocab,
                              const char* fn) {
    for (int64_t i = 0; i < count; ++i) {
        if (h_tokens[i] < 0 || h_tokens[i] >= vocab)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: token %d at %lld is outside [0, %d)", fn, h_tokens[i],
                        (long long)i, vocab);
        if (h_targets && (h_targets[i] < 0 || h_targets[i] >= vocab))
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: target %d at %lld is outside [0, %d)", fn,
                        h_targets[i], (long long)i, vocab);
    }
    return INT4TRAIN_SUCCESS;
}

int4train_status queue_forward(int4train_gpt gpt, const int32_t* d_tokens, const int32_t* d_targets, int batch, int t,
                               const uint64_t* d_key, bool training) {
    const auto& c = gpt->cfg;
    const int n = batch * t, C = c.width, V = c.vocab;
    gpt->b = batch;
    gpt->t = t;
    gpt->training = training;
    gpt->has_targets = d_targets != nullptr;
    gpt->dropout_key = d_key;
    gpt->cur_tokens = d_tokens;
    gpt->cur_targets = d_targets;
    gpt->backward_ready = false;
    gpt->probs_valid = false;
    if (training) gpt->forwards++;
    cudaStream_t s = gpt->stream();
    float p = gpt->dropout_p();
    I4T_CUDA(nn::embedding_forward(s, gpt->res[0], d_tokens, gpt->P(gpt->wte), gpt->P(gpt->wpe), n, t, C, p,
                                 gpt->site(0)));
    for (int l = 0; l < c.layers; ++l) {
        Block& k = gpt->blocks[l];
        const float* x = gpt->res[l];
        // attention branch: x2 = x + Drop(Proj(Attn(LN₁(x))))
        I4T_CUDA(make_layernorm_input(gpt, l, 0, true));  // ln1 = LN₁(x)
        I4T_TRY(linear_forward(gpt, k.lin[0], k.ln1, qkv_output(gpt, l), n));
        I4T_TRY(attention_block_forward(gpt, l));
        I4T_TRY(linear_forward(gpt, k.lin[1], k.att_out, gpt->dbuf1, n));
        I4T_CUDA(nn::residual_dropout(s, k.x2, x, gpt->dbuf1, (int64_t)n * C, p, gpt->site(8 * l + 2)));
        // MLP branch: x3 = x2 + Drop(Down(GELU(Up(LN₂(x2)))))
        I4T_CUDA(make_layernorm_input(gpt, l, 2, true));  // ln2 = LN₂(x2)
        I4T_TRY(linear_forward(gpt, k.lin[2], k.ln2, k.h, n));
        I4T_CUDA(make_gelu_input(gpt, l));  // g = GELU(h)
        I4T_TRY(linear_forward(gpt, k.lin[3], k.g, gpt->dbuf1, n));
        I4T_CUDA(nn::residual_dropout(s, gpt->res[l + 1], k.x2, gpt->dbuf1, (int64_t)n * C, p, gpt->site(8 * l + 3)));
    }
    I4T_CUDA(nn::layernorm_forward(s, gpt->lnf, gpt->lnf_mean, gpt->lnf_rstd, gpt->res[c.layers], gpt->P(gpt->lnfw),
                                 gpt->P(gpt->lnfb), n, C));
    // tied head: logits = LN_f(x)·wteᵀ
    I4T_GEMM(nn::gemm(gpt->blas, gpt->hp, false, true, n, V, C, 1.0f, gpt->lnf, C, 0, gpt->P(gpt->wte), C, 0, 0.0f,
                      gpt->probs, V, 0));
    I4T_CUDA(nn::softmax_cross_entropy(s, gpt->probs, gpt->losses, gpt->loss, d_targets, n, V));
    gpt->probs_valid = true;
    gpt->backward_ready = gpt->training && gpt->has_targets;
    if (training) gpt->smooth_ready = true;  // smoothed linears: later evaluation forwards use this forward's m
    return INT4TRAIN_SUCCESS;
}

int4train_status queue_backward(int4train_gpt gpt, float loss_scale) {
    gpt->backward_ready = false;
    gpt->probs_valid = false;
    const auto& c = gpt->cfg;
    int n = gpt->b * gpt->t, C = c.width, V = c.vocab;
    cudaStream_t s = gpt->stream();
    float p = gpt->dropout_p();
    int64_t nc = (int64_t)n * C;
    // head and final LayerNorm
    I4T_CUDA(nn::cross_entropy_backward(s, gpt->probs, gpt->cur_targets, n, V, loss_scale));
    I4T_GEMM(nn::gemm(gpt->blas, gpt->hp, false, false, n, C, V, 1.0f, gpt->probs, V, 0, gpt->P(gpt->wte), C, 0, 0.0f,
                      gpt->dln, C, 0));
    I4T_GEMM(nn::gemm(gpt->blas, gpt->hp, true, false, V, C, n, 1.0f, gpt->probs, V, 0, gpt->lnf, C, 0, 1.0f,
                      gpt->G(gpt->wte), C, 0));
    I4T_CUDA(cudaMemsetAsync(gpt->dres, 0, sizeof(float) * nc, s));
    I4T_CUDA(nn::layernorm_backward(s, gpt->dres, gpt->G(gpt->lnfw), gpt->G(gpt->lnfb), gpt->dln, gpt->res[c.layers],
                                  gpt->P(gpt->lnfw), gpt->lnf_mean, gpt->lnf_rstd, n, C, gpt->scratch));
    for (int l = c.layers - 1; l >= 0; --l) {
        Block& k = gpt->blocks[l];
        // MLP branch; dres = ∂L/∂x3 flows unchanged into ∂L/∂x2 through the residual
        I4T_CUDA(nn::dropout_backward(s, gpt->dbuf1, gpt->dres, nc, p, gpt->site(8 * l + 3)));
        I4T_TRY(remake_hidden(gpt, l));           // h again, when the model does not keep it (before GELU(h))
        I4T_TRY(remake_linear_input(gpt, l, 3));  // each linear's X again, when the model does not keep it (every
                                                  // model keeps proj's: the attention output)
        I4T_TRY(linear_backward(gpt, k.lin[3], gpt->dbuf1, k.g, gpt->dbuf2, n));
        I4T_CUDA(nn::gelu_backward(s, gpt->dbuf2, gpt->dbuf2, k.h, 4 * nc));
        I4T_TRY(remake_linear_input(gpt, l, 2));
        I4T_TRY(linear_backward(gpt, k.lin[2], gpt->dbuf2, k.ln2, gpt->dln, n));
        I4T_CUDA(nn::layernorm_backward(s, gpt->dres, gpt->G(k.ln2w), gpt->G(k.ln2b), gpt->dln, k.x2, gpt->P(k.ln2w),
                                      k.ln2_mean, k.ln2_rstd, n, C, gpt->scratch));
        // attention branch; dres = ∂L/∂x2
        I4T_CUDA(nn::dropout_backward(s, gpt->dbuf1, gpt->dres, nc, p, gpt->site(8 * l + 2)));
        I4T_TRY(linear_backward(gpt, k.lin[1], gpt->dbuf1, k.att_out, gpt->dbuf2, n));
        I4T_TRY(attention_block_backward(gpt, l, gpt->dbuf1, gpt->dbuf2));
        I4T_TRY(remake_linear_input(gpt, l, 0));
        I4T_TRY(linear_backward(gpt, k.lin[0], gpt->dbuf1, k.ln1, gpt->dln, n));
        I4T_CUDA(nn::layernorm_backward(s, gpt->dres, gpt->G(k.ln1w), gpt->G(k.ln1b), gpt->dln, gpt->res[l],
                                      gpt->P(k.ln1w), k.ln1_mean, k.ln1_rstd, n, C, gpt->scratch));
    }
    I4T_CUDA(nn::dropout_backward(s, gpt->dres, gpt->dres, nc, p, gpt->site(0)));
    I4T_CUDA(nn::embedding_backward(s, gpt->G(gpt->wte), gpt->G(gpt->wpe), gpt->dres, gpt->cur_tokens, n, gpt->t, C, V,
                                  gpt->scratch));
    return INT4TRAIN_SUCCESS;
}

float bias_correction(float beta, int step) { return 1.0f - powf(beta, (float)step); }

int4train_status queue_adamw(int4train_gpt gpt, const int4train_gpt_adamw& a, const StepScalars* dev,
                             const std::vector<int>* group_of) {
    cudaStream_t s = gpt->stream();
    // The norm covers the tensors being updated: everything but step sizes still in their cold start.
    bool any_step_active = false;
    for (const Tensor& t : gpt->tensors)
        if (t.is_step && steps_active(gpt, t)) any_step_active = true;
    int64_t norm_count = any_step_active ? gpt->total : gpt->main_count;
    I4T_CUDA(nn::grad_norm(s, gpt->norm_out, gpt->grads, norm_count, a.grad_clip, gpt->norm_scratch));
    // One launch per run of tensors that lie back to back in the flat arrays and update alike (the same decay, kind,
    // Adam step and device corrections): the per-element update is the same as one launch per tensor, and a model
    // has ~12 tensors a block, most of them small (bias, gains, step sizes), so per-tensor launches were mostly
    // launch and tail (an ncu profile of a gpt2-small step: 148 AdamW launches a step).
    struct Run {
        int64_t offset = 0, count = 0;
        float wd = 0;
        bool is_step = false;
        int step = 0;
        const float* d_corr = nullptr;
        bool continues(const Run& r) const {
            return count > 0 && offset + count == r.offset && wd == r.wd && is_step == r.is_step && step == r.step &&
                   d_corr == r.d_corr;
        }
    };
    const float* d_lr = dev ? &dev->lr : nullptr;
    Run run;
    auto flush = [&]() -> cudaError_t {
        if (run.count == 0) return cudaSuccess;
        const int64_t o = run.offset;
        return nn::adamw(s, gpt->params + o, gpt->grads + o, gpt->m + o, gpt->v + o, run.count, a.learning_rate,
                         a.beta1, a.beta2, a.eps, run.wd, bias_correction(a.beta1, run.step),
                         bias_correction(a.beta2, run.step), gpt->norm_out + 1, run.is_step,
                         run.is_step ? gpt->cfg.step_lr_scale : 1.0f, d_lr, run.d_corr);
    };
    for (size_t i : gpt->by_offset) {
        Tensor& t = gpt->tensors[i];
        if (!steps_active(gpt, t)) continue;
        const Run next{t.offset, t.numel, t.decay ? a.weight_decay : 0.0f, t.is_step, ++t.adam_steps,
                       dev ? dev->corr[(*group_of)[i]] : nullptr};
        if (run.continues(next)) {
            run.count += next.count;
            continue;
        }
        I4T_CUDA(flush());
        run = next;
    }
    I4T_CUDA(flush());
    // bf16: the GEMMs' BF16 weight copy follows the update (a kernel: inside a captured step it replays with it)
    I4T_TRY(refresh_bf16_weights(gpt, 0, gpt->total));
    return INT4TRAIN_SUCCESS;
}

int4train_status check_adamw(const int4train_gpt_adamw& a, const char* fn) {
    if (!(a.learning_rate >= 0) || !(a.beta1 >= 0 && a.beta1 < 1) || !(a.beta2 >= 0 && a.beta2 < 1) || !(a.eps > 0) ||
        !(a.weight_decay >= 0) || !(a.grad_clip >= 0))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "%s: need lr >= 0, beta1/beta2 in [0, 1), eps > 0, weight decay >= 0, clip >= 0 "
                    "(got %g, %g, %g, %g, %g, %g)", fn, (double)a.learning_rate, (double)a.beta1, (double)a.beta2,
                    (double)a.eps, (double)a.weight_decay, (double)a.grad_clip);
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t

// ---- C ABI: the step as separate calls (int4train_gpt_train_step in step_graph.cu queues a whole step) ----------

INT4TRAIN_API int4train_status int4train_gpt_forward(int4train_gpt gpt, const int32_t* h_tokens,
                                                     const int32_t* h_targets, int batch, int t,
                                                     uint64_t dropout_key, int training, float* h_loss) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_forward"));
    I4T_NOTNULL(h_tokens);
    const auto& c = gpt->cfg;
    if (batch < 1 || batch > c.max_batch || t < 1 || t > c.context)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_forward: batch %d must be in [1, %d] and t %d in [1, %d]", batch, c.max_batch, t,
                    c.context);
    if (training && h_targets == nullptr)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_forward: a training forward needs targets");
    const int n = batch * t;
    I4T_TRY(check_tokens(h_tokens, h_targets, n, c.vocab, "int4train_gpt_forward"));
    cudaStream_t s = gpt->stream();
    I4T_CUDA(cudaMemcpyAsync(gpt->tokens, h_tokens, sizeof(int32_t) * n, cudaMemcpyHostToDevice, s));
    if (h_targets) I4T_CUDA(cudaMemcpyAsync(gpt->targets, h_targets, sizeof(int32_t) * n, cudaMemcpyHostToDevice, s));
    I4T_CUDA(nn::fill_u64(s, gpt->eager_key, dropout_key));
    I4T_TRY(queue_forward(gpt, gpt->tokens, h_targets ? gpt->targets : nullptr, batch, t, gpt->eager_key, training != 0));
    gpt->key_offset = nullptr;  // the keys of a separate backward are the layers' own
    if (h_loss) {
        if (!h_targets) *h_loss = NAN;
        else {
            I4T_CUDA(cudaMemcpyAsync(h_loss, gpt->loss, sizeof(float), cudaMemcpyDeviceToHost, s));
            I4T_CUDA(cudaStreamSynchronize(s));
        }
    }
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_backward(int4train_gpt gpt) {
    return int4train_gpt_backward_scaled(gpt, 1.0f);
}

INT4TRAIN_API int4train_status int4train_gpt_backward_scaled(int4train_gpt gpt, float loss_scale) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_backward"));
    if (!isfinite(loss_scale))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_backward_scaled: loss_scale %g is not finite",
                    (double)loss_scale);
    if (!gpt->backward_ready)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_backward: needs a training forward with targets first (and only one backward per forward)");
    return queue_backward(gpt, loss_scale);
}

INT4TRAIN_API int4train_status int4train_gpt_zero_grad(int4train_gpt gpt) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_zero_grad"));
    I4T_CUDA(cudaMemsetAsync(gpt->grads, 0, sizeof(float) * gpt->total, gpt->stream()));
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_adamw_step(int4train_gpt gpt, const int4train_gpt_adamw* h_params,
                                                        float* h_grad_norm) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_adamw_step"));
    I4T_NOTNULL(h_params);
    I4T_TRY(check_adamw(*h_params, "int4train_gpt_adamw_step"));
    I4T_TRY(queue_adamw(gpt, *h_params, nullptr, nullptr));
    if (h_grad_norm) {
        cudaStream_t s = gpt->stream();
        I4T_CUDA(cudaMemcpyAsync(h_grad_norm, gpt->norm_out, sizeof(float), cudaMemcpyDeviceToHost, s));
        I4T_CUDA(cudaStreamSynchronize(s));
    }
    return INT4TRAIN_SUCCESS;
}
