// layer_api.cu — the C ABI of include/int4train_layer.h: a handle around int4train_layer_s (layer_state.cuh), whose
// policy lives in layer_policy.cu.
#include <string.h>

#include <new>
#include <string>

#include "layer/layer_state.cuh"
#include "runtime/handles.cuh"
#include "runtime/validate.cuh"

using namespace i4t;

// A live layer handle, then enter() on its context (which must not have been destroyed before it).
static int4train_status check_layer(int4train_layer layer, const char* fn) {
    I4T_TRY(handle_check(layer, HandleKind::Layer, fn));
    return enter(layer->ctx, fn);
}

extern "C" {

INT4TRAIN_API int4train_status int4train_layer_create(int4train_context ctx, const int4train_layer_options* h_options,
                                                      int in_features, int out_features, int4train_layer* h_out) {
    I4T_NOTNULL(h_out);
    *h_out = nullptr;
    I4T_NOTNULL(h_options);
    I4T_TRY(enter(ctx, __func__));
    if (in_features < 1 || out_features < 1)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_layer_create: in_features (%d) and out_features (%d) "
                    "must be positive", in_features, out_features);
    I4T_TRY(check_dim(__func__, "in_features", in_features));
    I4T_TRY(check_dim(__func__, "out_features", out_features));
    I4T_TRY(layer::check_options(h_options, in_features, false, "int4train_layer_create"));
    auto* L = new (std::nothrow) int4train_layer_s();
    if (L == nullptr) return fail(INT4TRAIN_ERROR_OUT_OF_MEMORY, "int4train_layer_create: out of host memory");
    layer::init(*L, ctx, *h_options, in_features, out_features);
    int4train_status st = handle_register(L, HandleKind::Layer, __func__);
    if (st != INT4TRAIN_SUCCESS) {
        delete L;
        return st;
    }
    *h_out = L;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_layer_destroy(int4train_layer layer) {
    if (layer == nullptr) return INT4TRAIN_SUCCESS;
    I4T_TRY(handle_unregister(layer, HandleKind::Layer, __func__));
    delete layer;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_layer_forward(int4train_layer layer, const float* d_x, const float* d_w,
                                                       const float* d_bias, float* d_step_x, float* d_step_w, int n,
                                                       int training, float* d_y, uint8_t* d_x_packed,
                                                       uint8_t* d_w_packed) {
    I4T_TRY(check_layer(layer, "int4train_layer_forward"));
    I4T_NOTNULL(d_x);
    I4T_NOTNULL(d_w);
    I4T_NOTNULL(d_step_x);
    I4T_NOTNULL(d_step_w);
    I4T_NOTNULL(d_y);
    I4T_NOTNULL(d_x_packed);
    I4T_NOTNULL(d_w_packed);
    I4T_ALIGNED(d_bias);
    if (n < 1) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_layer_forward: n (%d) must be positive", n);
    return layer::forward(*layer, d_x, d_w, d_bias, d_step_x, d_step_w, n, training != 0, d_y, d_x_packed, d_w_packed);
}

INT4TRAIN_API int4train_status int4train_layer_backward(int4train_layer layer, const float* d_grad_y, const float* d_x,
                                                        const float* d_w, const uint8_t* d_x_packed,
                                                        const uint8_t* d_w_packed, const float* d_step_x,
                                                        const float* d_step_w, int n, float* d_grad_x,
                                                        float* d_grad_w, float* d_grad_step_x, float* d_grad_step_w,
                                                        float* d_grad_bias, int accumulate) {
    I4T_TRY(check_layer(layer, "int4train_layer_backward"));
    int4train_status st = layer::backward(*layer, d_grad_y, d_x, d_w, d_x_packed, d_w_packed, d_step_x, d_step_w, n,
                                          d_grad_x, d_grad_w, d_grad_step_x, d_grad_step_w, d_grad_bias, accumulate != 0);
    // The arguments are checked by int4train_linear_backward, which this runs: its message gets this name in front.
    if (st != INT4TRAIN_SUCCESS && strncmp(int4train_last_error(), "int4train_layer_backward", 24) != 0) {
        const std::string inner = int4train_last_error();
        return fail(st, "int4train_layer_backward: %s", inner.c_str());
    }
    return st;
}

INT4TRAIN_API int4train_status int4train_layer_progress(int4train_layer layer, int* h_step_count, int* h_group,
                                                        uint64_t* h_backward_key, int* h_steps_learned) {
    I4T_TRY(handle_check(layer, HandleKind::Layer, __func__));
    I4T_ALIGNED(h_step_count);
    I4T_ALIGNED(h_group);
    I4T_ALIGNED(h_backward_key);
    I4T_ALIGNED(h_steps_learned);
    if (h_step_count) *h_step_count = layer->step_count;
    if (h_group) *h_group = layer->group;
    if (h_backward_key) *h_backward_key = layer::backward_key(*layer);
    if (h_steps_learned) *h_steps_learned = layer::steps_learned(*layer) ? 1 : 0;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_layer_set_progress(int4train_layer layer, int step_count, int group) {
    I4T_TRY(handle_check(layer, HandleKind::Layer, __func__));
    return layer::set_progress(*layer, step_count, group, "int4train_layer_set_progress");
}

}  // extern "C"
