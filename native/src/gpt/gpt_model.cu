// gpt_model.cu — the device-resident GPT of include/int4train_gpt.h: parameter layout, buffers, and the explicit
// forward / backward / AdamW step (llm.c style). Block linears go through the public INT4 layer entry points
// (int4train_hq_forward, int4train_linear_backward) or cuBLAS; everything else through the kernels of nn.cuh.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "../common.cuh"
#include "int4train_gpt.h"
#include "nn.cuh"
#include "device_util.cuh"

using namespace i4t;

namespace {

#define I4T_GEMM(expr)                                                                                 \
    do {                                                                                               \
        cublasStatus_t i4t_b_ = (expr);                                                                \
        if (i4t_b_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return ::i4t::fail(INT4TRAIN_ERROR_CUDA, "%s: cuBLAS %s", __func__, nn::cublas_status_text(i4t_b_)); \
    } while (0)

struct Tensor {
    std::string name;
    int64_t offset = 0, numel = 0;
    bool decay = false, is_step = false;
    int adam_steps = 0;
    int linear = -1;  // for a step size: its linear
};

struct Linear {
    int in = 0, out = 0;
    int64_t w = -1, b = -1, sx = -1, sw = -1;  // offsets into the flat parameter / gradient buffers
    uint8_t* x_packed = nullptr;               // INT4 codes saved by the forward (N × in/2)
    uint8_t* w_packed = nullptr;               // (out × in/2)
    int step_count = 0, group = 0;
    bool initialized = false;
    uint64_t seed = 0;  // Hash.Key(seed, layer, which), as the host model's Int4LinearOptions.Seed
};

struct Block {
    int64_t ln1w, ln1b, ln2w, ln2b;
    Linear lin[4];  // qkv, proj, up, down
    // activations kept for the backward
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *att_out, *x2, *ln2, *ln2_mean, *ln2_rstd, *h, *g;
};

uint64_t host_key(int64_t a, int64_t b, int64_t c) {  // Hash.Key of the C# host model
    return nn::splitmix64(nn::splitmix64(nn::splitmix64((uint64_t)a) ^ (uint64_t)b) ^ (uint64_t)c);
}

}  // namespace

struct int4train_gpt_s {
    int4train_context ctx = nullptr;
    int4train_gpt_config cfg{};
    cublasHandle_t blas = nullptr;
    cublasComputeType_t hp = CUBLAS_COMPUTE_32F;      // attention + head
    cublasComputeType_t linear_compute = CUBLAS_COMPUTE_32F;
    bool int4 = false;
    std::vector<Tensor> tensors;
    std::vector<Block> blocks;
    int64_t wte = 0, wpe = 0, lnfw = 0, lnfb = 0;
    int64_t total = 0, main_count = 0;  // elements; step sizes occupy [main_count, total)
    float *params = nullptr, *grads = nullptr, *m = nullptr, *v = nullptr;
    // activations and scratch
    int32_t *tokens = nullptr, *targets = nullptr;
    std::vector<float*> res;  // residual stream entering block l (res[L] enters the final LayerNorm)
    float *lnf = nullptr, *lnf_mean = nullptr, *lnf_rstd = nullptr, *probs = nullptr, *losses = nullptr, *loss = nullptr;
    float *qkvp = nullptr, *dqkvp = nullptr, *attd = nullptr, *datt = nullptr, *outp = nullptr;
    float *dbuf1 = nullptr, *dbuf2 = nullptr, *dln = nullptr, *dres = nullptr, *scratch = nullptr, *hscratch = nullptr;
    float *gw_tmp = nullptr, *gb_tmp = nullptr, *gs_tmp = nullptr, *norm_out = nullptr;
    double* norm_scratch = nullptr;
    std::vector<void*> allocations;
    // the last forward
    int b = 0, t = 0;
    bool has_targets = false, training = false, probs_valid = false, backward_ready = false;
    uint64_t dropout_key = 0;

    float* P(int64_t off) { return params + off; }
    float* G(int64_t off) { return grads + off; }
    cudaStream_t stream() const { return ctx->stream; }
    float dropout_p() const { return training ? cfg.dropout : 0.0f; }
    uint64_t site(uint32_t s) const { return nn::dropout_site_key(dropout_key, s); }

    template <class T> int4train_status alloc(T** p, int64_t count) {
        void* raw = nullptr;
        cudaError_t e = cudaMalloc(&raw, sizeof(T) * (size_t)(count > 0 ? count : 1));
        if (e != cudaSuccess) return fail_cuda(e, "int4train_gpt_create: cudaMalloc");
        allocations.push_back(raw);
        *p = static_cast<T*>(raw);
        return INT4TRAIN_SUCCESS;
    }
};

namespace {

int64_t add_tensor(std::vector<Tensor>& order, const std::string& name, int64_t numel, bool decay,
                   bool is_step = false, int linear = -1) {
    Tensor t;
    t.name = name;
    t.numel = numel;
    t.decay = decay;
    t.is_step = is_step;
    t.linear = linear;
    order.push_back(t);
    return (int64_t)order.size() - 1;
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
    if (c->precision < 0 || c->precision > 3)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: unknown precision %d", c->precision);
    if (c->mode != INT4TRAIN_MODE_CODE && c->mode != INT4TRAIN_MODE_PAPER)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: unknown mode %d", c->mode);
    if (c->sampling != INT4TRAIN_SAMPLING_NONZERO && c->sampling != INT4TRAIN_SAMPLING_BERNOULLI)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: unknown sampling %d", c->sampling);
    bool int4 = c->precision == INT4TRAIN_GPT_INT4_HQ_LSS || c->precision == INT4TRAIN_GPT_INT4_LSQ;
    if (int4 && c->width % 2 != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: INT4 codes are packed two per byte, width %d "
                    "must be even", c->width);
    if (c->group_size != 0) {
        int gsz = c->group_size;
        if (gsz < 1 || gsz > 1024 || (gsz & (gsz - 1)) != 0 || c->width % gsz != 0)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: group_size %d must be a power of two in "
                        "[1, 1024] dividing the width %d", gsz, c->width);
    }
    if (c->cold_start_steps < 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_create: cold_start_steps must be >= 0, got %d",
                    c->cold_start_steps);
    return INT4TRAIN_SUCCESS;
}

// ---- one block linear ---------------------------------------------------------------------------------------------

// The INT4 layer's per-forward bookkeeping (host Int4Linear.Forward): count a training step, search G on the first
// batch (§2.2) and at the re-initialisation step, initialise s = 2·mean|·|/√7 of XH and WH (§2.1) while cold
// (App. A.4), at the re-initialisation, or when never initialised.
int4train_status int4_prepare(int4train_gpt g, Linear& L, const float* x, int n) {
    bool reinit = false;
    if (g->training) {
        L.step_count++;
        reinit = g->cfg.reinit_step >= 0 && L.step_count - 1 == g->cfg.reinit_step;
    }
    const float* w = g->P(L.w);
    if (g->cfg.precision == INT4TRAIN_GPT_INT4_LSQ) L.group = 1;
    else if (L.group == 0 || (reinit && g->cfg.group_size == 0)) {
        if (g->cfg.group_size != 0) L.group = g->cfg.group_size;
        else I4T_TRY(int4train_block_size_search(g->ctx, x, w, n, L.out, L.in, g->cfg.mode, &L.group, nullptr));
    }
    bool cold = g->training && L.step_count <= g->cfg.cold_start_steps;
    if (!L.initialized || cold || reinit) {
        // s_X from XH of this batch, s_W from WH (hscratch holds the transformed copy)
        const float* xs = x;
        if (L.group > 1) {
            I4T_TRY(int4train_hadamard(g->ctx, x, g->hscratch, n, L.in, L.group));
            xs = g->hscratch;
        }
        I4T_TRY(int4train_lsq_init_step(g->ctx, xs, (int64_t)n * L.in, g->P(L.sx)));
        const float* ws = w;
        if (L.group > 1) {
            I4T_TRY(int4train_hadamard(g->ctx, w, g->hscratch, L.out, L.in, L.group));
            ws = g->hscratch;
        }
        I4T_TRY(int4train_lsq_init_step(g->ctx, ws, (int64_t)L.out * L.in, g->P(L.sw)));
        L.initialized = true;
    }
    return INT4TRAIN_SUCCESS;
}

// y (n × out) = x·Wᵀ + b
int4train_status linear_forward(int4train_gpt g, Linear& L, const float* x, float* y, int n) {
    if (g->int4) {
        I4T_TRY(int4_prepare(g, L, x, n));
        return int4train_hq_forward(g->ctx, x, g->P(L.w), g->P(L.b), g->P(L.sx), g->P(L.sw), n, L.out, L.in, L.group,
                                    g->cfg.mode, y, L.x_packed, L.w_packed);
    }
    I4T_CUDA(nn::broadcast_rows(g->stream(), y, g->P(L.b), n, L.out));
    I4T_GEMM(nn::gemm(g->blas, g->linear_compute, false, true, n, L.out, L.in, 1.0f, x, L.in, 0, g->P(L.w), L.in, 0,
                      1.0f, y, L.out, 0));
    return INT4TRAIN_SUCCESS;
}

__global__ void add_kernel(float* __restrict__ dst, const float* __restrict__ src, int64_t count) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x)
        dst[e] += src[e];
}

int4train_status accumulate(int4train_gpt g, float* dst, const float* src, int64_t count) {
    add_kernel<<<nn::grid_for(count, 256, 4096), 256, 0, g->stream()>>>(dst, src, count);
    I4T_LAUNCH("int4train_gpt_backward: accumulate");
    return INT4TRAIN_SUCCESS;
}

// dx (n × in) = ∂L/∂x (overwritten); the parameter gradients are accumulated.
int4train_status linear_backward(int4train_gpt g, Linear& L, const float* dy, const float* x, float* dx, int n) {
    if (g->int4) {
        // The INT4 backward writes its gradients; they are added to the model's (which may already hold some).
        I4T_TRY(int4train_linear_backward(g->ctx, dy, x, g->P(L.w), L.x_packed, L.w_packed, g->P(L.sx), g->P(L.sw), n,
                                          L.out, L.in, L.group, g->cfg.mode, g->cfg.sampling,
                                          L.seed + (uint64_t)L.step_count, dx, g->gw_tmp, g->gs_tmp, g->gs_tmp + 1,
                                          g->gb_tmp));
        I4T_TRY(accumulate(g, g->G(L.w), g->gw_tmp, (int64_t)L.out * L.in));
        I4T_TRY(accumulate(g, g->G(L.b), g->gb_tmp, L.out));
        I4T_TRY(accumulate(g, g->G(L.sx), g->gs_tmp, 1));
        return accumulate(g, g->G(L.sw), g->gs_tmp + 1, 1);
    }
    I4T_GEMM(nn::gemm(g->blas, g->linear_compute, false, false, n, L.in, L.out, 1.0f, dy, L.out, 0, g->P(L.w), L.in, 0,
                      0.0f, dx, L.in, 0));
    I4T_GEMM(nn::gemm(g->blas, g->linear_compute, true, false, L.out, L.in, n, 1.0f, dy, L.out, 0, x, L.in, 0, 1.0f,
                      g->G(L.w), L.in, 0));
    I4T_CUDA(nn::column_sum_accumulate(g->stream(), g->G(L.b), dy, n, L.out, g->scratch));
    return INT4TRAIN_SUCCESS;
}

int4train_status build(int4train_gpt g) {
    const auto& c = g->cfg;
    int C = c.width, V = c.vocab, T = c.context, L = c.layers;
    int64_t N = (int64_t)c.max_batch * T, BHTT = (int64_t)c.max_batch * c.heads * T * T;
    g->int4 = c.precision == INT4TRAIN_GPT_INT4_HQ_LSS || c.precision == INT4TRAIN_GPT_INT4_LSQ;
    g->hp = c.precision == INT4TRAIN_GPT_FP32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_16BF;
    g->linear_compute = c.precision == INT4TRAIN_GPT_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;

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
            ln.seed = host_key(c.seed, l, k);
            std::string q = p + lin_names[k];
            pend.push_back({add_tensor(ts, q + ".weight", (int64_t)ln.out * ln.in, true), &ln.w});
            pend.push_back({add_tensor(ts, q + ".bias", ln.out, false), &ln.b});
            if (g->int4) {
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
        I4T_CUDA(cudaMemcpy(g->P(o1), ones.data(), sizeof(float) * C, cudaMemcpyHostToDevice));
        if (l < L) I4T_CUDA(cudaMemcpy(g->P(g->blocks[l].ln2w), ones.data(), sizeof(float) * C, cudaMemcpyHostToDevice));
    }

    // activations
    I4T_TRY(g->alloc(&g->tokens, N));
    I4T_TRY(g->alloc(&g->targets, N));
    g->res.resize(L + 1);
    for (int l = 0; l <= L; ++l) I4T_TRY(g->alloc(&g->res[l], N * C));
    for (int l = 0; l < L; ++l) {
        Block& bk = g->blocks[l];
        I4T_TRY(g->alloc(&bk.ln1, N * C));
        I4T_TRY(g->alloc(&bk.ln1_mean, N));
        I4T_TRY(g->alloc(&bk.ln1_rstd, N));
        I4T_TRY(g->alloc(&bk.qkv, N * 3 * C));
        I4T_TRY(g->alloc(&bk.att, BHTT));
        I4T_TRY(g->alloc(&bk.att_out, N * C));
        I4T_TRY(g->alloc(&bk.x2, N * C));
        I4T_TRY(g->alloc(&bk.ln2, N * C));
        I4T_TRY(g->alloc(&bk.ln2_mean, N));
        I4T_TRY(g->alloc(&bk.ln2_rstd, N));
        I4T_TRY(g->alloc(&bk.h, N * 4 * C));
        I4T_TRY(g->alloc(&bk.g, N * 4 * C));
        if (g->int4)
            for (auto& ln : bk.lin) {
                I4T_TRY(g->alloc(&ln.x_packed, N * ln.in / 2));
                I4T_TRY(g->alloc(&ln.w_packed, (int64_t)ln.out * ln.in / 2));
            }
    }
    I4T_TRY(g->alloc(&g->lnf, N * C));
    I4T_TRY(g->alloc(&g->lnf_mean, N));
    I4T_TRY(g->alloc(&g->lnf_rstd, N));
    I4T_TRY(g->alloc(&g->probs, N * V));
    I4T_TRY(g->alloc(&g->losses, N));
    I4T_TRY(g->alloc(&g->loss, 1));
    // scratch
    I4T_TRY(g->alloc(&g->qkvp, 3 * N * C));
    I4T_TRY(g->alloc(&g->dqkvp, 3 * N * C));
    I4T_TRY(g->alloc(&g->attd, BHTT));
    I4T_TRY(g->alloc(&g->datt, BHTT));
    I4T_TRY(g->alloc(&g->outp, N * C));
    I4T_TRY(g->alloc(&g->dbuf1, 4 * N * C));
    I4T_TRY(g->alloc(&g->dbuf2, 4 * N * C));
    I4T_TRY(g->alloc(&g->dln, N * C));
    I4T_TRY(g->alloc(&g->dres, N * C));
    size_t sc = nn::embedding_backward_scratch((int)N, C, V);
    size_t s2 = nn::layernorm_backward_scratch((int)N, C), s3 = nn::column_sum_scratch((int)N, 4 * C);
    if (s2 > sc) sc = s2;
    if (s3 > sc) sc = s3;
    I4T_TRY(g->alloc(&g->scratch, (int64_t)sc));
    if (g->int4) {
        I4T_TRY(g->alloc(&g->hscratch, N * 4 * C > 4ll * C * C ? N * 4 * C : 4ll * C * C));
        I4T_TRY(g->alloc(&g->gw_tmp, 4ll * C * C));
        I4T_TRY(g->alloc(&g->gb_tmp, 4ll * C));
        I4T_TRY(g->alloc(&g->gs_tmp, 2));
    }
    I4T_TRY(g->alloc(&g->norm_out, 2));
    I4T_TRY(g->alloc(&g->norm_scratch, (int64_t)nn::grad_norm_scratch(g->total)));
    I4T_CUDA(cudaStreamSynchronize(g->stream()));
    return INT4TRAIN_SUCCESS;
}

void release(int4train_gpt g) {
    if (g->ctx && g->ctx->stream) cudaStreamSynchronize(g->stream());
    for (void* p : g->allocations) cudaFree(p);
    if (g->blas) cublasDestroy(g->blas);
    delete g;
}

int4train_status check_gpt(int4train_gpt g, const char* fn) {
    if (g == nullptr) return fail(INT4TRAIN_ERROR_NULL_POINTER, "%s: the model handle is NULL", fn);
    return enter(g->ctx);
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
    const Linear& L = g->blocks[t.linear / 4].lin[t.linear % 4];
    return L.step_count > g->cfg.cold_start_steps;  // host Int4Linear.StepsAreLearned
}

}  // namespace

// ---- C ABI -------------------------------------------------------------------------------------------------------

INT4TRAIN_API int4train_status int4train_gpt_create(int4train_context ctx, const int4train_gpt_config* h_config,
                                                    int4train_gpt* h_out) {
    I4T_NOTNULL(h_out);
    *h_out = nullptr;
    I4T_NOTNULL(h_config);
    I4T_TRY(enter(ctx));
    I4T_TRY(check_config(h_config));
    auto* g = new int4train_gpt_s();
    g->ctx = ctx;
    g->cfg = *h_config;
    cublasStatus_t bs = cublasCreate(&g->blas);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        g->blas = nullptr;
        release(g);
        return fail(INT4TRAIN_ERROR_CUDA, "int4train_gpt_create: cublasCreate: %s", nn::cublas_status_text(bs));
    }
    cublasSetStream(g->blas, ctx->stream);
    int4train_status st = build(g);
    if (st != INT4TRAIN_SUCCESS) {
        std::string msg = int4train_last_error();
        release(g);
        return fail(st, "%s", msg.c_str());
    }
    *h_out = g;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_destroy(int4train_gpt gpt) {
    if (gpt == nullptr) return INT4TRAIN_SUCCESS;
    enter(gpt->ctx);
    release(gpt);
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_count(int4train_gpt gpt, int* h_count) {
    I4T_NOTNULL(h_count);
    if (gpt == nullptr) return fail(INT4TRAIN_ERROR_NULL_POINTER, "int4train_gpt_tensor_count: the model handle is NULL");
    *h_count = (int)gpt->tensors.size();
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_info(int4train_gpt gpt, int index, char* h_name, int name_capacity,
                                                         int64_t* h_numel, int* h_decay, int* h_is_step,
                                                         int* h_adam_steps) {
    if (gpt == nullptr) return fail(INT4TRAIN_ERROR_NULL_POINTER, "int4train_gpt_tensor_info: the model handle is NULL");
    I4T_TRY(check_tensor(gpt, index, "int4train_gpt_tensor_info"));
    const Tensor& t = gpt->tensors[index];
    if (h_name && name_capacity > 0) snprintf(h_name, (size_t)name_capacity, "%s", t.name.c_str());
    if (h_numel) *h_numel = t.numel;
    if (h_decay) *h_decay = t.decay ? 1 : 0;
    if (h_is_step) *h_is_step = t.is_step ? 1 : 0;
    if (h_adam_steps) *h_adam_steps = t.adam_steps;
    return INT4TRAIN_SUCCESS;
}

static int4train_status tensor_copy(int4train_gpt gpt, int index, int which, int64_t numel, const char* fn,
                                    float** dev) {
    I4T_TRY(check_gpt(gpt, fn));
    I4T_TRY(check_tensor(gpt, index, fn));
    float* base = buffer_of(gpt, which);
    if (base == nullptr) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: unknown buffer %d (0 value, 1 grad, 2 m, 3 v)", fn, which);
    const Tensor& t = gpt->tensors[index];
    if (numel != t.numel)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: tensor %s has %lld elements, got %lld", fn, t.name.c_str(),
                    (long long)t.numel, (long long)numel);
    *dev = base + t.offset;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_get(int4train_gpt gpt, int index, int which, float* h_dst,
                                                        int64_t numel) {
    I4T_NOTNULL(h_dst);
    float* dev = nullptr;
    I4T_TRY(tensor_copy(gpt, index, which, numel, "int4train_gpt_tensor_get", &dev));
    I4T_CUDA(cudaMemcpyAsync(h_dst, dev, sizeof(float) * numel, cudaMemcpyDeviceToHost, gpt->stream()));
    I4T_CUDA(cudaStreamSynchronize(gpt->stream()));
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_set(int4train_gpt gpt, int index, int which, const float* h_src,
                                                        int64_t numel, int adam_steps) {
    I4T_NOTNULL(h_src);
    float* dev = nullptr;
    I4T_TRY(tensor_copy(gpt, index, which, numel, "int4train_gpt_tensor_set", &dev));
    I4T_CUDA(cudaMemcpyAsync(dev, h_src, sizeof(float) * numel, cudaMemcpyHostToDevice, gpt->stream()));
    I4T_CUDA(cudaStreamSynchronize(gpt->stream()));
    if (adam_steps >= 0) gpt->tensors[index].adam_steps = adam_steps;
    return INT4TRAIN_SUCCESS;
}

static int4train_status linear_at(int4train_gpt gpt, int linear, const char* fn, Linear** out) {
    if (gpt == nullptr) return fail(INT4TRAIN_ERROR_NULL_POINTER, "%s: the model handle is NULL", fn);
    int count = 4 * gpt->cfg.layers;
    if (linear < 0 || linear >= count)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: linear %d is outside [0, %d)", fn, linear, count);
    *out = &gpt->blocks[linear / 4].lin[linear % 4];
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_layer_progress(int4train_gpt gpt, int linear, int* h_step_count,
                                                            int* h_group) {
    Linear* L = nullptr;
    I4T_TRY(linear_at(gpt, linear, "int4train_gpt_layer_progress", &L));
    if (h_step_count) *h_step_count = L->step_count;
    if (h_group) *h_group = L->group;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_set_layer_progress(int4train_gpt gpt, int linear, int step_count,
                                                                int group) {
    Linear* L = nullptr;
    I4T_TRY(linear_at(gpt, linear, "int4train_gpt_set_layer_progress", &L));
    if (step_count < 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_set_layer_progress: step_count %d < 0", step_count);
    if (group != 0 && (group < 1 || group > 1024 || (group & (group - 1)) != 0 || L->in % group != 0))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_set_layer_progress: group %d must be 0 or a power of two <= 1024 dividing %d", group,
                    L->in);
    L->step_count = step_count;
    L->group = group;
    // a resumed layer keeps the step sizes it was given (tensor_set), it does not re-initialise them
    L->initialized = step_count > 0;
    return INT4TRAIN_SUCCESS;
}

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
    int n = batch * t, C = c.width, V = c.vocab;
    for (int i = 0; i < n; ++i) {
        if (h_tokens[i] < 0 || h_tokens[i] >= V)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_forward: token %d at %d is outside [0, %d)",
                        h_tokens[i], i, V);
        if (h_targets && (h_targets[i] < 0 || h_targets[i] >= V))
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_forward: target %d at %d is outside [0, %d)",
                        h_targets[i], i, V);
    }
    gpt->b = batch;
    gpt->t = t;
    gpt->training = training != 0;
    gpt->has_targets = h_targets != nullptr;
    gpt->dropout_key = dropout_key;
    gpt->backward_ready = false;
    gpt->probs_valid = false;
    cudaStream_t s = gpt->stream();
    I4T_CUDA(cudaMemcpyAsync(gpt->tokens, h_tokens, sizeof(int32_t) * n, cudaMemcpyHostToDevice, s));
    if (h_targets) I4T_CUDA(cudaMemcpyAsync(gpt->targets, h_targets, sizeof(int32_t) * n, cudaMemcpyHostToDevice, s));
    float p = gpt->dropout_p();
    I4T_CUDA(nn::embedding_forward(s, gpt->res[0], gpt->tokens, gpt->P(gpt->wte), gpt->P(gpt->wpe), n, t, C, p,
                                 gpt->site(0)));
    nn::AttentionShape sh{batch, t, C, c.heads};
    for (int l = 0; l < c.layers; ++l) {
        Block& k = gpt->blocks[l];
        const float* x = gpt->res[l];
        // attention branch: x2 = x + Drop(Proj(Attn(LN₁(x))))
        I4T_CUDA(nn::layernorm_forward(s, k.ln1, k.ln1_mean, k.ln1_rstd, x, gpt->P(k.ln1w), gpt->P(k.ln1b), n, C));
        I4T_TRY(linear_forward(gpt, k.lin[0], k.ln1, k.qkv, n));
        I4T_TRY(nn::attention_forward(s, gpt->blas, gpt->hp, sh, k.att_out, k.att, k.qkv, gpt->qkvp, gpt->attd,
                                      gpt->outp, p, gpt->site(8 * l + 1)));
        I4T_TRY(linear_forward(gpt, k.lin[1], k.att_out, gpt->dbuf1, n));
        I4T_CUDA(nn::residual_dropout(s, k.x2, x, gpt->dbuf1, (int64_t)n * C, p, gpt->site(8 * l + 2)));
        // MLP branch: x3 = x2 + Drop(Down(GELU(Up(LN₂(x2)))))
        I4T_CUDA(nn::layernorm_forward(s, k.ln2, k.ln2_mean, k.ln2_rstd, k.x2, gpt->P(k.ln2w), gpt->P(k.ln2b), n, C));
        I4T_TRY(linear_forward(gpt, k.lin[2], k.ln2, k.h, n));
        I4T_CUDA(nn::gelu_forward(s, k.g, k.h, (int64_t)n * 4 * C));
        I4T_TRY(linear_forward(gpt, k.lin[3], k.g, gpt->dbuf1, n));
        I4T_CUDA(nn::residual_dropout(s, gpt->res[l + 1], k.x2, gpt->dbuf1, (int64_t)n * C, p, gpt->site(8 * l + 3)));
    }
    I4T_CUDA(nn::layernorm_forward(s, gpt->lnf, gpt->lnf_mean, gpt->lnf_rstd, gpt->res[c.layers], gpt->P(gpt->lnfw),
                                 gpt->P(gpt->lnfb), n, C));
    // tied head: logits = LN_f(x)·wteᵀ
    I4T_GEMM(nn::gemm(gpt->blas, gpt->hp, false, true, n, V, C, 1.0f, gpt->lnf, C, 0, gpt->P(gpt->wte), C, 0, 0.0f,
                      gpt->probs, V, 0));
    I4T_CUDA(nn::softmax_cross_entropy(s, gpt->probs, gpt->losses, gpt->loss, h_targets ? gpt->targets : nullptr, n, V));
    gpt->probs_valid = true;
    gpt->backward_ready = gpt->training && gpt->has_targets;
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
    I4T_TRY(check_gpt(gpt, "int4train_gpt_backward"));
    if (!gpt->backward_ready)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_backward: needs a training forward with targets first (and only one backward per forward)");
    gpt->backward_ready = false;
    gpt->probs_valid = false;
    const auto& c = gpt->cfg;
    int n = gpt->b * gpt->t, C = c.width, V = c.vocab;
    cudaStream_t s = gpt->stream();
    float p = gpt->dropout_p();
    int64_t nc = (int64_t)n * C;
    // head and final LayerNorm
    I4T_CUDA(nn::cross_entropy_backward(s, gpt->probs, gpt->targets, n, V));
    I4T_GEMM(nn::gemm(gpt->blas, gpt->hp, false, false, n, C, V, 1.0f, gpt->probs, V, 0, gpt->P(gpt->wte), C, 0, 0.0f,
                      gpt->dln, C, 0));
    I4T_GEMM(nn::gemm(gpt->blas, gpt->hp, true, false, V, C, n, 1.0f, gpt->probs, V, 0, gpt->lnf, C, 0, 1.0f,
                      gpt->G(gpt->wte), C, 0));
    I4T_CUDA(cudaMemsetAsync(gpt->dres, 0, sizeof(float) * nc, s));
    I4T_CUDA(nn::layernorm_backward(s, gpt->dres, gpt->G(gpt->lnfw), gpt->G(gpt->lnfb), gpt->dln, gpt->res[c.layers],
                                  gpt->P(gpt->lnfw), gpt->lnf_mean, gpt->lnf_rstd, n, C, gpt->scratch));
    nn::AttentionShape sh{gpt->b, gpt->t, C, c.heads};
    for (int l = c.layers - 1; l >= 0; --l) {
        Block& k = gpt->blocks[l];
        // MLP branch; dres = ∂L/∂x3 flows unchanged into ∂L/∂x2 through the residual
        I4T_CUDA(nn::dropout_backward(s, gpt->dbuf1, gpt->dres, nc, p, gpt->site(8 * l + 3)));
        I4T_TRY(linear_backward(gpt, k.lin[3], gpt->dbuf1, k.g, gpt->dbuf2, n));
        I4T_CUDA(nn::gelu_backward(s, gpt->dbuf2, gpt->dbuf2, k.h, 4 * nc));
        I4T_TRY(linear_backward(gpt, k.lin[2], gpt->dbuf2, k.ln2, gpt->dln, n));
        I4T_CUDA(nn::layernorm_backward(s, gpt->dres, gpt->G(k.ln2w), gpt->G(k.ln2b), gpt->dln, k.x2, gpt->P(k.ln2w),
                                      k.ln2_mean, k.ln2_rstd, n, C, gpt->scratch));
        // attention branch; dres = ∂L/∂x2
        I4T_CUDA(nn::dropout_backward(s, gpt->dbuf1, gpt->dres, nc, p, gpt->site(8 * l + 2)));
        I4T_TRY(linear_backward(gpt, k.lin[1], gpt->dbuf1, k.att_out, gpt->dbuf2, n));
        I4T_TRY(nn::attention_backward(s, gpt->blas, gpt->hp, sh, gpt->dbuf1, gpt->dbuf2, k.qkv, k.att, gpt->qkvp,
                                       gpt->dqkvp, gpt->attd, gpt->datt, gpt->outp, p, gpt->site(8 * l + 1)));
        I4T_TRY(linear_backward(gpt, k.lin[0], gpt->dbuf1, k.ln1, gpt->dln, n));
        I4T_CUDA(nn::layernorm_backward(s, gpt->dres, gpt->G(k.ln1w), gpt->G(k.ln1b), gpt->dln, gpt->res[l],
                                      gpt->P(k.ln1w), k.ln1_mean, k.ln1_rstd, n, C, gpt->scratch));
    }
    I4T_CUDA(nn::dropout_backward(s, gpt->dres, gpt->dres, nc, p, gpt->site(0)));
    I4T_CUDA(nn::embedding_backward(s, gpt->G(gpt->wte), gpt->G(gpt->wpe), gpt->dres, gpt->tokens, n, gpt->t, C, V,
                                  gpt->scratch));
    return INT4TRAIN_SUCCESS;
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
    const int4train_gpt_adamw& a = *h_params;
    if (!(a.learning_rate >= 0) || !(a.beta1 >= 0 && a.beta1 < 1) || !(a.beta2 >= 0 && a.beta2 < 1) || !(a.eps > 0) ||
        !(a.weight_decay >= 0) || !(a.grad_clip >= 0))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_adamw_step: need lr >= 0, beta1/beta2 in [0, 1), eps > 0, weight decay >= 0, clip >= 0 "
                    "(got %g, %g, %g, %g, %g, %g)", (double)a.learning_rate, (double)a.beta1, (double)a.beta2,
                    (double)a.eps, (double)a.weight_decay, (double)a.grad_clip);
    cudaStream_t s = gpt->stream();
    // The norm covers the tensors being updated: everything but step sizes still in their cold start.
    bool any_step_active = false;
    for (const Tensor& t : gpt->tensors)
        if (t.is_step && steps_active(gpt, t)) any_step_active = true;
    int64_t norm_count = any_step_active ? gpt->total : gpt->main_count;
    I4T_CUDA(nn::grad_norm(s, gpt->norm_out, gpt->grads, norm_count, a.grad_clip, gpt->norm_scratch));
    for (Tensor& t : gpt->tensors) {
        if (!steps_active(gpt, t)) continue;
        int step = ++t.adam_steps;
        float c1 = 1.0f - powf(a.beta1, (float)step), c2 = 1.0f - powf(a.beta2, (float)step);
        int64_t o = t.offset;
        I4T_CUDA(nn::adamw(s, gpt->params + o, gpt->grads + o, gpt->m + o, gpt->v + o, t.numel, a.learning_rate, a.beta1,
                         a.beta2, a.eps, t.decay ? a.weight_decay : 0.0f, c1, c2, gpt->norm_out + 1, t.is_step));
    }
    if (h_grad_norm) {
        I4T_CUDA(cudaMemcpyAsync(h_grad_norm, gpt->norm_out, sizeof(float), cudaMemcpyDeviceToHost, s));
        I4T_CUDA(cudaStreamSynchronize(s));
    }
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_probabilities(int4train_gpt gpt, int row, float* h_probs) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_probabilities"));
    I4T_NOTNULL(h_probs);
    if (!gpt->probs_valid)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_probabilities: no probabilities (no forward yet, or a backward consumed them)");
    int n = gpt->b * gpt->t;
    if (row < 0 || row >= n)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_probabilities: row %d is outside [0, %d)", row, n);
    int V = gpt->cfg.vocab;
    I4T_CUDA(cudaMemcpyAsync(h_probs, gpt->probs + (int64_t)row * V, sizeof(float) * V, cudaMemcpyDeviceToHost,
                             gpt->stream()));
    I4T_CUDA(cudaStreamSynchronize(gpt->stream()));
    return INT4TRAIN_SUCCESS;
}
