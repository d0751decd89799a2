// model_build.cu — the GPT's configuration check, its tensor table in checkpoint order, and its device buffers.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include "runtime/launch.cuh"
#include "model.cuh"
#include "runtime/handles.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {

int64_t add_tensor(std::vector<Tensor>& order, const std::string& name, int64_t numel, bool decay,
                   bool is_step, int linear) {
    Tensor t;
    t.name = name;
    t.numel = numel;
    t.decay = decay;
    t.is_step = is_step;
    t.linear = linear;
    order.push_back(t);
    return (int64_t)order.size() - 1;
}

// Per-input-channel smoothing (smoothing.cu): off (alpha 0, no classes), or 0 < alpha <= 1 on a non-empty set of
// classes whose linears are INT4 or fp32 (bf16's GEMMs read a BF16 weight copy made once per optimiser step, which
// knows no W·m; bf16_classes is already checked).
static int4train_status check_smoothing(const int4train_gpt_config* c) {
    if (!(isfinite(c->smooth_alpha) && c->smooth_alpha >= 0.0f && c->smooth_alpha <= 1.0f))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: smooth_alpha must be in [0, 1] (0 = smoothing off), got %g",
                    (double)c->smooth_alpha);
    if (c->smooth_alpha == 0.0f) {
        if (c->smooth_classes != 0)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                        "int4train_gpt_create: smooth_classes %d with smooth_alpha 0 (smoothing off): set 0",
                        c->smooth_classes);
        return INT4TRAIN_SUCCESS;
    }
    if (c->smooth_classes < 1 || c->smooth_classes > 15)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: smooth_classes is a non-empty mask of the block-linear classes (bit 0 qkv, "
                    "1 proj, 2 up, 3 down), got %d", c->smooth_classes);
    if (c->linear.precision == INT4TRAIN_PRECISION_BF16 || (c->smooth_classes & c->bf16_classes) != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: smoothing runs on INT4 and fp32 linears; smooth_classes %d includes bf16 "
                    "linears (precision %d, bf16_classes %d)", c->smooth_classes, c->linear.precision,
                    c->bf16_classes);
    return INT4TRAIN_SUCCESS;
}

// The diagnostic INT4 ablations (int4_ablation.cu): a known one, and another than none only where block linears run
// INT4 (the fp32 and bf16 precisions have nothing to ablate: refused, not ignored).
static int4train_status check_ablation(const int4train_gpt_config* c) {
    if (c->int4_ablation < INT4TRAIN_GPT_ABLATION_NONE || c->int4_ablation > INT4TRAIN_GPT_ABLATION_FINE_W)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: int4_ablation must be 0 (none), 1 (forward-only), 2 (backward-only), 3 "
                    "(fine-scales), 4 (fine-x) or 5 (fine-w), got %d",
                    c->int4_ablation);
    if (c->int4_ablation != INT4TRAIN_GPT_ABLATION_NONE && !layer::is_int4(c->linear.precision))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: int4_ablation %d ablates the INT4 block linears; precision %d has none (set 0)",
                    c->int4_ablation, c->linear.precision);
    return INT4TRAIN_SUCCESS;
}

int4train_status check_config(const int4train_gpt_config* c) {
    if (c->layers < 1 || c->heads < 1 || c->width < 1 || c->context < 1 || c->max_batch < 1 || c->vocab < 2)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: layers, heads, width, context, max_batch must be positive and vocab >= 2 "
                    "(got %d, %d, %d, %d, %d, %d)", c->layers, c->heads, c->width, c->context, c->max_batch, c->vocab);
    if (c->width % c->heads != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: width %d is not divisible by heads %d",
                    c->width, c->heads);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: dropout must be in [0, 1), got %g",
                    (double)c->dropout);
    if (!(isfinite(c->step_lr_scale) && c->step_lr_scale >= 0.0f))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: step_lr_scale (the step sizes' learning-rate multiple) must be finite and "
                    ">= 0, got %g", (double)c->step_lr_scale);
    const bool int4 = layer::is_int4(c->linear.precision);
    if (c->bf16_classes < 0 || c->bf16_classes > 15)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: bf16_classes is a mask of the block-linear classes (bit 0 qkv, 1 proj, "
                    "2 up, 3 down), got %d", c->bf16_classes);
    if (!int4 && c->bf16_classes != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: bf16_classes %d chooses block linears of an INT4 precision to run in bf16; "
                    "precision %d has no INT4 linear (set 0)", c->bf16_classes, c->linear.precision);
    if (int4 && c->bf16_classes == 15)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_create: bf16_classes 15 leaves no block linear INT4 (use the bf16 precision)");
    I4T_TRY(check_smoothing(c));
    I4T_TRY(check_ablation(c));
    // the block linears' inputs are C and 4C wide: options valid for C hold for both
    return layer::check_options(&c->linear, c->width, true, "int4train_gpt_create");
}

// What a block linear keeps of its input X between forward and backward, by its own arithmetic (docs/conventions.md
// "What the device GPT keeps for the backward"; an INT4 model's bf16_classes keep what the bf16 precision keeps):
//   fp32   X in FP32 (as an FP32 PyTorch model keeps it);
//   bf16   the BF16 copy of X its GEMM read (as PyTorch autocast's linear saves it): 2 bytes per element, and no FP32
//          X beyond the shared buffer the forward makes each X in for its cast;
//   int4   the packed codes (the layer's) and, for three of the four linears, nothing else: the backward makes X
//          again into the shared buffer (linear_inputs.cu), and the up linear its output h with it (remake_hidden).
//          The attention output projection keeps its FP32 X (the attention output, C per token): making it again
//          is a whole attention forward per block and step (~5 % of an INT4 gpt-1b step), where LN, GELU and h cost
//          an element-wise pass or one INT4 GEMM. The environment variable
//          INT4TRAIN_GPT_KEEP_INPUTS=1, read when a model is created, keeps FP32 X of the INT4 linears (and every
//          block's h) instead: the reference the GPU tests compare the recomputation against bit for bit, and a
//          debugging aid.
// Every block's linear k has the same arithmetic, so a block owns an FP32 buffer for input k exactly when linear k
// keeps FP32 X; the other inputs share linear_in. which: 0 qkv, 1 proj, 2 up, 3 down.
static KeptInput kept_input(int precision, int which) {
    if (precision == INT4TRAIN_PRECISION_BF16) return KeptInput::Bf16Copy;
    if (!layer::is_int4(precision) || which == 1) return KeptInput::Fp32;
    const char* keep = getenv("INT4TRAIN_GPT_KEEP_INPUTS");
    return keep != nullptr && strcmp(keep, "1") == 0 ? KeptInput::Fp32 : KeptInput::Remade;
}

// Which attention a model runs (docs/conventions.md "The attention: fused or llm.c's"): fp32 keeps the llm.c path
// (attention.cu, cuBLAS in FP32; the host model checks it to float round-off); the other precisions, whose attention
// already ran on BF16 operands (CUBLAS_COMPUTE_32F_FAST_16BF), take the fused one (flash_attention*.cu) when its
// kernels cover the head size (a multiple of 16 up to 128) and batch × heads (≤ 65535): it keeps B·H·T floats instead
// of the B·H·T·T probabilities and allocates no T×T scratch. The environment variable INT4TRAIN_GPT_ATTENTION=unfused,
// read when a model is created, keeps the llm.c path instead: the reference the GPU tests compare the fused one with.
static bool fused_attention(const int4train_gpt_config& c) {
    if (c.linear.precision == INT4TRAIN_PRECISION_FP32 ||
        !nn::flash_attention_supported(c.width / c.heads, (int64_t)c.max_batch * c.heads))
        return false;
    const char* choice = getenv("INT4TRAIN_GPT_ATTENTION");
    return !(choice != nullptr && strcmp(choice, "unfused") == 0);
}

// bf16: the BF16 weight copy. The block linears' weights are one contiguous range of the parameters (the decayed
// tensors are laid out first, in checkpoint order, and between wpe and ln_f only the linears' weights decay), so
// one cast refreshes them all when all are bf16; each bf16 linear's copy is its rows of it, zero like the FP32
// weights until set. An INT4 model with bf16_classes allocates the whole range too (simple: one layout; its INT4
// linears' rows stay unused).
static int4train_status alloc_bf16_weights(int4train_gpt g) {
    g->w_first = g->blocks[0].lin[0].w;
    int64_t next = g->w_first;
    for (const Block& bk : g->blocks)
        for (const Linear& ln : bk.lin) {
            if (ln.w != next)
                return fail(INT4TRAIN_ERROR_INTERNAL, "int4train_gpt_create: the block linears' weights are not one "
                            "contiguous range (weight at %lld, expected %lld)", (long long)ln.w, (long long)next);
            next += (int64_t)ln.out * ln.in;
        }
    g->w_count = next - g->w_first;
    I4T_TRY(g->alloc(&g->w_bf16, g->w_count));
    I4T_CUDA(cudaMemsetAsync(g->w_bf16, 0, sizeof(__nv_bfloat16) * g->w_count, g->stream()));  // BF16 +0 is 0 bits
    for (Block& bk : g->blocks)
        for (Linear& ln : bk.lin)
            if (ln.precision == INT4TRAIN_PRECISION_BF16) ln.w_bf16 = g->w_bf16 + (ln.w - g->w_first);
    return INT4TRAIN_SUCCESS;
}

// Smoothing: each smoothed linear's factors, and the buffers the smoothed linear at hand uses (sized for the widest
// smoothed class: X' N × in, W' and ∂L/∂W' out × in, the column maxima 2 × in).
static int4train_status alloc_smoothing(int4train_gpt g) {
    const auto& c = g->cfg;
    if (c.smooth_alpha == 0.0f) return INT4TRAIN_SUCCESS;
    const int64_t N = (int64_t)c.max_batch * c.context;
    int64_t max_in = 0, max_w = 0;
    for (Block& bk : g->blocks)
        for (int k = 0; k < 4; ++k) {
            if (!(c.smooth_classes >> k & 1)) continue;
            Linear& ln = bk.lin[k];
            I4T_TRY(g->alloc(&ln.smooth_m, ln.in));
            if (ln.in > max_in) max_in = ln.in;
            if ((int64_t)ln.out * ln.in > max_w) max_w = (int64_t)ln.out * ln.in;
        }
    I4T_TRY(g->alloc(&g->smooth_x, N * max_in));
    I4T_TRY(g->alloc(&g->smooth_w, max_w));
    I4T_TRY(g->alloc(&g->smooth_gw, max_w));
    I4T_TRY(g->alloc(&g->smooth_absmax, 2 * max_in));
    return INT4TRAIN_SUCCESS;
}

int4train_status build(int4train_gpt g) {
    const auto& c = g->cfg;
    int C = c.width, V = c.vocab, T = c.context, L = c.layers;
    int64_t N = (int64_t)c.max_batch * T, BHT = (int64_t)c.max_batch * c.heads * T, BHTT = BHT * T;
    g->int4 = layer::is_int4(c.linear.precision);
    g->bf16 = c.linear.precision == INT4TRAIN_PRECISION_BF16 || (g->int4 && c.bf16_classes != 0);
    g->fused_attention = fused_attention(c);
    if (g->fused_attention) I4T_CUDA(nn::flash_attention_prepare());
    g->hp = c.linear.precision == INT4TRAIN_PRECISION_FP32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_16BF;

    // Tensors in the checkpoint order (the C# host model's); physical layout: decayed weights, then the other
    // tensors, then the step sizes, so the norm and the AdamW groups are contiguous ranges.
    std::vector<Tensor>& ts = g->tensors;
    g->blocks.resize(L);
    int64_t i_wte = add_tensor(ts, "wte", (int64_t)V * C, true), i_wpe = add_tensor(ts, "wpe", (int64_t)T * C, true);
    // weight decay on every 2-D tensor (linear weights and both embeddings), as nanoGPT's configure_optimizers
    struct Pending { int64_t index; int64_t* offset; };
    std::vector<Pending> pend{{i_wte, &g->wte}, {i_wpe, &g->wpe}};
    const char* lin_names[4] = {"qkv", "proj", "up", "down"};
    for (int l = 0; l < L; ++l) {
        Block& bk = g->blocks[l];
        std::string p = "h" + std::to_string(l) + ".";
        pend.push_back({add_tensor(ts, p + "ln1.weight", C, false), &bk.ln1w});
        pend.push_back({add_tensor(ts, p + "ln1.bias", C, false), &bk.ln1b});
        pend.push_back({add_tensor(ts, p + "ln2.weight", C, false), &bk.ln2w});
        pend.push_back({add_tensor(ts, p + "ln2.bias", C, false), &bk.ln2b});
        int dims[4][2] = {{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}};
        for (int k = 0; k < 4; ++k) {
            Linear& ln = bk.lin[k];
            ln.in = dims[k][0];
            ln.out = dims[k][1];
            ln.precision = g->int4 && (c.bf16_classes >> k & 1) ? INT4TRAIN_PRECISION_BF16 : c.linear.precision;
            ln.kept = kept_input(ln.precision, k);
            int4train_layer_options lo = c.linear;
            lo.precision = ln.precision;
            lo.seed = host_key(c.linear.seed, l, k);
            layer::init(ln.state, g->ctx, lo, ln.in, ln.out);
            std::string q = p + lin_names[k];
            pend.push_back({add_tensor(ts, q + ".weight", (int64_t)ln.out * ln.in, true), &ln.w});
            pend.push_back({add_tensor(ts, q + ".bias", ln.out, false), &ln.b});
            if (ln.int4()) {  // the C# GptTensorTable's GptConfig.RunsInt4
                pend.push_back({add_tensor(ts, q + ".step_x", 1, false, true, 4 * l + k), &ln.sx});
                pend.push_back({add_tensor(ts, q + ".step_w", 1, false, true, 4 * l + k), &ln.sw});
            }
        }
    }
    pend.push_back({add_tensor(ts, "ln_f.weight", C, false), &g->lnfw});
    pend.push_back({add_tensor(ts, "ln_f.bias", C, false), &g->lnfb});
    int64_t off = 0;
    for (int pass = 0; pass < 3; ++pass)  // 0: decay, 1: other, 2: steps
        for (auto& pd : pend) {
            Tensor& t = ts[pd.index];
            int cls = t.is_step ? 2 : (t.decay ? 0 : 1);
            if (cls != pass) continue;
            if (pass == 2 && g->main_count == 0) g->main_count = off;
            t.offset = off;
            *pd.offset = off;
            off += t.numel;
        }
    g->total = off;
    g->by_offset.resize(ts.size());
    for (size_t i = 0; i < ts.size(); ++i) g->by_offset[i] = i;
    std::sort(g->by_offset.begin(), g->by_offset.end(), [&](size_t x, size_t y) { return ts[x].offset < ts[y].offset; });
    if (g->main_count == 0) g->main_count = off;

    I4T_TRY(g->alloc(&g->params, g->total));
    I4T_TRY(g->alloc(&g->grads, g->total));
    I4T_TRY(g->alloc(&g->m, g->total));
    I4T_TRY(g->alloc(&g->v, g->total));
    I4T_CUDA(cudaMemsetAsync(g->params, 0, sizeof(float) * g->total, g->stream()));
    I4T_CUDA(cudaMemsetAsync(g->grads, 0, sizeof(float) * g->total, g->stream()));
    I4T_CUDA(cudaMemsetAsync(g->m, 0, sizeof(float) * g->total, g->stream()));
    I4T_CUDA(cudaMemsetAsync(g->v, 0, sizeof(float) * g->total, g->stream()));
    std::vector<float> ones(C, 1.0f);  // LayerNorm gains start at one
    for (int l = 0; l <= L; ++l) {
        int64_t o1 = l < L ? g->blocks[l].ln1w : g->lnfw;
        // on the model's stream, after the zeroing above (a legacy-stream cudaMemcpy is not ordered against the
        // context's non-blocking stream: the memset could land after the ones)
        I4T_CUDA(cudaMemcpyAsync(g->P(o1), ones.data(), sizeof(float) * C, cudaMemcpyHostToDevice, g->stream()));
        if (l < L)
            I4T_CUDA(cudaMemcpyAsync(g->P(g->blocks[l].ln2w), ones.data(), sizeof(float) * C, cudaMemcpyHostToDevice,
                                     g->stream()));
    }
    I4T_CUDA(cudaStreamSynchronize(g->stream()));  // `ones` is freed on return

    // activations
    I4T_TRY(g->alloc(&g->tokens, N));
    I4T_TRY(g->alloc(&g->targets, N));
    g->res.resize(L + 1);
    for (int l = 0; l <= L; ++l) I4T_TRY(g->alloc(&g->res[l], N * C));
    // linear k of every block keeps the same (its class's arithmetic): own[k] = block l owns FP32 input k
    bool own[4], shared = false;
    for (int k = 0; k < 4; ++k) {
        own[k] = g->blocks[0].lin[k].kept == KeptInput::Fp32;
        shared = shared || !own[k];
    }
    if (shared) I4T_TRY(g->alloc(&g->linear_in, N * 4 * C));  // the widest input, GELU(h)
    // h (N × 4C, the widest activation a block keeps) is made again by an up linear that makes its X again: INT4
    // (docs/conventions.md "What the device GPT keeps for the backward"); one buffer then serves every block
    g->hidden_remade = g->blocks[0].lin[2].kept == KeptInput::Remade;
    if (g->hidden_remade) I4T_TRY(g->alloc(&g->hidden, N * 4 * C));
    if (g->bf16) {
        I4T_TRY(alloc_bf16_weights(g));
        I4T_TRY(g->alloc(&g->dy_bf16, N * 4 * C));  // the widest ∂L/∂y, up's
    }
    for (int l = 0; l < L; ++l) {
        Block& bk = g->blocks[l];
        I4T_TRY(g->alloc(&bk.ln1_mean, N));
        I4T_TRY(g->alloc(&bk.ln1_rstd, N));
        if (g->fused_attention) {  // the BF16 qkv the fused kernels read (block_attention.cu qkv_output)
            I4T_TRY(g->alloc(&bk.qkv_bf16, N * 3 * C));
            I4T_TRY(g->alloc(&bk.lse2, BHT));
        } else {
            I4T_TRY(g->alloc(&bk.qkv, N * 3 * C));
            I4T_TRY(g->alloc(&bk.att, BHTT));
        }
        I4T_TRY(g->alloc(&bk.x2, N * C));
        I4T_TRY(g->alloc(&bk.ln2_mean, N));
        I4T_TRY(g->alloc(&bk.ln2_rstd, N));
        if (g->hidden_remade) bk.h = g->hidden;
        else I4T_TRY(g->alloc(&bk.h, N * 4 * C));
        float** input[4] = {&bk.ln1, &bk.att_out, &bk.ln2, &bk.g};
        for (int k = 0; k < 4; ++k) {
            if (own[k]) I4T_TRY(g->alloc(input[k], N * bk.lin[k].in));
            else *input[k] = g->linear_in;
        }
        for (auto& ln : bk.lin) {
            if (ln.kept == KeptInput::Bf16Copy) I4T_TRY(g->alloc(&ln.x_bf16, N * ln.in));
            if (ln.int4()) {
                I4T_TRY(g->alloc(&ln.x_packed, N * ln.in / 2));
                I4T_TRY(g->alloc(&ln.w_packed, (int64_t)ln.out * ln.in / 2));
            }
        }
    }
    I4T_TRY(alloc_smoothing(g));
    I4T_TRY(g->alloc(&g->lnf, N * C));
    I4T_TRY(g->alloc(&g->lnf_mean, N));
    I4T_TRY(g->alloc(&g->lnf_rstd, N));
    I4T_TRY(g->alloc(&g->probs, N * V));
    I4T_TRY(g->alloc(&g->losses, N));
    I4T_TRY(g->alloc(&g->loss, 1));
    // scratch
    if (g->fused_attention) {
        I4T_TRY(g->alloc(&g->att_delta, BHT));
        if (nn::flash_attention_bf16_dout()) I4T_TRY(g->alloc(&g->att_dout_bf16, N * C));
    } else {
        I4T_TRY(g->alloc(&g->qkvp, 3 * N * C));
        I4T_TRY(g->alloc(&g->dqkvp, 3 * N * C));
        I4T_TRY(g->alloc(&g->attd, BHTT));
        I4T_TRY(g->alloc(&g->datt, BHTT));
        I4T_TRY(g->alloc(&g->outp, N * C));
    }
    I4T_TRY(g->alloc(&g->dbuf1, 4 * N * C));
    I4T_TRY(g->alloc(&g->dbuf2, 4 * N * C));
    // The INT4 layers' policy runs in the forward, where no kernel reads dbuf1 or dbuf2 before the linear's own GEMM
    // writes its output (dbuf1 holds proj's and down's y only from their GEMM to the residual add; dbuf2 is the
    // backward's): they lend the search and the step initialisation their N × 4C temporaries, which would otherwise
    // grow the context workspace to two N × 4C FP32 buffers for the first forward and keep it there.
    for (Block& bk : g->blocks)
        for (Linear& ln : bk.lin)
            if (ln.int4()) ln.state.lent = LentScratch{g->dbuf1, g->dbuf2, 4 * N * C};
    I4T_TRY(g->alloc(&g->dln, N * C));
    I4T_TRY(g->alloc(&g->dres, N * C));
    size_t sc = nn::embedding_backward_scratch((int)N, C, V);
    size_t s2 = nn::layernorm_backward_scratch((int)N, C), s3 = nn::column_sum_scratch((int)N, 4 * C);
    if (s2 > sc) sc = s2;
    if (s3 > sc) sc = s3;
    I4T_TRY(g->alloc(&g->scratch, (int64_t)sc));
    I4T_TRY(g->alloc(&g->norm_out, 2));
    I4T_TRY(g->alloc(&g->norm_scratch, (int64_t)nn::grad_norm_scratch(g->total)));
    I4T_TRY(step_graph_create(g));
    I4T_CUDA(cudaStreamSynchronize(g->stream()));
    return INT4TRAIN_SUCCESS;
}

cudaError_t release(int4train_gpt g) {
    cudaError_t first = cudaSuccess;
    auto keep = [&first](cudaError_t e) { if (first == cudaSuccess) first = e; };
    if (g->ctx && g->ctx->stream) keep(cudaStreamSynchronize(g->stream()));
    step_graph_release(g);
    for (void* p : g->allocations) keep(cudaFree(p));
    if (g->blas) {
        // Without a context its stream is gone: cuBLAS must not keep a destroyed stream while it tears down.
        if (!g->ctx) cublasSetStream(g->blas, nullptr);
        cublasDestroy(g->blas);
    }
    delete g;
    (void)cudaGetLastError();
    return first;
}

int4train_status check_gpt(int4train_gpt g, const char* fn) {
    I4T_TRY(handle_check(g, HandleKind::Model, fn));
    return enter(g->ctx, fn);
}

int4train_status check_tensor(int4train_gpt g, int index, const char* fn) {
    if (index < 0 || index >= (int)g->tensors.size())
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: tensor index %d is outside [0, %d)", fn, index,
                    (int)g->tensors.size());
    return INT4TRAIN_SUCCESS;
}

float* buffer_of(int4train_gpt g, int which) {
    switch (which) {
        case INT4TRAIN_GPT_VALUE: return g->params;
        case INT4TRAIN_GPT_GRAD: return g->grads;
        case INT4TRAIN_GPT_ADAM_M: return g->m;
        case INT4TRAIN_GPT_ADAM_V: return g->v;
        default: return nullptr;
    }
}

bool steps_active(int4train_gpt g, const Tensor& t) {
    if (!t.is_step) return true;
    return layer::steps_learned(g->blocks[t.linear / 4].lin[t.linear % 4].state);
}

}  // namespace gpt
}  // namespace i4t
