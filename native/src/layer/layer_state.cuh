// layer_state.cuh — the INT4 layer's training state (include/int4train_layer.h) and the functions that apply its
// policy. One definition for both users: the C ABI handle (layer_api.cu) and the device GPT, whose block linears
// embed an int4train_layer_s each (gpt/block_linear.cu). The rules: docs/conventions.md "Layer policy".
#pragma once
#include <stdint.h>

#include "int4train_layer.h"
#include "runtime/arena.cuh"
#include "runtime/context.cuh"
#include "runtime/status.cuh"

struct int4train_layer_s {
    int4train_context ctx = nullptr;
    int4train_layer_options opt{};
    int in = 0, out = 0;
    int step_count = 0;        // training forwards taken
    int group = 0;             // Hadamard block size in use; 0 until chosen
    bool initialized = false;  // the step sizes hold a value (initialised here, or restored with the progress)
    // the owner's FP32 scratch for the policy's temporaries (block-size search, step initialisation), idle during
    // a forward; none for a layer handle (runtime/arena.cuh LentScratch)
    i4t::LentScratch lent;
};

namespace i4t {
namespace layer {

inline bool is_int4(int precision) {
    return precision == INT4TRAIN_PRECISION_INT4_HQ_LSS || precision == INT4TRAIN_PRECISION_INT4_LSQ;
}
// The largest multiple κ of the LSQ step rule a layer takes (int4train_layer_options.step_init_scale; C#
// Int4LinearOptions.MaxStepInitScale checks the same bound).
constexpr float kMaxStepInitScale = 16.0f;
// κ of the LSQ step rule the layer's steps are set with: step_init_scale, 0 (a zero-initialised struct) = 1, the
// paper's rule bit for bit. The per-tensor steps (layer_policy.cu) and the fine-scale ablation's per-row steps
// (gpt/int4_ablation.cu) both take it from here.
inline float step_rule_scale(const int4train_layer_options& o) {
    return o.step_init_scale == 0.0f ? 1.0f : o.step_init_scale;
}
// Validates options for layers whose input width is `in` (every block linear's in is a multiple of the model width,
// so a G dividing it divides them all). dense_ok: the cuBLAS precisions are accepted too (the GPT).
int4train_status check_options(const int4train_layer_options* o, int in, bool dense_ok, const char* fn);
void init(int4train_layer_s& L, int4train_context ctx, const int4train_layer_options& opt, int in, int out);
// The per-forward policy (§2.1, §2.2, App. A.4/A.5): counts a training forward, chooses G, initialises the steps.
int4train_status prepare(int4train_layer_s& L, const float* x, const float* w, int n, float* step_x, float* step_w,
                         bool training);
int4train_status forward(int4train_layer_s& L, const float* x, const float* w, const float* bias, float* step_x,
                         float* step_w, int n, bool training, float* y, uint8_t* x_packed, uint8_t* w_packed);
// The HQ forward of the layer's last forward once more, without its policy (the count, G and the step sizes stay
// as that forward left them): on the same X, W, bias and step sizes it writes the same Y and codes bit for bit (the
// forward is deterministic), for a caller that dropped Y and needs it again before the backward (the device GPT's
// up projection h: gpt/linear_inputs.cu remake_hidden).
int4train_status forward_again(const int4train_layer_s& L, const float* x, const float* w, const float* bias,
                               const float* step_x, const float* step_w, int n, float* y, uint8_t* x_packed,
                               uint8_t* w_packed);
int4train_status backward(int4train_layer_s& L, const float* grad_y, const float* x, const float* w,
                          const uint8_t* x_packed, const uint8_t* w_packed, const float* step_x, const float* step_w,
                          int n, float* grad_x, float* grad_w, float* grad_step_x, float* grad_step_w,
                          float* grad_bias, bool accumulate, const uint64_t* d_key_offset = nullptr);
// The key of the backward of the current training forward. backward's d_key_offset (device memory, may be NULL) is
// added to it on the device: the device GPT's CUDA graph replays a captured backward with it (ops PhiloxKey).
inline uint64_t backward_key(const int4train_layer_s& L) { return L.opt.seed + (uint64_t)L.step_count; }
// The cold start is over: an optimiser may update the step sizes (C# Int4Linear.StepsAreLearned).
inline bool steps_learned(const int4train_layer_s& L) { return L.step_count > L.opt.cold_start_steps; }
int4train_status set_progress(int4train_layer_s& L, int step_count, int group, const char* fn);

}  // namespace layer
}  // namespace i4t
