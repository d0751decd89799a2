// block_linear.cu — one block linear of the GPT: the INT4 layer (HQ forward, bit split + LSS backward) through its
// layer state (layer/layer_state.cuh: the one owner of the step count, G, the step initialisation and the key),
// the `bf16` precision as PyTorch autocast runs it (bf16_linear.cu), or cuBLAS FP32 GEMMs for `fp32`: each by the
// linear's own arithmetic (Linear::precision; an INT4 model's bf16_classes run the bf16 one).
#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {

// y (n × out) = x·Wᵀ + b
int4train_status linear_forward(int4train_gpt g, Linear& L, const float* x, float* y, int n) {
    if (L.int4())
        return layer::forward(L.state, x, g->P(L.w), g->P(L.b), g->P(L.sx), g->P(L.sw), n, g->training, y, L.x_packed,
                              L.w_packed);
    if (L.precision == INT4TRAIN_PRECISION_BF16) return bf16_linear_forward(g, L, x, y, n);
    I4T_CUDA(nn::broadcast_rows(g->stream(), y, g->P(L.b), n, L.out));
    I4T_GEMM(nn::gemm(g->blas, CUBLAS_COMPUTE_32F, false, true, n, L.out, L.in, 1.0f, x, L.in, 0, g->P(L.w), L.in, 0,
                      1.0f, y, L.out, 0));
    return INT4TRAIN_SUCCESS;
}

// y of an INT4 linear's last forward again, bit for bit, from the same x (layer::forward_again: no policy step)
int4train_status linear_forward_again(int4train_gpt g, const Linear& L, const float* x, float* y, int n) {
    if (!L.int4()) return fail(INT4TRAIN_ERROR_INTERNAL, "%s: only an INT4 linear repeats its forward", __func__);
    return layer::forward_again(L.state, x, g->P(L.w), g->P(L.b), g->P(L.sx), g->P(L.sw), n, y, L.x_packed,
                                L.w_packed);
}

// dx (n × in) = ∂L/∂x (overwritten); the parameter gradients are accumulated. x: the FP32 input (unused by bf16,
// whose backward reads the BF16 copy its forward kept).
int4train_status linear_backward(int4train_gpt g, Linear& L, const float* dy, const float* x, float* dx, int n) {
    if (L.int4())  // accumulate mode: the model's gradients may already hold a micro-batch's
        return layer::backward(L.state, dy, x, g->P(L.w), L.x_packed, L.w_packed, g->P(L.sx), g->P(L.sw), n, dx,
                               g->G(L.w), g->G(L.sx), g->G(L.sw), g->G(L.b), true, g->key_offset);
    if (L.precision == INT4TRAIN_PRECISION_BF16) return bf16_linear_backward(g, L, dy, dx, n);
    I4T_GEMM(nn::gemm(g->blas, CUBLAS_COMPUTE_32F, false, false, n, L.in, L.out, 1.0f, dy, L.out, 0, g->P(L.w), L.in, 0,
                      0.0f, dx, L.in, 0));
    I4T_GEMM(nn::gemm(g->blas, CUBLAS_COMPUTE_32F, true, false, L.out, L.in, n, 1.0f, dy, L.out, 0, x, L.in, 0, 1.0f,
                      g->G(L.w), L.in, 0));
    I4T_CUDA(nn::column_sum_accumulate(g->stream(), g->G(L.b), dy, n, L.out, g->scratch));
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t
