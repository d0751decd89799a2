// adamw.cu — global gradient norm (for clipping) and the AdamW update, matching the host AdamW formula.
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

constexpr int kNormBlocks = 256, kNormThreads = 256;

size_t grad_norm_scratch(int64_t) { return kNormBlocks; }

// Stage 1: each block's threads sum squares (double) over a grid-stride subset, then a tree: partial[block].
__global__ void sumsq_partial_kernel(double* __restrict__ partial, const float* __restrict__ g, int64_t count) {
    __shared__ double sh[kNormThreads];
    double acc = 0.0;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x)
        acc += (double)g[e] * g[e];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

// Stage 2: out = {norm, clip scale} (the host AdamW.Step's clip rule).
__global__ void norm_finish_kernel(float* __restrict__ out, const double* __restrict__ partial, float clip) {
    if (threadIdx.x != 0) return;
    double sq = 0.0;
    for (int k = 0; k < kNormBlocks; ++k) sq += partial[k];
    double norm = sqrt(sq);
    out[0] = (float)norm;
    out[1] = (clip > 0 && norm > clip) ? (float)(clip / (norm + 1e-6)) : 1.0f;
}

cudaError_t grad_norm(cudaStream_t s, float* out, const float* g, int64_t count, float clip, double* scratch) {
    sumsq_partial_kernel<<<kNormBlocks, kNormThreads, 0, s>>>(scratch, g, count);
    norm_finish_kernel<<<1, 32, 0, s>>>(out, scratch, clip);
    return cudaGetLastError();
}

__global__ void adamw_kernel(float* __restrict__ theta, const float* __restrict__ grad, float* __restrict__ m,
                             float* __restrict__ v, int64_t count, float lr, float b1, float b2, float eps, float wd,
                             float c1, float c2, const float* __restrict__ clip_scale, bool keep_positive,
                             float lr_scale, const float* __restrict__ d_lr, const float* __restrict__ d_corr) {
    float clip = *clip_scale;
    if (d_lr) lr = *d_lr;
    lr *= lr_scale;  // the step sizes' multiple (host AdamW: lr * StepSizeLrScale); lr·1 is lr, bit for bit
    if (d_corr) {
        c1 = d_corr[0];
        c2 = d_corr[1];
    }
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[e] * clip;
        float mm = b1 * m[e] + (1 - b1) * g;
        float vv = b2 * v[e] + (1 - b2) * g * g;
        m[e] = mm;
        v[e] = vv;
        float w = theta[e];
        w -= lr * (wd * w + mm / c1 / (sqrtf(vv / c2) + eps));
        theta[e] = keep_positive ? fabsf(w) : w;
    }
}

cudaError_t adamw(cudaStream_t s, float* theta, const float* g, float* m, float* v, int64_t count, float lr,
                  float beta1, float beta2, float eps, float wd, float c1, float c2, const float* clip_scale,
                  bool keep_positive, float lr_scale, const float* d_lr, const float* d_corr) {
    adamw_kernel<<<grid_for(count, 256, 4096), 256, 0, s>>>(theta, g, m, v, count, lr, beta1, beta2, eps, wd, c1, c2,
                                                            clip_scale, keep_positive, lr_scale, d_lr, d_corr);
    return cudaGetLastError();
}

}  // namespace i4t::nn
