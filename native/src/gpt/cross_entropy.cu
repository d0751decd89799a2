// cross_entropy.cu — softmax over the vocabulary, per-token cross-entropy, its mean, and ∂L/∂logits.
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

// One warp per row: p = softmax(logits) written in place; loss = log Σ exp(z − max) − (z_target − max).
__global__ void softmax_cross_entropy_kernel(float* __restrict__ probs, float* __restrict__ losses,
                                             const int32_t* __restrict__ targets, int n, int v) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    float* z = probs + (int64_t)row * v;
    float mx = -INFINITY;
    for (int j = lane; j < v; j += 32) mx = fmaxf(mx, z[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < v; j += 32) sum += expf(z[j] - mx);
    sum = warp_sum(sum);
    float zt = 0.0f;
    if (targets != nullptr) zt = z[targets[row]];  // read before the row is overwritten
    __syncwarp();
    float inv = 1.0f / sum;
    for (int j = lane; j < v; j += 32) z[j] = expf(z[j] - mx) * inv;
    if (lane == 0 && targets != nullptr) losses[row] = logf(sum) - (zt - mx);
}

// One block, fixed order: each thread sums a strided subset, then a tree over the block.
__global__ void mean_kernel(float* __restrict__ mean, const float* __restrict__ x, int n) {
    __shared__ float sh[1024];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += x[i];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) *mean = sh[0] / n;
}

cudaError_t softmax_cross_entropy(cudaStream_t s, float* probs, float* losses, float* mean, const int32_t* targets,
                                  int n, int v) {
    softmax_cross_entropy_kernel<<<(n + 7) / 8, 256, 0, s>>>(probs, losses, targets, n, v);
    if (targets != nullptr) mean_kernel<<<1, 1024, 0, s>>>(mean, losses, n);
    return cudaGetLastError();
}

__global__ void cross_entropy_backward_kernel(float* __restrict__ probs, const int32_t* __restrict__ targets, int n,
                                              int v, float loss_scale) {
    int64_t total = (int64_t)n * v;
    float inv_n = loss_scale / n;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = e / v;
        int j = (int)(e - row * v);
        probs[e] = (probs[e] - (j == targets[row] ? 1.0f : 0.0f)) * inv_n;
    }
}

cudaError_t cross_entropy_backward(cudaStream_t s, float* probs, const int32_t* targets, int n, int v, float loss_scale) {
    cross_entropy_backward_kernel<<<grid_for((int64_t)n * v, 256), 256, 0, s>>>(probs, targets, n, v, loss_scale);
    return cudaGetLastError();
}

}  // namespace i4t::nn
