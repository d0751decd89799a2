// entry_table.cu — the table of entry points and bad values walked by entry_robustness.cu (entry_table.h).
// Every int4train_* function of int4train.h, int4train_layer.h and int4train_gpt.h is here (int4train_version and
// int4train_last_error take no argument that can be wrong). The sizes of the valid calls are tiny (they fit `dev`).
#include "entry_table.h"

#include <cuda_bf16.h>

#include <math.h>

namespace robust {

namespace {

template <class T>
T* as(void* q) { return static_cast<T*>(q); }
int4train_context C(void* q) { return static_cast<int4train_context>(q); }
int4train_layer L(void* q) { return static_cast<int4train_layer>(q); }
int4train_gpt G(void* q) { return static_cast<int4train_gpt>(q); }

Param ctx_param() { return {"ctx", Slot::Context, 1, true}; }
Param layer_param(bool required = true) { return {"layer", Slot::Layer, 1, required}; }
Param gpt_param(bool required = true) { return {"gpt", Slot::Model, 1, required}; }
Param dev(const char* name, size_t align, bool required = true) { return {name, Slot::Device, align, required}; }
Param host(const char* name, size_t align, bool required = true) { return {name, Slot::Host, align, required}; }

// int4train_layer_create / int4train_gpt_create of the small layer or model with one option changed.
std::function<int4train_status()> layer_create(int4train_context ctx, int in, void (*change)(int4train_layer_options&)) {
    return [=] {
        int4train_layer l = nullptr;
        int4train_layer_options o = small_layer_options();
        change(o);
        return int4train_layer_create(ctx, &o, in, 4, &l);
    };
}
std::function<int4train_status()> gpt_create(int4train_context ctx, void (*change)(int4train_gpt_config&)) {
    return [=] {
        int4train_gpt g = nullptr;
        int4train_gpt_config c = small_gpt_config();
        change(c);
        return int4train_gpt_create(ctx, &c, &g);
    };
}

constexpr size_t kF = alignof(float), kI = alignof(int32_t), kD = alignof(double), kP = alignof(void*),
                 kL = alignof(int64_t), kB = 1, kH = alignof(__nv_bfloat16);

}  // namespace

int4train_layer_options small_layer_options() {
    return int4train_layer_options{INT4TRAIN_PRECISION_INT4_HQ_LSS, INT4TRAIN_MODE_CODE, INT4TRAIN_SAMPLING_NONZERO,
                                   /*group_size=*/0, /*cold_start_steps=*/0, /*reinit_step=*/-1, /*seed=*/1};
}

int4train_gpt_config small_gpt_config() {
    int4train_gpt_config c{};
    c.layers = 1;
    c.heads = 1;
    c.width = 8;
    c.context = 4;
    c.max_batch = 1;
    c.vocab = 4;
    c.dropout = 0.0f;
    c.linear = small_layer_options();
    c.linear.precision = INT4TRAIN_PRECISION_FP32;
    c.step_lr_scale = 1.0f;
    return c;
}

std::vector<Entry> entry_table(const Fixture& fx) {
    const int64_t t0 = fx.tensor0_numel;
    std::vector<Entry> t = {
        // ---- library and context (int4train.h) ----
        {"int4train_device_count", "int4train_device_count", false, {host("h_count", kI)},
         [](void* const* p) { return int4train_device_count(as<int>(p[0])); }},
        {"int4train_context_create", "int4train_context_create", false, {host("h_out", kP)},
         [](void* const* p) { return int4train_context_create(0, as<int4train_context>(p[0])); }},
        {"int4train_context_create_current", "int4train_context_create_current", false, {host("h_out", kP)},
         [](void* const* p) { return int4train_context_create_current(as<int4train_context>(p[0])); }},
        {"int4train_context_destroy", "int4train_context_destroy", false, {{"ctx", Slot::Context, 1, false}},
         [](void* const* p) { return int4train_context_destroy(C(p[0])); }},
        {"int4train_context_set_stream", "int4train_context_set_stream", true, {ctx_param()},
         [](void* const* p) { return int4train_context_set_stream(C(p[0]), nullptr); }},
        {"int4train_context_get_stream", "int4train_context_get_stream", false, {ctx_param(), host("h_stream", kP)},
         [](void* const* p) { return int4train_context_get_stream(C(p[0]), as<void*>(p[1])); }},
        {"int4train_context_synchronize", "int4train_context_synchronize", true, {ctx_param()},
         [](void* const* p) { return int4train_context_synchronize(C(p[0])); }},
        {"int4train_context_info", "int4train_context_info", false,
         {ctx_param(), host("h_compute_capability", kI, false), host("h_workspace_bytes", alignof(size_t), false)},
         [](void* const* p) { return int4train_context_info(C(p[0]), nullptr, 0, as<int>(p[1]), as<size_t>(p[2])); }},
        // ---- operators (int4train.h) ----
        {"int4train_hadamard", "int4train_hadamard", true, {ctx_param(), dev("d_x", kF), dev("d_y", kF)},
         [](void* const* p) { return int4train_hadamard(C(p[0]), as<float>(p[1]), as<float>(p[2]), 1, 8, 8); }},
        {"int4train_lsq_init_step", "int4train_lsq_init_step", true, {ctx_param(), dev("d_v", kF), dev("d_step", kF)},
         [](void* const* p) { return int4train_lsq_init_step(C(p[0]), as<float>(p[1]), 8, as<float>(p[2])); }},
        {"int4train_lsq_quantize", "int4train_lsq_quantize", true,
         {ctx_param(), dev("d_v", kF), dev("d_step", kF), dev("d_codes", kB)},
         [](void* const* p) {
             return int4train_lsq_quantize(C(p[0]), as<float>(p[1]), 8, as<float>(p[2]), 0, as<int8_t>(p[3]));
         }},
        {"int4train_lsq_dequantize", "int4train_lsq_dequantize", true,
         {ctx_param(), dev("d_codes", kB), dev("d_step", kF), dev("d_out", kF)},
         [](void* const* p) {
             return int4train_lsq_dequantize(C(p[0]), as<int8_t>(p[1]), 8, as<float>(p[2]), as<float>(p[3]));
         }},
        {"int4train_lsq_backward", "int4train_lsq_backward", true,
         {ctx_param(), dev("d_v", kF), dev("d_grad", kF), dev("d_step", kF), dev("d_grad_v", kF), dev("d_grad_step", kF)},
         [](void* const* p) {
             return int4train_lsq_backward(C(p[0]), as<float>(p[1]), as<float>(p[2]), 8, as<float>(p[3]), 0,
                                           as<float>(p[4]), as<float>(p[5]));
         }},
        {"int4train_pack_int4", "int4train_pack_int4", true, {ctx_param(), dev("d_codes", kB), dev("d_packed", kB)},
         [](void* const* p) { return int4train_pack_int4(C(p[0]), as<int8_t>(p[1]), as<uint8_t>(p[2]), 1, 8); }},
        {"int4train_unpack_int4", "int4train_unpack_int4", true, {ctx_param(), dev("d_packed", kB), dev("d_codes", kB)},
         [](void* const* p) { return int4train_unpack_int4(C(p[0]), as<uint8_t>(p[1]), as<int8_t>(p[2]), 1, 8); }},
        {"int4train_gemm_s4", "int4train_gemm_s4", true,
         {ctx_param(), dev("d_a_packed", kB), dev("d_b_packed", kB), dev("d_c", kI)},
         [](void* const* p) {
             return int4train_gemm_s4(C(p[0]), as<uint8_t>(p[1]), as<uint8_t>(p[2]), as<int32_t>(p[3]), 2, 2, 8);
         }},
        {"int4train_gemm_s8", "int4train_gemm_s8", true, {ctx_param(), dev("d_a", kB), dev("d_b", kB), dev("d_c", kI)},
         [](void* const* p) {
             return int4train_gemm_s8(C(p[0]), as<int8_t>(p[1]), as<int8_t>(p[2]), as<int32_t>(p[3]), 2, 2, 8);
         }},
        {"int4train_hq_forward", "int4train_hq_forward", true,
         {ctx_param(), dev("d_x", kF), dev("d_w", kF), dev("d_bias", kF, false), dev("d_step_x", kF), dev("d_step_w", kF),
          dev("d_y", kF), dev("d_x_packed", kB), dev("d_w_packed", kB)},
         [](void* const* p) {
             return int4train_hq_forward(C(p[0]), as<float>(p[1]), as<float>(p[2]), as<float>(p[3]), as<float>(p[4]),
                                         as<float>(p[5]), 2, 2, 8, 8, 0, as<float>(p[6]), as<uint8_t>(p[7]),
                                         as<uint8_t>(p[8]));
         }},
        {"int4train_hq_forward_typed", "int4train_hq_forward_typed", true,  // called with BF16 activations
         {ctx_param(), dev("d_x", kH), dev("d_w", kF), dev("d_bias", kF, false), dev("d_step_x", kF), dev("d_step_w", kF),
          dev("d_y", kH), dev("d_x_packed", kB), dev("d_w_packed", kB)},
         [](void* const* p) {
             return int4train_hq_forward_typed(C(p[0]), INT4TRAIN_DTYPE_BF16, as<__nv_bfloat16>(p[1]), as<float>(p[2]),
                                               as<float>(p[3]), as<float>(p[4]), as<float>(p[5]), 2, 2, 8, 8, 0,
                                               as<__nv_bfloat16>(p[6]), as<uint8_t>(p[7]), as<uint8_t>(p[8]));
         }},
        {"int4train_block_size_search", "int4train_block_size_search", true,
         {ctx_param(), dev("d_x", kF), dev("d_w", kF), host("h_group", kI), host("h_scores", kD, false)},
         [](void* const* p) {
             return int4train_block_size_search(C(p[0]), as<float>(p[1]), as<float>(p[2]), 2, 2, 8, 0, as<int>(p[3]),
                                                as<double>(p[4]));
         }},
        {"int4train_bit_split", "int4train_bit_split", true,
         {ctx_param(), dev("d_grad", kF), dev("d_high", kB), dev("d_low", kB), dev("d_scales", kF)},
         [](void* const* p) {
             return int4train_bit_split(C(p[0]), as<float>(p[1]), 2, 8, 1, 0, as<int8_t>(p[2]), as<int8_t>(p[3]),
                                        as<float>(p[4]));
         }},
        {"int4train_lss_select", "int4train_lss_select", true,
         {ctx_param(), dev("d_high", kB), dev("d_low", kB), dev("d_scales", kF), dev("d_x_codes", kB, false),
          dev("d_step_x", kF, false), dev("d_prob", kD), dev("d_keep", kB), dev("d_kept", kI)},
         [](void* const* p) {
             return int4train_lss_select(C(p[0]), as<int8_t>(p[1]), as<int8_t>(p[2]), as<float>(p[3]), as<int8_t>(p[4]),
                                         as<float>(p[5]), 2, 8, 8, 0, 1, as<double>(p[6]), as<uint8_t>(p[7]),
                                         as<int32_t>(p[8]));
         }},
        {"int4train_lss_grad_weight", "int4train_lss_grad_weight", true,
         {ctx_param(), dev("d_high", kB), dev("d_low", kB), dev("d_x_packed", kB), dev("d_scales", kF),
          dev("d_step_x", kF), dev("d_keep", kB), dev("d_prob", kD), dev("d_grad_wh", kF)},
         [](void* const* p) {
             return int4train_lss_grad_weight(C(p[0]), as<int8_t>(p[1]), as<int8_t>(p[2]), as<uint8_t>(p[3]),
                                              as<float>(p[4]), as<float>(p[5]), as<uint8_t>(p[6]), as<double>(p[7]), 2,
                                              8, 8, as<float>(p[8]));
         }},
        {"int4train_lss_grad_input", "int4train_lss_grad_input", true,
         {ctx_param(), dev("d_high", kB), dev("d_low", kB), dev("d_w_packed", kB), dev("d_scales", kF),
          dev("d_step_w", kF), dev("d_keep", kB), dev("d_prob", kD), dev("d_grad_xh", kF)},
         [](void* const* p) {
             return int4train_lss_grad_input(C(p[0]), as<int8_t>(p[1]), as<int8_t>(p[2]), as<uint8_t>(p[3]),
                                             as<float>(p[4]), as<float>(p[5]), as<uint8_t>(p[6]), as<double>(p[7]), 2,
                                             8, 8, as<float>(p[8]));
         }},
        {"int4train_linear_backward", "int4train_linear_backward", true,
         {ctx_param(), dev("d_grad_y", kF), dev("d_x", kF), dev("d_w", kF), dev("d_x_packed", kB), dev("d_w_packed", kB),
          dev("d_step_x", kF), dev("d_step_w", kF), dev("d_grad_x", kF), dev("d_grad_w", kF), dev("d_grad_step_x", kF),
          dev("d_grad_step_w", kF), dev("d_grad_bias", kF, false)},
         [](void* const* p) {
             return int4train_linear_backward(C(p[0]), as<float>(p[1]), as<float>(p[2]), as<float>(p[3]),
                                              as<uint8_t>(p[4]), as<uint8_t>(p[5]), as<float>(p[6]), as<float>(p[7]), 2,
                                              2, 8, 8, 0, 0, 1, as<float>(p[8]), as<float>(p[9]), as<float>(p[10]),
                                              as<float>(p[11]), as<float>(p[12]), 0);
         }},
        {"int4train_linear_backward_typed", "int4train_linear_backward_typed", true,  // called with BF16 activations
         {ctx_param(), dev("d_grad_y", kH), dev("d_x", kH), dev("d_w", kF), dev("d_x_packed", kB), dev("d_w_packed", kB),
          dev("d_step_x", kF), dev("d_step_w", kF), dev("d_grad_x", kH), dev("d_grad_w", kF), dev("d_grad_step_x", kF),
          dev("d_grad_step_w", kF), dev("d_grad_bias", kF, false)},
         [](void* const* p) {
             return int4train_linear_backward_typed(C(p[0]), INT4TRAIN_DTYPE_BF16, as<__nv_bfloat16>(p[1]),
                                                    as<__nv_bfloat16>(p[2]), as<float>(p[3]), as<uint8_t>(p[4]),
                                                    as<uint8_t>(p[5]), as<float>(p[6]), as<float>(p[7]), 2, 2, 8, 8, 0,
                                                    0, 1, as<__nv_bfloat16>(p[8]), as<float>(p[9]), as<float>(p[10]),
                                                    as<float>(p[11]), as<float>(p[12]), 0);
         }},
        // ---- the layer handle (int4train_layer.h) ----
        {"int4train_layer_create", "int4train_layer_create", true,
         {ctx_param(), host("h_options", alignof(int4train_layer_options)), host("h_out", kP)},
         [](void* const* p) {
             return int4train_layer_create(C(p[0]), as<const int4train_layer_options>(p[1]), 8, 4,
                                           as<int4train_layer>(p[2]));
         }},
        {"int4train_layer_destroy", "int4train_layer_destroy", false, {layer_param(false)},
         [](void* const* p) { return int4train_layer_destroy(L(p[0])); }},
        {"int4train_layer_forward", "int4train_layer_forward", true,
         {layer_param(), dev("d_x", kF), dev("d_w", kF), dev("d_bias", kF, false), dev("d_step_x", kF),
          dev("d_step_w", kF), dev("d_y", kF), dev("d_x_packed", kB), dev("d_w_packed", kB)},
         [](void* const* p) {
             return int4train_layer_forward(L(p[0]), as<float>(p[1]), as<float>(p[2]), as<float>(p[3]), as<float>(p[4]),
                                            as<float>(p[5]), 2, 0, as<float>(p[6]), as<uint8_t>(p[7]),
                                            as<uint8_t>(p[8]));
         }},
        {"int4train_layer_backward", "int4train_layer_backward", true,
         {layer_param(), dev("d_grad_y", kF), dev("d_x", kF), dev("d_w", kF), dev("d_x_packed", kB),
          dev("d_w_packed", kB), dev("d_step_x", kF), dev("d_step_w", kF), dev("d_grad_x", kF), dev("d_grad_w", kF),
          dev("d_grad_step_x", kF), dev("d_grad_step_w", kF), dev("d_grad_bias", kF, false)},
         [](void* const* p) {
             return int4train_layer_backward(L(p[0]), as<float>(p[1]), as<float>(p[2]), as<float>(p[3]),
                                             as<uint8_t>(p[4]), as<uint8_t>(p[5]), as<float>(p[6]), as<float>(p[7]), 2,
                                             as<float>(p[8]), as<float>(p[9]), as<float>(p[10]), as<float>(p[11]),
                                             as<float>(p[12]), 0);
         }},
        {"int4train_layer_progress", "int4train_layer_progress", false,
         {layer_param(), host("h_step_count", kI, false), host("h_group", kI, false),
          host("h_backward_key", alignof(uint64_t), false), host("h_steps_learned", kI, false)},
         [](void* const* p) {
             return int4train_layer_progress(L(p[0]), as<int>(p[1]), as<int>(p[2]), as<uint64_t>(p[3]), as<int>(p[4]));
         }},
        {"int4train_layer_set_progress", "int4train_layer_set_progress", false, {layer_param()},
         [](void* const* p) { return int4train_layer_set_progress(L(p[0]), 0, 0); }},
        // ---- the model (int4train_gpt.h) ----
        {"int4train_gpt_create", "int4train_gpt_create", true,
         {ctx_param(), host("h_config", alignof(int4train_gpt_config)), host("h_out", kP)},
         [](void* const* p) {
             return int4train_gpt_create(C(p[0]), as<const int4train_gpt_config>(p[1]), as<int4train_gpt>(p[2]));
         }},
        {"int4train_gpt_destroy", "int4train_gpt_destroy", false, {gpt_param(false)},
         [](void* const* p) { return int4train_gpt_destroy(G(p[0])); }},
        {"int4train_gpt_tensor_count", "int4train_gpt_tensor_count", false, {gpt_param(), host("h_count", kI)},
         [](void* const* p) { return int4train_gpt_tensor_count(G(p[0]), as<int>(p[1])); }},
        {"int4train_gpt_tensor_info", "int4train_gpt_tensor_info", false,
         {gpt_param(), host("h_numel", kL, false), host("h_decay", kI, false), host("h_is_step", kI, false),
          host("h_adam_steps", kI, false)},
         [](void* const* p) {
             return int4train_gpt_tensor_info(G(p[0]), 0, nullptr, 0, as<int64_t>(p[1]), as<int>(p[2]), as<int>(p[3]),
                                              as<int>(p[4]));
         }},
        {"int4train_gpt_tensor_get", "int4train_gpt_tensor_get", true, {gpt_param(), host("h_dst", kF)},
         [t0](void* const* p) { return int4train_gpt_tensor_get(G(p[0]), 0, INT4TRAIN_GPT_VALUE, as<float>(p[1]), t0); }},
        {"int4train_gpt_tensor_set", "int4train_gpt_tensor_set", true, {gpt_param(), host("h_src", kF)},
         [t0](void* const* p) {
             return int4train_gpt_tensor_set(G(p[0]), 0, INT4TRAIN_GPT_VALUE, as<float>(p[1]), t0, -1);
         }},
        {"int4train_gpt_layer_progress", "int4train_gpt_layer_progress", false,
         {gpt_param(), host("h_step_count", kI, false), host("h_group", kI, false)},
         [](void* const* p) { return int4train_gpt_layer_progress(G(p[0]), 0, as<int>(p[1]), as<int>(p[2])); }},
        {"int4train_gpt_set_layer_progress", "int4train_gpt_set_layer_progress", false, {gpt_param()},
         [](void* const* p) { return int4train_gpt_set_layer_progress(G(p[0]), 0, 0, 0); }},
        {"int4train_gpt_layer_key", "int4train_gpt_layer_key", false, {gpt_param(), host("h_key", alignof(uint64_t))},
         [](void* const* p) { return int4train_gpt_layer_key(G(p[0]), 0, as<uint64_t>(p[1])); }},
        {"int4train_gpt_forward", "int4train_gpt_forward", true, {gpt_param(), host("h_tokens", kI)},
         [](void* const* p) {
             return int4train_gpt_forward(G(p[0]), as<const int32_t>(p[1]), nullptr, 1, 1, 0, 0, nullptr);
         }},
        {"int4train_gpt_backward", "int4train_gpt_backward", true, {gpt_param()},
         [](void* const* p) { return int4train_gpt_backward(G(p[0])); }},
        // model_step.cu names both backward entry points "int4train_gpt_backward" in its messages.
        {"int4train_gpt_backward_scaled", "int4train_gpt_backward", true, {gpt_param()},
         [](void* const* p) { return int4train_gpt_backward_scaled(G(p[0]), 1.0f); }},
        {"int4train_gpt_memory", "int4train_gpt_memory", true, {gpt_param(), host("h_bytes", kL)},
         [](void* const* p) { return int4train_gpt_memory(G(p[0]), as<int64_t>(p[1])); }},
        {"int4train_gpt_zero_grad", "int4train_gpt_zero_grad", true, {gpt_param()},
         [](void* const* p) { return int4train_gpt_zero_grad(G(p[0])); }},
        {"int4train_gpt_adamw_step", "int4train_gpt_adamw_step", true,
         {gpt_param(), host("h_params", alignof(int4train_gpt_adamw))},
         [](void* const* p) {
             return int4train_gpt_adamw_step(G(p[0]), as<const int4train_gpt_adamw>(p[1]), nullptr);
         }},
        {"int4train_gpt_probabilities", "int4train_gpt_probabilities", true, {gpt_param(), host("h_probs", kF)},
         [](void* const* p) { return int4train_gpt_probabilities(G(p[0]), 0, as<float>(p[1])); }},
        {"int4train_gpt_train_step", "int4train_gpt_train_step", true,
         {gpt_param(), host("h_tokens", kI), host("h_targets", kI), host("h_dropout_keys", alignof(uint64_t)),
          host("h_params", alignof(int4train_gpt_adamw))},
         [](void* const* p) {
             return int4train_gpt_train_step(G(p[0]), as<const int32_t>(p[1]), as<const int32_t>(p[2]), 1, 1, 1,
                                             as<const uint64_t>(p[3]), as<const int4train_gpt_adamw>(p[4]), 0);
         }},
        {"int4train_gpt_read_losses", "int4train_gpt_read_losses", true,
         {gpt_param(), host("h_losses", kD, false), host("h_grad_norms", kF, false), host("h_count", kI)},
         [](void* const* p) {
             return int4train_gpt_read_losses(G(p[0]), as<double>(p[1]), as<float>(p[2]), 0, as<int>(p[3]));
         }},
        {"int4train_gpt_step_stats", "int4train_gpt_step_stats", true,
         {gpt_param(), host("h_eager", kL, false), host("h_captured", kL, false), host("h_replayed", kL, false)},
         [](void* const* p) {
             return int4train_gpt_step_stats(G(p[0]), as<int64_t>(p[1]), as<int64_t>(p[2]), as<int64_t>(p[3]));
         }},
    };
    return t;
}

std::vector<ValueCase> value_cases(const Fixture& fx) {
    int4train_context ctx = fx.ctx;
    int4train_layer layer = fx.layer;
    int4train_gpt gpt = fx.gpt;
    float* f = static_cast<float*>(fx.dev);
    int8_t* q = static_cast<int8_t*>(fx.dev);
    uint8_t* u = static_cast<uint8_t*>(fx.dev);
    int32_t* i32 = static_cast<int32_t*>(fx.dev);
    double* dd = static_cast<double*>(fx.dev);
    float* hf = static_cast<float*>(fx.host);
    int* hi = static_cast<int*>(fx.host);
    const int64_t t0 = fx.tensor0_numel;
    const auto bad = INT4TRAIN_ERROR_INVALID_ARGUMENT;
    return {
        {"int4train_context_create", "device -1", INT4TRAIN_ERROR_NO_DEVICE, "device",
         [] { int4train_context c = nullptr; return int4train_context_create(-1, &c); }},
        {"int4train_context_create", "device 4096", INT4TRAIN_ERROR_NO_DEVICE, "device",
         [] { int4train_context c = nullptr; return int4train_context_create(4096, &c); }},
        {"int4train_context_info", "name_capacity 0", bad, "name_capacity",
         [=] { char name[4]; return int4train_context_info(ctx, name, 0, nullptr, nullptr); }},
        {"int4train_hadamard", "rows 0", bad, "positive", [=] { return int4train_hadamard(ctx, f, f, 0, 8, 8); }},
        {"int4train_hadamard", "cols -8", bad, "positive", [=] { return int4train_hadamard(ctx, f, f, 1, -8, 8); }},
        {"int4train_hadamard", "group 3", bad, "power of two", [=] { return int4train_hadamard(ctx, f, f, 1, 12, 3); }},
        {"int4train_hadamard", "group 16 of 24", bad, "divide", [=] { return int4train_hadamard(ctx, f, f, 1, 24, 16); }},
        {"int4train_lsq_init_step", "n 0", bad, "positive", [=] { return int4train_lsq_init_step(ctx, f, 0, f); }},
        {"int4train_lsq_quantize", "n -1", bad, "positive", [=] { return int4train_lsq_quantize(ctx, f, -1, f, 0, q); }},
        {"int4train_lsq_quantize", "mode 2", bad, "mode", [=] { return int4train_lsq_quantize(ctx, f, 8, f, 2, q); }},
        {"int4train_lsq_dequantize", "n 0", bad, "positive", [=] { return int4train_lsq_dequantize(ctx, q, 0, f, f); }},
        {"int4train_lsq_backward", "n 0", bad, "positive",
         [=] { return int4train_lsq_backward(ctx, f, f, 0, f, 0, f, f); }},
        {"int4train_lsq_backward", "mode -1", bad, "mode",
         [=] { return int4train_lsq_backward(ctx, f, f, 8, f, -1, f, f); }},
        {"int4train_pack_int4", "cols 7", bad, "even", [=] { return int4train_pack_int4(ctx, q, u, 1, 7); }},
        {"int4train_pack_int4", "rows 0", bad, "positive", [=] { return int4train_pack_int4(ctx, q, u, 0, 8); }},
        {"int4train_unpack_int4", "cols 7", bad, "even", [=] { return int4train_unpack_int4(ctx, u, q, 1, 7); }},
        {"int4train_gemm_s4", "k 7", bad, "even", [=] { return int4train_gemm_s4(ctx, u, u, i32, 2, 2, 7); }},
        {"int4train_gemm_s8", "m 0", bad, "positive", [=] { return int4train_gemm_s8(ctx, q, q, i32, 0, 2, 8); }},
        {"int4train_gemm_s8", "m·k = 2^50", bad, "too large",
         [=] { return int4train_gemm_s8(ctx, q, q, i32, 1 << 30, 2, 1 << 20); }},
        // Dimensions beyond 2^30 would wrap around when padded (k near 2^31 passed the 2^40-element check).
        {"int4train_gemm_s8", "k 2^31 - 1", bad, "2^30", [=] { return int4train_gemm_s8(ctx, q, q, i32, 1, 1, 0x7fffffff); }},
        {"int4train_hq_forward", "d 7", bad, "even",
         [=] { return int4train_hq_forward(ctx, f, f, nullptr, f, f, 2, 2, 7, 1, 0, f, u, u); }},
        {"int4train_hq_forward", "n 0", bad, "positive",
         [=] { return int4train_hq_forward(ctx, f, f, nullptr, f, f, 0, 2, 8, 8, 0, f, u, u); }},
        {"int4train_hq_forward", "group 16 of 8", bad, "divide",
         [=] { return int4train_hq_forward(ctx, f, f, nullptr, f, f, 2, 2, 8, 16, 0, f, u, u); }},
        {"int4train_hq_forward", "d 2^31 - 2", bad, "2^30",
         [=] { return int4train_hq_forward(ctx, f, f, nullptr, f, f, 1, 2, 0x7ffffffe, 1, 0, f, u, u); }},
        {"int4train_hq_forward", "mode 7", bad, "mode",
         [=] { return int4train_hq_forward(ctx, f, f, nullptr, f, f, 2, 2, 8, 8, 7, f, u, u); }},
        {"int4train_hq_forward_typed", "act_dtype 2", bad, "act_dtype",
         [=] { return int4train_hq_forward_typed(ctx, 2, f, f, nullptr, f, f, 2, 2, 8, 8, 0, f, u, u); }},
        {"int4train_block_size_search", "c 0", bad, "positive",
         [=] { return int4train_block_size_search(ctx, f, f, 2, 0, 8, 0, hi, nullptr); }},
        {"int4train_block_size_search", "mode 3", bad, "mode",
         [=] { return int4train_block_size_search(ctx, f, f, 2, 2, 8, 3, hi, nullptr); }},
        {"int4train_bit_split", "rows 0", bad, "positive",
         [=] { return int4train_bit_split(ctx, f, 0, 8, 1, 0, q, q, f); }},
        {"int4train_bit_split", "mode 9", bad, "mode", [=] { return int4train_bit_split(ctx, f, 2, 8, 1, 9, q, q, f); }},
        {"int4train_lss_select", "sampling 3", bad, "sampling",
         [=] { return int4train_lss_select(ctx, q, q, f, nullptr, nullptr, 2, 8, 8, 3, 1, dd, u, i32); }},
        {"int4train_lss_select", "n 0", bad, "positive",
         [=] { return int4train_lss_select(ctx, q, q, f, nullptr, nullptr, 0, 8, 8, 0, 1, dd, u, i32); }},
        {"int4train_lss_select", "d_x_codes without d_step_x", INT4TRAIN_ERROR_NULL_POINTER, "d_step_x",
         [=] { return int4train_lss_select(ctx, q, q, f, q, nullptr, 2, 8, 8, 0, 1, dd, u, i32); }},
        {"int4train_lss_grad_weight", "d 7", bad, "even",
         [=] { return int4train_lss_grad_weight(ctx, q, q, u, f, f, u, dd, 2, 8, 7, f); }},
        {"int4train_lss_grad_weight", "n 2^29 + 1", bad, "too large",
         [=] { return int4train_lss_grad_weight(ctx, q, q, u, f, f, u, dd, (1 << 29) + 1, 8, 8, f); }},
        {"int4train_lss_grad_input", "d 2^30 + 2", bad, "2^30",
         [=] { return int4train_lss_grad_input(ctx, q, q, u, f, f, u, dd, 2, 8, (1 << 30) + 2, f); }},
        {"int4train_lss_grad_input", "c 0", bad, "positive",
         [=] { return int4train_lss_grad_input(ctx, q, q, u, f, f, u, dd, 2, 0, 8, f); }},
        {"int4train_linear_backward", "n 2^29 + 1", bad, "too large",
         [=] {
             return int4train_linear_backward(ctx, f, f, f, u, u, f, f, (1 << 29) + 1, 2, 8, 8, 0, 0, 1, f, f, f, f,
                                              nullptr, 0);
         }},
        {"int4train_linear_backward", "c 2^30 + 1", bad, "2^30",
         [=] {
             return int4train_linear_backward(ctx, f, f, f, u, u, f, f, 2, (1 << 30) + 1, 8, 8, 0, 0, 1, f, f, f, f,
                                              nullptr, 0);
         }},
        {"int4train_linear_backward", "group 16 of 8", bad, "divide",
         [=] {
             return int4train_linear_backward(ctx, f, f, f, u, u, f, f, 2, 2, 8, 16, 0, 0, 1, f, f, f, f, nullptr, 0);
         }},
        {"int4train_linear_backward", "sampling 7", bad, "sampling",
         [=] {
             return int4train_linear_backward(ctx, f, f, f, u, u, f, f, 2, 2, 8, 8, 0, 7, 1, f, f, f, f, nullptr, 0);
         }},
        {"int4train_linear_backward_typed", "act_dtype 7", bad, "act_dtype",
         [=] {
             return int4train_linear_backward_typed(ctx, 7, f, f, f, u, u, f, f, 2, 2, 8, 8, 0, 0, 1, f, f, f, f,
                                                    nullptr, 0);
         }},
        {"int4train_layer_create", "in_features 0", bad, "positive", layer_create(ctx, 0, [](auto&) {})},
        {"int4train_layer_create", "in_features 7", bad, "even", layer_create(ctx, 7, [](auto&) {})},
        {"int4train_layer_create", "in_features 2^30 + 2", bad, "2^30", layer_create(ctx, (1 << 30) + 2, [](auto&) {})},
        {"int4train_layer_create", "precision FP32", bad, "INT4",
         layer_create(ctx, 8, [](auto& o) { o.precision = INT4TRAIN_PRECISION_FP32; })},
        {"int4train_layer_create", "step_init_scale -1", bad, "step_init_scale",
         layer_create(ctx, 8, [](auto& o) { o.step_init_scale = -1.0f; })},
        {"int4train_layer_create", "step_init_scale NaN", bad, "step_init_scale",
         layer_create(ctx, 8, [](auto& o) { o.step_init_scale = NAN; })},
        {"int4train_layer_create", "step_init_scale 17", bad, "step_init_scale",
         layer_create(ctx, 8, [](auto& o) { o.step_init_scale = 17.0f; })},
        {"int4train_gpt_create", "linear.step_init_scale inf", bad, "step_init_scale",
         gpt_create(ctx, [](auto& c) { c.linear.step_init_scale = INFINITY; })},
        {"int4train_layer_forward", "n 0", bad, "positive",
         [=] { return int4train_layer_forward(layer, f, f, nullptr, f, f, 0, 0, f, u, u); }},
        {"int4train_layer_backward", "n 0", bad, "positive",
         [=] { return int4train_layer_backward(layer, f, f, f, u, u, f, f, 0, f, f, f, f, nullptr, 0); }},
        {"int4train_layer_set_progress", "step_count -1", bad, "step_count",
         [=] { return int4train_layer_set_progress(layer, -1, 0); }},
        {"int4train_layer_set_progress", "group 3", bad, "group", [=] { return int4train_layer_set_progress(layer, 1, 3); }},
        {"int4train_gpt_create", "layers 0", bad, "positive", gpt_create(ctx, [](auto& c) { c.layers = 0; })},
        {"int4train_gpt_create", "width 8, heads 3", bad, "divisible", gpt_create(ctx, [](auto& c) { c.heads = 3; })},
        {"int4train_gpt_create", "dropout 1.5", bad, "dropout", gpt_create(ctx, [](auto& c) { c.dropout = 1.5f; })},
        {"int4train_gpt_create", "step_lr_scale -1", bad, "step_lr_scale",
         gpt_create(ctx, [](auto& c) { c.step_lr_scale = -1.0f; })},
        {"int4train_gpt_create", "step_lr_scale NaN", bad, "step_lr_scale",
         gpt_create(ctx, [](auto& c) { c.step_lr_scale = NAN; })},
        {"int4train_gpt_create", "bf16_classes 16", bad, "bf16_classes",
         gpt_create(ctx, [](auto& c) { c.bf16_classes = 16; })},
        {"int4train_gpt_create", "bf16_classes on fp32", bad, "bf16_classes",
         gpt_create(ctx, [](auto& c) { c.bf16_classes = 1; })},
        {"int4train_gpt_create", "bf16_classes 15 on int4", bad, "bf16_classes",
         gpt_create(ctx, [](auto& c) {
             c.linear.precision = INT4TRAIN_PRECISION_INT4_HQ_LSS;
             c.bf16_classes = 15;
         })},
        {"int4train_gpt_create", "smooth_alpha 1.5", bad, "smooth_alpha",
         gpt_create(ctx, [](auto& c) { c.smooth_alpha = 1.5f; c.smooth_classes = 5; })},
        {"int4train_gpt_create", "smooth_alpha NaN", bad, "smooth_alpha",
         gpt_create(ctx, [](auto& c) { c.smooth_alpha = NAN; c.smooth_classes = 5; })},
        {"int4train_gpt_create", "smooth_classes without smooth_alpha", bad, "smooth_classes",
         gpt_create(ctx, [](auto& c) { c.smooth_classes = 5; })},
        {"int4train_gpt_create", "smooth_alpha without smooth_classes", bad, "smooth_classes",
         gpt_create(ctx, [](auto& c) { c.smooth_alpha = 0.5f; })},
        {"int4train_gpt_create", "smooth_classes on a bf16 class", bad, "smooth_classes",
         gpt_create(ctx, [](auto& c) {
             c.linear.precision = INT4TRAIN_PRECISION_INT4_HQ_LSS;
             c.bf16_classes = 1;
             c.smooth_alpha = 0.5f;
             c.smooth_classes = 5;
         })},
        {"int4train_gpt_create", "int4_ablation 6", bad, "int4_ablation",
         gpt_create(ctx, [](auto& c) {
             c.linear.precision = INT4TRAIN_PRECISION_INT4_HQ_LSS;
             c.int4_ablation = 6;
         })},
        {"int4train_gpt_create", "int4_ablation of an fp32 model", bad, "int4_ablation",
         gpt_create(ctx, [](auto& c) { c.int4_ablation = INT4TRAIN_GPT_ABLATION_FORWARD_ONLY; })},
        {"int4train_gpt_tensor_info", "index -1", bad, "index",
         [=] { return int4train_gpt_tensor_info(gpt, -1, nullptr, 0, nullptr, nullptr, nullptr, nullptr); }},
        {"int4train_gpt_tensor_get", "which 9", bad, "buffer",
         [=] { return int4train_gpt_tensor_get(gpt, 0, 9, hf, t0); }},
        {"int4train_gpt_tensor_get", "numel off by one", bad, "elements",
         [=] { return int4train_gpt_tensor_get(gpt, 0, INT4TRAIN_GPT_VALUE, hf, t0 + 1); }},
        {"int4train_gpt_tensor_set", "index 1000", bad, "index",
         [=] { return int4train_gpt_tensor_set(gpt, 1000, INT4TRAIN_GPT_VALUE, hf, t0, -1); }},
        {"int4train_gpt_layer_progress", "linear 99", bad, "linear",
         [=] { return int4train_gpt_layer_progress(gpt, 99, nullptr, nullptr); }},
        {"int4train_gpt_set_layer_progress", "step_count -1", bad, "step_count",
         [=] { return int4train_gpt_set_layer_progress(gpt, 0, -1, 0); }},
        {"int4train_gpt_forward", "batch 0", bad, "batch",
         [=] { return int4train_gpt_forward(gpt, hi, nullptr, 0, 1, 0, 0, nullptr); }},
        {"int4train_gpt_forward", "t 5 > context 4", bad, "batch",
         [=] { return int4train_gpt_forward(gpt, hi, nullptr, 1, 5, 0, 0, nullptr); }},
        {"int4train_gpt_forward", "token 4 of vocab 4", bad, "token",
         [=] {
             static const int32_t tok[1] = {4};
             return int4train_gpt_forward(gpt, tok, nullptr, 1, 1, 0, 0, nullptr);
         }},
        {"int4train_gpt_backward", "loss_scale NaN", bad, "loss_scale",
         [=] { return int4train_gpt_backward_scaled(gpt, NAN); }},
        {"int4train_gpt_probabilities", "no forward yet", bad, "no probabilities",
         [=] { return int4train_gpt_probabilities(gpt, 0, hf); }},
    };
}

}  // namespace robust
