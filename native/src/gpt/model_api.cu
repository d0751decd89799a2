// model_api.cu — the GPT's C ABI besides the training step: create/destroy, the tensor table and its values,
// the INT4 layers' progress, the output probabilities.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"
#include "runtime/handles.cuh"

#include <new>

using namespace i4t;
using namespace i4t::gpt;

// ---- C ABI -------------------------------------------------------------------------------------------------------

INT4TRAIN_API int4train_status int4train_gpt_create(int4train_context ctx, const int4train_gpt_config* h_config,
                                                    int4train_gpt* h_out) {
    I4T_NOTNULL(h_out);
    *h_out = nullptr;
    I4T_NOTNULL(h_config);
    I4T_TRY(enter(ctx, __func__));
    I4T_TRY(check_config(h_config));
    auto* g = new (std::nothrow) int4train_gpt_s();
    if (g == nullptr) return fail(INT4TRAIN_ERROR_OUT_OF_MEMORY, "int4train_gpt_create: out of host memory");
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
    st = handle_register(g, HandleKind::Model, __func__);
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
    I4T_TRY(handle_unregister(gpt, HandleKind::Model, __func__));
    // The model is freed whatever else fails (a failing destroy must not leak); the first problem is reported.
    int4train_status st = INT4TRAIN_SUCCESS;
    if (handle_check(gpt->ctx, HandleKind::Context, __func__) != INT4TRAIN_SUCCESS) {
        gpt->ctx = nullptr;  // destroyed before the model: not dereferenced
        st = fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gpt_destroy: the model's context was destroyed before "
                  "the model (destroy models and layers first); the model's memory was freed");
    } else {
        st = enter(gpt->ctx, __func__);
    }
    cudaError_t e = release(gpt);
    if (e != cudaSuccess && st == INT4TRAIN_SUCCESS) st = fail_cuda(e, "int4train_gpt_destroy");
    return st;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_count(int4train_gpt gpt, int* h_count) {
    I4T_TRY(handle_check(gpt, HandleKind::Model, __func__));
    I4T_NOTNULL(h_count);
    *h_count = (int)gpt->tensors.size();
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_info(int4train_gpt gpt, int index, char* h_name, int name_capacity,
                                                         int64_t* h_numel, int* h_decay, int* h_is_step,
                                                         int* h_adam_steps) {
    I4T_TRY(handle_check(gpt, HandleKind::Model, __func__));
    I4T_ALIGNED(h_numel);
    I4T_ALIGNED(h_decay);
    I4T_ALIGNED(h_is_step);
    I4T_ALIGNED(h_adam_steps);
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
    float* dev = nullptr;
    I4T_TRY(tensor_copy(gpt, index, which, numel, "int4train_gpt_tensor_get", &dev));
    I4T_NOTNULL(h_dst);
    I4T_CUDA(cudaMemcpyAsync(h_dst, dev, sizeof(float) * numel, cudaMemcpyDeviceToHost, gpt->stream()));
    I4T_CUDA(cudaStreamSynchronize(gpt->stream()));
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_tensor_set(int4train_gpt gpt, int index, int which, const float* h_src,
                                                        int64_t numel, int adam_steps) {
    float* dev = nullptr;
    I4T_TRY(tensor_copy(gpt, index, which, numel, "int4train_gpt_tensor_set", &dev));
    I4T_NOTNULL(h_src);
    I4T_CUDA(cudaMemcpyAsync(dev, h_src, sizeof(float) * numel, cudaMemcpyHostToDevice, gpt->stream()));
    // bf16: a block linear weight's BF16 copy follows the new value before any forward can read it
    if (which == INT4TRAIN_GPT_VALUE) I4T_TRY(refresh_bf16_weights(gpt, gpt->tensors[index].offset, numel));
    I4T_CUDA(cudaStreamSynchronize(gpt->stream()));
    if (adam_steps >= 0) gpt->tensors[index].adam_steps = adam_steps;
    return INT4TRAIN_SUCCESS;
}

static int4train_status linear_at(int4train_gpt gpt, int linear, const char* fn, Linear** out) {
    I4T_TRY(handle_check(gpt, HandleKind::Model, fn));
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
    I4T_ALIGNED(h_step_count);
    I4T_ALIGNED(h_group);
    if (h_step_count) *h_step_count = L->state.step_count;
    if (h_group) *h_group = L->state.group;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_set_layer_progress(int4train_gpt gpt, int linear, int step_count,
                                                                int group) {
    Linear* L = nullptr;
    I4T_TRY(linear_at(gpt, linear, "int4train_gpt_set_layer_progress", &L));
    return layer::set_progress(L->state, step_count, group, "int4train_gpt_set_layer_progress");
}

INT4TRAIN_API int4train_status int4train_gpt_layer_key(int4train_gpt gpt, int linear, uint64_t* h_key) {
    Linear* L = nullptr;
    I4T_TRY(linear_at(gpt, linear, "int4train_gpt_layer_key", &L));
    I4T_NOTNULL(h_key);
    *h_key = L->state.opt.seed;
    return INT4TRAIN_SUCCESS;
}


INT4TRAIN_API int4train_status int4train_gpt_memory(int4train_gpt gpt, int64_t* h_bytes) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_memory"));
    I4T_NOTNULL(h_bytes);
    *h_bytes = gpt->allocated_bytes;
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

