// row_quantizer.cu — the per-row LSQ quantizer of the fine-scale INT4 ablations (row_quantizer.cuh).
#include "runtime/launch.cuh"
#include "runtime/status.cuh"
#include "numerics/canonical_sum.cuh"
#include "numerics/rounding.cuh"
#include "row_quantizer.cuh"

namespace i4t {
namespace gpt {
namespace {

constexpr int kMaxChunks = kRowQuantizerMaxCols / kCanonChunk;

// One CTA of 256 threads per row: CanonicalSum of the row's |v| (its 4096-element chunks summed by the canonical tree,
// then the chunk sums by it again when there are several: CanonicalSum's order for a row alone), then the step rule.
__global__ void __launch_bounds__(kCanonLanes) row_steps_kernel(const float* __restrict__ v, int cols, float kappa,
                                                                  float* step) {
    __shared__ double lanes[kCanonLanes];
    __shared__ double chunks[kMaxChunks];
    const float* row = v + (int64_t)blockIdx.x * cols;
    const int m = (cols + kCanonChunk - 1) / kCanonChunk;
    for (int j = 0; j < m; ++j) {
        const int base = j * kCanonChunk;
        const int len = cols - base < kCanonChunk ? cols - base : kCanonChunk;
        const double r = canon_chunk_block(AbsTerm{row}, base, len, lanes);
        if (threadIdx.x == 0) chunks[j] = r;
    }
    __syncthreads();
    const double sum = m == 1 ? chunks[0] : canon_chunk_block(LoadDouble{chunks}, 0, m, lanes);
    if (threadIdx.x == 0) step[blockIdx.x] = lsq_step_rule(sum, cols, kappa);
}

__global__ void row_fake_quantize_kernel(const float* v, int rows, int cols, const float* __restrict__ step, int qn,
                                         float* out) {
    const int64_t total = (int64_t)rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const float s = step[i / cols];
        out[i] = __fmul_rn(s, (float)lsq_code(v[i], s, qn));
    }
}

// ops/lsq.cu lsq_e's range test with the row's step: in range unless v/s < Qn or v/s > Qp
__global__ void row_mask_kernel(const float* __restrict__ v, int rows, int cols, const float* __restrict__ step, int qn,
                                float* grad) {
    const int64_t total = (int64_t)rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const float q = __fdiv_rn(v[i], step[i / cols]);
        if (q < (float)qn || q > (float)kLsqQp) grad[i] = 0.0f;
    }
}

}  // namespace

int4train_status row_steps(int4train_context ctx, const float* v, int rows, int cols, float kappa, float* step) {
    if (rows <= 0) return INT4TRAIN_SUCCESS;
    if (cols <= 0 || cols > kRowQuantizerMaxCols)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "row_steps: %d columns (1 to %d)", cols, kRowQuantizerMaxCols);
    row_steps_kernel<<<(unsigned)rows, kCanonLanes, 0, ctx->stream>>>(v, cols, kappa, step);
    I4T_LAUNCH("row_steps_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status row_fake_quantize(int4train_context ctx, const float* v, int rows, int cols, const float* step,
                                   int mode, float* out) {
    const int64_t total = (int64_t)rows * cols;
    if (total <= 0) return INT4TRAIN_SUCCESS;
    row_fake_quantize_kernel<<<grid_for(total), 256, 0, ctx->stream>>>(v, rows, cols, step, lsq_qn(mode), out);
    I4T_LAUNCH("row_fake_quantize_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status row_mask(int4train_context ctx, const float* v, int rows, int cols, const float* step, int mode,
                          float* grad) {
    const int64_t total = (int64_t)rows * cols;
    if (total <= 0) return INT4TRAIN_SUCCESS;
    row_mask_kernel<<<grid_for(total), 256, 0, ctx->stream>>>(v, rows, cols, step, lsq_qn(mode), grad);
    I4T_LAUNCH("row_mask_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t
