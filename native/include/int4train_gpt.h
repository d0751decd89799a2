/*
 * int4train_gpt.h — a decoder-only GPT resident on one CUDA device, trained without host round trips.
 *
 * The model is nanoGPT's (docs/method.md §4 for what stays in higher precision): token + position embeddings,
 * `layers` pre-LayerNorm blocks  x ← x + Drop(Proj(Attn(LN₁(x)))),  x ← x + Drop(Down(GELU(Up(LN₂(x))))),
 * a final LayerNorm, the output head tied to the token embedding, mean cross-entropy. The four linears of each
 * block (QKV, attention output, MLP up, MLP down) are the INT4 layer of int4train.h (int4train_hq_forward /
 * int4train_linear_backward: HQ forward §2.3, bit split + LSS backward §3.8, learned LSQ step sizes) or, as
 * baselines, cuBLAS GEMMs in FP32 or, in the bf16 precision, as PyTorch autocast runs them: BF16 copies of the input
 * (kept for the backward), of the weights (made once per optimiser step) and of the output gradient as operands,
 * FP32 accumulation and FP32 outputs. Attention is one fused kernel on BF16 tensor cores (FlashAttention-2, FP32
 * accumulation, no T×T buffer; head sizes a multiple of 16 up to 128) in the bf16 and INT4 precisions, and cuBLAS
 * matmuls around a softmax kernel in fp32, at other head sizes, or with INT4TRAIN_GPT_ATTENTION=unfused set when the
 * model is created (docs/conventions.md "The attention: fused or llm.c's"); the head runs through cuBLAS (BF16
 * operands, FP32 accumulation; FP32 in the fp32 precision); norms, GELU, dropout, embeddings, the loss and AdamW are
 * small kernels of native/src/gpt/. Parameters, gradients, AdamW moments and the other activations are FP32.
 *
 * Same rules as int4train.h: status codes, int4train_last_error(), h_* host pointers. Every call queues work on
 * the context's stream; the ones that return a host value (a loss, a norm, a copy) synchronise. A training step is
 * either the separate calls (forward, backward, adamw_step) or int4train_gpt_train_step, which replays it as one
 * CUDA graph and logs its loss for int4train_gpt_read_losses; both compute the same step bit for bit. The model uses
 * the context's CUDA context and stream; create, use and destroy it on threads where that context is current.
 *
 * Parameters are addressed by index in a fixed order (the checkpoint order of the C# host model): wte, wpe, then per
 * block h{l}.ln1.weight, .ln1.bias, .ln2.weight, .ln2.bias, and for qkv, proj, up, down: .weight (out×in row-major),
 * .bias, and for the INT4 linears (an INT4 precision, the class not in bf16_classes) .step_x, .step_w (one element
 * each); finally ln_f.weight, ln_f.bias.
 */
#ifndef INT4TRAIN_GPT_H
#define INT4TRAIN_GPT_H

#include "int4train.h"
#include "int4train_layer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arithmetic of the block linears: int4train_layer.h's INT4TRAIN_PRECISION_* under their earlier names. */
enum {
    INT4TRAIN_GPT_INT4_HQ_LSS = INT4TRAIN_PRECISION_INT4_HQ_LSS,
    INT4TRAIN_GPT_INT4_LSQ = INT4TRAIN_PRECISION_INT4_LSQ,
    INT4TRAIN_GPT_FP32 = INT4TRAIN_PRECISION_FP32, /* (and FP32 attention / head) */
    INT4TRAIN_GPT_BF16 = INT4TRAIN_PRECISION_BF16
};

typedef struct int4train_gpt_config {
    int32_t layers, heads, width, context;
    int32_t max_batch;        /* sequences per forward at most (buffers are sized for max_batch × context) */
    int32_t vocab;
    float dropout;            /* on the embeddings, the attention weights and both residual branches */
    /* The block linears: precision (any INT4TRAIN_PRECISION_*) and, for the INT4 ones, the layer policy of
     * int4train_layer.h. linear.seed is the model's seed: block linear 4·l + k (k: qkv, proj, up, down) runs with
     * the key SplitMix64(SplitMix64(SplitMix64(seed) ^ l) ^ k), the C# host model's Hash.Key(seed, l, k). */
    int4train_layer_options linear;
    /* The INT4 step sizes' AdamW learning rate is step_lr_scale × the step's (docs/method.md §3.9): 1 = the weights'
     * rate (unchanged arithmetic: lr·1 is lr), 0 = frozen at the values the cold start left them (a re-initialisation
     * still sets them); finite, >= 0. A zero-initialised struct freezes them: set 1 for the weights' rate. */
    float step_lr_scale;
    /* Of an INT4 precision: the block-linear classes (bit k for k = 0 qkv, 1 proj, 2 up, 3 down) that run as the bf16
     * precision runs them instead of INT4 (BF16 operands, FP32 accumulation, the BF16 copy of X kept, no step sizes;
     * issue 15's per-class ablation, docs/conventions.md "Block linears outside the INT4 set"). 0 (a zero-initialised
     * struct): every block linear INT4; at most 14 (15 would leave none INT4: use the bf16 precision). Other
     * precisions: 0. */
    int32_t bf16_classes;
    /* Per-input-channel smoothing (SmoothQuant's migration; issue 15, docs/conventions.md "Per-input-channel
     * smoothing"): each block linear of smooth_classes (bit k as in bf16_classes) runs its unchanged arithmetic on
     * X' = X·diag(1/m) and W' = W·diag(m), m_k = clamp(max_t|X_tk|^a / max_c|W_ck|^(1−a), 1e-4, 1e4) with
     * a = smooth_alpha, made from the batch by every training forward and kept for that forward's backward (and any
     * forward it makes again) and for the evaluation forwards after it (an evaluation before any training forward
     * makes m from its own batch); the backward returns ∂X = ∂X'·diag(1/m) and adds ∂W'·diag(m) to ∂W; m is a
     * constant of the backward (no gradient through it). smooth_alpha 0 (a zero-initialised struct): off, then
     * smooth_classes must be 0; else 0 < smooth_alpha <= 1 and smooth_classes a non-empty mask of INT4 or fp32 linears
     * (not the bf16 precision's, not bf16_classes; in fp32 the smoothing is exact in real arithmetic: a check). */
    float smooth_alpha;
    int32_t smooth_classes;
    /* A diagnostic of issue 15 (docs/conventions.md "INT4 ablations (diagnostic)"), one of INT4TRAIN_GPT_ABLATION_*:
     * which half of every INT4 block linear keeps its quantizer, to tell whether the accuracy gap comes from the
     * forward's INT4 codes or from the backward's gradient quantizer. NONE (0, a zero-initialised struct): the INT4
     * layer as it is. FORWARD_ONLY: the forward unchanged (HQ, INT4 codes); the backward replaces bit split + LSS by
     * exact FP32 products with the forward's dequantized codes, ∇(XH) = ∇Y·(s_W·Ŵ) and ∇(WH) = ∇Yᵀ·(s_X·X̂), then the
     * same LSQ backward (mask, step gradients) and back-transform. BACKWARD_ONLY: Y = X·Wᵀ + b in FP32 from the
     * unquantized X and W (the INT4 forward still runs, for the codes and step sizes its backward reads); the backward
     * is the INT4 backward unchanged. FINE_SCALES: the forward's product with one LSQ step per row of XH (a token)
     * and one per row of WH (an output channel), each the LSQ rule of that row (k·2·mean|row|/sqrt(7) + 1e-10, k =
     * linear.step_init_scale, 1 when 0), in place of the layer's learned per-tensor steps: Y = X̂H·(ŴH)ᵀ + b in FP32
     * after the INT4 forward (which still runs, for G and the codes); the backward as FORWARD_ONLY's with those
     * operands, the per-row straight-through mask, and no gradient for a per-row operand's step size. FINE_X,
     * FINE_W: only X's, only W's steps per row (the other operand per tensor, the forward's codes). Only with an INT4
     * precision; not meant to train with. */
    int32_t int4_ablation;
} int4train_gpt_config;

enum {
    INT4TRAIN_GPT_ABLATION_NONE = 0,
    INT4TRAIN_GPT_ABLATION_FORWARD_ONLY = 1,
    INT4TRAIN_GPT_ABLATION_BACKWARD_ONLY = 2,
    INT4TRAIN_GPT_ABLATION_FINE_SCALES = 3,
    INT4TRAIN_GPT_ABLATION_FINE_X = 4,
    INT4TRAIN_GPT_ABLATION_FINE_W = 5
};

typedef struct int4train_gpt_adamw {
    float learning_rate, beta1, beta2, eps, weight_decay;
    float grad_clip; /* clip the global gradient norm to this; 0 = off */
} int4train_gpt_adamw;

enum { INT4TRAIN_GPT_VALUE = 0, INT4TRAIN_GPT_GRAD = 1, INT4TRAIN_GPT_ADAM_M = 2, INT4TRAIN_GPT_ADAM_V = 3 };

typedef struct int4train_gpt_s* int4train_gpt;

/* Allocates the model (parameters zero, LayerNorm gains one; set the initial values with int4train_gpt_tensor_set),
 * its gradients, AdamW moments and every activation buffer. Of the block linears' inputs, fp32 keeps an FP32 copy
 * for the backward, bf16 a BF16 copy (its GEMM operand), the INT4 precisions none (the backward makes them again,
 * bit-identical, and an INT4 up linear its output too; docs/conventions.md "What the device GPT keeps for the
 * backward", every buffer: docs/memory.md), each linear by its own arithmetic (an INT4 model's bf16_classes keep
 * their BF16 copy); INT4TRAIN_GPT_KEEP_INPUTS=1 in the environment at creation makes the INT4 linears keep FP32
 * copies and the up output (for testing). */
INT4TRAIN_API int4train_status int4train_gpt_create(int4train_context ctx, const int4train_gpt_config* h_config,
                                                    int4train_gpt* h_out);
/* Synchronises and frees. NULL is a no-op. */
INT4TRAIN_API int4train_status int4train_gpt_destroy(int4train_gpt gpt);

INT4TRAIN_API int4train_status int4train_gpt_tensor_count(int4train_gpt gpt, int* h_count);
/* Name (NUL-terminated, truncated to name_capacity), element count, weight-decay group (0/1), whether it is an
 * INT4 step size (0/1), and its AdamW step count. */
INT4TRAIN_API int4train_status int4train_gpt_tensor_info(int4train_gpt gpt, int index, char* h_name, int name_capacity,
                                                         int64_t* h_numel, int* h_decay, int* h_is_step,
                                                         int* h_adam_steps);
/* Copies one tensor's values, gradient or AdamW moment (which = INT4TRAIN_GPT_*) to the host. Synchronous. */
INT4TRAIN_API int4train_status int4train_gpt_tensor_get(int4train_gpt gpt, int index, int which, float* h_dst,
                                                        int64_t numel);
/* Writes one tensor from the host (synchronous); adam_steps >= 0 also sets its AdamW step count. */
INT4TRAIN_API int4train_status int4train_gpt_tensor_set(int4train_gpt gpt, int index, int which, const float* h_src,
                                                        int64_t numel, int adam_steps);

/* Number of block linears (4 × layers) and each one's progress: training forwards taken and block size (0: none). */
INT4TRAIN_API int4train_status int4train_gpt_layer_progress(int4train_gpt gpt, int linear, int* h_step_count,
                                                            int* h_group);
INT4TRAIN_API int4train_status int4train_gpt_set_layer_progress(int4train_gpt gpt, int linear, int step_count, int group);
/* The key a block linear's backward randomness starts from (its int4train_layer_options.seed, derived as above). */
INT4TRAIN_API int4train_status int4train_gpt_layer_key(int4train_gpt gpt, int linear, uint64_t* h_key);

/* Forward of batch × t tokens (t ≤ context, batch ≤ max_batch; h_tokens/h_targets: batch×t, ids < vocab).
 * training = 1: dropout on (masks keyed by dropout_key), the INT4 layers count a training step (cold start,
 * Philox key), and activations are kept for int4train_gpt_backward (needs targets). h_targets may be NULL (then
 * only probabilities). h_loss (may be NULL: no synchronisation) receives the mean cross-entropy. */
INT4TRAIN_API int4train_status int4train_gpt_forward(int4train_gpt gpt, const int32_t* h_tokens,
                                                     const int32_t* h_targets, int batch, int t,
                                                     uint64_t dropout_key, int training, float* h_loss);
/* Backward of the last forward (training, with targets): accumulates every gradient. No host synchronisation. */
INT4TRAIN_API int4train_status int4train_gpt_backward(int4train_gpt gpt);
/* int4train_gpt_backward of loss_scale × the mean loss (finite): gradient accumulation runs a step of B sequences as
 * passes of M with loss_scale = M/B, so the accumulated gradients are those of the step's mean loss. */
INT4TRAIN_API int4train_status int4train_gpt_backward_scaled(int4train_gpt gpt, float loss_scale);
/* Bytes of device memory the model allocated itself (parameters, gradients, AdamW moments, activations, scratch,
 * its cuBLAS workspace of 32 MiB, int4train_gpt_train_step's token staging); the context's workspace
 * (int4train_context_info) comes on top. */
INT4TRAIN_API int4train_status int4train_gpt_memory(int4train_gpt gpt, int64_t* h_bytes);
INT4TRAIN_API int4train_status int4train_gpt_zero_grad(int4train_gpt gpt);
/* Global-norm clipping and AdamW on every tensor (the INT4 step sizes only once their layer's cold start is over,
 * at the config's step_lr_scale × the learning rate; step sizes are kept positive, s ← |s|, §2.1). h_grad_norm (may be NULL: no synchronisation) receives the norm
 * before clipping. */
INT4TRAIN_API int4train_status int4train_gpt_adamw_step(int4train_gpt gpt, const int4train_gpt_adamw* h_params,
                                                        float* h_grad_norm);
/* One whole training step, queued with no host synchronisation: zero the gradients; `passes` forward + backward
 * passes of batch × t tokens each (gradient accumulation: pass i reads rows [i·batch, (i+1)·batch) of h_tokens and
 * h_targets, passes·batch·t entries each; its dropout masks are keyed by h_dropout_keys[i], its backward scaled by
 * 1/passes as int4train_gpt_backward_scaled); global-norm clipping (the factor computed and applied on the device) and
 * AdamW as int4train_gpt_adamw_step. The step's mean loss (mean of the passes' means, in double) and gradient norm
 * go to the loss log (int4train_gpt_read_losses). passes ≤ INT4TRAIN_GPT_MAX_PASSES.
 * graph = 1: the step runs as one CUDA graph, captured on the second consecutive step of the same shape that the INT4
 * layers' policy allows (not their first forward, cold start or re-initialisation step: those run eagerly) and
 * replayed afterwards, bit-identical to the eager step; a different batch, t, passes or AdamW constants (other than
 * the learning rate) captures another graph (four are kept). graph = 0: always eager. Either way the host copies the
 * tokens, writes the step's scalars (keys, learning rate, bias corrections) with one small kernel and launches. */
#define INT4TRAIN_GPT_MAX_PASSES 256
INT4TRAIN_API int4train_status int4train_gpt_train_step(int4train_gpt gpt, const int32_t* h_tokens,
                                                        const int32_t* h_targets, int passes, int batch, int t,
                                                        const uint64_t* h_dropout_keys,
                                                        const int4train_gpt_adamw* h_params, int graph);
/* Synchronises, then moves the loss log of the train steps not read yet, oldest first, to the host: up to capacity
 * mean losses into h_losses and gradient norms (before clipping) into h_grad_norms (may be NULL); *h_count gets how
 * many (the rest stay for the next call). The device keeps 4096 rows; a step that finds them all unread drains them
 * to the host first (one synchronisation), so nothing is lost if the host reads rarely. */
INT4TRAIN_API int4train_status int4train_gpt_read_losses(int4train_gpt gpt, double* h_losses, float* h_grad_norms,
                                                         int capacity, int* h_count);
/* How int4train_gpt_train_step ran the steps so far: eagerly, captured (and launched), replayed. Any may be NULL. */
INT4TRAIN_API int4train_status int4train_gpt_step_stats(int4train_gpt gpt, int64_t* h_eager, int64_t* h_captured,
                                                        int64_t* h_replayed);
/* Probabilities (vocab) of token row `row` (= sequence·t + position) of the last forward. Synchronous. */
INT4TRAIN_API int4train_status int4train_gpt_probabilities(int4train_gpt gpt, int row, float* h_probs);

#ifdef __cplusplus
}
#endif

#endif /* INT4TRAIN_GPT_H */
