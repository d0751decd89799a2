// layer_policy.cu — the INT4 layer's policy (layer_state.cuh): what one forward does to the layer's state before
// the HQ forward runs, and the backward with the layer's key. docs/method.md §2.1 (step init), §2.2 (block-size
// search), §7 (App. A.4 cold start, A.5 re-initialisation); the counter rule in docs/conventions.md "Layer policy".
#include "layer/layer_state.cuh"
#include "ops/operators.cuh"
#include "numerics/canonical_sum.cuh"
#include "runtime/arena.cuh"
#include "runtime/validate.cuh"

namespace i4t {
namespace layer {

int4train_status check_options(const int4train_layer_options* o, int in, bool dense_ok, const char* fn) {
    if (o->precision < 0 || o->precision > 3)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: unknown precision %d", fn, o->precision);
    if (!dense_ok && !is_int4(o->precision))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: a layer handle runs the INT4 precisions (0, 1), got %d", fn,
                    o->precision);
    I4T_TRY(check_mode(o->mode, fn));
    if (o->sampling != INT4TRAIN_SAMPLING_NONZERO && o->sampling != INT4TRAIN_SAMPLING_BERNOULLI)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: unknown sampling %d", fn, o->sampling);
    if (is_int4(o->precision) && in % 2 != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: INT4 codes are packed two per byte, the input width %d must "
                    "be even", fn, in);
    if (o->group_size != 0) I4T_TRY(check_group(in, o->group_size, fn));
    if (o->cold_start_steps < 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: cold_start_steps must be >= 0, got %d", fn,
                    o->cold_start_steps);
    if (!(isfinite(o->step_init_scale) && o->step_init_scale >= 0.0f && o->step_init_scale <= kMaxStepInitScale))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: step_init_scale must be in (0, %g] (0 = 1, the paper's "
                    "step rule), got %g", fn, (double)kMaxStepInitScale, (double)o->step_init_scale);
    return INT4TRAIN_SUCCESS;
}

void init(int4train_layer_s& L, int4train_context ctx, const int4train_layer_options& opt, int in, int out) {
    L = int4train_layer_s{};
    L.ctx = ctx;
    L.opt = opt;
    L.in = in;
    L.out = out;
}

// s = 2·mean|VH|/√7 for X (n × in) into *step_x and W (out × in) into *step_w (§2.1); VH in a workspace copy (or
// in the owner's lent scratch when it fits).
static int4train_status init_steps(int4train_layer_s& L, const float* x, const float* w, int n, float* step_x,
                                   float* step_w) {
    const int64_t nx = (int64_t)n * L.in, nw = (int64_t)L.out * L.in, most = nx > nw ? nx : nw;
    const bool lent_fits = L.lent.fits(most, false);
    Plan p;
    if (!lent_fits) p.add<float>(most);
    p.add<double>(canon_ws_count(most) + 1);
    Arena ar;
    I4T_TRY(make_arena(L.ctx, p, &ar));
    float* vh = lent_fits ? L.lent.a : ar.take<float>(most);
    double* ws = ar.take<double>(canon_ws_count(most) + 1);
    I4T_ARENA_CHECK(ar);
    const float* xs = x;
    if (L.group > 1) {
        I4T_TRY(hadamard_impl(L.ctx, x, vh, nx, L.group));
        xs = vh;
    }
    // κ·(the step rule), κ = step_init_scale (step_rule_scale: 0 = the paper's rule, κ = 1)
    const float kappa = step_rule_scale(L.opt);
    I4T_TRY(lsq_init_step_impl(L.ctx, xs, nx, step_x, ws, kappa));
    const float* wsrc = w;
    if (L.group > 1) {
        I4T_TRY(hadamard_impl(L.ctx, w, vh, nw, L.group));
        wsrc = vh;
    }
    return lsq_init_step_impl(L.ctx, wsrc, nw, step_w, ws, kappa);
}

int4train_status prepare(int4train_layer_s& L, const float* x, const float* w, int n, float* step_x, float* step_w,
                         bool training) {
    // Only a training forward advances the counter, so evaluations between training steps move neither the cold
    // start, nor the re-initialisation step, nor the key of the next backward.
    bool reinit = false;
    if (training) {
        L.step_count++;
        reinit = L.opt.reinit_step >= 0 && L.step_count - 1 == L.opt.reinit_step;
    }
    if (L.opt.precision == INT4TRAIN_PRECISION_INT4_LSQ) L.group = 1;
    else if (L.group == 0 || (reinit && L.opt.group_size == 0)) {
        if (L.opt.group_size != 0) L.group = L.opt.group_size;
        else I4T_TRY(block_size_search_impl(L.ctx, x, w, n, L.out, L.in, L.opt.mode, &L.group, nullptr, L.lent));
    }
    const bool cold = training && L.step_count <= L.opt.cold_start_steps;
    if (!L.initialized || cold || reinit) {
        I4T_TRY(init_steps(L, x, w, n, step_x, step_w));
        L.initialized = true;
    }
    return INT4TRAIN_SUCCESS;
}

int4train_status forward(int4train_layer_s& L, const float* x, const float* w, const float* bias, float* step_x,
                         float* step_w, int n, bool training, float* y, uint8_t* x_packed, uint8_t* w_packed) {
    I4T_TRY(prepare(L, x, w, n, step_x, step_w, training));
    return int4train_hq_forward(L.ctx, x, w, bias, step_x, step_w, n, L.out, L.in, L.group, L.opt.mode, y, x_packed,
                                w_packed);
}

int4train_status forward_again(const int4train_layer_s& L, const float* x, const float* w, const float* bias,
                               const float* step_x, const float* step_w, int n, float* y, uint8_t* x_packed,
                               uint8_t* w_packed) {
    if (L.group == 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_layer_forward: the layer has had no forward to repeat");
    return int4train_hq_forward(L.ctx, x, w, bias, step_x, step_w, n, L.out, L.in, L.group, L.opt.mode, y, x_packed,
                                w_packed);
}

int4train_status backward(int4train_layer_s& L, const float* grad_y, const float* x, const float* w,
                          const uint8_t* x_packed, const uint8_t* w_packed, const float* step_x, const float* step_w,
                          int n, float* grad_x, float* grad_w, float* grad_step_x, float* grad_step_w,
                          float* grad_bias, bool accumulate, const uint64_t* d_key_offset) {
    if (L.group == 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_layer_backward: the layer has had no forward yet");
    return linear_backward_keyed(L.ctx, grad_y, x, w, x_packed, w_packed, step_x, step_w, n, L.out, L.in, L.group,
                                 L.opt.mode, L.opt.sampling, PhiloxKey(backward_key(L), d_key_offset), grad_x, grad_w,
                                 grad_step_x, grad_step_w, grad_bias, accumulate ? 1 : 0);
}

int4train_status set_progress(int4train_layer_s& L, int step_count, int group, const char* fn) {
    if (step_count < 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: step_count %d < 0", fn, step_count);
    if (group != 0 && (group < 1 || group > 1024 || (group & (group - 1)) != 0 || L.in % group != 0))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: group %d must be 0 or a power of two <= 1024 dividing %d",
                    fn, group, L.in);
    L.step_count = step_count;
    L.group = group;
    // a resumed layer keeps the step sizes it was given, it does not re-initialise them
    L.initialized = step_count > 0;
    return INT4TRAIN_SUCCESS;
}

}  // namespace layer
}  // namespace i4t
