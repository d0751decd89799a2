// block_linear.cu — one block linear of the GPT: the INT4 layer (HQ forward, bit split + LSS backward) or
// cuBLAS in BF16/FP32 for the baselines.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {


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

}  // namespace gpt
}  // namespace i4t
