// bf16_linear.cu — a block linear of the `bf16` precision, run as PyTorch autocast runs nn.Linear in BF16: the
// GEMMs read BF16 copies of their operands (X, W, and ∂L/∂y in the backward), accumulate in FP32 and write FP32
// (y, ∂L/∂x, the FP32 master weights' gradient); the residual stream, LayerNorm, softmax, attention and the head
// stay as they are (model.cuh hp). What autocast's linear saves for its backward is the BF16 cast of X, and so is
// what this one keeps (Linear::x_bf16, 2 bytes per element instead of FP32's 4; docs/conventions.md "What the device
// GPT keeps for the backward"). The BF16 copy of W is made once per optimiser step, not once per GEMM: after every
// AdamW update (queue_adamw, a kernel inside a captured step) and after a host write (int4train_gpt_tensor_set).
//
// Where autocast differs and this does not follow: autocast's linear returns BF16 y and computes ∂L/∂b from BF16
// ∂L/∂y; here y, and the bias gradient from FP32 ∂L/∂y, stay FP32 as the model's FP32 residual stream adds them.
#include <stdint.h>

#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {

// The BF16 copy of the parameters [offset, offset + count) ∩ [first, first + n) (n weight elements from first).
static int4train_status refresh_range(int4train_gpt g, int64_t offset, int64_t count, int64_t first, int64_t n) {
    const int64_t lo = offset > first ? offset : first;
    const int64_t hi_in = offset + count, hi_w = first + n, hi = hi_in < hi_w ? hi_in : hi_w;
    if (hi <= lo) return INT4TRAIN_SUCCESS;  // none of these weights among them
    I4T_CUDA(nn::cast_to_bf16(g->stream(), g->w_bf16 + (lo - g->w_first), g->P(lo), hi - lo));
    return INT4TRAIN_SUCCESS;
}

int4train_status refresh_bf16_weights(int4train_gpt g, int64_t offset, int64_t count) {
    if (!g->bf16) return INT4TRAIN_SUCCESS;
    // every block linear bf16 (the bf16 precision): their weights are one range, one cast
    if (!g->int4) return refresh_range(g, offset, count, g->w_first, g->w_count);
    // an INT4 model's bf16_classes: each bf16 linear's own rows (the INT4 linears' BF16 rows are never read)
    for (const Block& bk : g->blocks)
        for (const Linear& ln : bk.lin)
            if (ln.precision == INT4TRAIN_PRECISION_BF16)
                I4T_TRY(refresh_range(g, offset, count, ln.w, (int64_t)ln.out * ln.in));
    return INT4TRAIN_SUCCESS;
}

// y (n × out) = X·Wᵀ + b with X, W rounded to BF16, FP32 accumulation; X's BF16 copy stays for the backward.
int4train_status bf16_linear_forward(int4train_gpt g, Linear& L, const float* x, float* y, int n) {
    cudaStream_t s = g->stream();
    I4T_CUDA(nn::cast_to_bf16(s, L.x_bf16, x, (int64_t)n * L.in));
    I4T_CUDA(nn::broadcast_rows(s, y, g->P(L.b), n, L.out));
    I4T_GEMM(nn::gemm_bf16(g->blas, false, true, n, L.out, L.in, 1.0f, L.x_bf16, L.in, L.w_bf16, L.in, 1.0f, y,
                           L.out));
    return INT4TRAIN_SUCCESS;
}

// dx (n × in) = BF16(∂L/∂y)·BF16(W) (overwritten); ∂L/∂W += BF16(∂L/∂y)ᵀ·BF16(X) in FP32 (beta = 1: the model's
// gradients may already hold a micro-batch's); ∂L/∂b += Σ rows of the FP32 ∂L/∂y.
int4train_status bf16_linear_backward(int4train_gpt g, Linear& L, const float* dy, float* dx, int n) {
    cudaStream_t s = g->stream();
    I4T_CUDA(nn::cast_to_bf16(s, g->dy_bf16, dy, (int64_t)n * L.out));
    I4T_GEMM(nn::gemm_bf16(g->blas, false, false, n, L.in, L.out, 1.0f, g->dy_bf16, L.out, L.w_bf16, L.in, 0.0f, dx,
                           L.in));
    I4T_GEMM(nn::gemm_bf16(g->blas, true, false, L.out, L.in, n, 1.0f, g->dy_bf16, L.out, L.x_bf16, L.in, 1.0f,
                           g->G(L.w), L.in));
    I4T_CUDA(nn::column_sum_accumulate(s, g->G(L.b), dy, n, L.out, g->scratch));
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t
