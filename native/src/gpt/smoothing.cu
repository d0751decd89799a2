// smoothing.cu — per-input-channel smoothing of a block linear (SmoothQuant's migration, our implementation; issue 15,
// docs/conventions.md "Per-input-channel smoothing"). The linear's arithmetic (the INT4 layer, unchanged, or fp32's
// GEMMs) runs on
//     X' = X·diag(1/m)   (n × d)        W' = W·diag(m)   (c × d)
// so X'W'ᵀ = XWᵀ in real arithmetic, with one factor per input channel k
//     m_k = clamp(max_t|X_tk|^α / max_c|W_ck|^(1−α), 1e-4, 1e4)        (α = int4train_gpt_config.smooth_alpha).
// Why: a LayerNorm output's channels have magnitudes set by the LN gain; the INT4 layer quantises X with ONE step size
// for the whole tensor (after a blockwise Hadamard transform), so a few large channels set every token's step. m
// moves part of each channel's range from X into W (α: how much), evening out the channels X' quantises.
// The backward sees X', W' as the layer's input and weight: the layer returns ∂L/∂X' and ∂L/∂W' (and the step sizes'
// LSQ gradients, which are those of X' and W' unchanged); with m a constant (no gradient flows through m, which is
// made from the batch's maxima: treating it as data keeps the layer's backward unchanged)
//     ∂L/∂X = ∂L/∂X'·diag(1/m)          ∂L/∂W += ∂L/∂W'·diag(m).
// m is made by every training forward from its batch and kept per linear (Linear::smooth_m) for that forward's
// backward, for a forward made again before it (linear_inputs.cu remake_hidden) and for the evaluation forwards that
// follow; an evaluation forward before any training forward makes m from its own batch (int4train_gpt_s::smooth_ready).
// X' and W' are made into the model's smoothing buffers right before the linear's arithmetic reads them, and made
// again by its backward from the same X (bit-identical, linear_inputs.cu), W (no update in between) and m: the same
// bits, which the INT4 backward needs (it recomputes its LSQ masks and residuals from X', W').
// Every kernel is deterministic (the maxima are exact whatever the order the blocks arrive in), so a CUDA graph of a
// step replays the eager step bit for bit.
#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {
namespace {

constexpr float kMinFactor = 1e-4f, kMaxFactor = 1e4f;
constexpr int kColsPerBlock = 32, kRowLanes = 8;

// out_bits[k] = max(out_bits[k], bits of max_r |a[r, k]|) for a (rows × cols, row-major). A block covers 32 columns
// (one warp reads 32 consecutive floats of a row) and 8 row lanes, which it reduces in shared memory before one
// atomic per column. |a| >= +0 orders as its bit pattern read as an unsigned integer, so an atomic max on the bits is
// the float max: exact and independent of the order of the blocks (deterministic; NaN is skipped by fmaxf).
__global__ void column_absmax_kernel(unsigned* __restrict__ out_bits, const float* __restrict__ a, int64_t rows,
                                     int cols) {
    __shared__ float lane_max[kRowLanes][kColsPerBlock + 1];
    const int col = blockIdx.x * kColsPerBlock + threadIdx.x;
    float m = 0.0f;
    if (col < cols)
        for (int64_t r = (int64_t)blockIdx.y * kRowLanes + threadIdx.y; r < rows; r += (int64_t)gridDim.y * kRowLanes)
            m = fmaxf(m, fabsf(a[r * cols + col]));
    lane_max[threadIdx.y][threadIdx.x] = m;
    __syncthreads();
    if (threadIdx.y != 0 || col >= cols) return;
#pragma unroll
    for (int i = 1; i < kRowLanes; ++i) m = fmaxf(m, lane_max[i][threadIdx.x]);
    atomicMax(out_bits + col, __float_as_uint(m));
}

// m_k = clamp(xmax_k^α / wmax_k^(1−α), 1e-4, 1e4). A channel zero in X gets 1e-4 (X' stays 0 whatever m is), one
// zero in W 1e4; zero in both (0/0) gets 1: any factor is exact there. The quotient in double, rounded once to float,
// then clamped: the reference (ChannelSmoothing.Factor) computes the same expression with the C library's pow, and
// CUDA's double pow is within 2 ulp of it, so the float factors agree but where the double lands within those ulps of
// a float rounding boundary (powf's float error would part them far more often).
__global__ void smoothing_factors_kernel(float* __restrict__ m, const unsigned* __restrict__ xmax_bits,
                                         const unsigned* __restrict__ wmax_bits, int d, float alpha) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= d) return;
    const double a = alpha;
    const double q = pow((double)__uint_as_float(xmax_bits[k]), a) / pow((double)__uint_as_float(wmax_bits[k]), 1.0 - a);
    const float f = isnan(q) ? 1.0f : (float)q;
    m[k] = fminf(fmaxf(f, kMinFactor), kMaxFactor);
}

// One column-wise scaling of a (rows × cols) matrix by m (cols): X' = X/m, W' = W·m, ∂L/∂X = ∂L/∂X'/m (in place) and
// ∂L/∂W += ∂L/∂W'·m.
enum class ColumnOp { Divide, Multiply, AddMultiplied };

template <ColumnOp op>
__global__ void scale_columns_kernel(float* dst, const float* src, const float* __restrict__ m, int64_t rows,
                                     int cols) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    const float f = m[col];
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const int64_t e = r * cols + col;
        if (op == ColumnOp::Divide) dst[e] = src[e] / f;
        else if (op == ColumnOp::Multiply) dst[e] = src[e] * f;
        // the accumulation: two roundings, never contracted into an FMA (the reference's arithmetic, ChannelSmoothing)
        else dst[e] = __fadd_rn(dst[e], __fmul_rn(src[e], f));
    }
}

cudaError_t column_absmax(cudaStream_t s, unsigned* out_bits, const float* a, int64_t rows, int cols) {
    const int64_t gy = ceil_div(rows, kRowLanes * 8);  // ~64 rows a block: few atomics per column
    const dim3 grid((unsigned)ceil_div(cols, kColsPerBlock), (unsigned)(gy < 1 ? 1 : gy > 65535 ? 65535 : gy));
    column_absmax_kernel<<<grid, dim3(kColsPerBlock, kRowLanes), 0, s>>>(out_bits, a, rows, cols);
    return cudaGetLastError();
}

template <ColumnOp op>
cudaError_t scale_columns(cudaStream_t s, float* dst, const float* src, const float* m, int64_t rows, int cols) {
    scale_columns_kernel<op><<<row_grid(cols, rows), 256, 0, s>>>(dst, src, m, rows, cols);
    return cudaGetLastError();
}

}  // namespace

int4train_status smoothing_factors(int4train_gpt g, const Linear& L, const float* x, int n) {
    cudaStream_t s = g->stream();
    unsigned* xmax = g->smooth_absmax;
    unsigned* wmax = g->smooth_absmax + L.in;
    I4T_CUDA(cudaMemsetAsync(g->smooth_absmax, 0, sizeof(unsigned) * 2 * (size_t)L.in, s));  // +0's bits
    I4T_CUDA(column_absmax(s, xmax, x, n, L.in));
    I4T_CUDA(column_absmax(s, wmax, g->P(L.w), L.out, L.in));
    smoothing_factors_kernel<<<(unsigned)ceil_div(L.in, 256), 256, 0, s>>>(L.smooth_m, xmax, wmax, L.in,
                                                                          g->cfg.smooth_alpha);
    I4T_CUDA(cudaGetLastError());
    return INT4TRAIN_SUCCESS;
}

int4train_status smooth_operands(int4train_gpt g, const Linear& L, const float* x, int n) {
    cudaStream_t s = g->stream();
    I4T_CUDA(scale_columns<ColumnOp::Divide>(s, g->smooth_x, x, L.smooth_m, n, L.in));
    I4T_CUDA(scale_columns<ColumnOp::Multiply>(s, g->smooth_w, g->P(L.w), L.smooth_m, L.out, L.in));
    return INT4TRAIN_SUCCESS;
}

int4train_status smooth_backward_operands(int4train_gpt g, const Linear& L, const float* x, int n) {
    I4T_TRY(smooth_operands(g, L, x, n));
    // ∂L/∂W' of this backward alone (the linear's arithmetic adds to it; ∂L/∂W may hold other micro-batches')
    I4T_CUDA(cudaMemsetAsync(g->smooth_gw, 0, sizeof(float) * (size_t)L.out * L.in, g->stream()));
    return INT4TRAIN_SUCCESS;
}

int4train_status unsmooth_gradients(int4train_gpt g, const Linear& L, float* dx, int n) {
    cudaStream_t s = g->stream();
    I4T_CUDA(scale_columns<ColumnOp::Divide>(s, dx, dx, L.smooth_m, n, L.in));
    I4T_CUDA(scale_columns<ColumnOp::AddMultiplied>(s, g->G(L.w), g->smooth_gw, L.smooth_m, L.out, L.in));
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t
