// block_linear.cu — one block linear of the GPT: the INT4 layer (HQ forward, bit split + LSS backward) through its
// layer state (layer/layer_state.cuh: the one owner of the step count, G, the step initialisation and the key),
// the `bf16` precision as PyTorch autocast runs it (bf16_linear.cu), or cuBLAS FP32 GEMMs for `fp32`: each by the
// linear's own arithmetic (Linear::precision; an INT4 model's bf16_classes run the bf16 one). A smoothed linear
// (cfg.smooth_classes) runs that arithmetic unchanged on X' = X/m, W' = W·m (smoothing.cu). Issue 15's diagnostic
// ablations (cfg.int4_ablation) swap one half of the INT4 arithmetic for FP32 (int4_ablation.cu).
#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {
namespace {

// What a linear's arithmetic reads as its input and weight and where it adds ∂L/∂W: X, W and W's gradient, or of a
// smoothed linear X', W' and ∂L/∂W' in the model's smoothing buffers.
struct Operands {
    const float* x;
    const float* w;
    float* gw;
};

Operands plain(int4train_gpt g, const Linear& L, const float* x) { return {x, g->P(L.w), g->G(L.w)}; }
Operands smoothed(int4train_gpt g) { return {g->smooth_x, g->smooth_w, g->smooth_gw}; }

// y (n × out) = x·wᵀ + b. bf16 reads its own BF16 copies (never smoothed: check_config).
int4train_status arithmetic_forward(int4train_gpt g, Linear& L, const Operands& o, float* y, int n) {
    if (L.int4()) {
        I4T_TRY(layer::forward(L.state, o.x, o.w, g->P(L.b), g->P(L.sx), g->P(L.sw), n, g->training, y, L.x_packed,
                               L.w_packed));
        return ablation_forward(g, L, o.x, o.w, y, n);
    }
    if (L.precision == INT4TRAIN_PRECISION_BF16) return bf16_linear_forward(g, L, o.x, y, n);
    return fp32_linear_forward(g, L, o.x, o.w, y, n);
}

// dx = ∂L/∂x (overwritten), ∂L/∂w added to o.gw, the bias's and step sizes' gradients accumulated.
int4train_status arithmetic_backward(int4train_gpt g, Linear& L, const float* dy, const Operands& o, float* dx, int n) {
    if (L.int4()) {
        if (ablation_exact_backward(g->cfg.int4_ablation))
            return dequantized_backward(g, L, dy, o.x, o.w, dx, o.gw, n);
        // accumulate mode: the model's gradients may already hold a micro-batch's
        return layer::backward(L.state, dy, o.x, o.w, L.x_packed, L.w_packed, g->P(L.sx), g->P(L.sw), n, dx, o.gw,
                               g->G(L.sx), g->G(L.sw), g->G(L.b), true, g->key_offset);
    }
    if (L.precision == INT4TRAIN_PRECISION_BF16) return bf16_linear_backward(g, L, dy, dx, n);
    return fp32_linear_backward(g, L, dy, o.x, o.w, dx, o.gw, 1.0f, n);
}

}  // namespace

int4train_status fp32_linear_forward(int4train_gpt g, const Linear& L, const float* x, const float* w, float* y, int n) {
    I4T_CUDA(nn::broadcast_rows(g->stream(), y, g->P(L.b), n, L.out));
    I4T_GEMM(nn::gemm(g->blas, CUBLAS_COMPUTE_32F, false, true, n, L.out, L.in, 1.0f, x, L.in, 0, w, L.in, 0, 1.0f, y,
                      L.out, 0));
    return INT4TRAIN_SUCCESS;
}

int4train_status fp32_linear_backward(int4train_gpt g, const Linear& L, const float* dy, const float* x, const float* w,
                                      float* dx, float* gw, float gw_beta, int n) {
    I4T_GEMM(nn::gemm(g->blas, CUBLAS_COMPUTE_32F, false, false, n, L.in, L.out, 1.0f, dy, L.out, 0, w, L.in, 0, 0.0f,
                      dx, L.in, 0));
    I4T_GEMM(nn::gemm(g->blas, CUBLAS_COMPUTE_32F, true, false, L.out, L.in, n, 1.0f, dy, L.out, 0, x, L.in, 0,
                      gw_beta, gw, L.in, 0));
    I4T_CUDA(nn::column_sum_accumulate(g->stream(), g->G(L.b), dy, n, L.out, g->scratch));
    return INT4TRAIN_SUCCESS;
}

// y (n × out) = x·Wᵀ + b
int4train_status linear_forward(int4train_gpt g, Linear& L, const float* x, float* y, int n) {
    if (!L.smoothed()) return arithmetic_forward(g, L, plain(g, L, x), y, n);
    // m from this batch in a training forward (and in an evaluation one before any training forward made it)
    if (g->training || !g->smooth_ready) I4T_TRY(smoothing_factors(g, L, x, n));
    I4T_TRY(smooth_operands(g, L, x, n));
    return arithmetic_forward(g, L, smoothed(g), y, n);
}

// y of an INT4 linear's last forward again, bit for bit, from the same x (layer::forward_again: no policy step; a
// smoothed linear with the m of that forward; the backward-only and fine-scale ablations' FP32 y again)
int4train_status linear_forward_again(int4train_gpt g, const Linear& L, const float* x, float* y, int n) {
    if (!L.int4()) return fail(INT4TRAIN_ERROR_INTERNAL, "%s: only an INT4 linear repeats its forward", __func__);
    Operands o = plain(g, L, x);
    if (L.smoothed()) {
        I4T_TRY(smooth_operands(g, L, x, n));
        o = smoothed(g);
    }
    I4T_TRY(layer::forward_again(L.state, o.x, o.w, g->P(L.b), g->P(L.sx), g->P(L.sw), n, y, L.x_packed, L.w_packed));
    return ablation_forward(g, L, o.x, o.w, y, n);
}

// dx (n × in) = ∂L/∂x (overwritten); the parameter gradients are accumulated. x: the FP32 input (unused by bf16,
// whose backward reads the BF16 copy its forward kept).
int4train_status linear_backward(int4train_gpt g, Linear& L, const float* dy, const float* x, float* dx, int n) {
    if (!L.smoothed()) return arithmetic_backward(g, L, dy, plain(g, L, x), dx, n);
    // the forward's X' and W' again (same x, W and m: the same bits), then ∂L/∂X' → ∂L/∂X and ∂L/∂W' → ∂L/∂W
    I4T_TRY(smooth_backward_operands(g, L, x, n));
    I4T_TRY(arithmetic_backward(g, L, dy, smoothed(g), dx, n));
    return unsmooth_gradients(g, L, dx, n);
}

}  // namespace gpt
}  // namespace i4t
