// model.cuh — the device-resident GPT's internal state (include/int4train_gpt.h): the flat parameter layout
// (Tensor), the block linears (Linear), the per-block activations (Block), the model (int4train_gpt_s), and the
// internal functions its translation units share: model_build.cu (configuration check, layout, buffers),
// block_linear.cu (one block linear in INT4 or cuBLAS; bf16_linear.cu: the `bf16` precision's; int4_ablation.cu: the
// diagnostic INT4 ablations), model_step.cu (forward/backward/AdamW), model_api.cu (the remaining C ABI).
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "runtime/context.cuh"
#include "runtime/status.cuh"
#include "int4train_gpt.h"
#include "nn.cuh"
#include "device_util.cuh"
#include "layer/layer_state.cuh"

#define I4T_GEMM(expr)                                                                                 \
    do {                                                                                               \
        cublasStatus_t i4t_b_ = (expr);                                                                \
        if (i4t_b_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return ::i4t::fail(INT4TRAIN_ERROR_CUDA, "%s: cuBLAS %s", __func__, nn::cublas_status_text(i4t_b_)); \
    } while (0)

namespace i4t {
namespace gpt {

struct Tensor {
    std::string name;
    int64_t offset = 0, numel = 0;
    bool decay = false, is_step = false;
    int adam_steps = 0;
    int linear = -1;  // for a step size: its linear
};

// What a block linear keeps of its input X between forward and backward (decided in one place, by the linear's
// arithmetic: model_build.cu kept_input; docs/conventions.md "What the device GPT keeps for the backward").
enum class KeptInput {
    Fp32,      // X in FP32: every block has its own buffer for this input (ln1, att_out, ln2 or g)
    Bf16Copy,  // the BF16 copy of X its GEMM read (Linear::x_bf16); FP32 X only in linear_in
    Remade,    // nothing: the backward makes X again into linear_in (linear_inputs.cu remake_linear_input)
};

struct Linear {
    int in = 0, out = 0;
    // Its arithmetic: the config's precision, or INT4TRAIN_PRECISION_BF16 for a class of an INT4 model's bf16_classes
    // (block_linear.cu dispatches on it); what it keeps of X follows from it (model_build.cu kept_input).
    int precision = INT4TRAIN_PRECISION_FP32;
    KeptInput kept = KeptInput::Fp32;
    int64_t w = -1, b = -1, sx = -1, sw = -1;  // offsets into the flat parameter / gradient buffers
    uint8_t* x_packed = nullptr;               // INT4 codes saved by the forward (N × in/2)
    uint8_t* w_packed = nullptr;               // (out × in/2)
    // bf16 (bf16_linear.cu): the BF16 copy of X the forward casts and keeps for the backward (N × in), and this
    // linear's rows of the model's BF16 weight copy (out × in)
    __nv_bfloat16* x_bf16 = nullptr;
    __nv_bfloat16* w_bf16 = nullptr;
    // The INT4 layer's state and policy (include/int4train_layer.h); its options are the config's linear options
    // with seed = host_key(config seed, layer, which), as the host model's Int4LinearOptions.Seed (and precision =
    // this linear's). Only an INT4 linear's advances (step_graph.cu looks at no other).
    int4train_layer_s state;
    bool int4() const { return layer::is_int4(precision); }
    // Per-input-channel smoothing (smoothing.cu; a class of cfg.smooth_classes): the factors m (in) of the last
    // forward that made them, which the backward and a forward made again use; null when not smoothed.
    float* smooth_m = nullptr;
    bool smoothed() const { return smooth_m != nullptr; }
};

struct Block {
    int64_t ln1w, ln1b, ln2w, ln2b;
    Linear lin[4];  // qkv, proj, up, down
    // activations kept for the backward; a linear's input (ln1, att_out, ln2, g) points at the model's one linear_in
    // buffer when the linear does not keep it in FP32 (Linear::kept; model_build.cu, linear_inputs.cu), h at the
    // model's one hidden buffer when the model makes it again (int4train_gpt_s::hidden_remade)
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *att_out, *x2, *ln2, *ln2_mean, *ln2_rstd, *h, *g;
    // the attention's softmax: the probabilities a (B·H·T·T, unfused) or each row's log₂ denominator (B·H·T, fused;
    // nn.cuh flash_attention_forward); the other one is null (model_build.cu fused_attention)
    float* lse2 = nullptr;
    // fused: qkv kept as its BF16 cast (all the fused kernels read of it; qkv is then null and the qkv linear writes
    // its FP32 output into scratch: block_attention.cu qkv_output), else qkv in FP32 for llm.c's path
    __nv_bfloat16* qkv_bf16 = nullptr;
};

// The values of a training step that change from step to step, in device memory: the kernels of a step read them
// there, so a CUDA graph captured once replays every later step (step_graph.cu writes them, by value through one
// small kernel, before each step, eager or replayed). Sized for kMaxPasses passes and kMaxAdamGroups distinct AdamW
// step counts (the kernel's parameter block is ~2.3 KB, under CUDA's 4 KB).
constexpr int kMaxPasses = INT4TRAIN_GPT_MAX_PASSES, kMaxAdamGroups = 32;
struct StepScalars {
    uint64_t dropout_key[kMaxPasses];  // each pass's step key Mix(Mix(seed) ^ step) (nn::DropoutKey)
    uint64_t key_offset;               // added to the INT4 backwards' keys (ops PhiloxKey): forwards since the capture
    float lr;
    int32_t log_slot;                  // the step's row of the loss log
    float corr[kMaxAdamGroups][2];     // AdamW bias corrections c1, c2 of each step-count group
};
struct StepGraphs;  // step_graph.cu: the captured graphs, the loss log's host side

inline uint64_t host_key(int64_t a, int64_t b, int64_t c) {  // Hash.Key of the C# host model
    return nn::splitmix64(nn::splitmix64(nn::splitmix64((uint64_t)a) ^ (uint64_t)b) ^ (uint64_t)c);
}

}  // namespace gpt
}  // namespace i4t

struct int4train_gpt_s {
    int4train_context ctx = nullptr;
    int4train_gpt_config cfg{};
    cublasHandle_t blas = nullptr;
    cublasComputeType_t hp = CUBLAS_COMPUTE_32F;      // attention + head
    bool int4 = false;  // an INT4 precision: some block linears (the classes not in cfg.bf16_classes) run INT4
    bool bf16 = false;  // some block linears run as PyTorch autocast runs them (bf16_linear.cu): all of them in the
                        // bf16 precision (then int4 is false), an INT4 model's bf16_classes
    // Unless every linear keeps its X in FP32 (Linear::kept), the forward makes each X that is not kept in linear_in
    // (N × 4C, shared by all blocks and inputs) right before its linear reads it.
    float* linear_in = nullptr;
    // An INT4 up linear that makes its X again makes its output h again too (linear_inputs.cu remake_hidden): then
    // every Block::h points at one N × 4C buffer (hidden) instead of a buffer per block (model_build.cu).
    bool hidden_remade = false;
    float* hidden = nullptr;
    // Attention fused (flash_attention*.cu: no T×T buffers, Block::lse2 kept, att_delta its backward's D) or as
    // llm.c runs it (attention.cu: Block::att, qkvp, dqkvp, attd, datt, outp); model_build.cu fused_attention.
    bool fused_attention = false;
    float* att_delta = nullptr;
    // ∂out rounded to BF16 by D's kernel for the fused backward to read: only when INT4TRAIN_FLASH_TUNE asked for it
    // at creation (nn.cuh flash_attention_bf16_dout; an experiment, so the default memory stays as it was).
    __nv_bfloat16* att_dout_bf16 = nullptr;
    // bf16: the BF16 copy of the block linears' weights, which are one contiguous range of the parameters
    // [w_first, w_first + w_count) (model_build.cu checks it), refreshed on the device after every AdamW update and
    // by int4train_gpt_tensor_set (the whole range when every linear is bf16, else each bf16 linear's rows; an INT4
    // model's INT4 linears leave their rows unused); and the BF16 cast of a linear's ∂L/∂y in its backward (N × 4C)
    __nv_bfloat16 *w_bf16 = nullptr, *dy_bf16 = nullptr;
    int64_t w_first = 0, w_count = 0;
    // Per-input-channel smoothing (cfg.smooth_alpha > 0; smoothing.cu): X' (N × in) and W' (out × in) of the smoothed
    // linear at hand, made right before its arithmetic reads them (again by its backward), its ∂L/∂W', and the column
    // maxima of X and W (2 × in, as float bits). smooth_ready: a training forward has made every smoothed linear's m
    // (an evaluation forward then uses them instead of making m from its batch).
    float *smooth_x = nullptr, *smooth_w = nullptr, *smooth_gw = nullptr;
    unsigned* smooth_absmax = nullptr;
    bool smooth_ready = false;
    std::vector<i4t::gpt::Tensor> tensors;
    // tensors' indices in the order of their offsets in the flat arrays (set once by build; AdamW walks it to launch
    // one update per run of back-to-back tensors: model_step.cu queue_adamw)
    std::vector<size_t> by_offset;
    std::vector<i4t::gpt::Block> blocks;
    int64_t wte = 0, wpe = 0, lnfw = 0, lnfb = 0;
    int64_t total = 0, main_count = 0;  // elements; step sizes occupy [main_count, total)
    float *params = nullptr, *grads = nullptr, *m = nullptr, *v = nullptr;
    // activations and scratch
    int32_t *tokens = nullptr, *targets = nullptr;
    std::vector<float*> res;  // residual stream entering block l (res[L] enters the final LayerNorm)
    float *lnf = nullptr, *lnf_mean = nullptr, *lnf_rstd = nullptr, *probs = nullptr, *losses = nullptr, *loss = nullptr;
    float *qkvp = nullptr, *dqkvp = nullptr, *attd = nullptr, *datt = nullptr, *outp = nullptr;
    float *dbuf1 = nullptr, *dbuf2 = nullptr, *dln = nullptr, *dres = nullptr, *scratch = nullptr;
    float* norm_out = nullptr;
    double* norm_scratch = nullptr;
    // the step's device-resident values (step_graph.cu) and the loss log (kLossLog rows of mean loss, gradient norm)
    i4t::gpt::StepScalars* scalars = nullptr;
    uint64_t* eager_key = nullptr;  // the step key of int4train_gpt_forward
    double *loss_sum = nullptr, *log_loss = nullptr;
    float* log_norm = nullptr;
    void* blas_workspace = nullptr;
    i4t::gpt::StepGraphs* graphs = nullptr;
    std::vector<void*> allocations;
    int64_t allocated_bytes = 0;  // what allocations hold (int4train_gpt_memory)
    // the last forward
    int b = 0, t = 0;
    bool has_targets = false, training = false, probs_valid = false, backward_ready = false;
    const uint64_t* dropout_key = nullptr;  // device: the step key of the last forward's masks
    const int32_t *cur_tokens = nullptr, *cur_targets = nullptr;  // device: the last forward's tokens and targets
    const uint64_t* key_offset = nullptr;   // device: ops PhiloxKey offset of the INT4 backwards (train steps only)
    int64_t forwards = 0;                   // training forwards taken (each advances every INT4 layer's count)

    float* P(int64_t off) { return params + off; }
    float* G(int64_t off) { return grads + off; }
    cudaStream_t stream() const { return ctx->stream; }
    float dropout_p() const { return training ? cfg.dropout : 0.0f; }
    i4t::nn::DropoutKey site(uint32_t s) const { return i4t::nn::DropoutKey{dropout_key, s}; }

    template <class T> int4train_status alloc(T** p, int64_t count) {
        void* raw = nullptr;
        size_t bytes = sizeof(T) * (size_t)(count > 0 ? count : 1);
        cudaError_t e = cudaMalloc(&raw, bytes);
        if (e != cudaSuccess) return i4t::fail_cuda(e, "int4train_gpt_create: cudaMalloc");
        allocations.push_back(raw);
        allocated_bytes += (int64_t)bytes;
        *p = static_cast<T*>(raw);
        return INT4TRAIN_SUCCESS;
    }
};

namespace i4t {
namespace gpt {

// model_build.cu
int64_t add_tensor(std::vector<Tensor>& order, const std::string& name, int64_t numel, bool decay,
                   bool is_step = false, int linear = -1);
int4train_status check_config(const int4train_gpt_config* c);
int4train_status build(int4train_gpt g);
// Frees everything (after waiting for the model's stream when its context is still set) and returns the first CUDA
// error of the teardown, which it clears so it cannot be reported by a later call.
cudaError_t release(int4train_gpt g);
// A live model handle (handles.cuh) whose context is live too, then enter() on that context.
int4train_status check_gpt(int4train_gpt g, const char* fn);
int4train_status check_tensor(int4train_gpt g, int index, const char* fn);
float* buffer_of(int4train_gpt g, int which);
bool steps_active(int4train_gpt g, const Tensor& t);

// model_step.cu: the passes of a step, queued on the stream without host synchronisation (d_tokens, d_targets,
// d_key: device memory that stays valid until the work ran). forward: targets may be NULL (then not training).
int4train_status check_tokens(const int32_t* h_tokens, const int32_t* h_targets, int64_t count, int vocab,
                              const char* fn);
int4train_status queue_forward(int4train_gpt g, const int32_t* d_tokens, const int32_t* d_targets, int b, int t,
                               const uint64_t* d_key, bool training);
int4train_status queue_backward(int4train_gpt g, float loss_scale);
// AdamW on every active tensor; dev (may be NULL): read lr and each tensor's bias corrections from it
// (corr[group_of[tensor]]) instead of the host values, as a replayed graph must.
int4train_status queue_adamw(int4train_gpt g, const int4train_gpt_adamw& a, const StepScalars* dev,
                             const std::vector<int>* group_of);
float bias_correction(float beta, int step);  // 1 − β^step, the host AdamW's formula
int4train_status check_adamw(const int4train_gpt_adamw& a, const char* fn);

// step_graph.cu
int4train_status step_graph_create(int4train_gpt g);  // the step's device scalars, loss log, cuBLAS workspace
void step_graph_release(int4train_gpt g);

// linear_inputs.cu: the block linears' inputs X (which: 0 qkv, 1 proj, 2 up, 3 down) of block l. The forward makes
// LN₁/LN₂ (which 0/2, with their statistics) and GELU(h) with these, the attention output with attention_block_forward;
// remake_linear_input writes X of the last forward again right before its linear's backward, bit-identical, when
// the model does not keep it (a no-op when it does; the attention output is always kept: model_build.cu kept_input).
cudaError_t make_layernorm_input(int4train_gpt g, int l, int which, bool forward);
cudaError_t make_gelu_input(int4train_gpt g, int l);
int4train_status remake_linear_input(int4train_gpt g, int l, int which);
// The up projection h of block l again into the shared buffer (int4train_gpt_s::hidden_remade), bit-identical, right
// before the MLP's backward needs it (GELU(h) for down's X, h for the GELU backward); a no-op when the block keeps h.
int4train_status remake_hidden(int4train_gpt g, int l);

// block_attention.cu: block l's attention on its qkv into its att_out (and what the chosen path keeps for the
// backward). The backward writes dqkv (N × 3C, overwritten) from dout = ∂L/∂att_out (N × C).
int4train_status attention_block_forward(int4train_gpt g, int l);
// Where block l's qkv linear writes its FP32 output for attention_block_forward to read.
float* qkv_output(int4train_gpt g, int l);
int4train_status attention_block_backward(int4train_gpt g, int l, float* dqkv, const float* dout);

// block_linear.cu: y (n × out) = x·Wᵀ + b; dx (n × in) = ∂L/∂x (overwritten), parameter gradients accumulated.
// The INT4 precisions go through the layer policy (layer/layer_state.cuh).
int4train_status linear_forward(int4train_gpt g, Linear& L, const float* x, float* y, int n);
int4train_status linear_backward(int4train_gpt g, Linear& L, const float* dy, const float* x, float* dx, int n);
int4train_status linear_forward_again(int4train_gpt g, const Linear& L, const float* x, float* y, int n);
// The fp32 precision's arithmetic (cuBLAS FP32 GEMMs), on the operands given: y = x·wᵀ + b; dx = dy·w (overwritten),
// gw ← gw_beta·gw + dyᵀ·x, ∂L/∂b += the column sums of dy.
int4train_status fp32_linear_forward(int4train_gpt g, const Linear& L, const float* x, const float* w, float* y, int n);
int4train_status fp32_linear_backward(int4train_gpt g, const Linear& L, const float* dy, const float* x, const float* w,
                                      float* dx, float* gw, float gw_beta, int n);

// int4_ablation.cu: issue 15's diagnostic ablations of the INT4 block linears (cfg.int4_ablation; docs/conventions.md
// "INT4 ablations (diagnostic)"). ablation_forward: after an INT4 linear's forward (or its forward again) wrote y and
// the codes, backward-only replaces y by the FP32 product x·wᵀ + b, a fine-scale ablation by the FP32 product of its
// per-row (or per-tensor) dequantized Hadamard-domain operands (a no-op otherwise). dequantized_backward: the backward
// of an INT4 linear under an ablation that ablation_exact_backward names (forward-only, the fine-scale ones): exact
// FP32 products with the forward's dequantized operands, then the LSQ tail of each operand's quantizer; the arguments
// as the INT4 backward's (dx overwritten, gw and the bias's and step sizes' gradients accumulated).
int4train_status ablation_forward(int4train_gpt g, const Linear& L, const float* x, const float* w, float* y, int n);
bool ablation_exact_backward(int ablation);
int4train_status dequantized_backward(int4train_gpt g, const Linear& L, const float* dy, const float* x, const float* w,
                                      float* dx, float* gw, int n);

// smoothing.cu: per-input-channel smoothing of a block linear (L.smoothed()). smoothing_factors: L.smooth_m from x
// (n × in) and W; smooth_operands: X' = x/m into g->smooth_x, W' = W·m into g->smooth_w; smooth_backward_operands:
// those and g->smooth_gw zeroed for the arithmetic's ∂L/∂W'; unsmooth_gradients: dx (n × in) ← dx/m in place,
// ∂L/∂W += ∂L/∂W'·m.
int4train_status smoothing_factors(int4train_gpt g, const Linear& L, const float* x, int n);
int4train_status smooth_operands(int4train_gpt g, const Linear& L, const float* x, int n);
int4train_status smooth_backward_operands(int4train_gpt g, const Linear& L, const float* x, int n);
int4train_status unsmooth_gradients(int4train_gpt g, const Linear& L, float* dx, int n);

// bf16_linear.cu: the `bf16` precision's block linear, as PyTorch autocast runs nn.Linear: BF16 copies of X (kept
// for the backward in L.x_bf16), of W and of ∂L/∂y as GEMM operands, FP32 accumulation, FP32 y, dx and gradients.
// x of the backward is the BF16 copy the forward kept.
int4train_status bf16_linear_forward(int4train_gpt g, Linear& L, const float* x, float* y, int n);
int4train_status bf16_linear_backward(int4train_gpt g, Linear& L, const float* dy, float* dx, int n);
// The BF16 weight copy of the parameter elements [offset, offset + count) that are weights of bf16 block linears
// (a no-op without any): after AdamW (queue_adamw, inside a captured step) and a host write.
int4train_status refresh_bf16_weights(int4train_gpt g, int64_t offset, int64_t count);

}  // namespace gpt
}  // namespace i4t
